"""Stage 4, the exact last resort: every activation region of every open input case, each
checked by its LP as soon as the region engine finds it, then the one coverage proof."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..network import ReLUNetwork
from ..vnnlib import LinearConstraints
from .region_lp import Case, RegionChecker
from .result import Progress
from .tolerances import TOUCH_TOL


class _Found(Exception):  # noqa: N818 - a signal, not an error
    """Raised from the region callback to stop enumeration at a replayed counterexample."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        super().__init__("counterexample")
        self.x, self.y = x, y


class _OutOfTime(Exception):  # noqa: N818 - a signal, not an error
    pass


def _prove_case_coverage(part, left: float | None, proofs: list[str], workers: int | None,
                         on_thin_region: Callable) -> str | None:
    """Prove that ``part`` covers its domain with the one coverage proof
    (:func:`verishallow.proofs.coverage.prove_coverage`: the exact certificate, re-checked by
    the independent checker, then SCIP if that fails) within what is left of the time limit.
    None when proved (the proof's name goes to ``proofs``), else why not."""
    from ..proofs.coverage import prove_coverage

    proof = prove_coverage(part, time_limit=left, workers=workers,
                           on_thin_region=on_thin_region)
    if proof.by == "certificate":
        proofs.append("an exact certificate (adjacency closure, rational arithmetic)")
    elif proof.by == "scip":
        proofs.append("SCIP")
    return proof.reason


@dataclass
class RegionOutcome:
    """What the region stage decided: ``status`` (``unsat`` only with every case's coverage
    proved), the replayed counterexample of a ``sat``, why an ``unknown``, regions checked."""

    status: str
    counterexample: tuple[np.ndarray, np.ndarray] | None
    reason: str
    checked: int


def check_regions(net: ReLUNetwork, chk: RegionChecker, cases: list[Case],
                  open_outs: list[tuple[LinearConstraints, ...]], deadline: float,
                  region_method: str, workers: int | None,
                  progress: Progress | None, scheduler: Any = None) -> RegionOutcome:
    """Enumerate the regions of every case with open disjuncts (``open_outs``, one tuple per
    case), run each disjunct's LP on each region as it is found, stop at the first replayed
    counterexample, and prove every case's coverage within the ``deadline``; ``scheduler``:
    the region search on a Dask cluster."""
    from ..regions import enumerate_regions

    checked = 0
    queued_now = 0
    incomplete: list[str] = []
    proofs: list[str] = []  # how each case's coverage was proved

    def on_progress(found: int, queued: int) -> None:
        nonlocal queued_now
        queued_now = queued
        if time.perf_counter() > deadline:
            raise _OutOfTime
        if progress is not None:
            progress(checked, queued)

    for case, outs in zip(cases, open_outs, strict=True):
        if not outs:
            continue

        def on_region(reg, case=case, outs=outs) -> None:
            nonlocal checked
            if time.perf_counter() > deadline:
                raise _OutOfTime
            checked += 1
            if progress is not None:
                progress(checked, queued_now)
            if reg.facets:
                H, c = reg.H, reg.c
            else:  # the whole input case is one region
                H, c = np.zeros((0, net.input_dim)), np.zeros(0)
            for cons in outs:
                probe = chk.lp(case, cons, H, c, reg.alpha, reg.beta)
                if probe.status == "trivial":
                    found = chk.confirm(case, reg.center, None)
                    if found is not None:
                        raise _Found(*found)
                    chk.touching.append(f"region {reg.id}: trivial disjunct not replayable")
                    continue
                if probe.x is None:
                    # the LP is feasible by construction (t is unbounded above and the region
                    # has an interior point): any other status is solver trouble
                    chk.touching.append(f"region {reg.id}: LP {probe.status}")
                    continue
                y = reg.alpha @ probe.x + reg.beta
                tol = TOUCH_TOL * chk.scale(cons, y)
                if probe.margin <= tol:
                    found = chk.confirm(case, probe.x, reg.center)
                    if found is not None:
                        raise _Found(*found)
                    chk.touching.append(f"region {reg.id}: margin {probe.margin:.3g}")

        def left() -> float | None:
            return None if deadline == math.inf else max(deadline - time.perf_counter(), 1e-3)

        # the graph and subdivision engines run without their coverage query, which runs
        # below with what is left of the time limit (the engine would start its own clock)
        own_coverage = region_method != "milp"
        try:
            part = enumerate_regions(net, case.domain, method=region_method,
                                     progress=on_progress,
                                     time_limit=left(), on_region=on_region, workers=workers,
                                     scheduler=scheduler, prove_coverage=not own_coverage)
        except _Found as hit:
            return RegionOutcome("sat", (hit.x, hit.y), "", checked)
        except _OutOfTime:
            return RegionOutcome("unknown", None, f"time limit reached after {checked} regions",
                                 checked)
        if own_coverage:
            try:
                # the exact certificate may add thin regions: the property is checked there too
                why = _prove_case_coverage(part, left(), proofs, workers, on_region)
            except _Found as hit:
                return RegionOutcome("sat", (hit.x, hit.y), "", checked)
            if why is not None:
                incomplete.append(f"coverage of {case.domain.describe()} not proved ({why})")
        elif not part.complete:
            incomplete.append(f"coverage of {case.domain.describe()} not proved (SCIP "
                              "enumeration incomplete)")
    if chk.touching:
        return RegionOutcome("unknown", None,
                             f"{len(chk.touching)} region(s) come within the tolerance of the "
                             "unsafe set but gave no replayable counterexample (first: "
                             f"{chk.touching[0]})", checked)
    if incomplete:
        return RegionOutcome("unknown", None, "; ".join(incomplete), checked)
    how = "coverage proved by " + ", ".join(sorted(set(proofs))) if proofs else ""
    return RegionOutcome("unsat", None, how, checked)
