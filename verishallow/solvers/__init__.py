"""Solver glue, and the only place that imports a solver.

``lp`` (HiGHS linear programs), ``milp`` (the network as a Pyomo / SCIP mixed-integer program),
``difference_milp`` (two networks in one SCIP model, maximising one direction of their
difference), ``smt`` (z3 over the exact reals), ``exact_lp`` (exact LP maxima: HiGHS + z3).
Everything else asks these modules; the trusted base (:mod:`verishallow.exact` and the checkers
in :mod:`verishallow.proofs`) never imports them. :func:`solver_versions` reads the solvers'
versions from package metadata, without importing them.
"""

from __future__ import annotations

import importlib.metadata

#: The solver distributions (and numpy) whose versions a certificate records.
SOLVER_DISTRIBUTIONS = ("highspy", "pyscipopt", "z3-solver", "numpy")


def solver_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`SOLVER_DISTRIBUTIONS` (None if absent), read from
    package metadata without importing any solver."""
    out: dict[str, str | None] = {}
    for dist in SOLVER_DISTRIBUTIONS:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out
