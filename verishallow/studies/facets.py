"""Facet statistics and exact region geometry (vertices, volume) in 2-D and 3-D.

Volumes are exact up to float arithmetic, not Monte-Carlo: a region is the intersection of its
facet half-spaces (the facet list is irredundant and includes the domain's faces), so its
vertices are the points where ``d`` facet planes meet and every other facet inequality holds.
2-D areas come from the ordered polygon (shoelace formula); 3-D volumes from pyramids over each
facet polygon with apex at the region's Chebyshev centre.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np

from ..errors import InputError
from ..regions import Partition, Region
from .tolerances import POLYGON_VERTEX_TOL


def _scale(region: Region) -> float:
    return max(1.0, float(np.max(np.abs(region.c), initial=0.0)))


def region_vertices(region: Region) -> np.ndarray:
    """Vertices of a bounded 2-D or 3-D region, ``(k, d)``, deduplicated (unordered)."""
    H, c = region.H, region.c
    d = H.shape[1]
    if d not in (2, 3):
        raise InputError(f"region vertices are implemented for 2-D and 3-D inputs, not {d}-D")
    tol = POLYGON_VERTEX_TOL * _scale(region)
    pts = []
    for combo in itertools.combinations(range(len(c)), d):
        M = H[list(combo)]
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        v = np.linalg.solve(M, c[list(combo)])
        if np.all(H @ v <= c + tol):
            pts.append(v)
    if not pts:
        return np.zeros((0, d))
    P = np.array(pts)
    keep: list[np.ndarray] = []
    for p in P:
        if all(np.max(np.abs(p - q)) > tol for q in keep):
            keep.append(p)
    return np.array(keep)


def order_polygon(P: np.ndarray) -> np.ndarray:
    """Vertices of a convex polygon sorted counter-clockwise around their mean."""
    if len(P) < 3:
        return P
    m = P.mean(axis=0)
    ang = np.arctan2(P[:, 1] - m[1], P[:, 0] - m[0])
    return P[np.argsort(ang)]


def polygon_area(P: np.ndarray) -> float:
    """Shoelace area of an ordered polygon."""
    if len(P) < 3:
        return 0.0
    x, y = P[:, 0], P[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def region_polygon(region: Region) -> np.ndarray:
    """The ordered vertex polygon of a bounded 2-D region."""
    return order_polygon(region_vertices(region))


def region_volume(region: Region) -> float:
    """Exact area (2-D) or volume (3-D) of a bounded region."""
    V = region_vertices(region)
    d = region.H.shape[1]
    if d == 2:
        return polygon_area(order_polygon(V))
    H, c = region.H, region.c
    tol = POLYGON_VERTEX_TOL * _scale(region)
    apex = region.center
    vol = 0.0
    for k in range(len(c)):
        on = V[np.abs(V @ H[k] - c[k]) <= tol]
        if len(on) < 3:
            continue
        n = H[k]
        u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        w = np.cross(n, u)
        area = polygon_area(order_polygon(np.column_stack([on @ u, on @ w])))
        vol += area * (c[k] - float(H[k] @ apex)) / 3.0
    return vol


def partition_volumes(partition: Partition) -> np.ndarray:
    """Volume of every region (bounded 2-D/3-D domains only), in region-id order."""
    dom = partition.domain
    lo, hi = dom.bounding_box()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("region volumes need a bounded domain")
    return np.array([region_volume(r) for r in partition])


def facet_statistics(partition: Partition) -> dict:
    """Facet counts for the polytope-simplicity study (Fan et al.).

    ``mean_facets`` counts every facet (neuron and domain faces) like ``regions`` does;
    ``mean_neuron_facets`` only the neuron ones; ``mean_facets_interior`` only regions that touch
    no domain face (in a box, regions cut by the box have their shape decided by the box).
    """
    regs = list(partition)
    d = partition.net.input_dim
    allc = np.array([r.n_facets for r in regs], dtype=float)
    neuron = np.array([sum(f.kind == "neuron" for f in r.facets) for r in regs], dtype=float)
    interior = np.array([all(f.kind == "neuron" for f in r.facets) for r in regs], dtype=bool)
    return {
        "regions": len(regs),
        "input_dim": d,
        "mean_facets": float(allc.mean()) if len(regs) else 0.0,
        "mean_neuron_facets": float(neuron.mean()) if len(regs) else 0.0,
        "interior_regions": int(interior.sum()),
        "mean_facets_interior": float(allc[interior].mean()) if interior.any() else math.nan,
        "max_facets": int(allc.max()) if len(regs) else 0,
        "histogram": dict(sorted(Counter(int(v) for v in allc).items())),
    }


def one_layer_regions(n: int, d: int) -> int:
    """Regions of ``n`` hyperplanes in general position in R^d: ``sum_{i<=d} C(n, i)``."""
    return sum(math.comb(n, i) for i in range(d + 1))


def one_layer_mean_facets(n: int, d: int) -> float:
    """Mean facets per region of that arrangement: ``2 n sum_{i<d} C(n-1, i) / regions``."""
    return 2 * n * sum(math.comb(n - 1, i) for i in range(d)) / one_layer_regions(n, d)
