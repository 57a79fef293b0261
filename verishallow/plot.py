"""Pictures of the partition of a 2-D domain, or of a 2-D slice through a higher-dimensional one.

Everything drawn is exact geometry, not a raster sample: each region's polygon comes from its
facets (:func:`verishallow.studies.facets.region_polygon`), the fill by output value is Gouraud
shading of the region's own affine model over a triangulation of its polygon (linear
interpolation of an affine function is the function itself), and the decision boundary is
clipped from each region's affine models. A slice is the network ``y -> f(x0 + E y)``
(:meth:`ReLUNetwork.compose_input`) on the 2-D domain the slice cuts out, so its regions are
those of the sliced network, enumerated as usual.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .domain import Box, Domain, Polytope
from .errors import InputError
from .network import ReLUNetwork

#: Accepted picture sizes (pixels per side).
MIN_PIXELS, MAX_PIXELS = 64, 8192
COLOR_MODES = ("output", "model")


@dataclass(frozen=True)
class PlotResult:
    path: str
    regions: int
    width: int
    height: int
    dims: tuple[int, int]
    at: np.ndarray  # the full input point the slice passes through (free coordinates zeroed)
    seconds: float

    def to_dict(self) -> dict:
        return {"path": self.path, "regions": self.regions, "width": self.width,
                "height": self.height, "slice": list(self.dims), "at": self.at.tolist(),
                "seconds": self.seconds}


def slice_network(net: ReLUNetwork, domain: Domain, dims: tuple[int, int] | None = None,
                  at=None) -> tuple[ReLUNetwork, Domain, np.ndarray]:
    """The 2-D network and domain of the slice through ``at`` along inputs ``dims``.

    ``at`` is a full input point (its ``dims`` entries are ignored) or the values of the other
    coordinates in order; by default the domain's centre. Returns ``(net2, dom2, x0)`` with
    ``x = x0 + E y``.
    """
    d = net.input_dim
    if d < 2:
        raise InputError(f"plot draws 2-D partitions; the model has {d} input(s) "
                         "(for 1 input use the breakpoints of verishallow.studies.breakpoints)")
    if domain.dim != d:
        raise InputError(f"domain has {domain.dim} coordinates but the model has {d} inputs")
    if dims is None:
        if d != 2:
            raise InputError(f"the model has {d} inputs; pick two with --slice i,j")
        dims = (0, 1)
    i, j = (int(v) for v in dims)
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise InputError(f"--slice needs two different input indices in 0..{d - 1}, "
                         f"got {i},{j}")
    others = [k for k in range(d) if k not in (i, j)]
    lo, hi = domain.bounding_box()
    if at is None:
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise InputError(f"the domain {domain.describe()} is unbounded; plot needs a "
                             "bounded one")
        x0 = (lo + hi) / 2.0
    else:
        a = np.asarray(at, dtype=np.float64).reshape(-1)
        if a.size == d:
            x0 = a.copy()
        elif a.size == len(others):
            x0 = np.zeros(d)
            x0[others] = a
        else:
            raise InputError(f"--at needs {d} values (a full point) or {len(others)} (the "
                             f"fixed coordinates {others}); got {a.size}")
    x0[[i, j]] = 0.0
    E = np.zeros((d, 2))
    E[i, 0] = 1.0
    E[j, 1] = 1.0
    if others:
        fixed_ok = np.all((x0[others] >= domain.lower[others])
                          & (x0[others] <= domain.upper[others]))
        if not fixed_ok:
            raise InputError(f"the slice point {x0[others].tolist()} (inputs {others}) lies "
                             f"outside the domain {domain.describe()}")
    lo2, hi2 = domain.lower[[i, j]], domain.upper[[i, j]]
    if domain.A.shape[0]:
        A2 = domain.A @ E
        b2 = domain.b - domain.A @ x0
        dom2: Domain = Polytope(A2, b2, lo2, hi2)
    else:
        dom2 = Box(lo2, hi2)
    blo, bhi = dom2.bounding_box()
    if not (np.all(np.isfinite(blo)) and np.all(np.isfinite(bhi))):
        raise InputError(f"the domain {domain.describe()} is unbounded in the slice; plot "
                         "needs a bounded one")
    dom2.validate_for(2)
    net2 = net if (d == 2 and (i, j) == (0, 1)) else net.compose_input(E, x0)
    return net2, dom2, x0


# ----- exact decision boundary -----------------------------------------------------------------
def _clip(P: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sutherland-Hodgman: the part of polygon ``P`` where the affine ``g`` (values at the
    vertices, extra columns carried along) has ``g[:, 0] <= 0``."""
    out_p, out_g = [], []
    n = len(P)
    for k in range(n):
        p, q = P[k], P[(k + 1) % n]
        gp, gq = g[k], g[(k + 1) % n]
        if gp[0] <= 0:
            out_p.append(p)
            out_g.append(gp)
        if (gp[0] < 0 < gq[0]) or (gq[0] < 0 < gp[0]):
            t = gp[0] / (gp[0] - gq[0])
            out_p.append(p + t * (q - p))
            out_g.append(gp + t * (gq - gp))
    return np.array(out_p).reshape(-1, 2), np.array(out_g).reshape(-1, g.shape[1])


