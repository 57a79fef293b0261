"""The one coverage proof: do the enumerated regions cover the domain?

Exact certificate first: :func:`~verishallow.proofs.partition.certify` builds the partition
certificate (facets, neighbours, Farkas evidence) and the independent checker re-derives it in
rational arithmetic, each region as soon as it is certified, in the same worker
(:class:`~verishallow.proofs.partition_checker.StagedCheck`: the checker's own checks, sharing
only the exact kernel's caches; ``verishallow check`` re-checks a written certificate from
scratch); a valid, complete certificate proves coverage by the adjacency-closure argument
(docs/certificates.md), with no solver in the proof and no MILP margin blind spot. SCIP's
no-good-cut query (:func:`~verishallow.solvers.milp.find_uncovered`) is the independent second
opinion: asked for with ``second_opinion=True``, and the fallback when the certificate does not
prove coverage.

One budget rule for every caller (``regions``, ``convert``, ``certify``, ``verify``):
:func:`coverage_budget`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..regions.region import Partition, Region

#: The coverage proof's time budget, unless the caller gives a time limit: this many seconds
#: or ``COVERAGE_BUDGET_FACTOR`` times the enumeration's own time, whichever is more. The exact
#: proof (certify + check) measured 4.5x the graph enumeration on ACAS Xu's prop_1 box (2
#: workers) and 4.6x (2 workers) to 6.1x (one) the very fast subdivision enumeration of the
#: 2-32-32-1 net over R^2, docs/benchmarks.md; the floor keeps small runs from starving.
COVERAGE_BUDGET_SECONDS = 120.0
COVERAGE_BUDGET_FACTOR = 16.0


class _OutOfTime(Exception):
    """The budget ran out while the certificate was being built."""


def coverage_budget(enumeration_seconds: float, time_limit: float | None = None) -> float:
    """Seconds the coverage proof may take: ``time_limit`` when given, else
    ``max(COVERAGE_BUDGET_SECONDS, COVERAGE_BUDGET_FACTOR * enumeration_seconds)``."""
    if time_limit is not None:
        return max(float(time_limit), 0.0)
    return max(COVERAGE_BUDGET_SECONDS, COVERAGE_BUDGET_FACTOR * float(enumeration_seconds))


@dataclass
class CoverageProof:
    """What the coverage proof found. ``complete`` iff coverage is proved; ``by`` names the
    proof (``"certificate"``, ``"scip"``, ``"milp"`` for SCIP's own enumeration, or None);
    ``entry`` is the JSON-ready record (``Partition.stats["coverage"]``)."""

    complete: bool
    by: str | None
    seconds: float
    entry: dict = field(default_factory=dict)
    certificate: dict | None = None
    thin_regions: list[Region] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """Why coverage is not proved, in words (None when it is)."""
        return None if self.complete else self.entry.get("reason")


def prove_coverage(partition: Partition, *, time_limit: float | None = None,
                   second_opinion: bool = False, workers: int | None = 1,
                   on_thin_region: Callable[[Region], None] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> CoverageProof:
    """Prove that ``partition``'s regions cover its domain (see the module docstring).

    ``time_limit`` (default :func:`coverage_budget` of the enumeration time) bounds the whole
    proof; ``on_thin_region`` sees each sliver the certificate adds (``verify`` checks its
    property there); ``progress(done, total)`` follows the certificate's regions. Sets
    ``partition.complete`` and ``partition.stats["coverage"]`` and returns the proof.
    """
    from .partition import certify
    from .partition_checker import StagedCheck

    t0 = time.perf_counter()
    budget = coverage_budget(partition.seconds, time_limit)
    deadline = t0 + budget
    entry: dict[str, Any] = {"budget": budget}
    cert = None
    thin: list[Region] = []
    by = None

    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        if time.perf_counter() > deadline:
            raise _OutOfTime

    def keep_thin(region: Region) -> None:
        thin.append(region)
        if on_thin_region is not None:
            on_thin_region(region)

    staged: list[StagedCheck] = []

    def check_alongside(skeleton: dict) -> StagedCheck:
        staged.append(StagedCheck(skeleton, partition.net))
        return staged[-1]

    t1 = time.perf_counter()
    try:
        # the checker checks each region where and as soon as it is certified (one pass over
        # the regions, one pool); finish() checks again only what changed afterwards (thin
        # regions added, their neighbours re-certified)
        cert = certify(partition.net, partition.domain, partition=partition, workers=workers,
                       progress=tick, on_thin_region=keep_thin,
                       check_alongside=check_alongside)
    except _OutOfTime:
        entry["certificate"] = {"valid": False, "seconds": time.perf_counter() - t1,
                                "first_failure": f"budget of {budget:.0f} s reached"}
    else:
        check = staged[0].finish(cert, workers=workers)
        valid = bool(cert.get("complete")) and check.valid
        first = None if valid else (check.failures[0] if check.failures else
                                    (cert.get("problems") or ["certificate incomplete"])[0])
        entry["certificate"] = {"valid": valid, "seconds": time.perf_counter() - t1,
                                "thin_regions": cert["enumeration"]["thin_regions"],
                                "first_failure": first}
        if valid:
            by = "certificate"
    left = deadline - time.perf_counter()
    if (second_opinion or by is None) and left > 0:
        from ..solvers.milp import find_uncovered  # SCIP only when asked for or needed

        t2 = time.perf_counter()
        cov = find_uncovered(partition.net, partition.domain,
                             [r.pattern for r in partition.regions], time_limit=left)
        if cov.status == "uncovered":
            raise RuntimeError(
                f"{partition.method} search missed a region that SCIP found (pattern with "
                f"witness {np.array2string(cov.witness, precision=17)}); please report this")
        entry["scip"] = {"status": cov.status, "scip_status": cov.scip_status,
                         "solves": cov.solves, "seconds": time.perf_counter() - t2,
                         "time_limit": left}
        if cov.status == "covered" and by is None:
            by = "scip"
    seconds = time.perf_counter() - t0
    entry.update({"status": "covered" if by else "unknown", "by": by, "seconds": seconds})
    if by is None:
        why = [f"exact certificate: {entry['certificate']['first_failure']}"]
        if "scip" in entry:
            why.append(f"SCIP: {entry['scip']['scip_status']}")
        elif left <= 0:
            why.append(f"no time left for SCIP (budget {budget:.0f} s)")
        entry["reason"] = "; ".join(why)
    partition.complete = by is not None
    partition.stats["coverage"] = entry
    return CoverageProof(by is not None, by, seconds, entry, cert, thin)
