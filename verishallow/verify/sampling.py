"""Stage 1: random samples, box corners and short region walks (LP optima followed into the
next region) looking for a replayable counterexample before any proof work."""

from __future__ import annotations

import math
import time

import numpy as np

from ..errors import InputError
from ..vnnlib import LinearConstraints
from .region_lp import Case, RegionChecker, margins, pattern_rows
from .replay import replay

#: Random points sampled per input case before anything else.
SAMPLES = 2000
#: Box corners are sampled too when there are at most this many free inputs (2^d corners).
MAX_CORNER_DIM = 10
#: Samples (smallest margin first) that seed a region walk.
WALK_SEEDS = 8
#: Longest region walk (LPs) from one seed.
WALK_STEPS = 12
#: Step beyond an LP optimum, relative to the input case's size, to read the next pattern.
WALK_STEP = 1e-6
#: Seed of the sampling stage (results are reproducible).
SEED = 0


def sample_points(case: Case, rng: np.random.Generator) -> np.ndarray:
    dom = case.domain
    d = dom.dim
    lo, hi = case.box_lo.copy(), case.box_hi.copy()
    try:
        centre, radius = dom.chebyshev()
    except InputError:
        centre, radius = np.where(np.isfinite(lo), lo, 0.0), 0.0
    span = max(radius, 1.0)
    lo = np.where(np.isfinite(lo), lo, centre - span)
    hi = np.where(np.isfinite(hi), hi, centre + span)
    pts = [centre[None, :], lo + (hi - lo) * rng.random((SAMPLES, d))]
    if int(case.free.sum()) <= MAX_CORNER_DIM:
        free = np.flatnonzero(case.free)
        bits = (np.arange(2 ** free.size)[:, None] >> np.arange(free.size)) & 1
        corners = np.tile(lo, (bits.shape[0], 1))
        corners[:, free] = np.where(bits == 1, hi[free], lo[free])
        pts.append(corners)
    X = np.vstack(pts)
    X = np.clip(X, dom.lower, dom.upper)
    return X[dom.contains(X, tol=0.0)] if dom.A.shape[0] else X


def walk(chk: RegionChecker, case: Case, cons: LinearConstraints, x0: np.ndarray,
          deadline: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Follow LP optima from the region of ``x0`` into neighbouring regions."""
    net = chk.net
    x, prev = x0, math.inf
    seen: set[bytes] = set()
    for _ in range(WALK_STEPS):
        if time.perf_counter() > deadline:
            return None
        p = net.pattern(x)
        key = np.packbits(p).tobytes()
        if key in seen:
            return None
        seen.add(key)
        H, c, alpha, beta = pattern_rows(net, p)
        probe = chk.lp(case, cons, H, c, alpha, beta)
        if probe.x is None:
            return None
        if probe.margin <= 0:
            found = chk.confirm(case, probe.x, x)
            if found is not None:
                return found
        if not probe.margin < prev:
            return None
        prev = probe.margin
        step = probe.x - x
        norm = float(np.linalg.norm(step))
        if norm == 0:
            return None
        x = probe.x + WALK_STEP * case.size * step / norm
        x = np.clip(x, case.lower, case.upper)
    return None


def sample_and_walk(chk: RegionChecker, cases: list[Case], deadline: float
              ) -> tuple[np.ndarray, np.ndarray] | None:
    rng = np.random.default_rng(SEED)
    for case in cases:
        X = sample_points(case, rng)
        if len(X) == 0:
            continue
        Y = chk.net.forward(X)
        for cons in case.outs:
            m = margins(cons, Y)
            order = np.argsort(m, kind="stable")
            for i in order[:WALK_SEEDS]:
                if m[i] <= 0:
                    y = replay(chk.net, chk.prop, X[i])
                    if y is not None:
                        return X[i], y
            for i in order[:WALK_SEEDS]:
                found = walk(chk, case, cons, X[i], deadline)
                if found is not None:
                    return found
    return None
