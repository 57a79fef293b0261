"""The leaf bound at level ``"differential"`` (``docs/proof-search.md``), exactly.

For an equivalence goal of two networks A and B with the same hidden widths, layer by layer
(so ``F = [f_A; f_B]`` of :func:`verishallow.product.product_network` stacks A's neurons above
B's in every layer, without padding), the bounds of ``delta_k = zA_k - zB_k`` are tracked beside
the back-substituted bounds of ``F`` (ReluDiff / NeuroDiff). Everything is computed as in
:mod:`verishallow.exact.leaf_bounds`: dyadic integers with one exponent per array, exact
products (:func:`imatmul`), and only the doc's roundings to float64:

1. the ``"backward"`` layer bounds of ``F`` (:func:`layer_bounds` with ``keep_forms``): the
   rounded ``lA, uA, lB, uB`` (phase fixings included), A's and B's pre-activation forms and B's
   post-activation forms;
2. layer 0: ``DU = DL = [WA_0 - WB_0 | bA_0 - bB_0]``;
3. per hidden layer: ``du = min(max over box of DU, uA - lB)`` rounded up,
   ``dl = max(min over box of DL, lA - uB)`` rounded down; the relaxation of
   ``e = relu(zA) - relu(zB)`` per neuron, by the first matching case of (A, B) phases, each
   network's neuron classified as in step 6: *active* if ``l >= 0``, else *inactive* if
   ``u <= 0``, else unstable; chords with ``s = du / (du - dl)`` and ``t = -dl / (du - dl)``
   rounded up;
4. next layer: ``DU' = WA+ EU + WA- EL + DW+ UB + DW- LB + Db`` and
   ``DL' = WA+ EL + WA- EU + DW+ LB + DW- UB + Db`` (computed as
   ``(WA (EU + EL) +- |WA| (EU - EL)) / 2 + (DW (UB + LB) +- |DW| (UB - LB)) / 2 + Db``);
5. a row ``C = [CA, CB]`` over ``[A; B]`` with ``CA == -CB`` (a pure difference) is bounded
   below by ``min over box of (CA+ DL_L + CA- DU_L) - d`` as well as by its ``"backward"`` bound
   (the larger is the leaf's bound); any other row keeps its ``"backward"`` bound.

Speed, one node, CPU time (2 shared cores; measured when the base was the forward
``"symbolic"`` level, which the back-substitution now tightens at a higher cost per node):
ACAS Xu 1_1 x its ``_pruned5`` copy (product 5-100x6-10), boxes of side 1, 1/16, 1/256 at
``[-0.3, -0.5, ...]``: symbolic layers 70-90 ms, differential layers (symbolic included)
100-210 ms, 10 difference rows 30-65 ms. On that pair (weights 10-40% apart per layer) the
differential bound is looser than the symbolic one, so the max keeps the symbolic bound; on
``A`` x ``A`` perturbed by ``1e-5`` relative it is ~200x
tighter (-0.89 against -173 on the 1/16 box).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .integer_products import imatmul, limbs
from .leaf_bounds import (
    LEVELS as BASE_LEVELS,
)
from .leaf_bounds import (
    ExactNetwork,
    LayerBounds,
    concretise,
    layer_bounds,
    row_lower_bounds,
    scaled_rows,
)
from .numbers import add, align, dyadic, fraction, normalise, to_double, zeros

if TYPE_CHECKING:
    from ..network import ReLUNetwork

LEVELS = (*BASE_LEVELS, "differential")


def differential_mismatch(net_a: ReLUNetwork, net_b: ReLUNetwork) -> str | None:
    """Why the level ``"differential"`` does not apply to A and B (None when it does)."""
    wa, wb = tuple(net_a.hidden_widths), tuple(net_b.hidden_widths)
    if net_a.input_dim != net_b.input_dim or net_a.output_dim != net_b.output_dim:
        return (f"the networks' inputs/outputs differ ({net_a.input_dim}/{net_a.output_dim} "
                f"and {net_b.input_dim}/{net_b.output_dim})")
    if wa != wb:
        return (f"level differential needs networks of the same architecture (equal hidden "
                f"widths layer by layer); A has hidden widths {list(wa)}, B {list(wb)}")
    return None


@dataclass(frozen=True)
class _DLayer:
    WA: np.ndarray
    WAabs: np.ndarray
    eWA: int
    DW: np.ndarray
    DWabs: np.ndarray
    eDW: int
    Db: np.ndarray
    eDb: int
    LWA: np.ndarray
    LWAabs: np.ndarray
    LDW: np.ndarray
    LDWabs: np.ndarray


class DifferentialNetwork:
    """A's weights and the exact differences ``DW = WA - WB``, ``Db = bA - bB`` per layer."""

    def __init__(self, net_a: ReLUNetwork, net_b: ReLUNetwork):
        why = differential_mismatch(net_a, net_b)
        if why:
            raise ValueError(why)
        self.widths = tuple(net_a.hidden_widths)
        self.input_dim = net_a.input_dim
        self.output_dim = net_a.output_dim
        self.layers: list[_DLayer] = []
        for WA, bA, WB, bB in zip(net_a.weights, net_a.biases, net_b.weights, net_b.biases,
                                  strict=True):
            IA, eA = dyadic(WA)
            IB, eB = dyadic(WB)
            x, y, eD = align(IA, eA, IB, eB)
            DW = x - y
            (DW,), eD = normalise([DW], eD)
            ba, eba = dyadic(bA)
            bb, ebb = dyadic(bB)
            x, y, eDb = align(ba, eba, bb, ebb)
            Db = x - y
            IAabs, DWabs = np.abs(IA), np.abs(DW)
            self.layers.append(_DLayer(IA, IAabs, eA, DW, DWabs, eD, Db, eDb, limbs(IA),
                                       limbs(IAabs), limbs(DW), limbs(DWabs)))


