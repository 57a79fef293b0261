"""The leaf bound of a proof tree (``docs/proof-search.md``), recomputed in exact arithmetic.

Every float64 is a dyadic rational ``n * 2**e``, so the network's weights, the node's box and
every bound the algorithm rounds to float64 are held as Python integers (numpy object arrays)
with one shared power-of-two exponent per array; sums, products and comparisons are then exact
integer operations, and only the output rows (VNN-LIB decimals such as ``3.99`` or ``1/3``)
bring in other denominators, removed by scaling each row by its positive common denominator
(every bound of the doc is positively homogeneous in the row, so the scaled row's bound divided
by the scale is the row's bound, exactly).

The computation is the doc's, step for step, per hidden layer ``k``:

1. interval ``il, iu`` from the input interval (as ``W mid -+ |W| rad + b``, the same numbers as
   ``W+ alo + W- ahi + b`` and ``W+ ahi + W- alo + b``);
2. at level ``"symbolic"``, the forward linear bounds ``Zu = W+ U + W- L``,
   ``Zl = W+ L + W- U`` (computed as ``(W S +- |W| D) / 2`` with ``S = U + L``,
   ``D = U - L``: the same numbers with two products instead of four), concretised over the box;
3. ``l = max(il, sl)``, ``u = min(iu, su)``;
4. phase fixings (inactive ``u = min(u, 0)``, active ``l = max(l, 0)``); a fixed neuron with
   ``l > u`` makes the node empty (only a fixed neuron: the doc's rule);
5. ``l`` rounded down and ``u`` up to float64;
6. the ReLU relaxation (active ``l >= 0``, else inactive ``u <= 0``, else unstable with
   ``s = u / (u - l)`` rounded up to a multiple of ``2**-48`` (``SLOPE_BITS``) and ``lam = 1``
   iff ``u > -l``).

At level ``"backward"`` step 3 is followed, for hidden layers ``k >= 1``, by 3b: every neuron
that ``l < 0 < u`` leaves unstable gets the back-substituted bounds of ``+-z_j`` through the
relaxations of layers ``k-1 .. 0`` (CROWN's intermediate bounds; :func:`_tighten`, the
same computation as the rows' backward bound), ``l = max(l, ...)``, ``u = min(u, ...)``. The
back-substitution runs in :mod:`.back_substitution`: rows as int64 limbs, each rounded down to
47 significant bits after every layer (sound: the coefficients multiply ``ReLU`` outputs,
``>= 0``; on the input, the dropped part is bounded over the box).

The row bound is the interval bound at level ``"interval"`` and the largest of the interval,
the forward symbolic and the backward bound at levels ``"symbolic"`` and ``"backward"``. The
layer bounds do not depend on the rows, so :func:`layer_bounds` computes them once per node and
:func:`row_lower_bounds` folds any number of rows in at the end.

Integer products with many multiply-adds (``W mid``) run through :func:`imatmul`: the
integers are split into 16-bit digits, one float64 BLAS product of the digit matrices is exact
(every dot product stays below ``2**53``), and the carries are propagated in int64 before the
Python integers are rebuilt. The forward symbolic forms of step 2 are computed in
:mod:`.forward_forms`: float64 integers at one exponent per layer, rounded after every layer
soundly (an upper form stays above, a lower form below, at every point of the box: the floor's
loss is bounded over the box and added back to the constants). Held exactly, their integers
grew to ~350 bits over ACAS Xu's six layers and their conversions to and from digits were a
third of a ``"backward"`` leaf's time.

Speed, one node, CPU time of this process (the 2-core machine was shared, wall time ~3x):

- ACAS Xu 1_1 (5-50x6-5), prop_1's box and sub-boxes of 1/16 and 1/256 of each side, one row:
  level interval 3-4 ms; level symbolic 18 ms (whole box), 10-11 ms (sub-boxes); without the
  BLAS products 15-27 ms.
- With the forms of :mod:`.forward_forms` (2026-12-04, ACAS Xu 3_3, 50 sub-boxes of 1/16 of
  prop_9's box, layers and one row): level interval 1.7 ms, symbolic 8.1 -> 7.1 ms, backward
  12.8 -> 12.0 ms; ACAS 3_3 prop_9's 1,178-leaf check 11.7 -> 11.4 s on two workers (most of
  it is the back-substitution and numpy's per-call cost on small arrays).
- Level backward, same boxes: 74 ms (whole box: most neurons of the deep layers unstable),
  13-15 ms (sub-boxes), when the back-substitution ran in Python integers (~90% of the time,
  mostly converting its ~500-bit integers to and from digits); with the limb rows of
  :mod:`.back_substitution` the check of ACAS 3_3 prop_9's 1,178 leaves went from 39 s to
  19 s on one core (2026-12-03), the back-substitution now about half of it.
- MNIST ``mnist_relu_3_100`` x its ``_pruned5`` copy (product 784-200-200-20-20), an
  L-inf ball of radius 0.01: level interval 9-12 ms (layers) + 1 ms for 20 rows; level
  symbolic 1.1 s (layers, dominated by converting the 200 x 785 forms to and from digits)
  + 0.1 s for 20 rows.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from .back_substitution import (
    SLOPE_BITS,
    BackSubstitution,
    Job,
    float_rows,
    lower_bounds_many,
)
from .forward_forms import (
    FORM_BITS,
    as_objects,
    box_slack,
    form_layer,
    post_activation_many,
    pre_activation_many,
)
from .integer_products import floor_rows, imatmul, limbs
from .numbers import add, align, dyadic, fraction, to_double, zeros

if TYPE_CHECKING:
    from ..network import ReLUNetwork


LEVELS = ("interval", "symbolic", "backward")


def _interval_lower(W: np.ndarray, Wabs: np.ndarray, eW: int, mid: np.ndarray,
                    rad: np.ndarray, em: int, b: np.ndarray, eb: int) -> tuple[np.ndarray, int]:
    """``W mid - |W| rad + b`` at one exponent (the rows' interval bound)."""
    return add(imatmul(W, mid) - imatmul(Wabs, rad), eW + em, b, eb)


def _interval_many(lay: _Layer, items: list[tuple[np.ndarray, np.ndarray, int]]
                   ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Step 1 of many nodes of one layer, ``(mid, rad, e)`` each: the interval bounds
    ``W mid -+ |W| rad + b`` as ``(lower, upper, exponent)``, the products of all nodes in one
    :func:`imatmul` each (exact, so the same numbers as one by one)."""
    C = imatmul(lay.W, np.stack([it[0] for it in items], axis=1), lay.LW)  # (n, G)
    R = imatmul(lay.Wabs, np.stack([it[1] for it in items], axis=1), lay.LWabs)
    out = []
    for g, (_, _, em) in enumerate(items):
        ec = lay.eW + em
        lo, e = add(C[:, g] - R[:, g], ec, lay.b, lay.eb)
        hi, _ = add(C[:, g] + R[:, g], ec, lay.b, lay.eb)
        out.append((lo, hi, e))
    return out


def concretise(F: np.ndarray, eF: int, xmid: np.ndarray, xrad: np.ndarray, ex: int,
                upper: bool) -> tuple[np.ndarray, int]:
    """Max (``upper``) or min over the box of the affine forms ``F = [coefficients | const]``."""
    C = F[:, :-1]
    m = C @ xmid
    r = np.abs(C) @ xrad
    v = m + r if upper else m - r
    return add(v, eF + ex, F[:, -1], eF)


# ----- the network --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layer:
    W: np.ndarray
    Wabs: np.ndarray
    eW: int
    b: np.ndarray
    eb: int
    LW: np.ndarray  # limbs of W and |W| (for imatmul)
    LWabs: np.ndarray


class ExactNetwork:
    """``F``'s layers as dyadic integers (``W``, ``|W|`` and ``b``), built once per check."""

    def __init__(self, net: ReLUNetwork):
        self.net = net
        self.layers: list[_Layer] = []
        for W, b in zip(net.weights, net.biases, strict=True):
            IW, eW = dyadic(W)
            Ib, eb = dyadic(b)
            IA = np.abs(IW)
            self.layers.append(_Layer(IW, IA, eW, Ib, eb, limbs(IW), limbs(IA)))
        #: per hidden layer, limbs of ``[W | b]`` at one exponent (for the backward bound): an
        #: (n, TW (m + 1)) float64 matrix of TW limb blocks side by side, TW, the exponent
        self.Wb: list[tuple[np.ndarray, int, int]] = []
        for lay in self.layers[:-1]:
            Wa, ba, e = align(lay.W, lay.eW, lay.b, lay.eb)
            L = limbs(np.concatenate([Wa, ba[:, None]], axis=1))  # (TW, n, m + 1)
            TW, n, m1 = L.shape
            self.Wb.append((np.ascontiguousarray(L.transpose(1, 0, 2).reshape(n, TW * m1)),
                            TW, e))
        #: the forward forms' operands: layer 0's ``[W | b]`` floored to ``FORM_BITS`` bits
        #: (float64 integers, exponent, whether anything was dropped), then ``W+``/``W-``
        #: limbs of every later hidden layer (:mod:`.forward_forms`)
        self.form0: tuple[np.ndarray, int, bool] | None = None
        if len(self.layers) > 1:
            lay = self.layers[0]
            Wa, ba, e = align(lay.W, lay.eW, lay.b, lay.eb)
            Wb0 = np.concatenate([Wa, ba[:, None]], axis=1)
            L0 = limbs(Wb0).astype(np.int64)
            M, drop = floor_rows(L0.reshape(L0.shape[0], 1, -1), FORM_BITS)
            self.form0 = (M.reshape(Wb0.shape), e + int(drop[0]), bool(drop[0] > 0))
        self.form_layers = [form_layer(lay.W, lay.eW, lay.b, lay.eb)
                            for lay in self.layers[1:-1]]
        #: per hidden layer, the rows ``[W; -W]`` of its neurons' back-substituted bounds
        self.tighten_rows = [float_rows(np.concatenate([lay.W, -lay.W]), lay.eW)
                             for lay in self.layers[:-1]]
        self.input_dim = net.input_dim
        self.output_dim = net.output_dim
        self.widths = tuple(net.hidden_widths)
        self.n_hidden = int(sum(self.widths))
        self.offsets = net.layer_offsets

    def split_fixings(self, fixings: Mapping[int, bool]) -> list[dict[int, bool]]:
        """Phase fixings per hidden layer, as local indices."""
        per: list[dict[int, bool]] = [{} for _ in self.widths]
        for j, active in fixings.items():
            if not 0 <= j < self.n_hidden:
                raise ValueError(f"neuron {j} does not exist ({self.n_hidden} hidden neurons)")
            k = int(np.searchsorted(self.offsets, j, side="right")) - 1
            per[k][j - self.offsets[k]] = bool(active)
        return per


# ----- layer bounds --------------------------------------------------------------------------
@dataclass
class LayerBounds:
    """The bounds of one node's hidden layers, shared by every row folded in afterwards."""

    level: str
    empty: bool
    #: flat index of the fixed neuron whose bounds contradict its fixing (when ``empty``)
    empty_neuron: int | None
    #: per hidden layer, the rounded pre-activation bounds (float64 values)
    l: list[list[float]] = field(default_factory=list)  # noqa: E741
    u: list[list[float]] = field(default_factory=list)
    # --- internal, for the rows ---
    x: tuple[np.ndarray, np.ndarray, int] | None = None  # box (mid, rad, exponent)
    a: tuple[np.ndarray, np.ndarray, int] | None = None  # last layer's interval (mid, rad, e)
    forms: tuple[np.ndarray, np.ndarray, int] | None = None  # last layer's (S, D, exponent)
    # per hidden layer: lower slopes (0/1), upper slopes s, exponent of s, intercepts t, exp
    relax: list[tuple[np.ndarray, np.ndarray, int, np.ndarray, int]] = field(
        default_factory=list)
    #: with ``keep_forms``, per hidden layer: the pre-activation forms ``(Zu, Zl, eZ)`` and the
    #: post-activation forms as ``(S, D, eF)`` (``S = U + L``, ``D = U - L``, each row
    #: ``[coefficients | constant]``, values ``ints * 2**e``)
    pre_forms: list[tuple[np.ndarray, np.ndarray, int]] = field(default_factory=list)
    post_forms: list[tuple[np.ndarray, np.ndarray, int]] = field(default_factory=list)
    back: BackSubstitution | None = None  # the backward bound's prepared layers


def _box(lo: Sequence[Fraction], hi: Sequence[Fraction]) -> tuple[np.ndarray, np.ndarray, int]:
    lf = [float(v) for v in lo]
    hf = [float(v) for v in hi]
    for v, f in zip((*lo, *hi), (*lf, *hf), strict=True):
        if Fraction(f) != v:
            raise ValueError(f"box bound {v} is not a float64 value")
    both, e = dyadic(lf + hf)
    n = len(lf)
    L, H = both[:n], both[n:]
    return H + L, H - L, e - 1


def layer_bounds(enet: ExactNetwork, lo: Sequence[Fraction], hi: Sequence[Fraction],
                 fixings: Mapping[int, bool], level: str, keep_forms: bool = False
                 ) -> LayerBounds:
    """Steps 1-6 of the doc for every hidden layer of ``enet`` on the box ``[lo, hi]`` (float64
    values, as Fractions) with phase ``fixings`` (flat neuron -> True active / False
    inactive), at ``level``; stops at the first layer that shows the node empty.
    ``keep_forms`` (level symbolic) keeps every layer's linear forms (``pre_forms``,
    ``post_forms``), for the differential level."""
    return _drive_one(enet, _layer_steps(enet, lo, hi, fixings, level, keep_forms))


def layer_bounds_many(enet: ExactNetwork, nodes: Sequence[tuple[Sequence[Fraction],
                                                                Sequence[Fraction],
                                                                Mapping[int, bool]]],
                      level: str, keep_forms: bool = False) -> list[LayerBounds | Exception]:
    """:func:`layer_bounds` of many nodes ``(lo, hi, fixings)``, the same numbers, with their
    back-substitutions and forward forms batched (:func:`drive_many`); a node whose input is
    invalid gets its exception in its place instead of a result."""
    return drive_many(enet, [_layer_steps(enet, lo, hi, fix, level, keep_forms)
                             for lo, hi, fix in nodes])


#: Rows per batched back-substitution: enough to share numpy's per-call cost, few enough for
#: the int64 limb arrays (rows x 51 columns x ~10 limbs on ACAS Xu) to stay in cache.
#: (ACAS 3_3 prop_9's check on one worker, 2026-12-04: 64 rows 20.1 s, 128 17.4 s, 256 16.5 s,
#: 512 18.3 s, 1,024 18.9 s, unbounded 21.1 s; one node at a time 22.2 s.)
BATCH_ROWS = 256

#: Nodes per batched forward step (the forms of one layer): enough to share numpy's per-call
#: cost, few enough for their limbs to stay in cache.
FORM_BATCH = 64

#: What the step generators yield, and are sent back:
#: ``("back", res, top, rows, c, ec)``: a back-substitution of rows ``Lam a_{top-1} + c``
#: (:class:`Rows`) over the node of ``res``, answered with its lower bounds;
#: ``("interval", k, mid, rad, e)``: layer ``k``'s interval bounds (step 1), answered with
#: ``(lower, upper, exponent)``;
#: ``("pre", k, U, L, eF, slack)`` and ``("post", k, Zu, Zl, eZ, s_int, t, et, lam, slack)``:
#: layer ``k``'s forward forms (:mod:`.forward_forms`), answered with ``(Zu, Zl, eZ)`` and
#: ``(U, L, eF)``.
Request = tuple
Steps = Generator[Request, Any, Any]


def _job(enet: ExactNetwork, req: Request) -> Job:
    _, res, top, rows, c, ec = req
    if res.back is None:
        res.back = BackSubstitution(enet.Wb, res.relax, res.x)
    return (res.back, top, rows, c, ec)


def _run(enet: ExactNetwork, reqs: list[Request]) -> list[Any]:
    """Answer requests of one kind and one layer together."""
    kind = reqs[0][0]
    if kind == "back":
        return lower_bounds_many([_job(enet, r) for r in reqs])
    if kind == "interval":
        return _interval_many(enet.layers[reqs[0][1]], [r[2:] for r in reqs])
    if kind == "pre":
        return pre_activation_many(enet.form_layers[reqs[0][1] - 1], [r[2:] for r in reqs])
    return post_activation_many([r[2:] for r in reqs])


def _drive_one(enet: ExactNetwork, gen: Steps) -> Any:
    """Run one step generator, its requests one at a time."""
    try:
        req = next(gen)
        while True:
            req = gen.send(_run(enet, [req])[0])
    except StopIteration as stop:
        return stop.value


def drive_many(enet: ExactNetwork, gens: Sequence[Steps]) -> list[Any]:
    """Run many step generators of ``enet``'s nodes in lock-step: every round, the pending
    requests of one kind and layer are answered together (back-substitutions in batches of
    at most ``BATCH_ROWS`` rows, forward forms of at most ``FORM_BATCH`` nodes). A generator
    that raises gets its exception as its result (the caller raises it where the node is
    checked)."""
    out: list[Any] = [None] * len(gens)
    pending: dict[int, Request] = {}

    def advance(i: int, value: Any) -> None:
        try:
            req = next(gens[i]) if value is None else gens[i].send(value)
        except StopIteration as stop:
            out[i] = stop.value
        except Exception as exc:  # noqa: BLE001 - handed to the caller, see the docstring
            out[i] = exc
        else:
            pending[i] = req

    for i in range(len(gens)):
        advance(i, None)
    while pending:
        by_key: dict[tuple[str, int], list[int]] = {}
        for i, req in pending.items():
            key = (req[0], req[2] if req[0] == "back" else req[1])
            by_key.setdefault(key, []).append(i)
        reqs = dict(pending)
        pending.clear()
        for (kind, _), ids in by_key.items():
            groups: list[list[int]] = [[]]
            size = 0
            cap = BATCH_ROWS if kind == "back" else FORM_BATCH
            for i in ids:
                r = reqs[i][3].M.shape[0] if kind == "back" else 1
                if groups[-1] and size + r > cap:
                    groups.append([])
                    size = 0
                groups[-1].append(i)
                size += r
            for group in groups:
                for i, r in zip(group, _run(enet, [reqs[i] for i in group]), strict=True):
                    advance(i, r)
    return out


def _layer_steps(enet: ExactNetwork, lo: Sequence[Fraction], hi: Sequence[Fraction],
                 fixings: Mapping[int, bool], level: str, keep_forms: bool) -> Steps:
    """:func:`layer_bounds` as a step generator (see :data:`Request`)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r} (expected one of {', '.join(LEVELS)})")
    if len(lo) != enet.input_dim or len(hi) != enet.input_dim:
        raise ValueError(f"the box has {len(lo)} coordinates, the network {enet.input_dim} inputs")
    symbolic = level in ("symbolic", "backward")
    crown = level == "backward"
    xmid, xrad, ex = _box(lo, hi)
    d = enet.input_dim
    per_fix = enet.split_fixings(fixings)
    res = LayerBounds(level, False, None, x=(xmid, xrad, ex))
    amid, arad, ea = xmid, xrad, ex
    U = L = None  # forms U >= a >= L of the layer's input (float64 integers), exponent eF
    eF = 0
    slack = box_slack(xmid, xrad, ex) if symbolic else (0, 0)
    for k, width in enumerate(enet.widths):
        il, iu, ei = yield ("interval", k, amid, arad, ea)
        Zu = Zl = None
        eZ = 0
        if symbolic:
            if k == 0:
                # the input's forms are x itself: Zu = Zl = [W | b] (floored, with the box
                # slack), and the interval bound is the exact concretisation
                M0, eZ, dropped = enet.form0
                Zu, Zl = M0.copy(), M0.copy()
                if dropped:
                    Zu[:, -1] += 1 + slack[0]
                    Zl[:, -1] += slack[1]
                l_, u_, e = il, iu, ei
            else:
                Zu, Zl, eZ = yield ("pre", k, U, L, eF, slack)
                su, esu = concretise(as_objects(Zu), eZ, xmid, xrad, ex, upper=True)
                sl, esl = concretise(as_objects(Zl), eZ, xmid, xrad, ex, upper=False)
                a1, a2, e = align(il, ei, sl, esl)
                l_ = np.maximum(a1, a2)
                b1, b2, e2 = align(iu, ei, su, esu)
                u_ = np.minimum(b1, b2)
                l_, u_, e = align(l_, e, u_, e2)
                if crown:
                    l_, u_, e = yield from _tighten(enet, res, k, l_, u_, e)
        else:
            l_, u_, e = il, iu, ei
        l_ = l_.copy()
        u_ = u_.copy()
        for j, active in per_fix[k].items():
            if active:
                if l_[j] < 0:
                    l_[j] = 0
            elif u_[j] > 0:
                u_[j] = 0
            if l_[j] > u_[j]:
                res.empty = True
                res.empty_neuron = enet.offsets[k] + j
                return res
        lf = [to_double(v, e, up=False) for v in l_.tolist()]
        uf = [to_double(v, e, up=True) for v in u_.tolist()]
        res.l.append(lf)
        res.u.append(uf)
        # relaxation
        lower_slope = zeros((width,))
        up_s: list[int] = []  # upper slopes times 2**SLOPE_BITS
        alo: list[float] = []
        ahi: list[float] = []
        unstable: list[int] = []
        for j in range(width):
            lj, uj = lf[j], uf[j]
            if lj >= 0:
                lower_slope[j] = 1
                up_s.append(1 << SLOPE_BITS)
                alo.append(lj)
                ahi.append(uj)
            elif uj <= 0:
                up_s.append(0)
                alo.append(0.0)
                ahi.append(0.0)
            else:
                pu, qu = uj.as_integer_ratio()
                pl, ql = lj.as_integer_ratio()
                num, den = pu * ql, pu * ql - pl * qu  # u / (u - l) = num / den, den > 0
                up_s.append(-((-num << SLOPE_BITS) // den))  # rounded up to the grid
                if uj > -lj:
                    lower_slope[j] = 1
                alo.append(0.0)
                ahi.append(uj)
                unstable.append(j)
        s_int, es = zeros((width,)), -SLOPE_BITS
        s_int[:] = up_s
        # upper intercepts t = -s l of the unstable neurons (exact products of doubles)
        l_int, el = dyadic(lf)
        t = zeros((width,))
        for j in unstable:
            t[j] = -s_int[j] * l_int[j]
        et = es + el
        res.relax.append((lower_slope, s_int, es, t, et))
        both, eab = dyadic(alo + ahi)
        A_lo, A_hi = both[:width], both[width:]
        amid, arad, ea = A_hi + A_lo, A_hi - A_lo, eab - 1
        if symbolic:
            U, L, eF = yield ("post", k, Zu, Zl, eZ, s_int, t, et, lower_slope, slack)
            if keep_forms:
                res.pre_forms.append((as_objects(Zu), as_objects(Zl), eZ))
                res.post_forms.append((as_objects(U + L), as_objects(U - L), eF))
    res.a = (amid, arad, ea)
    if symbolic:
        if U is not None:
            S, D = as_objects(U + L), as_objects(U - L)
        else:  # no hidden layer: the forms are x itself
            eye = zeros((d, d + 1))
            for i in range(d):
                eye[i, i] = 2
            S, D, eF = eye, zeros((d, d + 1)), -1
        res.forms = (S, D, eF)
    return res


def _tighten(enet: ExactNetwork, res: LayerBounds, k: int, l_: np.ndarray, u_: np.ndarray,
             e: int) -> Generator[Request, tuple[np.ndarray, int],
                                  tuple[np.ndarray, np.ndarray, int]]:
    """Level backward: the bounds ``l_, u_`` (at exponent ``e``) of layer ``k``'s neurons that
    they leave unstable, intersected with their back-substituted bounds (``+-z_j``)."""
    J = [j for j, (a, b) in enumerate(zip(l_.tolist(), u_.tolist(), strict=True))
         if a < 0 < b]
    if not J:
        return l_, u_, e
    lay = enet.layers[k]
    rows = enet.tighten_rows[k].take(J + [j + lay.W.shape[0] for j in J])
    c = np.concatenate([lay.b[J], -lay.b[J]])
    bl, eb = yield ("back", res, k, rows, c, lay.eb)
    m = len(J)
    lo_, hi_ = bl[:m], -bl[m:]
    l_, lo_, e1 = align(l_, e, lo_, eb)
    u_, hi_, e2 = align(u_, e, hi_, eb)
    l_ = l_.copy()
    u_ = u_.copy()
    l_[J] = np.maximum(l_[J], lo_)
    u_[J] = np.minimum(u_[J], hi_)
    l_, u_, e = align(l_, e1, u_, e2)
    return l_, u_, e


# ----- rows ----------------------------------------------------------------------------------
def scaled_rows(C_rows: Sequence[Sequence[Fraction]], d: Sequence[Fraction], m: int
                 ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Integer rows ``q_i C_i`` and offsets ``q_i d_i`` with ``q_i > 0`` (common denominator)."""
    r = len(C_rows)
    if len(d) != r:
        raise ValueError(f"{r} rows but {len(d)} offsets")
    Cq = zeros((r, m))
    dq = zeros((r,))
    qs = []
    for i, (row, di) in enumerate(zip(C_rows, d, strict=True)):
        if len(row) != m:
            raise ValueError(f"row {i} has {len(row)} entries, the network {m} outputs")
        vals = [Fraction(v) for v in row] + [Fraction(di)]
        q = math.lcm(*(v.denominator for v in vals))
        ints = [v.numerator * (q // v.denominator) for v in vals]
        Cq[i, :] = ints[:-1]
        dq[i] = ints[-1]
        qs.append(q)
    return Cq, dq, qs


def row_lower_bounds(enet: ExactNetwork, lb: LayerBounds, C_rows: Sequence[Sequence[Fraction]],
                     d: Sequence[Fraction]) -> list[Fraction]:
    """Exact lower bound of each row ``C_i F(x) - d_i`` over the node of ``lb`` (not empty)."""
    return _drive_one(enet, row_steps(enet, lb, C_rows, d))


def row_lower_bounds_many(enet: ExactNetwork, items: Sequence[tuple[
        LayerBounds, Sequence[Sequence[Fraction]], Sequence[Fraction]]]
        ) -> list[list[Fraction] | Exception]:
    """:func:`row_lower_bounds` of many nodes ``(lb, C_rows, d)``, their backward bounds
    batched; an invalid item gets its exception in its place."""
    return drive_many(enet, [row_steps(enet, lb, C, d) for lb, C, d in items])


def row_steps(enet: ExactNetwork, lb: LayerBounds, C_rows: Sequence[Sequence[Fraction]],
              d: Sequence[Fraction]) -> Steps:
    """:func:`row_lower_bounds` as a step generator (see :data:`Request`)."""
    if lb.empty:
        raise ValueError("the node is empty: no row bounds")
    if not len(C_rows):
        return []
    out = enet.layers[-1]
    Cq, dq, qs = scaled_rows(C_rows, d, enet.output_dim)
    Wg = Cq @ out.W
    eg = out.eW
    bg, ebg = add(Cq @ out.b, out.eb, -dq, 0)
    Wgabs = np.abs(Wg)
    amid, arad, ea = lb.a
    best, eb_ = _interval_lower(Wg, Wgabs, eg, amid, arad, ea, bg, ebg)
    if lb.level in ("symbolic", "backward") and enet.widths:
        xmid, xrad, ex = lb.x
        S, D, eF = lb.forms
        # forward: Gl = Wg+ L + Wg- U = (Wg S - |Wg| D) / 2, plus bg
        G = Wg @ S - Wgabs @ D
        eG = eg + eF - 1
        bcol = zeros(G.shape)
        bcol[:, -1] = bg
        G, eG = add(G, eG, bcol, ebg)
        fwd, ef = concretise(G, eG, xmid, xrad, ex, upper=False)
        x1, x2, e = align(best, eb_, fwd, ef)
        best, eb_ = np.maximum(x1, x2), e
        # backward
        bwd, ebw = yield ("back", lb, len(enet.widths), float_rows(Wg, eg), bg, ebg)
        x1, x2, e = align(best, eb_, bwd, ebw)
        best, eb_ = np.maximum(x1, x2), e
    return [fraction(int(v), eb_) / q for v, q in zip(best.tolist(), qs, strict=True)]


@dataclass
class LeafBound:
    """The exact leaf bound: ``empty`` (a fixing is contradicted) or ``lower[i]``, the exact
    lower bound of row ``i`` (``C_i F(x) - d_i``) over the node."""

    empty: bool
    lower: list[Fraction]
    empty_neuron: int | None = None


def leaf_bound(enet: ExactNetwork, lo: Sequence[Fraction], hi: Sequence[Fraction],
               fixings: Mapping[int, bool], level: str, C_rows: Sequence[Sequence[Fraction]],
               d: Sequence[Fraction]) -> LeafBound:
    """The doc's leaf bound of rows ``(C_rows, d)`` on one node, exactly (see the module doc)."""
    lb = layer_bounds(enet, lo, hi, fixings, level)
    if lb.empty:
        return LeafBound(True, [], lb.empty_neuron)
    return LeafBound(False, row_lower_bounds(enet, lb, C_rows, d))
