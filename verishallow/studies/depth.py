"""Per-depth statistics of random networks (Avelin & Karlsson's cut-off in depth).

For one network on a fixed box: the number of activation regions, the fraction of the box's
volume on which the output is constant (the region's ``alpha`` is exactly 0, which happens when
every neuron of some layer is inactive there, or the active ones feed nothing alive), and the
mean ratio ``||f(x) - f(y)|| / ||x - y||`` over a fixed set of input pairs. Volumes are exact
(polygon areas), not Monte-Carlo.

Two engines give the regions: the general LP-based :func:`~verishallow.regions.enumerate_regions`
(any box; volumes from :func:`~verishallow.studies.facets.region_volume`, 2-D or 3-D), and
:func:`plane_regions`, a dedicated 2-D algorithm without LPs (polygon splitting, layer by layer,
the 2-D analogue of :mod:`.breakpoints`), about 20x faster on deep networks; the tests check the
two agree region by region.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..domain import Box
from ..errors import InputError
from ..network import ReLUNetwork
from .common import he_network
from .facets import partition_volumes, polygon_area
from .tolerances import SLIVER_RTOL


@dataclass(frozen=True)
class PlaneRegions:
    """Activation regions of a 2-input network on a box: polygon, pattern, affine model."""

    polygons: list[np.ndarray]  # counter-clockwise vertices, one (k, 2) array per region
    patterns: np.ndarray  # (K, N) bool
    alphas: np.ndarray  # (K, m, 2)
    betas: np.ndarray  # (K, m)

    @property
    def areas(self) -> np.ndarray:
        return np.array([polygon_area(P) for P in self.polygons])

    def __len__(self) -> int:
        return len(self.polygons)


def _split(P: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut convex polygon ``P`` by the line where the affine function with vertex values ``v``
    vanishes: returns the parts with ``v <= 0`` and ``v >= 0``."""
    neg, pos = [], []
    n = len(P)
    for k in range(n):
        p, q, a, b = P[k], P[(k + 1) % n], v[k], v[(k + 1) % n]
        if a <= 0:
            neg.append(p)
        if a >= 0:
            pos.append(p)
        if (a < 0 < b) or (b < 0 < a):
            x = p + (a / (a - b)) * (q - p)
            neg.append(x)
            pos.append(x)
    return np.array(neg).reshape(-1, 2), np.array(pos).reshape(-1, 2)


def plane_regions(net: ReLUNetwork, box: Box) -> PlaneRegions:
    """Every activation region of a 2-input network on a 2-D box, without LPs.

    Cells are convex polygons on which all earlier layers' activations are fixed, so the next
    layer's pre-activations are affine on each cell; each cell is cut by the lines of the
    neurons whose sign changes on it. Each final piece is one activation region (the pieces of a
    line arrangement inside a convex cell have distinct sign vectors). Exact up to float
    arithmetic; pieces thinner than ``SLIVER_RTOL`` of their cell are treated as no cut.
    """
    if net.input_dim != 2 or box.dim != 2 or box.A.shape[0] or not box.is_bounded_box:
        raise InputError("plane_regions needs a 2-input network and a bounded 2-D box")
    (x0, y0), (x1, y1) = box.lower, box.upper
    start = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    # a cell: (polygon, M, m, bits) with the previous layer's activations a = M x + m on it
    cells = [(start, np.eye(2), np.zeros(2), np.zeros(0, dtype=bool))]
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        new_cells = []
        for P, M, m, bits in cells:
            A = W @ M
            c = W @ m + b
            V = P @ A.T + c  # (vertices, n)
            active = np.all(V >= 0, axis=0) & np.any(V > 0, axis=0)
            decided = active | np.all(V <= 0, axis=0)
            pieces = [(P, active.copy())]
            cell_area = polygon_area(P)
            for j in np.flatnonzero(~decided):
                nxt = []
                for Q, on in pieces:
                    v = Q @ A[j] + c[j]
                    if np.all(v <= 0):
                        nxt.append((Q, on))
                        continue
                    if np.all(v >= 0):
                        on = on.copy()
                        on[j] = True
                        nxt.append((Q, on))
                        continue
                    neg, pos = _split(Q, v)
                    tiny = SLIVER_RTOL * cell_area
                    keep_neg, keep_pos = polygon_area(neg) > tiny, polygon_area(pos) > tiny
                    on_j = on.copy()
                    on_j[j] = True
                    if keep_neg and keep_pos:
                        nxt += [(neg, on), (pos, on_j)]
                    elif keep_pos:
                        nxt.append((Q, on_j))
                    else:
                        nxt.append((Q, on))
                pieces = nxt
            for Q, on in pieces:
                f = on.astype(np.float64)
                new_cells.append((Q, A * f[:, None], c * f, np.concatenate([bits, on])))
        cells = new_cells
    W, b = net.weights[-1], net.biases[-1]
    alphas = np.array([W @ M for _, M, _, _ in cells])
    betas = np.array([W @ m + b for _, _, m, _ in cells])
    pats = np.array([bits for *_, bits in cells], dtype=bool).reshape(len(cells), -1)
    return PlaneRegions([P for P, *_ in cells], pats, alphas, betas)