@dataclass
class DifferentialBounds:
    """One node's ``"backward"`` layer bounds of ``F`` and the bounds of ``delta``."""

    lb: LayerBounds
    #: per hidden layer, the rounded bounds of ``delta_k = zA_k - zB_k`` (float64 values)
    dl: list[list[float]] = field(default_factory=list)
    du: list[list[float]] = field(default_factory=list)
    #: the output layer's forms of ``delta_L``: ``(DU + DL, DU - DL, exponent)``
    out: tuple[np.ndarray, np.ndarray, int] | None = None

    @property
    def empty(self) -> bool:
        return self.lb.empty


def _up(x: Fraction) -> float:
    """The smallest float64 >= ``x``."""
    f = float(x)
    if Fraction(f) < x:
        f = math.nextafter(f, math.inf)
    return f + 0.0


def _next_forms(dl: _DLayer, SE: np.ndarray, DE: np.ndarray, eE: int, SB: np.ndarray,
                DB: np.ndarray, eB: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(DU + DL, DU - DL, e)`` of the next layer's ``delta`` from the forms of ``e``
    (``SE = EU + EL``, ``DE = EU - EL``) and of B's post-activations (``SB``, ``DB``)."""
    WS = imatmul(dl.WA, SE, dl.LWA)
    AD = imatmul(dl.WAabs, DE, dl.LWAabs)
    e1 = dl.eWA + eE  # DU = (WS + AD)/2 + ..., DL = (WS - AD)/2 + ...; sum/diff: WS, AD
    VS = imatmul(dl.DW, SB, dl.LDW)
    VD = imatmul(dl.DWabs, DB, dl.LDWabs)
    e2 = dl.eDW + eB
    S, e = add(WS, e1, VS, e2)  # DU + DL
    D, e_ = add(AD, e1, VD, e2)  # DU - DL
    S, D, e = align(S, e, D, e_)
    bcol = zeros(S.shape)
    bcol[:, -1] = 2 * dl.Db  # DU + DL gets 2 Db
    S, e2 = add(S, e, bcol, dl.eDb)
    D, S, e2 = align(D, e, S, e2)
    (S, D), e2 = normalise([S, D], e2)
    return S, D, e2


def differential_bounds(enet: ExactNetwork, dnet: DifferentialNetwork, lo: Sequence[Fraction],
                        hi: Sequence[Fraction], fixings: Mapping[int, bool],
                        lb: LayerBounds | None = None) -> DifferentialBounds:
    """The ``"backward"`` layer bounds of ``F`` (``enet``, the product of A and B) on the
    node, and the forms and rounded bounds of ``delta`` (see the module doc); stops when the
    node is empty. ``lb``: those layer bounds when already computed (``layer_bounds(enet,
    lo, hi, fixings, "backward", keep_forms=True)``, e.g. batched with other nodes')."""
    if tuple(enet.widths) != tuple(2 * w for w in dnet.widths):
        raise ValueError("the product network does not match A and B")
    if lb is None:
        lb = layer_bounds(enet, lo, hi, fixings, "backward", keep_forms=True)
    elif lb.level != "backward" or (not lb.empty and enet.widths and not lb.pre_forms):
        raise ValueError("differential_bounds needs backward layer bounds with their forms")
    res = DifferentialBounds(lb)
    if lb.empty:
        return res
    xmid, xrad, ex = lb.x
    d = dnet.input_dim
    L0 = dnet.layers[0]
    Wc, bc, e0 = align(L0.DW, L0.eDW, L0.Db, L0.eDb)
    F0 = np.concatenate([Wc, bc[:, None]], axis=1)
    # forms of delta as (DU + DL, DU - DL, e)
    S, D, eS = F0, zeros(F0.shape), e0 + 1
    SE = DE = zeros((0, d + 1))  # forms of e (set by each hidden layer)
    eE = n_prev = 0
    for k, n in enumerate(dnet.widths):
        if k > 0:
            Sq, Dq, eq = lb.post_forms[k - 1]
            S, D, eS = _next_forms(dnet.layers[k], SE, DE, eE, Sq[n_prev:], Dq[n_prev:], eq)
        DU, DL = S + D, S - D  # at eS - 1
        eDU = eS - 1
        du_, edu = concretise(DU, eDU, xmid, xrad, ex, upper=True)
        dl_, edl = concretise(DL, eDU, xmid, xrad, ex, upper=False)
        lf, uf = lb.l[k], lb.u[k]
        bnd, eb = dyadic(lf + uf)
        l_i, u_i = bnd[:2 * n], bnd[2 * n:]
        x1, x2, e = align(du_, edu, u_i[:n] - l_i[n:], eb)
        du_v, edu = np.minimum(x1, x2), e
        x1, x2, e = align(dl_, edl, l_i[:n] - u_i[n:], eb)
        dl_v, edl = np.maximum(x1, x2), e
        duf = [to_double(v, edu, up=True) for v in du_v.tolist()]
        dlf = [to_double(v, edl, up=False) for v in dl_v.tolist()]
        res.du.append(duf)
        res.dl.append(dlf)
        # relaxation of e = relu(zA) - relu(zB):
        # EU = aU DU + bA ZuA - bB ZlB + cU, EL = aL DL + bA ZlA - bB ZuB + cL
        aU: list[float] = []
        aL: list[float] = []
        cU: list[float] = []  # constants -s dl (exact products of doubles, below)
        cL: list[float] = []
        fa = zeros((n,))
        fb = zeros((n,))
        for j in range(n):
            lA, uA, lB, uB = lf[j], uf[j], lf[n + j], uf[n + j]
            actA, actB = lA >= 0, lB >= 0
            inA, inB = not actA and uA <= 0, not actB and uB <= 0
            s = t = 0.0
            if actA and actB:
                au, al = 1.0, 1.0
            elif inA and inB:
                au = al = 0.0
            elif actA and inB:
                au = al = 0.0
                fa[j] = 1
            elif inA and actB:
                au = al = 0.0
                fb[j] = 1
            elif dlf[j] >= 0:
                au, al = 1.0, 0.0
            elif duf[j] <= 0:
                au, al = 0.0, 1.0
            else:
                lo_, up_ = Fraction(dlf[j]), Fraction(duf[j])
                s = _up(up_ / (up_ - lo_))
                t = _up(-lo_ / (up_ - lo_))
                au, al = s, t
            aU.append(au)
            aL.append(al)
            cU.append(s)
            cL.append(t)
        # constants: -s dl and -t du as exact dyadic products
        sv, es = dyadic(cU)
        tv, et = dyadic(cL)
        dlv, edl2 = dyadic(dlf)
        duv, edu2 = dyadic(duf)
        cUv, ecU = -sv * dlv, es + edl2
        cLv, ecL = -tv * duv, et + edu2
        aUv, eaU = dyadic(aU)
        aLv, eaL = dyadic(aL)
        EU, eU = aUv[:, None] * DU, eaU + eDU
        EL, eL = aLv[:, None] * DL, eaL + eDU
        Zu, Zl, eZ = lb.pre_forms[k]
        cu = fa[:, None] * Zu[:n] - fb[:, None] * Zl[n:]
        cl = fa[:, None] * Zl[:n] - fb[:, None] * Zu[n:]
        EU, eU = add(EU, eU, cu, eZ)
        EL, eL = add(EL, eL, cl, eZ)
        col = zeros(EU.shape)
        col[:, -1] = cUv
        EU, eU = add(EU, eU, col, ecU)
        col = zeros(EL.shape)
        col[:, -1] = cLv
        EL, eL = add(EL, eL, col, ecL)
        EU, EL, eE = align(EU, eU, EL, eL)
        (SE, DE), eE = normalise([EU + EL, EU - EL], eE)
        n_prev = n
    if dnet.widths:
        Sq, Dq, eq = lb.post_forms[-1]
        S, D, eS = _next_forms(dnet.layers[-1], SE, DE, eE, Sq[n_prev:], Dq[n_prev:], eq)
    assert S.shape[1] == d + 1
    res.out = (S, D, eS)
    return res


def pure_difference(row: Sequence[Fraction], m: int) -> bool:
    """Whether a row over ``[A; B]``'s ``2 m`` outputs is ``[-c, c]``."""
    return len(row) == 2 * m and all(Fraction(row[j]) == -Fraction(row[m + j]) for j in range(m))


def differential_row_lower_bounds(enet: ExactNetwork, db: DifferentialBounds,
                                  C_rows: Sequence[Sequence[Fraction]], d: Sequence[Fraction]
                                  ) -> list[Fraction]:
    """Exact lower bound of each row ``C_i F(x) - d_i`` at level differential: for a pure
    difference the larger of its ``"backward"`` and its differential bound, else the ``"backward"``
    bound."""
    sym = row_lower_bounds(enet, db.lb, C_rows, d)
    m = enet.output_dim // 2
    pure = [i for i, row in enumerate(C_rows) if pure_difference(row, m)]
    if not pure:
        return sym
    Cq, dq, qs = scaled_rows([C_rows[i] for i in pure], [d[i] for i in pure], 2 * m)
    CA = Cq[:, :m]
    xmid, xrad, ex = db.lb.x
    S, D, eS = db.out  # DU + DL, DU - DL
    # CA+ DL + CA- DU = (CA S - |CA| D) / 2
    G = CA @ S - np.abs(CA) @ D
    eG = eS - 1
    low, el = concretise(G, eG, xmid, xrad, ex, upper=False)
    low, el = add(low, el, -dq, 0)
    out = list(sym)
    for r, i in enumerate(pure):
        v = fraction(int(low[r]), el) / qs[r]
        if v > out[i]:
            out[i] = v
    return out


def differential_leaf_bound(enet: ExactNetwork, dnet: DifferentialNetwork,
                            lo: Sequence[Fraction], hi: Sequence[Fraction],
                            fixings: Mapping[int, bool], C_rows: Sequence[Sequence[Fraction]],
                            d: Sequence[Fraction]):
    """The leaf bound at level differential (a :class:`~.leaf_bounds.LeafBound`)."""
    from .leaf_bounds import LeafBound

    db = differential_bounds(enet, dnet, lo, hi, fixings)
    if db.empty:
        return LeafBound(True, [], db.lb.empty_neuron)
    return LeafBound(False, differential_row_lower_bounds(enet, db, C_rows, d))
