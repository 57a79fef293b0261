"""``ShallowNetwork``: the three-layer network of Villani & Schoots, and its evaluation.

Structure (``K`` hyperplanes, ``R`` regions, ``d`` inputs, ``m`` outputs):

* **Layer 1** (hyperplanes): ``h(x) = H x + c``, ``H`` of shape (K, d). One row per distinct
  affine piece of a bent neuron hyperplane that bounds some region (rows are unit normals, sign
  normalised so the first non-zero entry is positive). Domain faces are not hyperplanes: the
  domain is checked separately, which is why a region's selector needs only its neuron facets.
* **Layer 2** (selectors): region ``r`` has facets ``k`` with signs ``sigma_rk in {+1, -1}``;
  the region is ``{x in domain : sigma_rk h_k(x) <= 0 for its facets k}`` and its selector is
  ``v_r(x) = sum_k w_rk * ReLU(sigma_rk h_k(x))`` with extended-real weights ``w_rk = +inf``.
  Conventions (implemented in :func:`ext_mul`): ``inf * 0 = 0``, ``inf * t = inf`` for
  ``t > 0``; all weights are ``+inf`` and every ReLU is ``>= 0``, so ``v_r`` is exactly 0
  (``x`` in the closed region) or ``+inf`` and no ``inf - inf`` ever arises. No finite big-M.
  Since a region's weights are all ``+inf`` and the terms are ``>= 0``, the sum factors as
  ``v_r = inf * sum_k ReLU(sigma_rk h_k(x))``, which is how it is computed.
* **Layer 3** (local models): ``g_r(x) = alpha_r x + beta_r``, gated by
  ``ReLU(g_r - v_r) - ReLU(-g_r - v_r)`` which is ``g_r`` when ``v_r = 0`` and 0 when
  ``v_r = inf``.

Boundary rule. A point on shared boundaries satisfies several selectors; the paper's sum would
count each. We pick **the selected region with the smallest id** (ids are enumeration order);
by continuity all selected regions' models agree there. Rounding can put a point a hair on the
wrong side of a hyperplane, so ``|h_k(x)| <= BOUNDARY_TOL * (|H_k|_1 |x|_inf + |c_k|)`` (a bound
on the terms summed in ``h_k``) counts as ``h_k(x) = 0``. A point inside the domain that no
selector selects (only possible through rounding at boundaries, or when a partial network does
not cover it yet) goes to the region with the smallest finite violation
``sum_k ReLU(sigma_rk h_k(x))`` (a sum of distances to violated facets: rows are unit) provided
that violation is at most ``GAP_TOL * max(1, |x|_inf)``; otherwise the point is *uncovered* and
treated like a point outside the domain.

Outside points (outside the domain by more than ``DOMAIN_TOL`` relative, non-finite, or
uncovered): :class:`~verishallow.errors.InputError` by default, NaN rows with
``outside="nan"``. Never a silent wrong value.

Two evaluation paths that give identical results (same region for every point, same float
arithmetic for the output): ``method="faithful"`` evaluates the three layers above, vectorised;
``method="fast"`` reads the region from the deep network's activation pattern (a dict lookup)
and accepts it only when the point clears every facet of that region by ``FAST_MARGIN``
(relative); every other point (boundary points, patterns that are not regions) goes through the
faithful path. A point that clears its region's facets by that margin is in no other region's
closure, so the faithful path picks the same region. (Not a proof in floating point: another
region's tolerant selector could in principle fire that far out near an extremely sharp corner,
one where violating each facet by BOUNDARY_TOL moves a point 1000x farther away. The tests check
identity on random points, facet points, projected facet points and region vertices.)
In the fallback case (no selector fired, violation <= GAP_TOL) the chosen region's model is
applied as if its ``v_r`` were 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..domain import Domain
from ..errors import InputError
from ..network import ReLUNetwork, pattern_key
from .tolerances import BOUNDARY_TOL, DOMAIN_TOL, FAST_MARGIN, GAP_TOL

#: Rows per chunk of the faithful evaluation: chunk * R * F stays below this many entries.
_CHUNK_ENTRIES = 1 << 19

OUTSIDE_MODES = ("raise", "nan")
EVAL_METHODS = ("auto", "fast", "faithful")


def _frozen(a, dtype=np.float64) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


def ext_mul(w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Extended-real product ``w * u`` with the measure-theory convention ``+-inf * 0 = 0``."""
    w = np.asarray(w, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        p = w * u
    return np.where((w == 0) | (u == 0), 0.0, p)


@dataclass(frozen=True)
class Selection:
    """Diagnostics of the faithful evaluation for each point.

    ``region``: chosen region (-1: outside the domain or uncovered); ``n_selected``: how many
    selectors fired (``v_r = 0``; 0 means the nearest-region fallback was used, or none);
    ``violation``: finite violation of the chosen region (0 whenever ``n_selected > 0``);
    ``inside``: inside the domain (within ``DOMAIN_TOL``).
    """

    region: np.ndarray
    n_selected: np.ndarray
    violation: np.ndarray
    inside: np.ndarray


class ShallowNetwork:
    """The functionally identical three-layer network of a deep ReLU network on a domain.

    Immutable: all arrays are read-only. Build it with :class:`~verishallow.shallow.ShallowBuilder`,
    :meth:`from_partition` or :func:`~verishallow.shallow.to_shallow`; read one from disk with
    :func:`~verishallow.shallow.load_shallow`.
    """

    def __init__(self, domain: Domain, H: np.ndarray, c: np.ndarray,
                 hyperplane_neurons: Sequence[Sequence[int]], selector_ptr: np.ndarray,
                 selector_index: np.ndarray, selector_sigma: np.ndarray,
                 selector_weight: np.ndarray, alpha: np.ndarray, beta: np.ndarray,
                 patterns: np.ndarray | None = None, source: ReLUNetwork | None = None,
                 hidden_widths: Sequence[int] | None = None, complete: bool = False,
                 edges: np.ndarray | None = None, meta: dict | None = None):
        d = domain.dim
        H = np.asarray(H, dtype=np.float64).reshape(-1, d)
        K = H.shape[0]
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.ndim != 3 or alpha.shape[2] != d:
            raise InputError(f"layer 3: alpha must have shape (regions, outputs, {d}), "
                             f"got {alpha.shape}")
        R, m = alpha.shape[:2]
        beta = np.asarray(beta, dtype=np.float64).reshape(R, m)
        c = np.asarray(c, dtype=np.float64).reshape(-1)
        ptr = np.asarray(selector_ptr, dtype=np.int64).reshape(-1)
        idx = np.asarray(selector_index, dtype=np.int64).reshape(-1)
        sig = np.asarray(selector_sigma, dtype=np.float64).reshape(-1)
        wgt = np.asarray(selector_weight, dtype=np.float64).reshape(-1)
        if c.shape[0] != K or len(hyperplane_neurons) != K:
            raise InputError(f"layer 1: H has {K} rows but c has {c.shape[0]} entries and "
                             f"{len(hyperplane_neurons)} neuron lists")
        if not (np.all(np.isfinite(H)) and np.all(np.isfinite(c)) and np.all(np.isfinite(alpha))
                and np.all(np.isfinite(beta))):
            raise InputError("layers 1 and 3 must be finite (only selector weights are infinite)")
        if ptr.shape[0] != R + 1 or ptr[0] != 0 or np.any(np.diff(ptr) < 0) \
                or ptr[-1] != idx.shape[0]:
            raise InputError("layer 2: selector pointer array is inconsistent with the regions")
        if not (idx.shape == sig.shape == wgt.shape):
            raise InputError("layer 2: selector index, sign and weight lists differ in length")
        if idx.size and (idx.min() < 0 or idx.max() >= K):
            raise InputError("layer 2: selector refers to a hyperplane that does not exist")
        if np.any(np.abs(sig) != 1.0):
            raise InputError("layer 2: selector signs must be +1 or -1")
        if np.any(wgt != np.inf):
            raise InputError("layer 2: selector weights must be +inf (extended reals)")
        if patterns is not None:
            patterns = np.asarray(patterns, dtype=bool)
            if patterns.ndim != 2 or patterns.shape[0] != R:
                raise InputError(f"expected one activation pattern per region ({R}), got an "
                                 f"array of shape {patterns.shape}")
        if source is not None:
            if source.input_dim != d or source.output_dim != m:
                raise InputError("the source network's shape does not match the shallow network")
            if patterns is not None and patterns.shape[1] != source.n_hidden:
                raise InputError("region patterns do not match the source network's neurons")
            hidden_widths = source.hidden_widths
        if edges is not None:
            edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
            if edges.size and (edges.min() < 0 or edges.max() >= R):
                raise InputError("region adjacency refers to a region that does not exist")
        self._set(
            domain=domain, H=_frozen(H), c=_frozen(c),
            hyperplane_neurons=tuple(tuple(int(i) for i in ids) for ids in hyperplane_neurons),
            selector_ptr=_frozen(ptr, np.int64), selector_index=_frozen(idx, np.int64),
            selector_sigma=_frozen(sig), selector_weight=_frozen(wgt),
            alpha=_frozen(alpha), beta=_frozen(beta),
            patterns=None if patterns is None else _frozen(patterns, bool),
            source=source,
            hidden_widths=None if hidden_widths is None else tuple(int(w) for w in hidden_widths),
            complete=bool(complete),
            edges=None if edges is None else _frozen(edges, np.int64),
            meta=dict(meta or {}),
        )

    def _set(self, **kw) -> None:
        for k, v in kw.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        raise AttributeError("ShallowNetwork is immutable")

    def __delattr__(self, name):
        raise AttributeError("ShallowNetwork is immutable")

    # ----- shape facts -------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.domain.dim

    @property
    def output_dim(self) -> int:
        return self.alpha.shape[1]

    @property
    def n_regions(self) -> int:
        return self.alpha.shape[0]

    @property
    def n_hyperplanes(self) -> int:
        return self.H.shape[0]

    @property
    def n_facets(self) -> int:
        """Total selector entries (neuron facets summed over regions)."""
        return int(self.selector_index.shape[0])

    def __len__(self) -> int:
        return self.n_regions

    def __repr__(self) -> str:
        return (f"ShallowNetwork({self.input_dim}->{self.output_dim}, {self.n_regions} regions, "
                f"{self.n_hyperplanes} hyperplanes, on {self.domain.describe()})")

    def selector(self, r: int) -> list[tuple[int, int]]:
        """Region ``r``'s facets as ``(hyperplane index, sigma)``: it needs ``sigma h_k <= 0``."""
        self._check_region(r)
        a, b = self.selector_ptr[r], self.selector_ptr[r + 1]
        return [(int(k), int(s)) for k, s in zip(self.selector_index[a:b],
                                                 self.selector_sigma[a:b], strict=True)]

    def _check_region(self, r: int) -> None:
        if not (0 <= int(r) < self.n_regions):
            raise InputError(f"region {r} does not exist (the network has regions 0.."
                             f"{self.n_regions - 1})")

    def neuron_name(self, flat: int) -> str:
        """``L<layer>N<index>`` of a flat neuron index (``n<flat>`` without layer widths)."""
        if not self.hidden_widths:
            return f"n{flat}"
        offs = np.concatenate([[0], np.cumsum(self.hidden_widths)])
        layer = int(np.searchsorted(offs, flat, side="right")) - 1
        return f"L{layer + 1}N{flat - offs[layer]}"

    # ----- function pieces ---------------------------------------------------------------
    @cached_property
    def _model_ids(self) -> np.ndarray:
        """Id of each region's affine map among the distinct maps (exact float comparison)."""
        if self.n_regions == 0:
            return np.zeros(0, dtype=np.int64)
        M = np.hstack([self.alpha.reshape(self.n_regions, -1), self.beta]) + 0.0  # -0 -> +0
        _, inv = np.unique(M, axis=0, return_inverse=True)
        return inv.reshape(-1)

    @property
    def function_pieces(self) -> int:
        """Number of distinct affine maps ``(alpha_r, beta_r)``, compared exactly (bit-equal
        after mapping -0.0 to 0.0). Exact equality never merges different maps; maps that are
        equal in exact arithmetic but were computed along different float paths would count
        twice (in practice, regions split by neurons that do not reach the output compare
        equal: their contribution is an exact 0)."""
        return int(self._model_ids.max()) + 1 if self.n_regions else 0

    @property
    def connected_pieces(self) -> int | None:
        """Connected pieces: regions merged across facets where the model does not change
        (``None`` when the region adjacency is unknown)."""
        if self.edges is None:
            return None
        parent = list(range(self.n_regions))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        ids = self._model_ids
        for a, b in self.edges:
            if ids[a] == ids[b]:
                parent[find(int(a))] = find(int(b))
        return len({find(i) for i in range(self.n_regions)})

    def summary(self) -> dict:
        """Counts for reports (``convert``/``show``)."""
        return {
            "regions": self.n_regions,
            "hyperplanes": self.n_hyperplanes,
            "function_pieces": self.function_pieces,
            "connected_pieces": self.connected_pieces,
            "facets": self.n_facets,
            "mean_facets": self.n_facets / self.n_regions if self.n_regions else 0.0,
            "inputs": self.input_dim,
            "outputs": self.output_dim,
            "complete": self.complete,
        }

    # ----- evaluation --------------------------------------------------------------------
    def __call__(self, X: np.ndarray, outside: str = "raise", method: str = "auto"
                 ) -> np.ndarray:
        return self.evaluate(X, outside=outside, method=method)

    def evaluate(self, X: np.ndarray, outside: str = "raise", method: str = "auto"
                 ) -> np.ndarray:
        """Network output for a batch (n, d) -> (n, m) in float64 (a vector gives a vector).

        ``method``: "faithful" (three-layer evaluation), "fast" (pattern lookup, needs the
        source network) or "auto" (fast when possible). ``outside``: "raise" or "nan".
        """
        X, single = self._as_batch(X)
        ids = self._locate(X, outside, method)
        Y = np.full((X.shape[0], self.output_dim), np.nan)
        ok = ids >= 0
        if np.any(ok):
            Y[ok] = self._gated_model(X[ok], ids[ok])
        return Y[0] if single else Y

    def locate(self, X: np.ndarray, outside: str = "raise", method: str = "auto") -> np.ndarray:
        """Region id of each point under the boundary rule (-1 for NaN rows)."""
        X, single = self._as_batch(X)
        ids = self._locate(X, outside, method)
        return ids[0] if single else ids

    def select(self, X: np.ndarray) -> Selection:
        """Faithful-path diagnostics (how many selectors fired, fallback violations)."""
        X, _ = self._as_batch(X)
        inside = self.contains(X)
        n = X.shape[0]
        region = np.full(n, -1, dtype=np.int64)
        nsel = np.zeros(n, dtype=np.int64)
        viol = np.full(n, np.inf)
        if np.any(inside):
            r, ns, v = self._faithful(X[inside])
            region[inside], nsel[inside], viol[inside] = r, ns, v
        return Selection(region, nsel, viol, inside)

    def contains(self, X: np.ndarray) -> np.ndarray:
        """Which points lie in the domain (within ``DOMAIN_TOL``; non-finite points never)."""
        X, _ = self._as_batch(X)
        dom = self.domain
        ok = np.all(np.isfinite(X), axis=1)
        lo = dom.lower - DOMAIN_TOL * np.maximum(1.0, np.abs(dom.lower))
        hi = dom.upper + DOMAIN_TOL * np.maximum(1.0, np.abs(dom.upper))
        ok &= np.all(X >= lo, axis=1) & np.all(X <= hi, axis=1)
        if dom.A.shape[0] and np.any(ok):
            Xo = X[ok]
            scale = np.abs(Xo) @ np.abs(dom.A).T + np.abs(dom.b)
            ok[ok] = np.all(Xo @ dom.A.T <= dom.b + DOMAIN_TOL * np.maximum(1.0, scale), axis=1)
        return ok

    # ----- internals ---------------------------------------------------------------------
    def _as_batch(self, X) -> tuple[np.ndarray, bool]:
        X = np.asarray(X, dtype=np.float64)
        single = X.ndim == 1
        X = np.atleast_2d(X)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise InputError(f"expected inputs of dimension {self.input_dim}, got shape {X.shape}")
        return X, single

    def _locate(self, X: np.ndarray, outside: str, method: str) -> np.ndarray:
        if outside not in OUTSIDE_MODES:
            raise InputError(f"outside must be one of {', '.join(OUTSIDE_MODES)}, got {outside!r}")
        if method not in EVAL_METHODS:
            raise InputError(f"method must be one of {', '.join(EVAL_METHODS)}, got {method!r}")
        if method == "fast" and not self.has_fast_path:
            raise InputError("the fast path needs the source network and region patterns, "
                             "which this shallow network does not carry")
        fast = method == "fast" or (method == "auto" and self.has_fast_path)
        inside = self.contains(X)
        ids = np.full(X.shape[0], -1, dtype=np.int64)
        Xi = X[inside]
        if Xi.shape[0]:
            ids[inside] = self._fast(Xi) if fast else self._faithful(Xi)[0]
        bad = ids < 0
        if outside == "raise" and np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            where = f"point {i} ({np.array2string(X[i], precision=6)})"
            n_bad = int(bad.sum())
            more = f" (and {n_bad - 1} more)" if n_bad > 1 else ""
            if not inside[i]:
                raise InputError(f"{where} lies outside the domain {self.domain.describe()}"
                                 f"{more}; pass outside='nan' for NaN rows instead")
            raise InputError(f"{where} is inside the domain but no region covers it{more}"
                             + ("" if self.complete else " (the network is not proved "
                                "complete)") + "; pass outside='nan' for NaN rows instead")
        return ids

    @cached_property
    def _padded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Layers 1-2 in padded form: H and c with an extra all-zero row (index K, h = 0),
        and per region F = max facets slots of (hyperplane, sigma, weight); padding points at
        the zero row with sigma 0 and weight 0."""
        K, R = self.n_hyperplanes, self.n_regions
        counts = np.diff(self.selector_ptr)
        F = max(1, int(counts.max()) if R else 1)
        idx = np.full((R, F), K, dtype=np.int64)
        sig = np.zeros((R, F))
        wgt = np.zeros((R, F))
        rows = np.repeat(np.arange(R), counts)
        cols = np.arange(self.n_facets) - np.repeat(self.selector_ptr[:-1], counts)
        idx[rows, cols] = self.selector_index
        sig[rows, cols] = self.selector_sigma
        wgt[rows, cols] = self.selector_weight
        Hx = np.vstack([self.H, np.zeros((1, self.input_dim))])
        cx = np.concatenate([self.c, [0.0]])
        return Hx, cx, idx, sig, wgt

    @cached_property
    def _row_l1(self) -> np.ndarray:
        Hx = self._padded[0]
        return np.abs(Hx).sum(axis=1)

    def _layer1(self, X: np.ndarray) -> np.ndarray:
        """``h = H x + c`` with the boundary rule: ``|h_k| <= BOUNDARY_TOL * scale_k(x)`` is
        set to 0, ``scale_k(x) = |H_k|_1 |x|_inf + |c_k|`` (bounds the terms summed in h_k)."""
        Hx, cx = self._padded[:2]
        h = X @ Hx.T + cx
        xmax = np.abs(X).max(axis=1, keepdims=True)
        thr = BOUNDARY_TOL * (xmax * self._row_l1 + np.abs(cx))
        h[np.abs(h) <= thr] = 0.0
        return h

    @cached_property
    def _slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Layer 2 flattened for ``np.add.reduceat``: per slot, its column of ``[h, -h]``
        (``k`` if sigma = +1, ``K + 1 + k`` if -1) and sigma; each region's first slot. A
        region without neuron facets gets one slot on the all-zero row K."""
        K, R = self.n_hyperplanes, self.n_regions
        counts = np.diff(self.selector_ptr)
        empty = counts == 0
        size = np.where(empty, 1, counts)
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        k = np.full(int(size.sum()), K, dtype=np.int64)
        s = np.zeros(int(size.sum()))
        pos = np.repeat(start[~empty], counts[~empty]) + (
            np.arange(self.n_facets) - np.repeat(self.selector_ptr[:-1][~empty], counts[~empty]))
        k[pos] = np.where(self.selector_sigma < 0, self.selector_index + K + 1,
                          self.selector_index)
        s[pos] = self.selector_sigma
        # every weight of a region is +inf (checked in __init__), so the layer-2 sum factors:
        # sum_k inf * ReLU(.) = inf * sum_k ReLU(.)   (distributive for terms >= 0, inf*0 = 0)
        w = np.full(R, np.inf)
        return k, s, start, w

    def _faithful(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Layers 1-2 for in-domain points: (region or -1 if uncovered, n_selected, violation)."""
        n, R = X.shape[0], self.n_regions
        region = np.full(n, -1, dtype=np.int64)
        nsel = np.zeros(n, dtype=np.int64)
        viol = np.full(n, np.inf)
        if R == 0:
            return region, nsel, viol
        k, _, start, w = self._slots
        step = max(1, _CHUNK_ENTRIES // k.size)
        for a in range(0, n, step):
            Xc = X[a:a + step]
            h = self._layer1(Xc)
            # ReLU(sigma_rk h_k) per slot, read from relu([h, -h]) (sigma = +1: column k,
            # sigma = -1: column K + 1 + k; empty regions read ReLU(0) of the zero row)
            pm = np.maximum(np.concatenate([h, -h], axis=1), 0.0)
            u = np.take(pm, k, axis=1)
            finite = np.add.reduceat(u, start, axis=1)    # sum_k ReLU(sigma_rk h_k): (n, R)
            v = ext_mul(w, finite)                        # extended reals: exactly 0 or +inf
            selected = v == 0
            ns = selected.sum(axis=1)
            r = np.argmax(selected, axis=1)               # smallest selected id
            none = ns == 0
            if np.any(none):                              # fallback: smallest violation
                r[none] = np.argmin(finite[none], axis=1)
            vr = finite[np.arange(r.shape[0]), r]
            gap = GAP_TOL * np.maximum(1.0, np.abs(Xc).max(axis=1))
            region[a:a + step] = np.where(vr <= gap, r, -1)
            nsel[a:a + step] = ns
            viol[a:a + step] = vr
        return region, nsel, viol

    @property
    def has_fast_path(self) -> bool:
        return self.source is not None and self.patterns is not None

    @cached_property
    def _pattern_index(self) -> dict[bytes, int]:
        assert self.patterns is not None
        return {pattern_key(p): r for r, p in enumerate(self.patterns)}

    def _fast(self, X: np.ndarray) -> np.ndarray:
        """Pattern lookup, verified against the region's facets; the rest goes faithful."""
        assert self.source is not None
        n = X.shape[0]
        rid = np.full(n, -1, dtype=np.int64)
        if self.source.n_hidden == 0:
            rid[:] = 0 if self.n_regions else -1
        else:
            packed = np.packbits(self._source_pattern(X), axis=1)
            keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))
            uniq, inv = np.unique(keys.reshape(-1), return_inverse=True)
            index = self._pattern_index
            lut = np.array([index.get(u.tobytes(), -1) for u in uniq], dtype=np.int64)
            rid = lut[inv.reshape(-1)]
        clear = np.zeros(n, dtype=bool)
        hit = np.flatnonzero(rid >= 0)
        if hit.size:
            clear[hit] = self._clear(X[hit], rid[hit])
        todo = ~clear
        if np.any(todo):
            rid[todo] = self._faithful(X[todo])[0]
        return rid

    def _source_pattern(self, X: np.ndarray) -> np.ndarray:
        """Activation bits of the deep network (``z > 0``, as ``ReLUNetwork.pattern``),
        written layer by layer into one array (cheaper than keeping every pre-activation)."""
        src = self.source
        assert src is not None
        P = np.empty((X.shape[0], src.n_hidden), dtype=bool)
        offs = src.layer_offsets
        a = X
        for j, (w, b) in enumerate(zip(src.weights[:-1], src.biases[:-1], strict=True)):
            z = a @ w.T + b
            np.greater(z, 0.0, out=P[:, offs[j]:offs[j + 1]])
            a = np.maximum(z, 0.0, out=z)
        return P

    def _clear(self, X: np.ndarray, rid: np.ndarray) -> np.ndarray:
        """Whether each point satisfies every facet of its region by ``FAST_MARGIN``."""
        Hx, cx, idx, sig, _ = self._padded
        out = np.empty(X.shape[0], dtype=bool)
        step = max(1, _CHUNK_ENTRIES // (idx.shape[1] * max(1, self.input_dim)))
        for a in range(0, X.shape[0], step):
            Xc, rc = X[a:a + step], rid[a:a + step]
            k = idx[rc]                                    # (n, F)
            s = sig[rc]
            Hk = Hx[k]                                     # (n, F, d)
            h = np.einsum("nfd,nd->nf", Hk, Xc) + cx[k]
            xmax = np.abs(Xc).max(axis=1, keepdims=True)
            scale = xmax * self._row_l1[k] + np.abs(cx[k])
            out[a:a + step] = np.all((s == 0) | (s * h < -FAST_MARGIN * scale), axis=1)
        return out

    def _gated_model(self, X: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Layer 3 for the chosen regions: ``ReLU(g - v) - ReLU(-g - v)`` with ``v_r = 0``
        (every other region has ``v = +inf`` and contributes ``ReLU(-inf) = 0``, so it is not
        computed). Per-point arithmetic (einsum), independent of batch composition, so both
        evaluation paths give bit-identical outputs."""
        out = np.empty((X.shape[0], self.output_dim))
        step = max(1, _CHUNK_ENTRIES // max(1, self.output_dim * self.input_dim))
        for a in range(0, X.shape[0], step):
            Xc, rc = X[a:a + step], ids[a:a + step]
            g = np.einsum("nmd,nd->nm", self.alpha[rc], Xc) + self.beta[rc]
            v = 0.0
            out[a:a + step] = np.maximum(g - v, 0.0) - np.maximum(-g - v, 0.0)
        return out

    # ----- description -------------------------------------------------------------------
    def region_inequalities(self, r: int) -> list[dict]:
        """Region ``r``'s facets as ``normal . x <= bound`` with the neurons they come from."""
        out = []
        for k, s in self.selector(r):
            out.append({
                "hyperplane": k,
                "sigma": s,
                "normal": (s * self.H[k]).tolist(),
                "bound": float(-s * self.c[k]),
                "neurons": [self.neuron_name(i) for i in self.hyperplane_neurons[k]],
            })
        return out
