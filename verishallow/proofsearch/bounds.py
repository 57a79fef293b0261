"""Float64 leaf bounds of the proof search, batched over many nodes at once.

This is the float twin of the exact leaf bound in :mod:`verishallow.exact.leaf_bounds` (the
algorithm is written out in ``docs/proof-search.md``): interval and forward symbolic bounds of
every hidden layer (at level ``"backward"`` tightened by back-substitution for the neurons
they leave unstable, CROWN's intermediate bounds), the triangle relaxation, then the lower
bound of every goal row by the interval, forward-symbolic and backward passes. Everything is
vectorised over a batch of nodes (boxes with phase fixings), because one numpy pass over a few
hundred nodes costs about as much as one pass over a single node.

The search closes a node only when a row's float bound exceeds ``CLOSE_TOL`` times the
magnitude of the terms that produced it (``scale``): the exact re-run differs from the float
one by rounding alone (plus the outward rounding of bounds to doubles), far below that margin.
Besides the bounds, each pass returns what the branching rules need: the backward pass's input
coefficients (which coordinate a bound is most sensitive to) and the relaxation gaps of
unstable neurons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import ReLUNetwork
from .tolerances import CLOSE_TOL

LEVELS = ("interval", "symbolic", "backward", "differential")


@dataclass
class Layer:
    """One affine layer with its positive and negative parts (computed once)."""

    W: np.ndarray
    b: np.ndarray
    Wp: np.ndarray
    Wn: np.ndarray


@dataclass
class DiffSpec:
    """What the differential level needs of ``F = [f_A; f_B]`` (equal widths): per layer, A's
    width, A's weights and ``DW = WA - WB``, ``Db = bA - bB``; and which goal rows are pure
    differences ``C = [-c, c]`` (their ``c``)."""

    widths: list[int]
    WA: list[np.ndarray]
    DW: list[np.ndarray]
    Db: list[np.ndarray]


def diff_spec(net_a: ReLUNetwork, net_b: ReLUNetwork) -> DiffSpec | None:
    """The differential view of A and B, or None when their architectures differ."""
    if net_a.hidden_widths != net_b.hidden_widths or net_a.input_dim != net_b.input_dim:
        return None
    widths = list(net_a.hidden_widths)
    WA = [np.asarray(w) for w in net_a.weights]
    DW = [wa - wb for wa, wb in zip(net_a.weights, net_b.weights, strict=True)]
    Db = [ba - bb for ba, bb in zip(net_a.biases, net_b.biases, strict=True)]
    return DiffSpec(widths, WA, DW, Db)


def _pos_neg_forms(W: np.ndarray, U: np.ndarray, u0: np.ndarray, L: np.ndarray,
                   l0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Upper and lower forms of ``W a`` from forms ``L, l0 <= a <= U, u0``."""
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    up = np.matmul(Wp, U) + np.matmul(Wn, L)
    lo = np.matmul(Wp, L) + np.matmul(Wn, U)
    return up, u0 @ Wp.T + l0 @ Wn.T, lo, l0 @ Wp.T + u0 @ Wn.T


def layers_of(net: ReLUNetwork) -> list[Layer]:
    out = []
    for W, b in zip(net.weights, net.biases, strict=True):
        out.append(Layer(W, b, np.maximum(W, 0.0), np.minimum(W, 0.0)))
    return out


@dataclass
class Batch:
    """Bounds of a batch of ``B`` nodes.

    ``lower[k]``/``upper[k]``: (B, n_k) pre-activation bounds of hidden layer ``k`` (after the
    phase fixings); ``empty``: (B,) nodes whose fixings contradict their bounds;
    ``rows_lower``: (B, R) lower bounds of the goal rows ``C_i F(x) - d_i``; ``rows_scale``:
    (B, R) magnitudes for the closing margin; ``rows_coef``: (B, R, d) the backward bound's
    input coefficients (the row's sensitivity to each input).
    """

    lower: list[np.ndarray]
    upper: list[np.ndarray]
    empty: np.ndarray
    rows_lower: np.ndarray
    rows_scale: np.ndarray
    rows_coef: np.ndarray | None
    gaps: list[np.ndarray] | None = None


def _concretise_min(coef: np.ndarray, const: np.ndarray, lo: np.ndarray, hi: np.ndarray
                    ) -> np.ndarray:
    """``min over the box of coef x + const``: coef (B, n, d), const (B, n), lo/hi (B, d)."""
    return (np.maximum(coef, 0.0) * lo[:, None, :]
            + np.minimum(coef, 0.0) * hi[:, None, :]).sum(-1) + const


