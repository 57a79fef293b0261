"""The per-region LP: ``min t`` over a region (or a pattern's closed cell), the input case and
``C (alpha x + beta) - d <= t``; its optimum replayed as a counterexample when it reaches 0."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..domain import Domain
from ..network import ReLUNetwork
from ..solvers import lp
from ..vnnlib import InputRegion, LinearConstraints, VnnlibProperty
from .replay import replay, snap_into_box

#: Lower bound on the LP variable ``t``: a counterexample deeper than this is deep enough.
MARGIN_CAP = 1.0
#: Fractions of the way towards the region's Chebyshev centre tried when replay fails.
NUDGES = (1e-12, 1e-9, 1e-6, 1e-3)


@dataclass
class Case:
    """One input case of the property, prepared for LPs."""

    region: InputRegion
    outs: tuple[LinearConstraints, ...]
    domain: Domain

    def __post_init__(self) -> None:
        dom = self.domain
        self.G = dom.A
        self.h = dom.b
        self.lower = dom.lower
        self.upper = dom.upper
        lo, hi = dom.bounding_box()
        self.box_lo, self.box_hi = lo, hi
        width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        self.size = float(np.max(width)) if width.size else 1.0
        self.free = dom.lower != dom.upper


@dataclass
class Probe:
    """Outcome of one region LP for one disjunct."""

    margin: float  # t*, +inf when infeasible
    x: np.ndarray | None
    status: str


class RegionChecker:
    """Runs region LPs, replays their optima and keeps the counters."""

    def __init__(self, net: ReLUNetwork, prop: VnnlibProperty):
        self.net = net
        self.prop = prop
        self.lps = 0
        self.touching: list[str] = []
        self.errors = 0

    def lp(self, case: Case, cons: LinearConstraints, H: np.ndarray, c: np.ndarray,
           alpha: np.ndarray, beta: np.ndarray) -> Probe:
        """``min t`` over ``H x <= c``, the input case and ``C (alpha x + beta) - d <= t``."""
        d = self.net.input_dim
        k = len(cons)
        if k == 0:  # no output constraint: every point of the region is unsafe
            return Probe(-MARGIN_CAP, None, "trivial")
        Ca = cons.C @ alpha
        rows = [np.hstack([Ca, -np.ones((k, 1))])]
        rhs = [cons.d - cons.C @ beta]
        if len(H):
            rows.append(np.hstack([H, np.zeros((len(H), 1))]))
            rhs.append(c)
        if len(case.G):
            rows.append(np.hstack([case.G, np.zeros((len(case.G), 1))]))
            rhs.append(case.h)
        A = np.vstack(rows)
        ub = np.concatenate(rhs)
        cost = np.zeros(d + 1)
        cost[-1] = 1.0
        col_lo = np.concatenate([np.where(np.isfinite(case.lower), case.lower, -lp.INF),
                                 [-MARGIN_CAP]])
        col_hi = np.concatenate([np.where(np.isfinite(case.upper), case.upper, lp.INF),
                                 [lp.INF]])
        sol = lp.solve_lp(cost, A, np.full(len(ub), -lp.INF), ub, col_lo, col_hi)
        self.lps += 1
        if sol.status == "infeasible":
            return Probe(math.inf, None, "infeasible")
        if not sol.ok or sol.x is None:
            self.errors += 1
            return Probe(math.nan, None, sol.status)
        x = sol.x[:d]
        # the margin of the affine model at the LP point (not the LP's t, which may sit on
        # its cap or carry solver slack)
        margin = float(np.max(Ca @ x + cons.C @ beta - cons.d))
        return Probe(margin, x, "optimal")

    def scale(self, cons: LinearConstraints, y: np.ndarray) -> float:
        if len(cons) == 0:
            return 1.0
        return 1.0 + float(np.max(np.abs(cons.C) @ np.abs(y))) + float(np.max(np.abs(cons.d)))

    def confirm(self, case: Case, x: np.ndarray, centre: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray] | None:
        """A replayed counterexample at or near ``x`` (snapped, then nudged), else None."""
        tries = [x, snap_into_box(x, case.region)]
        if centre is not None:
            for lam in NUDGES:
                tries.append(snap_into_box(x + lam * (centre - x), case.region))
        for p in tries:
            y = replay(self.net, self.prop, p)
            if y is not None:
                return p, y
        return None


def margins(cons: LinearConstraints, Y: np.ndarray) -> np.ndarray:
    """Worst-row margin ``max_i (C_i y - d_i)`` per row of ``Y`` (<= 0 means unsafe)."""
    if len(cons) == 0:
        return np.full(Y.shape[0], -np.inf)
    return np.max(Y @ cons.C.T - cons.d, axis=1)


def pattern_rows(net: ReLUNetwork, pattern: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Closed H-representation ``sigma (A x + d) <= 0`` of a pattern and its affine model.

    On this closed set the pattern-fixed network equals ``f`` exactly (active neurons have
    ``z >= 0``, inactive ones ``z <= 0``), whatever the set's dimension.
    """
    A, dv, alpha, beta = net.local_affine(pattern)
    sigma = 1.0 - 2.0 * np.asarray(pattern, dtype=np.float64)
    H = sigma[:, None] * A
    c = -sigma * dv
    keep = np.any(H != 0, axis=1)
    return H[keep], c[keep], alpha, beta
