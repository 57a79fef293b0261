"""Exact Shapley values of the piecewise-affine network, and the region-local attribution.

Players are the input features; the game at a point ``x`` against a baseline ``b`` is
``v(S) = f(x_S, b_{not S})`` (baseline Shapley). Against a background set the game is the mean
of those games over the rows (interventional SHAP); Shapley values are linear in the game, so
we average ``v`` first and combine once. "Exact" means all ``2^d`` coalitions, no sampling:
every coalition point is evaluated, in batches of at most ``CHUNK_POINTS`` rows per forward
pass, and combined with the closed-form weights ``|S|! (d-|S|-1)! / d!``.

How ``f`` is evaluated on coalition points (``Explanation.evaluator``):

* ``"network"`` (default): ``net.forward``. Cheapest, and it needs no region enumeration.
* ``"partition"``: each point's activation pattern is looked up among the partition's regions
  and that region's exact affine model ``alpha_r x + beta_r`` is applied; the few points whose
  pattern is no region of the partition (boundary points, or points outside its domain) fall
  back to ``net.forward`` and are counted in ``Explanation.fallbacks``. This is the shallow
  network's view of ``f``; it is the same function, and tests check the two agree.
* ``"rational"`` (``exact=True``, small ``d`` only): ``net.exact_forward`` in ``Fraction``
  arithmetic, so the efficiency axiom holds with equality; meant for tests and auditors.

The region-local attribution ``alpha_r,i (x_i - E[x_i])`` (``r`` = the region of ``x``, ``E``
over the baseline or background) is what one reads off the shallow network directly. It equals
the exact values whenever every coalition point shares ``x``'s affine model (then ``v`` is
additive), e.g. when the whole box spanned by ``x`` and each reference row lies in ``r``'s
closure; ``Explanation.agrees`` flags, per output and feature, where the two differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .errors import InputError
from .exact.maps import exact_layers
from .network import ReLUNetwork
from .tolerances import SHAPLEY_AGREE_RTOL, SHAPLEY_BOUNDARY_TOL

#: Exact (all-coalition) Shapley values are offered up to this many input features.
MAX_EXACT_DIM = 16
#: Rational mode (``exact=True``) evaluates every coalition point in Fractions: keep it small.
MAX_RATIONAL_DIM = 10
MAX_RATIONAL_POINTS = 1 << 14
#: Upper limit on coalition points (``2^d`` times background rows) in float mode.
MAX_COALITION_POINTS = 1 << 27
#: Rows per forward pass.
CHUNK_POINTS = 1 << 16


@dataclass(frozen=True)
class Explanation:
    """Shapley values and region-local attributions for one point; rows follow ``outputs``."""

    point: np.ndarray  # (d,)
    reference: np.ndarray  # (n, d): one baseline row, or the background rows
    mode: str  # "baseline" | "background"
    outputs: tuple[int, ...]
    shapley: np.ndarray | None  # (k, d) float, None when only the local estimate was asked for
    shapley_exact: list[list[Fraction]] | None  # rational mode only
    local_linear: np.ndarray  # (k, d)
    prediction: np.ndarray  # (k,)  f(x)
    base_value: np.ndarray  # (k,)  E f(reference)
    alpha: np.ndarray  # (k, d)  x's local model
    beta: np.ndarray  # (k,)
    pattern: np.ndarray  # x's activation pattern (ReLU(0) = 0 counts as inactive)
    region: int | None  # x's region id in the partition, when one was given
    on_boundary: bool  # some pre-activation at x is (numerically) zero
    coalition_regions: int | None  # distinct activation patterns among all coalition points
    evaluator: str  # "network" | "partition" | "rational" | "none"
    fallbacks: int  # partition evaluator: points evaluated by net.forward instead
    net: ReLUNetwork | None = field(default=None, repr=False, compare=False)

    @property
    def agrees(self) -> np.ndarray | None:
        """Per output and feature: does the local estimate equal the exact value?"""
        if self.shapley is None:
            return None
        if self.shapley_exact is not None:
            ex = _exact_local(self)
            return np.array([[a == b for a, b in zip(r1, r2, strict=True)]
                             for r1, r2 in zip(self.shapley_exact, ex, strict=True)], dtype=bool)
        tol = SHAPLEY_AGREE_RTOL * self.scale
        return np.abs(self.shapley - self.local_linear) <= tol

    @property
    def exact_agrees_local(self) -> bool | None:
        a = self.agrees
        return None if a is None else bool(a.all())

    @property
    def scale(self) -> float:
        return float(max(1.0, np.max(np.abs(self.prediction), initial=0.0),
                         np.max(np.abs(self.base_value), initial=0.0)))

    @property
    def efficiency_gap(self) -> np.ndarray | None:
        """``sum_i phi_i - (f(x) - E f(reference))`` per output (0 up to rounding)."""
        if self.shapley is None:
            return None
        return self.shapley.sum(axis=1) - (self.prediction - self.base_value)

    def to_dict(self) -> dict:
        """The ``explain --json`` report (rows follow ``outputs``)."""
        out = {
            "outputs": list(self.outputs),
            "shapley": None if self.shapley is None else self.shapley.tolist(),
            "local_linear": self.local_linear.tolist(),
            "exact_agrees_local": self.exact_agrees_local,
            "agrees": None if self.agrees is None else self.agrees.tolist(),
            "prediction": self.prediction.tolist(),
            "base_value": self.base_value.tolist(),
            "efficiency_gap": None if self.efficiency_gap is None
            else self.efficiency_gap.tolist(),
            "region": {
                "id": self.region,
                "pattern": np.packbits(self.pattern).tobytes().hex(),
                "active_neurons": int(self.pattern.sum()),
                "on_boundary": self.on_boundary,
                "alpha": self.alpha.tolist(),
                "beta": self.beta.tolist(),
            },
            "coalition_regions": self.coalition_regions,
            "mode": self.mode,
            "point": self.point.tolist(),
            "evaluator": self.evaluator,
            "fallbacks": self.fallbacks,
        }
        if self.mode == "baseline":
            out["baseline"] = self.reference[0].tolist()
        else:
            out["background_rows"] = int(self.reference.shape[0])
        if self.shapley_exact is not None:
            out["shapley_exact"] = [[str(v) for v in row] for row in self.shapley_exact]
        return out


# ----- the combinatorics ----------------------------------------------------------------------
def coalition_points(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row ``S`` (bit ``i`` of the integer ``S`` = feature ``i`` present) is ``(x_S, b_notS)``."""
    d = x.shape[0]
    bits = ((np.arange(1 << d)[:, None] >> np.arange(d)) & 1).astype(bool)
    return np.where(bits, x, b)