def batch_bounds(layers: list[Layer], lo: np.ndarray, hi: np.ndarray, fix: np.ndarray | None,
                 level: str, Cg: np.ndarray, dg: np.ndarray, want_gaps: bool = False,
                 diff: DiffSpec | None = None) -> Batch:
    """Bounds for ``B`` nodes: boxes ``lo``/``hi`` (B, d), fixings ``fix`` (B, N) int8
    (-1 free, 0 inactive, 1 active) or None, and goal rows ``Cg y - dg`` (R rows over the
    outputs). Level ``"differential"`` needs ``diff`` (see :class:`DiffSpec`); level
    ``"backward"`` is ``"symbolic"`` with back-substituted layer bounds."""
    B, d = lo.shape
    symbolic = level in ("symbolic", "backward", "differential")
    crown = level in ("backward", "differential")
    differential = level == "differential" and diff is not None
    E = None  # forms (EU, eu0, EL, el0) of e = relu(zA) - relu(zB) of the previous layer
    xmag = np.maximum(np.abs(lo), np.abs(hi))  # (B, d)
    alo, ahi = lo, hi
    if symbolic:
        eye = np.broadcast_to(np.eye(d), (B, d, d))
        Lc, Uc = eye, eye  # (B, n, d) linear parts of the current input's bounds
        l0 = u0 = np.zeros((B, d))
    lows, ups = [], []
    lam_lo, lam_up, t_up = [], [], []  # relaxation slopes / intercepts per hidden layer
    empty = np.zeros(B, dtype=bool)
    off = 0
    for k, ly in enumerate(layers[:-1]):
        n = ly.W.shape[0]
        il = alo @ ly.Wp.T + ahi @ ly.Wn.T + ly.b
        iu = ahi @ ly.Wp.T + alo @ ly.Wn.T + ly.b
        if symbolic:
            if k == 0:
                Zu = Zl = np.broadcast_to(ly.W, (B, n, d))
                zu0 = zl0 = np.broadcast_to(ly.b, (B, n))
            else:
                Zu = np.matmul(ly.Wp, Uc) + np.matmul(ly.Wn, Lc)
                Zl = np.matmul(ly.Wp, Lc) + np.matmul(ly.Wn, Uc)
                zu0 = u0 @ ly.Wp.T + l0 @ ly.Wn.T + ly.b
                zl0 = l0 @ ly.Wp.T + u0 @ ly.Wn.T + ly.b
            su = -_concretise_min(-Zu, -zu0, lo, hi)
            sl = _concretise_min(Zl, zl0, lo, hi)
            low, up = np.maximum(il, sl), np.minimum(iu, su)
            if crown and k > 0:
                low, up = _backward_layer_bounds(layers, k, low, up, lam_lo, lam_up, t_up, lo,
                                                 hi)
            if differential:
                D = _delta_forms(diff, k, E, Uc, u0, Lc, l0, B, d)
        else:
            low, up = il, iu
        if fix is not None:
            f = fix[:, off:off + n]
            up = np.where(f == 0, np.minimum(up, 0.0), up)
            low = np.where(f == 1, np.maximum(low, 0.0), low)
            empty |= np.any((f >= 0) & (low > up), axis=1)
        off += n
        lows.append(low)
        ups.append(up)
        active = low >= 0
        inactive = (up <= 0) & ~active
        unstable = ~(active | inactive)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(unstable, up / (up - low), 0.0)
        s = np.where(active, 1.0, s)
        t = np.where(unstable, -s * low, 0.0)
        lam = np.where(active | (unstable & (up > -low)), 1.0, 0.0)
        lam_lo.append(lam)
        lam_up.append(s)
        t_up.append(t)
        alo = np.where(active, low, 0.0)
        ahi = np.where(inactive, 0.0, up)
        if differential:
            E = _relax_delta(diff.widths[k], D, Zu, zu0, Zl, zl0, low, up, lo, hi)
        if symbolic:
            Uc = s[:, :, None] * Zu
            u0 = s * zu0 + t
            Lc = lam[:, :, None] * Zl
            l0 = lam * zl0
    # goal rows folded into the output layer
    out = layers[-1]
    Wg = Cg @ out.W  # (R, n_L)
    bg = Cg @ out.b - dg
    Wgp, Wgn = np.maximum(Wg, 0.0), np.minimum(Wg, 0.0)
    rows = alo @ Wgp.T + ahi @ Wgn.T + bg  # (B, R) interval
    amag = np.maximum(np.abs(alo), np.abs(ahi))
    scale = amag @ np.abs(Wg).T + np.abs(bg)
    coef = None
    if symbolic:
        Gl = np.matmul(Wgp, Lc) + np.matmul(Wgn, Uc)
        gl0 = l0 @ Wgp.T + u0 @ Wgn.T + bg
        rows = np.maximum(rows, _concretise_min(Gl, gl0, lo, hi))
        # backward pass
        R = Wg.shape[0]
        Lam = np.broadcast_to(Wg, (B, R, Wg.shape[1]))
        c = np.broadcast_to(bg, (B, R)).copy()
        cabs = np.broadcast_to(np.abs(bg), (B, R)).copy()
        gaps = [] if want_gaps else None
        Lam, c, cabs = _back_substitute(layers, len(layers) - 1, Lam, c, lam_lo, lam_up, t_up,
                                        cabs, gaps)
        back = _concretise_min(Lam, c, lo, hi)
        cabs = cabs + np.matmul(np.abs(Lam), xmag[:, :, None])[:, :, 0]
        rows = np.maximum(rows, back)
        scale = np.maximum(scale, cabs)
        if differential:
            DU, du0, DL, dl0 = _delta_forms(diff, len(layers) - 1, E, Uc, u0, Lc, l0, B, d)
            m = Cg.shape[1] // 2
            pure = np.all(Cg[:, :m] == -Cg[:, m:], axis=1)
            if pure.any():
                c = -Cg[pure, m:]  # row value = (-c) . delta - d... with c the B part
                # row = CA yA + CB yB - d = -CB (yA - yB) - d = c . delta - d
                cp, cn = np.maximum(c, 0.0), np.minimum(c, 0.0)
                G = np.matmul(cp, DL) + np.matmul(cn, DU)
                g0 = dl0 @ cp.T + du0 @ cn.T - dg[pure]
                drow = _concretise_min(G, g0, lo, hi)
                dscale = (np.abs(G) * xmag[:, None, :]).sum(-1) + np.abs(g0)
                # the margin belongs to the bound that wins: identical networks give a
                # differential bound of exactly 0 from terms that are all exactly 0
                better = drow >= rows[:, pure]
                rows[:, pure] = np.where(better, drow, rows[:, pure])
                scale[:, pure] = np.where(better, dscale, scale[:, pure])
        coef = Lam
        if want_gaps:
            gaps.reverse()
        return Batch(lows, ups, empty, rows, scale, coef, gaps)
    return Batch(lows, ups, empty, rows, scale, coef)


