"""The overlay method: enumerate the cells of both partitions overlaid, bound every direction
on every cell in floats, and run the exact LP on the best cells.

Why: the MILP is slow when the two networks are nearly identical (a quantised copy): the LP
relaxation of ``f_A - f_B`` is loose compared with the tiny true difference, and SCIP ends up
enumerating (moons vs its float16 copy: > 50 s per direction, against 3 s here). The
activation regions of :func:`joint_network` (both networks side by side on one input) are the
cells of the overlay of both partitions, and on each cell both networks are affine. Every
direction's float maximum on every cell is read off the cell's vertices (intersections of
facet pairs; a float LP for top-1 cells or when no vertex is found), and the cells within
:data:`~verishallow.equiv.tolerances.OVERLAY_SCREEN_TOL` of the best get the exact LP of
:mod:`verishallow.equiv.cell_lp`. The upper bound is the largest float cell maximum, trusted
up to :data:`~verishallow.equiv.tolerances.UPPER_TOL` like SCIP's; the subdivision engine
covers the domain by construction (its SCIP coverage query is skipped: it is the slow part for
near-identical networks).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..domain import Domain
from ..network import ReLUNetwork
from ..product import product_network
from ..solvers import lp
from .cell_lp import exact_cell_max
from .quantity import Direction
from .result import DirectionRuns
from .tolerances import OVERLAY_SCREEN_TOL, OVERLAY_VERTEX_TOL

#: At most this many cells per direction get the exact LP.
MAX_EXACT_REGIONS = 8


def joint_network(net_a: ReLUNetwork, net_b: ReLUNetwork) -> ReLUNetwork | None:
    """One network whose hidden layers stack both networks' layers side by side (shared input,
    block-diagonal weights) and whose outputs are ``[f_A; f_B]``; its activation regions are
    the cells of the overlay of both partitions. None when the depths differ (padding the
    shallower network, as :func:`verishallow.product.product_network` does, would add cells).
    """
    if len(net_a.weights) != len(net_b.weights):
        return None
    return product_network(net_a, net_b)


def _split_pattern(net_a: ReLUNetwork, net_b: ReLUNetwork, p: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    pa, pb, pos = [], [], 0
    for na, nb in zip(net_a.hidden_widths, net_b.hidden_widths, strict=True):
        pa.append(p[pos:pos + na])
        pb.append(p[pos + na:pos + na + nb])
        pos += na + nb
    empty = np.zeros(0, dtype=bool)
    return (np.concatenate(pa) if pa else empty), (np.concatenate(pb) if pb else empty)


def _polygon_vertices(H: np.ndarray, c: np.ndarray, centre: np.ndarray, free: np.ndarray
                      ) -> np.ndarray | None:
    """Vertices of the cell ``{H x <= c}`` in 1 or 2 free coordinates (the others pinned at
    ``centre``), by intersecting facet pairs (vectorised Cramer's rule) and keeping the
    points that violate no facet by more than ``OVERLAY_VERTEX_TOL`` (relative)."""
    Hf = H[:, free]
    base = c - H @ centre + Hf @ centre[free]
    if free.size == 1:
        nz = np.flatnonzero(Hf[:, 0] != 0)
        Y = (base[nz] / Hf[nz, 0])[:, None]
    else:
        i, j = np.triu_indices(H.shape[0], 1)
        a1, b1, a2, b2 = Hf[i, 0], Hf[i, 1], Hf[j, 0], Hf[j, 1]
        det = a1 * b2 - a2 * b1
        ok = np.abs(det) > 1e-12 * (np.abs(a1) + np.abs(b1)) * (np.abs(a2) + np.abs(b2))
        det, i, j = det[ok], i[ok], j[ok]
        r1, r2 = base[i], base[j]
        Y = np.stack([(r1 * Hf[j, 1] - r2 * Hf[i, 1]) / det,
                      (Hf[i, 0] * r2 - Hf[j, 0] * r1) / det], axis=1)
    if Y.shape[0] == 0:
        return None
    P = np.repeat(centre[None, :], Y.shape[0], axis=0)
    P[:, free] = Y
    tol = OVERLAY_VERTEX_TOL * (1.0 + np.abs(c)[None, :] + np.abs(P) @ np.abs(H).T)
    keep = np.all(P @ H.T <= c[None, :] + tol, axis=1)
    return P[keep] if keep.any() else None


def _min_affine_lp(H: np.ndarray, c: np.ndarray, rows: list[tuple[np.ndarray, float]]
                   ) -> tuple[float, np.ndarray | None]:
    """Float LP: max over ``{H x <= c}`` of ``min_r (g_r . x + g0_r)`` (variables ``(x, t)``)."""
    n = H.shape[1]
    if len(rows) == 1:
        g, g0 = rows[0]
        sol = lp.solve_lp(g, H, np.full(H.shape[0], -np.inf), c, np.full(n, -np.inf),
                          np.full(n, np.inf), maximize=True)
        return (math.inf, None) if not sol.ok else (float(sol.objective) + g0, sol.x)
    A = np.vstack([np.hstack([H, np.zeros((H.shape[0], 1))])]
                  + [np.append(-gr, 1.0)[None, :] for gr, _ in rows])
    rhs = np.concatenate([c, [g0 for _, g0 in rows]])
    sol = lp.solve_lp(np.append(np.zeros(n), 1.0), A, np.full(A.shape[0], -np.inf), rhs,
                      np.full(n + 1, -np.inf), np.full(n + 1, np.inf), maximize=True)
    return (math.inf, None) if not sol.ok else (float(sol.objective), sol.x[:n])


def _cell_pieces(dr: Direction, al: np.ndarray, be: np.ndarray, m: int
                 ) -> list[tuple[int | None, list[tuple[np.ndarray, float]]]]:
    """The direction on one cell as ``[(k, rows)]``: its value is ``max_k min_rows``."""
    if dr.kind == "diff":
        return [(None, [(dr.sign * (al[dr.j] - al[m + dr.j]),
                         float(dr.sign * (be[dr.j] - be[m + dr.j])))])]
    po, qo = (0, m) if dr.sign > 0 else (m, 0)
    i = dr.j
    top = [(al[po + i] - al[po + j], float(be[po + i] - be[po + j])) for j in range(m) if j != i]
    return [(k, top + [(al[qo + k] - al[qo + i], float(be[qo + k] - be[qo + i]))])
            for k in range(m) if k != i]


def overlay_method(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                   dirs: list[Direction], details: dict) -> DirectionRuns:
    """Every direction over the overlay's cells (equal depths; see the module doc). Writes the
    overlay's size and engine into ``details["overlay"]``.

    Per cell, a direction's maximum is ``max_k`` of the maximum of ``min`` of affine functions
    (one function for a difference direction). ``min_rows max_vertices`` bounds it from above
    (and is exact for one function); candidates are visited in decreasing order of that bound
    and an LP is spent only while the bound beats the best LP value so far.
    """
    from ..regions import enumerate_regions

    J = joint_network(net_a, net_b)
    t0 = time.perf_counter()
    part = enumerate_regions(J, domain, method="auto", prove_coverage=False)
    details["overlay"] = {"cells": len(part), "engine": part.method,
                          "seconds": time.perf_counter() - t0}
    free = np.flatnonzero(~domain.fixed)
    m = net_a.output_dim
    verts = [_polygon_vertices(r.H, r.c, r.center, free) if free.size <= 2 else None
             for r in part.regions]
    runs = DirectionRuns([], [])
    for dr in dirs:
        t1 = time.perf_counter()
        entries = []  # (upper bound, exact?, cell, k, rows)
        for r, region in enumerate(part.regions):
            V = verts[r]
            for k, rows in _cell_pieces(dr, region.alpha, region.beta, m):
                if V is None:
                    entries.append((math.inf, False, r, k, rows))
                    continue
                ubs = [float(np.max(V @ g + g0)) for g, g0 in rows]
                entries.append((min(ubs), len(rows) == 1, r, k, rows))
        entries.sort(key=lambda e: -e[0])
        values: list[tuple[float, int, int | None]] = []
        best_f = -math.inf
        n_lp = 0
        for ub, exact_ub, r, k, rows in entries:
            if ub <= best_f - OVERLAY_SCREEN_TOL * (1 + abs(best_f)):
                break
            if exact_ub:
                v = ub
            else:
                reg = part.regions[r]
                v = _min_affine_lp(reg.H, reg.c, rows)[0]
                n_lp += 1
            values.append((v, r, k))
            best_f = max(best_f, v)
        cand = sorted((e for e in values
                       if e[0] >= best_f - OVERLAY_SCREEN_TOL * (1 + abs(best_f))),
                      key=lambda e: -e[0])[:MAX_EXACT_REGIONS]
        best = None
        how = None
        for _, r, k in cand:
            pa, pb = _split_pattern(net_a, net_b, part.regions[r].pattern)
            got = exact_cell_max(net_a, net_b, domain, pa, pb, dr, k)
            if got is not None and (best is None or got[0] > best[0]):
                best, how = got, got[2]
        if best is not None:
            runs.found.append((best[0], best[1]))
        upper = best_f if best is None else max(best_f, float(best[0]))
        runs.log.append({"direction": dr.label(), "status": "solved",
                         "lower": None if best is None else str(best[0]), "upper": upper,
                         "solved": True, "lp": how, "float_lps": n_lp,
                         "exact_cells": len(cand), "seconds": time.perf_counter() - t1})
    return runs