def _zero_segment(P: np.ndarray, h: np.ndarray) -> np.ndarray | None:
    """The segment of convex polygon ``P`` where the affine ``h`` (vertex values) is 0
    (none when ``h`` vanishes on the whole polygon: a tie region, not a boundary)."""
    if np.all(h == 0):
        return None
    pts = []
    n = len(P)
    for k in range(n):
        p, q, hp, hq = P[k], P[(k + 1) % n], h[k], h[(k + 1) % n]
        if hp == 0:
            pts.append(p)
        elif (hp < 0 < hq) or (hq < 0 < hp):
            pts.append(p + hp / (hp - hq) * (q - p))
    if len(pts) < 2:
        return None
    pts_a = np.array(pts)
    span = np.ptp(pts_a, axis=0)
    axis = int(np.argmax(span))
    a, b = pts_a[np.argmin(pts_a[:, axis])], pts_a[np.argmax(pts_a[:, axis])]
    return None if np.allclose(a, b) else np.array([a, b])


def decision_segments(polygon: np.ndarray, alpha: np.ndarray, beta: np.ndarray
                      ) -> list[np.ndarray]:
    """Where the argmax of the outputs changes inside one region (exact segments).

    With one output the boundary is its zero level (a binary classifier's logit).
    """
    if len(polygon) < 3:
        return []
    F = polygon @ alpha.T + beta  # (vertices, m)
    m = F.shape[1]
    if m == 1:
        s = _zero_segment(polygon, F[:, 0])
        return [] if s is None else [s]
    segs = []
    for a in range(m):
        for b in range(a + 1, m):
            P, G = polygon, F - F[:, [a]]  # keep where f_k - f_a <= 0 for every other k
            for k in range(m):
                if k in (a, b) or len(P) < 3:
                    continue
                order = [k] + [t for t in range(m) if t != k]
                P, Gk = _clip(P, G[:, order])
                G = Gk[:, np.argsort(order)]
            if len(P) < 2:
                continue
            h = G[:, b]  # f_b - f_a
            s = _zero_segment(P, h)
            if s is not None:
                segs.append(s)
    return segs


# ----- drawing -----------------------------------------------------------------------------------
def _model_ids(regions) -> np.ndarray:
    """Same id for regions with the same affine model (e.g. every dead region)."""
    ids: dict[bytes, int] = {}
    out = []
    for r in regions:
        key = np.round(np.concatenate([r.alpha.ravel(), r.beta.ravel()]), 10).tobytes()
        out.append(ids.setdefault(key, len(ids)))
    return np.array(out, dtype=np.int64)


