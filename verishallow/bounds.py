"""Pre-activation bounds over a domain.

They decide which neurons are stable (never change sign on the domain, so they are not region
boundaries) and give the big-M constants of the MILP. Interval arithmetic is the cheap, loose
baseline; the symbolic linear relaxation (CROWN/DeepPoly style back-substitution) is tighter.

Soundness matters more than tightness here: the region search fixes every neuron these bounds
call stable, so a wrongly stable neuron silently loses regions. The symbolic bounds therefore
(a) keep exact zeros exact (``0 * inf = 0``, so finite bounds survive on unbounded domains only
where they are provable), (b) widen every bound by a first-order floating-point rounding margin
(sized by the absolute values met along the back-substitution), and (c) bound polytope LPs
through a dual certificate recomputed in numpy, so an inexact LP solution can only loosen a bound.

Polytopes: linear bounds are concretised in closed form over the bounding box (the same box
:func:`interval_bounds` uses); small polytopes (see ``LP_MAX_ROWS``) additionally get one LP per
side for each neuron the box leaves unstable, because the box of a cut domain is often far
larger than the domain and LPs on a few-row, few-input polytope are cheap (~0.5 ms each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domain import Domain
from .errors import InputError
from .network import ReLUNetwork
from .solvers import lp

#: Machine epsilon; the rounding margin is a multiple of it (see :func:`symbolic_bounds`).
_EPS = float(np.finfo(np.float64).eps)
#: ``polytope_lp=None`` solves per-neuron LPs only for polytopes with at most this many linear
#: rows and inputs: the dual LP is dense with ``rows + 2 * inputs`` columns.
LP_MAX_ROWS = 64
LP_MAX_DIM = 64
METHODS = ("interval", "symbolic")


@dataclass(frozen=True)
class Bounds:
    """Lower/upper pre-activation bounds for each hidden layer, valid on the whole domain."""

    lower: tuple[np.ndarray, ...]
    upper: tuple[np.ndarray, ...]
    method: str

    @property
    def flat_lower(self) -> np.ndarray:
        return np.concatenate(self.lower) if self.lower else np.zeros(0)

    @property
    def flat_upper(self) -> np.ndarray:
        return np.concatenate(self.upper) if self.upper else np.zeros(0)

    @property
    def stable_active(self) -> np.ndarray:
        """Neurons with ``z > 0`` everywhere on the domain."""
        return self.flat_lower > 0

    @property
    def stable_inactive(self) -> np.ndarray:
        """Neurons with ``z <= 0`` everywhere on the domain (ReLU(0) = 0 counts as inactive)."""
        return self.flat_upper <= 0

    @property
    def unstable(self) -> np.ndarray:
        return ~(self.stable_active | self.stable_inactive)


def _interval_affine(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Exact range of ``W x + b`` over a box, with ``0 * inf = 0``."""
    Wp = np.maximum(W, 0.0)
    Wn = np.minimum(W, 0.0)
    with np.errstate(invalid="ignore"):
        up = np.where(Wp != 0, Wp * hi, 0.0).sum(axis=1) + np.where(Wn != 0, Wn * lo, 0.0).sum(1)
        dn = np.where(Wp != 0, Wp * lo, 0.0).sum(axis=1) + np.where(Wn != 0, Wn * hi, 0.0).sum(1)
    return dn + b, up + b


def interval_bounds(net: ReLUNetwork, domain: Domain) -> Bounds:
    """Interval bound propagation from the domain's bounding box."""
    lo, hi = domain.bounding_box()
    lows, ups = [], []
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        zl, zu = _interval_affine(W, b, lo, hi)
        lows.append(zl)
        ups.append(zu)
        lo, hi = np.maximum(zl, 0.0), np.maximum(zu, 0.0)
    return Bounds(tuple(lows), tuple(ups), "interval")


# ----- symbolic bounds -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Relaxation:
    """Linear bounds ``sl * z <= ReLU(z) <= su * z + tu`` of one layer, valid on its bounds.

    ``no_upper`` marks neurons with no finite affine upper bound (both bounds infinite): a
    positive coefficient on such a neuron makes the bound being computed infinite.
    """

    su: np.ndarray
    tu: np.ndarray
    sl: np.ndarray
    no_upper: np.ndarray