def fixed_pairs(box: Box, n_pairs: int, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` pairs of points drawn uniformly in the box, the same for every network."""
    rng = np.random.default_rng(seed)
    lo, hi = box.lower, box.upper
    X = rng.uniform(lo, hi, size=(n_pairs, box.dim))
    Y = rng.uniform(lo, hi, size=(n_pairs, box.dim))
    return X, Y


def distance_ratio(net: ReLUNetwork, X: np.ndarray, Y: np.ndarray) -> float:
    """Mean of ``||f(x) - f(y)|| / ||x - y||`` over the pairs (0 once ``f`` is constant)."""
    num = np.linalg.norm(net.forward(X) - net.forward(Y), axis=1)
    den = np.linalg.norm(X - Y, axis=1)
    return float(np.mean(num / den))


def depth_statistics(net: ReLUNetwork, box: Box, pairs: tuple[np.ndarray, np.ndarray],
                     engine: str = "plane") -> dict:
    """Regions, constant-output volume fraction and distance ratio of one network on ``box``.

    ``engine="plane"`` (2-D boxes) uses :func:`plane_regions`; ``"lp"`` enumerates regions
    with LPs and measures them from their facets (2-D or 3-D).
    """
    t0 = time.perf_counter()
    if engine == "plane":
        pr = plane_regions(net, box)
        vols = pr.areas
        const = np.all(pr.alphas == 0.0, axis=(1, 2))
    elif engine == "lp":
        from ..regions import enumerate_regions

        part = enumerate_regions(net, box, prove_coverage=False)
        vols = partition_volumes(part)
        const = np.array([bool(np.all(r.alpha == 0.0)) for r in part], dtype=bool)
    else:
        raise InputError(f"unknown engine {engine!r} (plane or lp)")
    total = float(np.prod(box.upper - box.lower))
    return {
        "regions": len(vols),
        "constant_regions": int(const.sum()),
        "constant_fraction": float(vols[const].sum() / total),
        "distance_ratio": distance_ratio(net, *pairs),
        "volume_error": float(abs(vols.sum() - total) / total),
        "seconds": time.perf_counter() - t0,
    }


def depth_study(width: int, depths: Sequence[int], seeds: Sequence[int], box: Box,
                n_pairs: int = 256, output_dim: int | None = None,
                bias: str = "torch", engine: str = "plane") -> list[dict]:
    """One row per (depth, seed) for He-initialised networks of a fixed ``width``.

    The output layer has ``output_dim`` units (default: ``width``, so the distance ratio
    measures the last representation's spread rather than one random projection of it).
    """
    pairs = fixed_pairs(box, n_pairs)
    rows = []
    for depth in depths:
        for seed in seeds:
            net = he_network(box.dim, [width] * depth, output_dim or width,
                             seed=_seed(width, depth, seed), bias=bias)
            row = {"width": width, "depth": depth, "seed": seed}
            row.update(depth_statistics(net, box, pairs, engine))
            rows.append(row)
    return rows


def _seed(width: int, depth: int, seed: int) -> int:
    """A distinct, reproducible stream per configuration."""
    return int(np.random.SeedSequence([width, depth, seed]).generate_state(1)[0])


def sampled_statistics(net: ReLUNetwork, samples: np.ndarray,
                       pairs: tuple[np.ndarray, np.ndarray]) -> dict:
    """Cheap statistics for networks too large to enumerate: the Monte-Carlo share of
    ``samples`` where the gradient is exactly 0 (the local model is constant: a dead layer
    zeroes the Jacobian exactly in floats) and the distance ratio."""
    J = np.broadcast_to(np.eye(net.input_dim), (samples.shape[0], net.input_dim,
                                                net.input_dim))
    a = samples
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        z = a @ W.T + b
        on = z > 0
        J = np.einsum("ij,njd->nid", W, J) * on[:, :, None]
        a = np.maximum(z, 0.0)
    J = np.einsum("ij,njd->nid", net.weights[-1], J)
    const = np.all(J == 0.0, axis=(1, 2))
    return {"constant_fraction_mc": float(const.mean()),
            "distance_ratio": distance_ratio(net, *pairs)}
