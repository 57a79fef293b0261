"""``verify_property``: the stages in order, cheapest first, each ending the run when it
decides (see the package docstring)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ..network import ReLUNetwork
from ..vnnlib import LinearConstraints, VnnlibProperty
from .bound_shortcut import disjunct_refuted
from .region_lp import Case, RegionChecker
from .region_stage import check_regions
from .replay import point_case
from .result import Progress, VerifyResult
from .sampling import sample_and_walk

#: ``method`` values of :func:`verify_property`: the proof search, the region engines, or
#: ``auto`` (proof search for bounded inputs, then the graph/subdivision regions if it could
#: not decide and time is left).
METHODS = ("auto", "search", "regions", "graph", "subdivision", "milp")


def verify_property(net: ReLUNetwork, prop: VnnlibProperty, time_limit: float | None = None,
                    workers: int | None = 1, progress: Progress | None = None,
                    method: str = "auto", shortcuts: bool = True, certificate: bool = False,
                    search_progress: Callable | None = None,
                    scheduler: Any = None) -> VerifyResult:
    """Decide ``prop`` on ``net``: ``"sat"`` (violated, with a replayed counterexample),
    ``"unsat"`` (holds: the proof search or bounds proved it, or every region was checked and
    coverage proved) or ``"unknown"`` (time limit, unproved coverage, or an LP margin too close
    to call).

    ``method``: see :data:`METHODS` (``"regions"`` is the region engines' ``auto``).
    ``time_limit`` (seconds) bounds the whole run; ``workers`` go to the proof search and
    :func:`verishallow.regions.enumerate_regions`; ``progress(found, queued)`` reports the
    region search, ``search_progress(nodes, open, best_bound)`` the proof search.
    ``scheduler`` (a Dask address or ``distributed.Client``) runs the proof search's node
    bounding and the region search on that cluster. ``certificate=True`` (proof search only)
    puts the proof-tree certificate of an ``unsat`` answer in ``result.certificate``.
    ``shortcuts=False`` skips sampling and bounds (tests use it to exercise the region stage
    alone).
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if certificate and method not in ("auto", "search"):
        raise InputError("a proof certificate comes from the proof search (method 'search')")
    t0 = time.perf_counter()
    deadline = t0 + time_limit if time_limit is not None else math.inf
    if prop.n_inputs != net.input_dim:
        raise InputError(f"{prop.path}: the property has {prop.n_inputs} inputs but the model "
                         f"has {net.input_dim}")
    if prop.n_outputs != net.output_dim:
        raise InputError(f"{prop.path}: the property has {prop.n_outputs} outputs but the model "
                         f"has {net.output_dim}")
    chk = RegionChecker(net, prop)

    def result(status: str, cex=None, method_: str = "", reason: str = "", checked: int = 0,
               complete: bool = False) -> VerifyResult:
        return VerifyResult(status, cex, checked, time.perf_counter() - t0, method_, reason,
                            chk.lps, complete)

    cases: list[Case] = []
    for region, outs in prop.cases:
        dom = region.domain
        if bool(np.all(dom.fixed)):
            status, cex = point_case(net, prop, region)
            if status == "sat":
                return result("sat", cex, "exact")
            if status == "unknown":
                return result("unknown", None, "exact", "the only violating input is a fixed "
                              "point that no float64 vector represents exactly")
            continue
        cases.append(Case(region, outs, dom))
    bounded = all(v is not None for region, _ in prop.cases
                  for v in (*region.lower_exact, *region.upper_exact))
    if not cases and not certificate:
        return result("unsat", None, "exact", complete=True)
    if not bounded and (method == "search" or certificate):
        raise InputError(f"{prop.path}: the proof search needs a finite lower and upper bound "
                         "on every input")

    # stage 1: sampling and region walks
    if shortcuts and cases:
        found = sample_and_walk(chk, cases, deadline)
        if found is not None:
            return result("sat", found, "sampling")
        if time.perf_counter() > deadline:
            return result("unknown", None, "sampling", "time limit reached while sampling")

    # stage 2: the proof search (branch and bound with exact certificates)
    if bounded and (method == "search" or (method == "auto" and (shortcuts or certificate))):
        from ..proofsearch.decide import prove_property

        left = None if deadline == math.inf else max(deadline - time.perf_counter(), 1e-3)
        dec = prove_property(net, prop, left, workers=workers, certificate=certificate,
                             progress=search_progress, scheduler=scheduler)
        if dec.status == "holds":
            res = result("unsat", None, "proof search", complete=True)
            res.stats, res.certificate = dec.stats, dec.certificate
            return res
        if dec.status == "violated":
            res = result("sat", dec.counterexample, "proof search")
            res.stats = dec.stats
            return res
        if method == "search" or time.perf_counter() >= deadline:
            res = result("unknown", None, "proof search", dec.reason)
            res.stats = dec.stats
            return res
    region_method = "auto" if method in ("auto", "regions") else method

    # stage 3: bounds, per case and disjunct; refuted disjuncts are skipped later
    open_outs: list[tuple[LinearConstraints, ...]] = []
    for case in cases:
        if shortcuts:
            open_outs.append(tuple(c for c in case.outs
                                   if not disjunct_refuted(net, case.domain, c)))
        else:
            open_outs.append(case.outs)
    if not any(open_outs):
        return result("unsat", None, "bounds", complete=True)
    if time.perf_counter() > deadline:
        return result("unknown", None, "bounds", "time limit reached while bounding")

    # stage 4: every region of every case that the bounds left open
    out = check_regions(net, chk, cases, open_outs, deadline, region_method, workers, progress,
                        scheduler)
    return result(out.status, out.counterexample, "regions", out.reason, out.checked,
                  complete=out.status == "unsat")