def _relaxation(lo: np.ndarray, up: np.ndarray) -> _Relaxation:
    """Triangle upper bound and the smaller-area lower slope (0 or 1) for unstable neurons.

    Stable neurons are exact (identity or zero). Half-infinite ranges use the limits of the
    triangle: ``u = inf`` gives ``ReLU(z) <= z - l``, ``l = -inf`` gives ``ReLU(z) <= u``.
    """
    active = lo >= 0
    inactive = (up <= 0) & ~active
    unstable = ~(active | inactive)
    fin_lo, fin_up = np.isfinite(lo), np.isfinite(up)
    both = unstable & fin_lo & fin_up
    su = np.where(active, 1.0, 0.0)
    tu = np.zeros_like(lo)
    if both.any():
        lb, ub = lo[both], up[both]
        s = ub / (ub - lb)
        su[both] = s
        tu[both] = -lb * s
    up_inf = unstable & fin_lo & ~fin_up  # ReLU(z) <= z - l
    su[up_inf] = 1.0
    tu[up_inf] = -lo[up_inf]
    lo_inf = unstable & ~fin_lo & fin_up  # ReLU(z) <= u
    tu[lo_inf] = up[lo_inf]
    no_upper = unstable & ~fin_lo & ~fin_up
    # lower slope 1 when u > -l (the triangle below z has the smaller area), else 0
    sl = np.where(active | (unstable & (up > -lo)), 1.0, 0.0)
    return _Relaxation(su, tu, sl, no_upper)


def _box_max(L: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``max L x`` over the box per row, ``+inf`` where unbounded, with ``0 * inf = 0``."""
    Lp = np.maximum(L, 0.0)
    Ln = np.minimum(L, 0.0)
    hi_inf, lo_inf = ~np.isfinite(hi), ~np.isfinite(lo)
    val = Lp @ np.where(hi_inf, 0.0, hi) + Ln @ np.where(lo_inf, 0.0, lo)
    unbounded = np.zeros(L.shape[0], dtype=bool)
    if hi_inf.any():
        unbounded |= (Lp[:, hi_inf] > 0).any(axis=1)
    if lo_inf.any():
        unbounded |= (Ln[:, lo_inf] < 0).any(axis=1)
    return np.where(unbounded, np.inf, val)


def _backsubstitute(net: ReLUNetwork, k: int, relax: list[_Relaxation]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Affine upper bounds in x of ``[z_k; -z_k]`` through the relaxations of layers < k.

    Returns ``(Lam, const, unbounded)``: ``z_k <= Lam[:n] x + const[:n]`` and
    ``-z_k <= Lam[n:] x + const[n:]``, except rows flagged ``unbounded`` (they met a positive
    coefficient on a neuron without a finite upper relaxation).
    """
    W, b = net.weights[k], net.biases[k]
    Lam = np.vstack([W, -W])
    const = np.concatenate([b, -b])
    unbounded = np.zeros(Lam.shape[0], dtype=bool)
    for j in range(k - 1, -1, -1):
        r = relax[j]
        Lp = np.maximum(Lam, 0.0)
        Ln = Lam - Lp
        if r.no_upper.any():
            unbounded |= (Lp[:, r.no_upper] > 0).any(axis=1)
        Lz = Lp * r.su + Ln * r.sl
        const = const + Lp @ r.tu + Lz @ net.biases[j]
        Lam = Lz @ net.weights[j]
    return Lam, const, unbounded


def _lp_upper(row: np.ndarray, A: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
              xmag: np.ndarray) -> float:
    """Sound upper bound of ``max row.x`` over ``{A x <= b, lo <= x <= hi}``, or ``inf``.

    Solves the dual LP ``min b.y + hi.p - lo.q  s.t.  A^T y + p - q = row,  y, p, q >= 0``
    and then recomputes, from ``y`` alone, the weak-duality bound
    ``b.y + max_{lo<=x<=hi} (row - A^T y).x`` plus a rounding margin: valid for any ``y >= 0``,
    so solver tolerances can only cost tightness, never soundness.
    """
    m, d = A.shape
    hi_fin, lo_fin = np.isfinite(hi), np.isfinite(lo)
    cost = np.concatenate([b, np.where(hi_fin, hi, 0.0), -np.where(lo_fin, lo, 0.0)])
    M = np.hstack([A.T, np.eye(d), -np.eye(d)])
    col_up = np.concatenate([np.full(m, lp.INF), np.where(hi_fin, lp.INF, 0.0),
                             np.where(lo_fin, lp.INF, 0.0)])
    sol = lp.solve_lp(cost, M, row, row, np.zeros(m + 2 * d), col_up)
    if not sol.ok or sol.x is None:
        return np.inf
    y = np.maximum(np.asarray(sol.x[:m], dtype=np.float64), 0.0)
    if not np.all(np.isfinite(y)):
        return np.inf
    resid = row - A.T @ y
    val = float(b @ y + _box_max(resid[None, :], lo, hi)[0])
    if not np.isfinite(val):
        return np.inf
    scale = float(np.abs(b) @ y + (np.abs(row) + np.abs(A).T @ y + np.abs(resid)) @ xmag)
    return val + 4.0 * _EPS * (m + d + 2) * scale


def _use_lp(domain: Domain, polytope_lp: bool | None) -> bool:
    m = domain.A.shape[0]
    if m == 0 or polytope_lp is False:
        return False
    return bool(polytope_lp) or (m <= LP_MAX_ROWS and domain.dim <= LP_MAX_DIM)


def _check_dim(net: ReLUNetwork, domain: Domain) -> None:
    if domain.dim != net.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the model has "
                         f"{net.input_dim} inputs")


