"""Float64 leaf bounds of the proof search, batched over many nodes at once.

This is the float twin of the exact leaf bound in :mod:`verishallow.exact.leaf_bounds` (the
algorithm is written out in ``docs/proof-search.md``): interval and forward symbolic bounds of
every hidden layer, the triangle relaxation, then the lower bound of every goal row by the
interval, forward-symbolic and backward (CROWN-style) passes. Everything is vectorised over a
batch of nodes (boxes with phase fixings), because one numpy pass over a few hundred nodes
costs about as much as one pass over a single node.

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

#: A float lower bound refutes a row only when it exceeds this fraction of the magnitude of
#: the terms it was computed from (``scale``). Open disjuncts (equivalence) need an exact
#: bound ``>= 0``; they are held to the same margin unless every term is exactly 0.
CLOSE_TOL = 1e-9
LEVELS = ("interval", "symbolic")


@dataclass
class Layer:
    """One affine layer with its positive and negative parts (computed once)."""

    W: np.ndarray
    b: np.ndarray
    Wp: np.ndarray
    Wn: np.ndarray


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
                 level: str, Cg: np.ndarray, dg: np.ndarray, want_gaps: bool = False) -> Batch:
    """Bounds for ``B`` nodes: boxes ``lo``/``hi`` (B, d), fixings ``fix`` (B, N) int8
    (-1 free, 0 inactive, 1 active) or None, and goal rows ``Cg y - dg`` (R rows over the
    outputs)."""
    B, d = lo.shape
    symbolic = level == "symbolic"
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
                Zu = np.einsum("ij,bjk->bik", ly.Wp, Uc) + np.einsum("ij,bjk->bik", ly.Wn, Lc)
                Zl = np.einsum("ij,bjk->bik", ly.Wp, Lc) + np.einsum("ij,bjk->bik", ly.Wn, Uc)
                zu0 = u0 @ ly.Wp.T + l0 @ ly.Wn.T + ly.b
                zl0 = l0 @ ly.Wp.T + u0 @ ly.Wn.T + ly.b
            su = -_concretise_min(-Zu, -zu0, lo, hi)
            sl = _concretise_min(Zl, zl0, lo, hi)
            low, up = np.maximum(il, sl), np.minimum(iu, su)
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
        Gl = np.einsum("ij,bjk->bik", Wgp, Lc) + np.einsum("ij,bjk->bik", Wgn, Uc)
        gl0 = l0 @ Wgp.T + u0 @ Wgn.T + bg
        rows = np.maximum(rows, _concretise_min(Gl, gl0, lo, hi))
        # backward pass
        R = Wg.shape[0]
        Lam = np.broadcast_to(Wg, (B, R, Wg.shape[1]))
        c = np.broadcast_to(bg, (B, R)).copy()
        cabs = np.broadcast_to(np.abs(bg), (B, R)).copy()
        gaps = [] if want_gaps else None
        for k in range(len(layers) - 2, -1, -1):
            ly = layers[k]
            P = np.maximum(Lam, 0.0)
            N = np.minimum(Lam, 0.0)
            c = c + np.einsum("brn,bn->br", N, t_up[k])
            if want_gaps:
                gaps.append(np.einsum("brn,bn->bn", -N, t_up[k]))
            Lz = P * lam_lo[k][:, None, :] + N * lam_up[k][:, None, :]
            c = c + Lz @ ly.b
            cabs = cabs + np.einsum("brn,bn->br", np.abs(N), t_up[k]) + np.abs(Lz) @ np.abs(ly.b)
            Lam = Lz @ ly.W
        back = _concretise_min(Lam, c, lo, hi)
        cabs = cabs + np.einsum("brd,bd->br", np.abs(Lam), xmag)
        rows = np.maximum(rows, back)
        scale = np.maximum(scale, cabs)
        coef = Lam
        if want_gaps:
            gaps.reverse()
        return Batch(lows, ups, empty, rows, scale, coef, gaps)
    return Batch(lows, ups, empty, rows, scale, coef)


def refuted_rows(batch: Batch, closed: np.ndarray) -> np.ndarray:
    """(B, R) rows whose float bound refutes them with the closing margin: ``> CLOSE_TOL *
    scale`` (and, for open rows whose every term is exactly 0, a bound of exactly 0)."""
    margin = CLOSE_TOL * batch.rows_scale
    ok = batch.rows_lower > margin
    exact_zero = (~closed)[None, :] & (batch.rows_scale == 0) & (batch.rows_lower >= 0)
    return ok | exact_zero