def _sizes(d: int) -> np.ndarray:
    idx = np.arange(1 << d)
    return ((idx[:, None] >> np.arange(d)) & 1).sum(axis=1)


def shapley_weights(d: int) -> np.ndarray:
    """``w[s] = s! (d-s-1)! / d!``: the weight of a coalition of size ``s`` (s < d)."""
    return np.array([1.0 / (d * math.comb(d - 1, s)) for s in range(d)])


def shapley_from_game(v: np.ndarray) -> np.ndarray:
    """Shapley values ``(d, k)`` of a game given on all coalitions, ``v`` of shape ``(2^d, k)``."""
    v = np.asarray(v, dtype=np.float64)
    n = v.shape[0]
    d = n.bit_length() - 1
    if n != 1 << d:
        raise InputError(f"a game on d players has 2^d values; got {n}")
    w = shapley_weights(d)
    size = _sizes(d)
    idx = np.arange(n)
    phi = np.empty((d, v.shape[1]))
    for i in range(d):
        S = idx[(idx >> i) & 1 == 0]
        phi[i] = (w[size[S]][:, None] * (v[S | (1 << i)] - v[S])).sum(axis=0)
    return phi


def shapley_from_game_exact(v: Sequence[Sequence[Fraction]]) -> list[list[Fraction]]:
    """As :func:`shapley_from_game` in rational arithmetic; returns ``(d, k)`` Fractions."""
    n = len(v)
    d = n.bit_length() - 1
    k = len(v[0])
    w = [Fraction(1, d * math.comb(d - 1, s)) for s in range(d)]
    phi = [[Fraction(0)] * k for _ in range(d)]
    for S in range(n):
        s = S.bit_count()
        for i in range(d):
            if not (S >> i) & 1:
                T = S | (1 << i)
                for j in range(k):
                    phi[i][j] += w[s] * (v[T][j] - v[S][j])
    return phi