def plot_partition(net: ReLUNetwork, domain: Domain, path: str | Path, *,
                   dims: tuple[int, int] | None = None, at=None, color: str = "output",
                   output: int = 0, decision_boundary: bool = False, width: int = 800,
                   height: int = 600, dpi: int = 100, title: str | None = None) -> PlotResult:
    """Draw the regions of ``net`` on a 2-D ``domain`` (or a slice) into a PNG file."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.tri import Triangulation

    from .atomic import write_bytes
    from .regions import enumerate_regions
    from .studies.facets import region_polygon

    t0 = time.perf_counter()
    if color not in COLOR_MODES:
        raise InputError(f"unknown colour mode {color!r}; choose one of {', '.join(COLOR_MODES)}")
    for name, v in (("width", width), ("height", height)):
        if not MIN_PIXELS <= int(v) <= MAX_PIXELS:
            raise InputError(f"--{name} must be between {MIN_PIXELS} and {MAX_PIXELS} pixels, "
                             f"got {v}")
    if not 0 <= int(output) < net.output_dim:
        raise InputError(f"output index {output} is out of range: the model has "
                         f"{net.output_dim} outputs")
    net2, dom2, x0 = slice_network(net, domain, dims, at)
    i, j = dims if dims is not None else (0, 1)
    part = enumerate_regions(net2, dom2, prove_coverage=False)
    regions = list(part)
    polys = [region_polygon(r) for r in regions]

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    left, bottom = 80 / width, 45 / height  # room for tick labels and the y label
    right = 1 - (110 if color == "output" else 20) / width
    top = 1 - (30 / height)
    ax = fig.add_axes((left, bottom, right - left, top - bottom))
    if color == "output":
        xs, ys, vals, tris = [], [], [], []
        base = 0
        for r, P in zip(regions, polys, strict=True):
            if len(P) < 3:
                continue
            xs.append(P[:, 0])
            ys.append(P[:, 1])
            vals.append(P @ r.alpha[output] + r.beta[output])
            k = len(P)
            tris.extend([base, base + t, base + t + 1] for t in range(1, k - 1))
            base += k
        tri = Triangulation(np.concatenate(xs), np.concatenate(ys), np.array(tris))
        mesh = ax.tripcolor(tri, np.concatenate(vals), shading="gouraud", cmap="viridis")
        cax = fig.add_axes((right + 15 / width, bottom, 15 / width, top - bottom))
        fig.colorbar(mesh, cax=cax, label=f"output {output}")
    else:
        import matplotlib as mpl

        ids = _model_ids(regions)
        cmap = mpl.colormaps["tab20"]
        ax.add_collection(PolyCollection([P for P in polys if len(P) >= 3],
                                         facecolors=[cmap(int(k) % 20) for k, P in
                                                     zip(ids, polys, strict=True)
                                                     if len(P) >= 3],
                                         edgecolors="none"))
    edges = [np.array([P[k], P[(k + 1) % len(P)]]) for P in polys for k in range(len(P))
             if len(P) >= 3]
    ax.add_collection(LineCollection(edges, colors="black", linewidths=0.4, alpha=0.7))
    n_boundary = 0
    if decision_boundary:
        segs = [s for r, P in zip(regions, polys, strict=True)
                for s in decision_segments(P, r.alpha, r.beta)]
        n_boundary = len(segs)
        if segs:
            ax.add_collection(LineCollection(segs, colors="red", linewidths=1.6))
    lo, hi = dom2.bounding_box()
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(f"x{i}")
    ax.set_ylabel(f"x{j}")
    if title is None:
        title = f"{len(regions)} regions"
        if net.input_dim > 2:
            fixed = ", ".join(f"x{k}={x0[k]:.3g}" for k in range(net.input_dim)
                              if k not in (i, j))
            title += f"; slice at {fixed}"
        if decision_boundary:
            title += f"; decision boundary ({n_boundary} segments)"
    ax.set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    write_bytes(path, buf.getvalue())
    return PlotResult(str(path), len(regions), int(width), int(height), (int(i), int(j)), x0,
                      time.perf_counter() - t0)
