"""Shared test helpers: where the read-only ``../shared`` material lives.

Tests that need it skip cleanly when ``../shared`` (relative to the repository root) is absent.
Parametrised tests can glob ``VNNCOMP`` at collection time: a missing directory gives an empty
parameter set, which pytest reports as skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
VNNCOMP = SHARED / "benchmarks" / "vnncomp2021"


def shared_file(*parts: str) -> Path:
    """A path inside ``../shared``; skips the calling test if it does not exist."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` (skips the test when it is absent)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture
def vnncomp_dir(shared_dir: Path) -> Path:
    """The VNN-COMP 2021 benchmarks inside ``../shared``."""
    path = shared_dir / "benchmarks" / "vnncomp2021"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


#: Modules the trusted base of an audit (the checkers, the ``check`` command) must not load.
SOLVER_MODULES = ["verishallow.regions", "verishallow.solvers.milp", "verishallow.solvers.lp",
                  "verishallow.bounds", "verishallow.solvers.smt", "verishallow.proofs.partition",
                  "verishallow.equiv", "verishallow.proofs.equivalence", "highspy", "pyscipopt",
                  "pyomo", "z3", "scipy", "networkx"]


def loaded_after(code: str, modules: list[str] = SOLVER_MODULES) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    import subprocess
    import sys

    script = (f"import sys\n{code}\n"
              f"print(' '.join(m for m in {modules!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return out.stdout.split()