def symbolic_bounds(net: ReLUNetwork, domain: Domain, *, polytope_lp: bool | None = None
                    ) -> Bounds:
    """CROWN/DeepPoly-style bounds: back-substitute every layer's linear relaxation to ``x``.

    Layer by layer, each neuron's bounds are the intersection of interval propagation (from the
    previous layers' already tightened bounds) and the symbolic bound, so they are never looser
    than :func:`interval_bounds`. Unstable neurons use the triangle upper bound and the
    smaller-area lower slope (0 or 1), chosen once per neuron from its final bounds.

    Concretisation is closed form over the domain's bounding box (fixed coordinates, where
    ``lower == upper``, simply contribute their value). For a polytope with linear rows, each
    neuron still unstable after that is additionally bounded by one LP per side over the
    polytope itself (via a dual certificate, see :func:`_lp_upper`; only rows that cut the box
    enter, and if none does no LP runs) when ``polytope_lp`` is True, or, with the default
    ``None``, when the polytope has at most ``LP_MAX_ROWS`` rows and ``LP_MAX_DIM`` inputs.
    Each LP costs ~0.5-1 ms (up to two per neuron); ``False`` keeps everything closed form.

    Every symbolic bound is widened by ``2 eps * n_ops * scale``, where ``scale`` bounds the
    absolute values summed along the back-substitution: a first-order bound of float rounding.
    A neuron whose exact extreme is 0 may therefore be reported unstable (sound, slightly loose).
    """
    _check_dim(net, domain)
    lo_x, hi_x = domain.bounding_box()
    xmag = np.maximum(np.where(np.isfinite(lo_x), np.abs(lo_x), 0.0),
                      np.where(np.isfinite(hi_x), np.abs(hi_x), 0.0))
    use_lp = _use_lp(domain, polytope_lp)
    if use_lp:
        # rows the bounding box already satisfies cannot tighten anything: dropping them only
        # enlarges the LP's feasible set (still sound) and often removes every LP
        cuts = _box_max(domain.A, lo_x, hi_x) > domain.b
        A_cut, b_cut = domain.A[cuts], domain.b[cuts]
        use_lp = bool(cuts.any())
    a_lo, a_hi = lo_x, hi_x  # interval bounds of the current layer's input
    scale, n_ops = xmag, 0  # magnitudes summed so far, dot-product lengths so far
    lows: list[np.ndarray] = []
    ups: list[np.ndarray] = []
    relax: list[_Relaxation] = []
    for k in range(len(net.weights) - 1):
        W, b = net.weights[k], net.biases[k]
        n = W.shape[0]
        il, iu = _interval_affine(W, b, a_lo, a_hi)
        Lam, const, unbounded = _backsubstitute(net, k, relax)
        # |W_k| (D |W_{k-1}| (... |W_0| xmag + |b_0| ...) + tu) + |b_k| equals the absolute-value
        # copy of the back-substitution (by associativity), at the cost of a matrix-vector product
        scale = np.abs(W) @ scale + np.abs(b)
        n_ops += W.shape[1] + 4
        margin = 2.0 * _EPS * n_ops * scale
        margin = np.concatenate([margin, margin])
        with np.errstate(invalid="ignore", over="ignore"):
            sym = const + _box_max(Lam, lo_x, hi_x) + margin
        sym = np.where(unbounded | np.isnan(sym), np.inf, sym)
        up = np.minimum(iu, sym[:n])
        low = np.maximum(il, -sym[n:])
        if use_lp:
            for i in np.flatnonzero((low <= 0) & (up > 0)):
                for row, sign in ((i, 1.0), (n + i, -1.0)):
                    if unbounded[row]:
                        continue
                    v = _lp_upper(Lam[row], A_cut, b_cut, lo_x, hi_x, xmag)
                    v = const[row] + v + margin[row]
                    if np.isfinite(v):
                        if sign > 0:
                            up[i] = min(up[i], v)
                        else:
                            low[i] = max(low[i], -v)
        lows.append(low)
        ups.append(up)
        relax.append(_relaxation(low, up))
        a_lo, a_hi = np.maximum(low, 0.0), np.maximum(up, 0.0)
        r = relax[-1]
        scale = np.maximum(r.su, r.sl) * scale + r.tu
    return Bounds(tuple(lows), tuple(ups), "symbolic")


def preactivation_bounds(net: ReLUNetwork, domain: Domain, method: str = "symbolic") -> Bounds:
    """Bounds by ``method`` ("interval" or "symbolic", the tighter default)."""
    if method == "interval":
        _check_dim(net, domain)
        return interval_bounds(net, domain)
    if method == "symbolic":
        return symbolic_bounds(net, domain)
    raise InputError(f"unknown bounds method {method!r} (expected one of {', '.join(METHODS)})")