# ----- evaluation -----------------------------------------------------------------------------
def _forward_patterns(net: ReLUNetwork, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and packed activation patterns of a batch, in one pass."""
    a = X
    bits = []
    for w, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        z = a @ w.T + b
        bits.append(z > 0)
        a = np.maximum(z, 0.0)
    y = a @ net.weights[-1].T + net.biases[-1]
    P = np.concatenate(bits, axis=1) if bits else np.zeros((X.shape[0], 0), dtype=bool)
    return y, np.packbits(P, axis=1)


class _Evaluator:
    """Evaluates ``f`` on coalition points and counts the distinct patterns it meets."""

    def __init__(self, net: ReLUNetwork, partition=None):
        self.net = net
        self.partition = partition
        self.fallbacks = 0
        self.patterns: set[bytes] = set()
        if partition is not None:
            if partition.net.fingerprint != net.fingerprint:
                raise InputError("the partition belongs to a different network")
            regions = list(partition)
            self.alpha = np.stack([r.alpha for r in regions]) if regions else None
            self.beta = np.stack([r.beta for r in regions]) if regions else None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        y, packed = _forward_patterns(self.net, X)
        uniq, inv = np.unique(packed, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        keys = [row.tobytes() for row in uniq]
        self.patterns.update(keys)
        if self.partition is None or self.alpha is None:
            return y
        index = self.partition._index  # pattern key (packbits) -> region id
        rid_of_key = np.array([index.get(k, -1) for k in keys], dtype=np.int64)
        rid = rid_of_key[inv]
        found = rid >= 0
        self.fallbacks += int((~found).sum())
        out = y.copy()
        r = rid[found]
        out[found] = np.einsum("nmd,nd->nm", self.alpha[r], X[found]) + self.beta[r]
        return out


def _game(evaluate: _Evaluator, x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``v(S)`` averaged over the reference rows, shape ``(2^d, m)``."""
    d = x.shape[0]
    n_coal = 1 << d
    bits = ((np.arange(n_coal)[:, None] >> np.arange(d)) & 1).astype(bool)
    total = np.zeros((n_coal, evaluate.net.output_dim))
    rows_per_chunk = max(1, CHUNK_POINTS // n_coal)
    for start in range(0, ref.shape[0], rows_per_chunk):
        R = ref[start:start + rows_per_chunk]
        # points[r, S] = where(bits[S], x, R[r])
        P = np.where(bits[None, :, :], x[None, None, :], R[:, None, :]).reshape(-1, d)
        if P.shape[0] <= CHUNK_POINTS:
            Y = evaluate(P)
        else:  # one reference row spans several chunks (d > 16 is refused, but keep it safe)
            Y = np.concatenate([evaluate(P[k:k + CHUNK_POINTS])
                                for k in range(0, P.shape[0], CHUNK_POINTS)])
        total += Y.reshape(R.shape[0], n_coal, -1).sum(axis=0)
    return total / ref.shape[0]


def _exact_local_model(net: ReLUNetwork, pattern: np.ndarray
                       ) -> tuple[list[list[Fraction]], list[Fraction]]:
    """``alpha, beta`` of a pattern in rational arithmetic."""
    layers = exact_layers(net)
    d = net.input_dim
    M = [[Fraction(int(i == j)) for j in range(d)] for i in range(d)]
    m = [Fraction(0)] * d
    offs = net.layer_offsets
    for k, (W, b) in enumerate(layers):
        A = [[sum((W[r][t] * M[t][j] for t in range(len(M))), Fraction(0)) for j in range(d)]
             for r in range(len(W))]
        c = [sum((W[r][t] * m[t] for t in range(len(m))), b[r]) for r in range(len(W))]
        if k == len(layers) - 1:
            return A, c
        on = pattern[offs[k]:offs[k + 1]]
        M = [row if on[r] else [Fraction(0)] * d for r, row in enumerate(A)]
        m = [v if on[r] else Fraction(0) for r, v in enumerate(c)]
    raise AssertionError("unreachable")


def _exact_local(e: Explanation) -> list[list[Fraction]]:
    """The local-linear attribution in rationals (the reference mean taken exactly)."""
    alpha, _ = _exact_local_model(e.net, e.pattern)
    n = e.reference.shape[0]
    mean = [sum((Fraction(float(v)) for v in e.reference[:, i]), Fraction(0)) / n
            for i in range(e.reference.shape[1])]
    return [[alpha[o][i] * (Fraction(float(e.point[i])) - mean[i])
             for i in range(len(mean))] for o in e.outputs]


# ----- public API ---------------------------------------------------------------------------
def _reference(net: ReLUNetwork, baseline, background) -> tuple[np.ndarray, str]:
    d = net.input_dim
    if (baseline is None) == (background is None):
        raise InputError("give exactly one of a baseline point or a background set")
    if baseline is not None:
        b = np.asarray(baseline, dtype=np.float64).reshape(-1)
        if b.shape[0] != d:
            raise InputError(f"baseline has {b.shape[0]} values but the model has {d} inputs")
        ref, mode = b[None, :], "baseline"
    else:
        ref = np.asarray(background, dtype=np.float64)
        if ref.ndim == 1:
            ref = ref[None, :]
        if ref.ndim != 2 or ref.shape[1] != d or ref.shape[0] == 0:
            raise InputError(f"background must be an (n, {d}) array with n >= 1; "
                             f"got shape {ref.shape}")
        mode = "background"
    if not np.all(np.isfinite(ref)):
        raise InputError("baseline/background contains NaN or infinity")
    return ref, mode


def _outputs(net: ReLUNetwork, output: int | None) -> tuple[int, ...]:
    if output is None:
        return tuple(range(net.output_dim))
    if not 0 <= int(output) < net.output_dim:
        raise InputError(f"output index {output} is out of range: the model has "
                         f"{net.output_dim} outputs (0..{net.output_dim - 1})")
    return (int(output),)


def _check_size(d: int, n_ref: int, exact: bool) -> None:
    if d > MAX_EXACT_DIM:
        raise InputError(
            f"exact Shapley values need all 2^d coalitions and d = {d} inputs is too large "
            f"(limit {MAX_EXACT_DIM}); use the region-local estimate instead "
            "(verishallow.explain.local_attribution, or `verishallow explain --local-only`)"
        )
    if exact:
        if d > MAX_RATIONAL_DIM or (n_ref << d) > MAX_RATIONAL_POINTS:
            raise InputError(
                f"rational mode evaluates {n_ref} x 2^{d} points in Fractions; the limit is "
                f"d <= {MAX_RATIONAL_DIM} and {MAX_RATIONAL_POINTS} points: use float mode"
            )
    elif (n_ref << d) > MAX_COALITION_POINTS:
        raise InputError(
            f"{n_ref} background rows x 2^{d} coalitions = {n_ref << d} evaluations exceeds "
            f"{MAX_COALITION_POINTS}; summarise the background with fewer rows"
        )


def local_attribution(net: ReLUNetwork, x, baseline=None, background=None,
                      output: int | None = None, partition=None) -> Explanation:
    """Only the region-local attribution ``alpha_r,i (x_i - E[x_i])``: any input dimension."""
    return _explain(net, x, baseline, background, output, partition, exact=False, local=True)


def shapley_values(net: ReLUNetwork, x, baseline=None, background=None,
                   output: int | None = None, partition=None, exact: bool = False
                   ) -> Explanation:
    """Exact Shapley values of ``net`` at ``x`` against a ``baseline`` point or a
    ``background`` set (interventional), with the region-local attribution alongside.

    ``partition`` (a :class:`~verishallow.regions.Partition` of ``net``) switches evaluation to
    the regions' affine models; ``exact=True`` computes in rational arithmetic (small ``d``).
    """
    return _explain(net, x, baseline, background, output, partition, exact=exact, local=False)


def _explain(net, x, baseline, background, output, partition, exact: bool, local: bool
             ) -> Explanation:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    d = net.input_dim
    if x.shape[0] != d:
        raise InputError(f"the point has {x.shape[0]} values but the model has {d} inputs")
    if not np.all(np.isfinite(x)):
        raise InputError("the point contains NaN or infinity")
    ref, mode = _reference(net, baseline, background)
    outs = _outputs(net, output)
    if not local:
        _check_size(d, ref.shape[0], exact)

    # x's region and local model
    zs = net.preactivations(x[None, :])
    pattern = np.concatenate([z[0] for z in zs]) > 0 if zs else np.zeros(0, dtype=bool)
    on_boundary = any(
        bool(np.any(np.abs(z[0]) <= SHAPLEY_BOUNDARY_TOL * max(1.0, float(np.abs(z[0]).max()))))
        for z in zs)
    _, _, alpha, beta = net.local_affine(pattern)
    region = None
    if partition is not None:
        rid = partition.find(pattern)
        region = None if rid is None else int(rid)
    mean_ref = ref.mean(axis=0)
    local_lin = alpha * (x - mean_ref)[None, :] + 0.0  # + 0.0: no negative zeros
    sel = list(outs)

    shap = None
    shap_exact = None
    coalition_regions = None
    fallbacks = 0
    if local:
        evaluator = "none"
        pred = net.forward(x)
        base = net.forward(ref).mean(axis=0)
    elif exact:
        evaluator = "rational"
        xq = [Fraction(float(v)) for v in x]
        game = [[Fraction(0)] * len(sel) for _ in range(1 << d)]
        pats: set[bytes] = set()
        for r in ref:
            rq = [Fraction(float(v)) for v in r]
            pts = coalition_points(x, r)
            _, packed = _forward_patterns(net, pts)
            pats.update(row.tobytes() for row in packed)
            for S in range(1 << d):
                p = [xq[i] if (S >> i) & 1 else rq[i] for i in range(d)]
                y = net.exact_forward(p)
                for j, o in enumerate(sel):
                    game[S][j] += y[o]
        n = ref.shape[0]
        game = [[v / n for v in row] for row in game]
        phi = shapley_from_game_exact(game)
        shap_exact = [[phi[i][j] for i in range(d)] for j in range(len(sel))]
        shap = np.array([[float(v) for v in row] for row in shap_exact])
        coalition_regions = len(pats)
        full = (1 << d) - 1
        pred_q = game[full]
        base_q = game[0]
        pred = np.full(net.output_dim, np.nan)
        base = np.full(net.output_dim, np.nan)
        pred[sel] = [float(v) for v in pred_q]
        base[sel] = [float(v) for v in base_q]
    else:
        ev = _Evaluator(net, partition)
        evaluator = "partition" if partition is not None else "network"
        v = _game(ev, x, ref)
        shap = shapley_from_game(v).T[sel]
        pred = v[-1]
        base = v[0]
        coalition_regions = len(ev.patterns)
        fallbacks = ev.fallbacks

    e = Explanation(
        point=x, reference=ref, mode=mode, outputs=outs,
        shapley=shap, shapley_exact=shap_exact,
        local_linear=local_lin[sel], prediction=np.asarray(pred)[sel],
        base_value=np.asarray(base)[sel], alpha=alpha[sel], beta=beta[sel],
        pattern=pattern, region=region, on_boundary=on_boundary,
        coalition_regions=coalition_regions, evaluator=evaluator, fallbacks=fallbacks, net=net,
    )
    return e


def domain_centre(domain) -> np.ndarray:
    """The default baseline: a box's midpoint, or a polytope's Chebyshev centre."""
    lo, hi = domain.lower, domain.upper
    if domain.A.shape[0] == 0:
        if not domain.is_bounded_box:
            raise InputError(f"the domain {domain.describe()} is unbounded, so it has no centre; "
                             "give --baseline or --background")
        return (lo + hi) / 2.0
    blo, bhi = domain.bounding_box()
    if not (np.all(np.isfinite(blo)) and np.all(np.isfinite(bhi))):
        raise InputError(f"the domain {domain.describe()} is unbounded, so it has no centre; "
                         "give --baseline or --background")
    c, _ = domain.chebyshev()
    return c