def _backward_layer_bounds(layers: list[Layer], k: int, low: np.ndarray, up: np.ndarray,
                           lam_lo: list, lam_up: list, t_up: list, lo: np.ndarray,
                           hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Layer ``k``'s pre-activation bounds tightened by back-substitution (CROWN) for the
    neurons the forward bounds leave unstable, each node its own neurons."""
    need = (low < 0) & (up > 0)
    cnt = need.sum(axis=1)
    B, n = low.shape
    m = int(cnt.max()) if B else 0
    if not m:
        return low, up
    order = np.argsort(~need, axis=1, kind="stable")[:, :m]
    rows = np.arange(B)[:, None]
    slot = np.arange(m)[None, :]
    Lam = np.zeros((B, 2 * m, n))
    Lam[rows, slot, order] = 1.0
    Lam[rows, m + slot, order] = -1.0
    Lam, c, _ = _back_substitute(layers, k, _mm(Lam, layers[k].W), Lam @ layers[k].b, lam_lo,
                                 lam_up, t_up)
    bl = _concretise_min(Lam, c, lo, hi)
    valid = slot < cnt[:, None]
    r_, c_ = np.nonzero(valid)
    cols = order[r_, c_]
    low, up = low.copy(), up.copy()
    low[r_, cols] = np.maximum(low[r_, cols], bl[r_, c_])
    up[r_, cols] = np.minimum(up[r_, cols], -bl[r_, m + c_])
    return low, up


def _back_substitute(layers: list[Layer], top: int, Lam: np.ndarray, c: np.ndarray,
                     lam_lo: list, lam_up: list, t_up: list, cabs: np.ndarray | None = None,
                     gaps: list | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``Lam a_{top-1} + c`` (B, R rows) back-substituted through the relaxations of hidden
    layers ``top-1 .. 0``: the input coefficients and constants of its lower bound; adds the
    terms' magnitudes to ``cabs`` and each layer's relaxation gaps to ``gaps`` when given."""
    for k in range(top - 1, -1, -1):
        ly = layers[k]
        P = np.maximum(Lam, 0.0)
        N = Lam - P
        Nt = np.matmul(N, t_up[k][:, :, None])[:, :, 0]
        c = c + Nt
        if gaps is not None:
            gaps.append(-(N * t_up[k][:, None, :]).sum(axis=1))
        Lz = P
        Lz *= lam_lo[k][:, None, :]
        N *= lam_up[k][:, None, :]
        Lz += N
        c += Lz @ ly.b
        if cabs is not None:
            cabs = cabs - Nt + np.abs(Lz) @ np.abs(ly.b)
        Lam = _mm(Lz, ly.W)
    return Lam, c, cabs


def _mm(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``X @ W`` for a stack ``X`` (B, R, n) and a matrix ``W`` (n, m), as one gemm (numpy's
    stacked matmul runs one small product per node)."""
    B, R, n = X.shape
    return (np.ascontiguousarray(X).reshape(B * R, n) @ W).reshape(B, R, W.shape[1])


def _delta_forms(diff: DiffSpec, k: int, E, Uc, u0, Lc, l0, B: int, d: int) -> tuple:
    """Forms ``(DU, du0, DL, dl0)`` of ``delta_k = zA_k - zB_k``: layer 0 exactly, later layers
    ``WA e + DW aB + Db`` from the previous layer's ``e`` forms and B's post-activations."""
    if k == 0:
        DW = np.broadcast_to(diff.DW[0], (B,) + diff.DW[0].shape)
        db = np.broadcast_to(diff.Db[0], (B, diff.DW[0].shape[0]))
        return DW, db, DW, db
    nA = diff.widths[k - 1]
    EU, eu0, EL, el0 = E
    UB, ub0, LB, lb0 = Uc[:, nA:], u0[:, nA:], Lc[:, nA:], l0[:, nA:]
    au, au0, al, al0 = _pos_neg_forms(diff.WA[k], EU, eu0, EL, el0)
    bu, bu0, bl, bl0 = _pos_neg_forms(diff.DW[k], UB, ub0, LB, lb0)
    return au + bu, au0 + bu0 + diff.Db[k], al + bl, al0 + bl0 + diff.Db[k]


def _relax_delta(n: int, D: tuple, Zu, zu0, Zl, zl0, low, up, lo, hi) -> tuple:
    """Forms of ``e = relu(zA) - relu(zB)`` for one hidden layer (``n`` neurons each side)."""
    DU, du0, DL, dl0 = D
    lA, uA, lB, uB = low[:, :n], up[:, :n], low[:, n:], up[:, n:]
    du = np.minimum(-_concretise_min(-DU, -du0, lo, hi), uA - lB)
    dl = np.maximum(_concretise_min(DL, dl0, lo, hi), lA - uB)
    actA, actB = lA >= 0, lB >= 0
    inA, inB = (uA <= 0) & ~actA, (uB <= 0) & ~actB
    both = actA & actB
    none = inA & inB
    a_only = actA & inB
    b_only = inA & actB
    rest = ~(both | none | a_only | b_only)
    pos = rest & (dl >= 0)
    neg = rest & (du <= 0) & ~pos
    mid = rest & ~(pos | neg)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(mid, du / (du - dl), 0.0)
        t = np.where(mid, -dl / (du - dl), 0.0)
    # coefficient multipliers of each source form, per neuron
    u_from_DU = np.where(both | pos, 1.0, 0.0) + s
    l_from_DL = np.where(both | neg, 1.0, 0.0) + t
    ZuA, ZlA, ZuB, ZlB = Zu[:, :n], Zl[:, :n], Zu[:, n:], Zl[:, n:]
    zuA, zlA, zuB, zlB = zu0[:, :n], zl0[:, :n], zu0[:, n:], zl0[:, n:]
    fa, fb = a_only.astype(float), b_only.astype(float)
    EU = (u_from_DU[:, :, None] * DU + fa[:, :, None] * ZuA - fb[:, :, None] * ZlB)
    eu0 = u_from_DU * du0 - s * dl + fa * zuA - fb * zlB
    EL = (l_from_DL[:, :, None] * DL + fa[:, :, None] * ZlA - fb[:, :, None] * ZuB)
    el0 = l_from_DL * dl0 - t * du + fa * zlA - fb * zuB
    return EU, eu0, EL, el0


def refuted_rows(batch: Batch, closed: np.ndarray) -> np.ndarray:
    """(B, R) rows whose float bound refutes them with the closing margin: ``> CLOSE_TOL *
    scale`` (and, for open rows whose every term is exactly 0, a bound of exactly 0)."""
    margin = CLOSE_TOL * batch.rows_scale
    ok = batch.rows_lower > margin
    exact_zero = (~closed)[None, :] & (batch.rows_scale == 0) & (batch.rows_lower >= 0)
    return ok | exact_zero
