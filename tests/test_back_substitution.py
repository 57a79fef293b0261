"""The exact backward bound in limbs (:mod:`verishallow.exact.back_substitution`) and its
integer helpers (:mod:`verishallow.exact.integer_products`).

The kernel's bound is compared with an independent back-substitution in Fractions on the same
relaxation (``lb.relax``): within a tiny relative gap always, and *never above* it where the
unrounded bound is the true minimum (active-only networks, no hidden layer), since any sound
bound is below the true minimum. Soundness is also checked against sampled points (floats) and
exact points (``exact_forward``).
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

from verishallow.exact import ExactNetwork, layer_bounds, leaf_bound
from verishallow.exact.back_substitution import ROW_BITS, SLOPE_BITS, BackSubstitution
from verishallow.exact.integer_products import carry, floor_rows, limb_ints, limbs, split_small
from verishallow.exact.numbers import fraction
from verishallow.network import ReLUNetwork

GAP = 1e-11  # allowed loss of the limb bound, relative to the sum of the terms' magnitudes


# ----- helpers ---------------------------------------------------------------------------------
def _net(seed: int, sizes: tuple[int, ...], bias: float = 0.5, scales=None, bscales=None,
         nonneg: bool = False) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for k in range(len(sizes) - 1):
        W = rng.normal(size=(sizes[k + 1], sizes[k])) / np.sqrt(sizes[k])
        b = rng.normal(size=sizes[k + 1]) * bias
        if nonneg:
            W, b = np.abs(W), np.abs(b) + 3.0
        Ws.append(W * (scales[k] if scales else 1.0))
        bs.append(b * (bscales[k] if bscales else 1.0) * (scales[k] if scales else 1.0))
    return ReLUNetwork(Ws, bs)


def _fr(v) -> list[Fraction]:
    return [Fraction(float(x)) for x in v]


def _obj(rows) -> np.ndarray:
    a = np.empty((len(rows), len(rows[0]) if len(rows) else 0), dtype=object)
    for i, r in enumerate(rows):
        a[i, :] = [int(v) for v in r]
    return a


def _exact_back(net: ReLUNetwork, relax, top: int, Lam, eL: int, c, ec: int, lo, hi):
    """The backward bound in Fractions, nothing rounded, on the relaxation ``relax``:
    per row ``(bound, magnitude)``, the magnitude the sum of every term's absolute value."""
    out = []
    Ws = [[[Fraction(float(v)) for v in row] for row in W] for W in net.weights]
    bs = [[Fraction(float(v)) for v in b] for b in net.biases]
    for r in range(Lam.shape[0]):
        L = [Fraction(int(v)) * Fraction(2) ** eL for v in Lam[r].tolist()]
        cr = Fraction(int(c[r])) * Fraction(2) ** ec
        mag = abs(cr) + sum(abs(v) for v in L)
        for k in range(top - 1, -1, -1):
            lsl, s_int, es, t, et = relax[k]
            lam = [Fraction(int(v)) for v in lsl.tolist()]
            s = [Fraction(int(v)) * Fraction(2) ** es for v in s_int.tolist()]
            tt = [Fraction(int(v)) * Fraction(2) ** et for v in t.tolist()]
            Lz = []
            for j, v in enumerate(L):
                if v > 0:
                    Lz.append(v * lam[j])
                else:
                    cr += v * tt[j]
                    mag += abs(v * tt[j])
                    Lz.append(v * s[j])
            cr += sum((z * b for z, b in zip(Lz, bs[k], strict=True)), Fraction(0))
            mag += sum(abs(z * b) for z, b in zip(Lz, bs[k], strict=True))
            W = Ws[k]
            L = [sum((Lz[j] * W[j][i] for j in range(len(Lz))), Fraction(0))
                 for i in range(len(W[0]))]
            mag += sum(abs(Lz[j] * W[j][i]) for j in range(len(Lz)) for i in range(len(W[0])))
        cr += sum((min(v * a, v * b) for v, a, b in zip(L, lo, hi, strict=True)), Fraction(0))
        mag += sum(abs(v) * max(abs(a), abs(b)) for v, a, b in zip(L, lo, hi, strict=True))
        out.append((cr, mag))
    return out


def _got(back: BackSubstitution, top, Lam, eL, c, ec) -> list[Fraction]:
    v, e = back.lower_bounds(top, Lam, eL, c, ec)
    assert v.shape == (Lam.shape[0],)
    return [fraction(int(x), int(e)) for x in v.tolist()]


def _output_rows(en: ExactNetwork, C):
    out = en.layers[-1]
    Cq = _obj(C)
    return Cq @ out.W, out.eW, Cq @ out.b, out.eb


def _check(net, lo, hi, C, tight: bool = False, fix=None, points: int = 3):
    """Kernel vs exact reference on the output rows ``C`` (integers) and on intermediate rows of
    every hidden layer; soundness at sampled and exact points. ``tight``: the unrounded bound
    is the true minimum, so the kernel must not exceed it at all."""
    en = ExactNetwork(net)
    lb = layer_bounds(en, _fr(lo), _fr(hi), fix or {}, "backward")
    assert not lb.empty
    back = BackSubstitution(en.Wb, lb.relax, lb.x)
    flo, fhi = _fr(lo), _fr(hi)
    L = len(en.widths)
    cases = [(L, *_output_rows(en, C))]
    for k in range(L):  # rows over z_k (as _tighten builds them), through layers k-1 .. 0
        lay = en.layers[k]
        W = lay.W[:3]
        cases.append((k, np.concatenate([W, -W]), lay.eW,
                      np.concatenate([lay.b[:3], -lay.b[:3]]), lay.eb))
    for top, Lam, eL, c, ec in cases:
        got = _got(back, top, Lam, eL, c, ec)
        ref = _exact_back(net, lb.relax, top, Lam, eL, c, ec, flo, fhi)
        for g_, (r_, mag) in zip(got, ref, strict=True):
            assert abs(r_ - g_) <= GAP * mag, (top, float(g_), float(r_), float(mag))
            if tight and top == L:
                assert g_ <= r_, (top, float(g_), float(r_))
    # soundness of the output rows at sampled points (floats) and exact points
    got = _got(back, *cases[0])
    Cf = np.array([[float(v) for v in r] for r in C])
    rng = np.random.default_rng(0)
    X = rng.uniform(lo, hi, size=(4000, len(lo)))
    X = np.concatenate([X, np.array(lo)[None], np.array(hi)[None]])
    keep = np.ones(len(X), dtype=bool)
    if fix:
        Z = np.concatenate(net.preactivations(X), axis=1)
        for j, act in fix.items():
            keep &= (Z[:, j] >= 0) if act else (Z[:, j] <= 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = net(X[keep]) @ Cf.T
    for i, g_ in enumerate(got):
        s = vals[:, i].min()
        assert float(g_) <= s + 1e-9 * (1 + abs(s)), (i, float(g_), s)
    for x in X[keep][:points]:
        y = net.exact_forward(_fr(x))
        for i, g_ in enumerate(got):
            assert g_ <= sum((Fraction(int(a)) * b for a, b in zip(C[i], y, strict=True)),
                             Fraction(0))
    return lb, back


# ----- the backward bound against the exact reference -----------------------------------------
C2 = [[1, 0], [1, -1], [-3, 7], [3**200, -(5**150)]]  # the last row: ~400-bit integers


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deep_random_nets_match_the_exact_back_substitution(seed):
    rng = np.random.default_rng(seed)
    net = _net(20 + seed, (3, 8, 8, 8, 2), bias=0.3)
    c0 = rng.uniform(-1, 1, size=3)
    w = rng.uniform(0.1, 0.9, size=3)
    _check(net, c0 - w, c0 + w, C2)


def test_single_hidden_layer():
    net = _net(5, (4, 9, 2))
    _check(net, [-1.0, -0.5, 0.0, -2.0], [1.0, 0.5, 0.25, -1.0], C2)


def test_fixings_change_the_relaxation_not_the_agreement():
    net = _net(6, (3, 8, 8, 2), bias=0.2)
    lo, hi = [-0.7, -0.6, -0.5], [0.6, 0.7, 0.8]
    lb = layer_bounds(ExactNetwork(net), _fr(lo), _fr(hi), {}, "backward")
    unstable = [8 * k + j for k in range(2) for j in range(8) if lb.l[k][j] < 0 < lb.u[k][j]]
    assert len(unstable) >= 2 and unstable[-1] >= 8
    fix = {unstable[0]: True, unstable[-1]: False}
    _check(net, lo, hi, C2, fix=fix, points=0)


@pytest.mark.parametrize("scales,bscales", [((1e30, 1e-30, 1.0), None),
                                            ((1e-30, 1.0, 1e30), None),
                                            (None, (1e-30, 1e30, 1.0))],
                         ids=["big-small", "small-big", "tiny-huge-biases"])
def test_huge_and_tiny_scales(scales, bscales):
    net = _net(8, (3, 7, 7, 2), bias=0.4, scales=scales, bscales=bscales)
    _check(net, [-0.5, -0.25, -1.0], [0.5, 0.75, 0.0], C2)


@pytest.mark.parametrize("seed", [0, 1])
def test_active_only_nets_are_tight_and_never_beaten(seed):
    """Every neuron stably active: the relaxation is exact, so the unrounded bound is the true
    minimum and the rounded one must be at or below it (an upward rounding, or a missing input
    correction on the all-negative box, would put it above)."""
    net = _net(30 + seed, (3, 6, 6, 6, 2), nonneg=True)
    lo, hi = [-0.9, -0.8, -0.7], [-0.1, -0.3, -0.2]
    lb, _ = _check(net, lo, hi, C2, tight=True)
    for lsl, s_int, es, t, _et in lb.relax:
        assert all(int(v) == 1 for v in lsl.tolist())
        assert all(int(v) == 1 << -es for v in s_int.tolist()) and es == -SLOPE_BITS
        assert not any(int(v) for v in t.tolist())


def test_inactive_layer_zeroes_the_rows_exactly():
    """The second hidden layer is all inactive: every row becomes zero there and the bound is
    the constant, exactly."""
    net = _net(9, (3, 6, 6, 2), bias=0.3)
    Ws = list(net.weights)
    bs = list(net.biases)
    bs[1] = np.full(6, -100.0)
    net = ReLUNetwork(Ws, bs)
    lo, hi = [-0.5] * 3, [0.5] * 3
    en = ExactNetwork(net)
    lb = layer_bounds(en, _fr(lo), _fr(hi), {}, "backward")
    assert not any(int(v) for v in lb.relax[1][1].tolist())
    back = BackSubstitution(en.Wb, lb.relax, lb.x)
    for C in ([[1, 0]], [[3**200, -(5**150)]], [[0, 0]]):
        got = _got(back, 2, *_output_rows(en, C))
        y = net.exact_forward(_fr([0.1, 0.2, 0.3]))
        assert got == [sum((Fraction(a) * b for a, b in zip(C[0], y, strict=True)),
                           Fraction(0))]


def test_no_hidden_layer_is_exact_up_to_the_input_correction():
    """``top == 0``: the rows act on ``x`` directly; with wide integers they are rounded down
    (``_rows``' slow path) and the input correction must keep the bound below the true
    minimum (attained at a vertex), within the gap."""
    rng = np.random.default_rng(4)
    net = ReLUNetwork([rng.normal(size=(3, 5))], [rng.normal(size=3)])
    en = ExactNetwork(net)
    for lo, hi in (([-1.0] * 5, [-0.5] * 5), ([-1.0, 0.5, -0.25, 0.0, -2.0], [0.0, 1.0] * 2
                                               + [-1.0])):
        lb = layer_bounds(en, _fr(lo), _fr(hi), {}, "backward")
        back = BackSubstitution(en.Wb, lb.relax, lb.x)
        C = [[1, 0, 0], [3**200, -(5**150), 7], [0, 0, 0], [-1, -(1 << 47), 1 << 300]]
        Lam, eL, c, ec = _output_rows(en, C)
        got = _got(back, 0, Lam, eL, c, ec)
        ref = _exact_back(net, lb.relax, 0, Lam, eL, c, ec, _fr(lo), _fr(hi))
        for g_, (r_, mag) in zip(got, ref, strict=True):
            assert g_ <= r_ and r_ - g_ <= GAP * mag, (float(g_), float(r_))
        assert got[2] == ref[2][0]
        # hand-made rows on x whose dropped parts are just below 2**g in every coordinate
        v = (1 << 60) - 1
        Lam = _obj([[v] * 5, [-v] * 5, [v, -v, v, -v, 1 << 47], [-1] * 5])
        c = np.array([0, 1, -3, 0], dtype=object)
        for eL in (0, -70):
            got = _got(back, 0, Lam, eL, c, 0)
            ref = _exact_back(net, lb.relax, 0, Lam, eL, c, 0, _fr(lo), _fr(hi))
            for g_, (r_, mag) in zip(got, ref, strict=True):
                assert g_ <= r_ and r_ - g_ <= GAP * mag, (float(g_), float(r_))
            assert got[3] == ref[3][0]


def test_rows_rounded_at_the_start_and_negative_rows_at_2_47():
    """Rows with ``|v| >= 2**47`` are rounded down on entry (``_rows``), e.g. ``-(2**48 - 1)``;
    single-entry rows and rows of one sign, through one hidden layer."""
    net = _net(11, (2, 4, 1))
    en = ExactNetwork(net)
    lo, hi = [-1.0, -1.0], [1.0, 0.5]
    lb = layer_bounds(en, _fr(lo), _fr(hi), {}, "backward")
    back = BackSubstitution(en.Wb, lb.relax, lb.x)
    Lam = _obj([[-(1 << 48) + 1, 0, 0, 0], [(1 << 47) - 1, -(1 << 47) + 1, 1, -1],
                [1 << 400, (1 << 400) - 1, -(1 << 399), 3], [0, 0, 0, 0],
                [-(1 << 46), 1 << 46, -(1 << 47), 1 << 47], [-1, -1, -1, -1], [-1, 0, 1, -1]])
    c = np.array([0, 1, -(1 << 200), 5, 0, 0, 2], dtype=object)
    for eL, ec in ((0, 0), (-300, -10), (40, -1074)):
        got = _got(back, 1, Lam, eL, c, ec)
        ref = _exact_back(net, lb.relax, 1, Lam, eL, c, ec, _fr(lo), _fr(hi))
        for g_, (r_, mag) in zip(got, ref, strict=True):
            assert abs(r_ - g_) <= GAP * mag, (float(g_), float(r_))
        assert got[3] == ref[3][0]


def test_no_rows():
    net = _net(12, (2, 4, 4, 1))
    en = ExactNetwork(net)
    lb = layer_bounds(en, _fr([-1.0, -1.0]), _fr([1.0, 1.0]), {}, "backward")
    back = BackSubstitution(en.Wb, lb.relax, lb.x)
    for top in (0, 1, 2):
        n = en.layers[top].W.shape[1] if top == 0 else en.widths[top - 1]
        v, _ = back.lower_bounds(top, np.empty((0, n), dtype=object), 0,
                                 np.empty(0, dtype=object), 0)
        assert v.shape == (0,)


# ----- beyond the float64 range (found in review: floor_rows trusted an overflowed estimate) ---
def test_floor_rows_beyond_the_float_range():
    """Values of 2**1024 and more: the float estimate is inf (it used to give ``drop = 0``,
    and the int64 check then ran on wrapped limbs). Expected: floor(v / 2**drop) exactly."""
    v = np.empty((2, 2), dtype=object)
    v[0, :] = [-(1 << 1100), 1]
    v[1, :] = [3 << 1030, -5]
    D = carry(limbs(v).astype(np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        M, drop = floor_rows(D, ROW_BITS)
    for r in range(2):
        assert M[r].astype(np.int64).tolist() == [x >> int(drop[r]) for x in v[r].tolist()]
        assert np.abs(M[r]).max() < 2.0 ** ROW_BITS


def test_tiny_bias_keeps_the_backward_bound_sound():
    """``-ReLU(x + 1e-300)`` on ``[-1, 1]`` reaches ``-1 - 1e-300`` at ``x = 1``. Aligning
    ``W = 1`` with ``b = 1e-300`` gives ~2**1049 integers, the limb products pass 2**1024 and
    the row on ``x`` silently became 0: the bound came out -0.5 (unsound) before the fix."""
    net = ReLUNetwork([np.array([[1.0]]), np.array([[-1.0]])],
                      [np.array([1e-300]), np.array([0.0])])
    en = ExactNetwork(net)
    truth = net.exact_forward([Fraction(1)])[0]
    for level in ("symbolic", "backward"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = leaf_bound(en, [Fraction(-1)], [Fraction(1)], {}, level, [[1]], [0])
        assert res.lower[0] <= truth, (level, float(res.lower[0]))


def test_rows_wider_than_the_float_range():
    """An output layer with weights 1 and 1e-300: the rows' integers pass 2**1024 and
    ``_rows``' ``astype(float64)`` raised OverflowError (a crash of the checker) before the
    fix."""
    net = ReLUNetwork([np.array([[1.0], [-1.0]]), np.array([[-1.0, 1e-300]])],
                      [np.array([0.1, 0.2]), np.array([0.0])])
    en = ExactNetwork(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = leaf_bound(en, [Fraction(-1)], [Fraction(1)], {}, "backward", [[1]], [0])
    truth = net.exact_forward([Fraction(1)])[0]
    assert res.lower[0] <= truth


# ----- the integer helpers ---------------------------------------------------------------------
EDGE = [0, -1, 1, 1 << 46, -(1 << 46), (1 << 47) - 1, -(1 << 47) + 1, -(1 << 47), 65535, 65536,
        -65536, -65537, 1 << 32, -(1 << 32), (1 << 32) - 1]


def test_split_small_edge_values():
    M = np.array(EDGE, dtype=np.float64)
    S = split_small(M)
    assert S.shape == (3, len(EDGE)) and S.dtype == np.float64
    assert np.all((S[:2] >= 0) & (S[:2] < 1 << 16))
    assert np.all((S[2] >= -(1 << 15)) & (S[2] < 1 << 15))
    back = [int(a) + (int(b) << 16) + (int(c) << 32) for a, b, c in S.T.tolist()]
    assert back == EDGE


def _wide(rng, n: int) -> list[int]:
    out = []
    for _ in range(n):
        bits = int(rng.integers(0, 400))
        v = int.from_bytes(rng.bytes(51), "little") >> (408 - bits)
        out.append(-v if rng.integers(2) else v)
    return out


def test_limbs_carry_and_limb_ints_keep_every_value():
    rng = np.random.default_rng(1)
    vals = EDGE + [(1 << 399) - 1, -(1 << 399), -(1 << 300) + 1] + _wide(rng, 40)
    v = np.array(vals, dtype=object)
    D = limbs(v).astype(np.int64)
    T = D.shape[0]
    assert np.all((D[:-1] >= 0) & (D[:-1] < 1 << 16))
    assert np.all((D[-1] >= -(1 << 15)) & (D[-1] < 1 << 15))
    assert limb_ints(D).tolist() == vals
    # uncarried limbs of both signs: limb_ints reads them, carry normalises without loss
    E = np.concatenate([D, np.zeros((2, len(vals)), dtype=np.int64)])
    noise = rng.integers(-(1 << 40), 1 << 40, size=(T, len(vals)))
    E[:T] += noise
    E[1:T + 1] -= noise >> 16  # compensate approximately ...
    exact = limb_ints(E).tolist()  # ... whatever the value now is, it is what carry keeps
    carry(E)
    assert limb_ints(E).tolist() == exact
    assert np.all((E[:-1] >= 0) & (E[:-1] < 1 << 16))
    # all-negative single values: -1 is all ones below a -1 top limb
    F = np.zeros((4, 1), dtype=np.int64)
    F[0, 0] = -1
    carry(F)
    assert F[:, 0].tolist() == [65535, 65535, 65535, -1]


@pytest.mark.parametrize("bits", [47, 20, 2, 1])
def test_floor_rows_is_an_exact_floor(bits):
    """Rows of 0, -1, the 2**47 edges, 400-bit values, all-zero rows; drops that reach past the
    top limb (``bits`` 1 or 2 on one-limb rows)."""
    rng = np.random.default_rng(bits)
    m = 5
    rows = [[0] * m, [-1] + [0] * (m - 1), [-1] * m, [1 << 46, -(1 << 46), 0, 1, -1],
            [(1 << 47) - 1, -(1 << 47) + 1, 3, -3, 0], [-(1 << 47), 1 << 47, 2, 1, 0],
            [(1 << 399) - 1, -(1 << 399), 1, -1, 0], [-(1 << 300)] + [-1] * (m - 1),
            _wide(rng, m), _wide(rng, m), [-(1 << 15), 1 << 14, -3, 2, 0],
            [65535, -65536, 1, 0, 0]]
    v = _obj(rows)
    for D in (limbs(v).astype(np.int64),
              np.concatenate([limbs(v).astype(np.int64), np.zeros((3,) + v.shape, np.int64)])):
        carry(D)
        M, drop = floor_rows(D.copy(), bits)
        assert M.shape == v.shape and drop.shape == (len(rows),)
        for r, row in enumerate(rows):
            d = int(drop[r])
            assert d >= 0
            exp = [x >> d for x in row]
            assert M[r].astype(np.int64).tolist() == exp, (r, d)
            assert max(abs(x) for x in exp) < 1 << bits
            if d >= 3:  # no needless loss: a drop 3 smaller would not have fitted
                assert max(abs(x >> (d - 3)) for x in row) >= 1 << bits, (r, d)
    # drops that pass the top limb (one- and two-limb rows, top limb in 16-bit range)
    _floor_rows_by_hand([[-(1 << 15), 0], [(1 << 15) - 1, -1], [-1, -1], [0, 0],
                         [-(1 << 15), (1 << 15) - 1]], bits)


def _floor_rows_by_hand(tops, bits):
    """floor_rows on hand-made carried limbs: the top limb ``tops``, below it 12345."""
    for P in (1, 2):
        D = np.zeros((P, len(tops), 2), dtype=np.int64)
        D[P - 1] = tops
        if P == 2:
            D[0] = 12345
        vals = limb_ints(D.reshape(P, -1)).reshape(len(tops), 2).tolist()
        M, drop = floor_rows(D, bits)
        for r, row in enumerate(vals):
            assert M[r].astype(np.int64).tolist() == [x >> int(drop[r]) for x in row], (P, r)
            assert np.abs(M[r]).max() < 1 << bits


@pytest.mark.parametrize("bits", [47, 20, 2])
def test_floor_rows_with_a_wide_top_limb(bits):
    """``carry`` leaves the top limb any int64 (it "keeps the sign"), and floor_rows takes
    "carried" limbs; but when ``drop`` passes the top limb the result is taken as 0 / -1,
    which assumes the value is below ``2**(16 P - 1)``. Latent: ``lower_bounds`` leaves a spare
    top limb, so the top limb stays tiny there."""
    _floor_rows_by_hand([[1 << 40, -(1 << 40)], [-(1 << 20), 7]], bits)


# ----- batches: many nodes at once give the same numbers ----------------------------------------
def _nodes(net, rng, k: int, fix_some: bool = True):
    out = []
    for i in range(k):
        c = rng.uniform(-1, 1, size=net.input_dim)
        r = rng.uniform(0.02, 0.8, size=net.input_dim)
        fix = {}
        if fix_some and i % 3 == 2:
            fix = {int(j): bool(j % 2) for j in rng.choice(sum(net.hidden_widths), 2,
                                                           replace=False)}
        out.append((_fr(c - r), _fr(c + r), fix))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_lower_bounds_many_equals_one_node_at_a_time(seed):
    from verishallow.exact.back_substitution import float_rows, lower_bounds_many

    rng = np.random.default_rng(seed)
    net = _net(seed, (3, 9, 8, 7, 2))
    en = ExactNetwork(net)
    lbs = [layer_bounds(en, lo, hi, fix, "backward") for lo, hi, fix in _nodes(net, rng, 7,
                                                                                 False)]
    for top in range(len(en.widths) + 1):
        jobs = []
        for i, lb in enumerate(lbs):
            lay = en.layers[top]
            J = list(range(i % 4 + 1)) if top < len(en.widths) else []  # 0..3 rows, varied
            if top == len(en.widths):
                Lam, eL, c, ec = _output_rows(en, [[1, -1], [-2, 3]][: 1 + i % 2])
            else:
                W = lay.W[J]
                Lam, eL = np.concatenate([W, -W]), lay.eW
                c, ec = np.concatenate([lay.b[J], -lay.b[J]]), lay.eb
            jobs.append((BackSubstitution(en.Wb, lb.relax, lb.x), top, float_rows(Lam, eL), c,
                         ec, (Lam, eL)))
        together = lower_bounds_many([j[:5] for j in jobs])
        for job, (v, e) in zip(jobs, together, strict=True):
            alone, ea = job[0].lower_bounds(job[1], *job[5], job[3], job[4])
            assert [fraction(int(x), e) for x in v] == [fraction(int(x), ea) for x in alone]
    assert lower_bounds_many([]) == []
    Lam, eL, c, ec = _output_rows(en, [[1, 0]])
    with pytest.raises(ValueError, match="one top"):
        lower_bounds_many([(BackSubstitution(en.Wb, lbs[0].relax, lbs[0].x), top,
                            float_rows(Lam, eL), c, ec) for top in (1, 2)])


@pytest.mark.parametrize("level", ["interval", "symbolic", "backward"])
def test_layer_and_row_bounds_many_equal_one_node_at_a_time(level):
    from verishallow.exact.leaf_bounds import (
        layer_bounds_many,
        row_lower_bounds,
        row_lower_bounds_many,
    )

    rng = np.random.default_rng(5)
    net = _net(5, (4, 12, 10, 9, 3))
    en = ExactNetwork(net)
    nodes = _nodes(net, rng, 40)
    bad = (nodes[3][0][:2], nodes[3][1][:2], {})  # a box with the wrong number of inputs
    nodes[3] = bad
    many = layer_bounds_many(en, nodes, level)
    assert isinstance(many[3], ValueError)
    C = [[Fraction(1), Fraction(-1), Fraction(0)], [Fraction(1, 3), Fraction(0), Fraction(-2)]]
    d = [Fraction(0), Fraction(1, 7)]
    items = []
    for i, (node, got) in enumerate(zip(nodes, many, strict=True)):
        if i == 3:
            continue
        ref = layer_bounds(en, *node, level)
        assert got.empty == ref.empty and got.empty_neuron == ref.empty_neuron
        assert got.l == ref.l and got.u == ref.u
        if not got.empty:
            items.append((got, ref))
    assert items and any(lb.empty for lb in many if not isinstance(lb, Exception))
    rows = row_lower_bounds_many(en, [(got, C, d) for got, _ in items])
    for (_, ref), r in zip(items, rows, strict=True):
        assert r == row_lower_bounds(en, ref, C, d)


def test_prepared_and_row_wise_slopes_give_the_same_bounds(monkeypatch):
    from verishallow.exact import back_substitution as bsm

    rng = np.random.default_rng(11)
    net = _net(11, (3, 9, 8, 7, 2))
    en = ExactNetwork(net)
    lbs = [layer_bounds(en, lo, hi, fix, "backward") for lo, hi, fix in _nodes(net, rng, 6)]
    lbs = [lb for lb in lbs if not lb.empty]
    lay = en.layers[2]  # rows over layer 2's pre-activations, back through layers 1, 0
    out = {}
    for prep in (1, 10 ** 9, 3):  # every node prepared, none, a mix
        monkeypatch.setattr(bsm, "PREPARED_ROWS", prep)
        jobs = []
        for i, lb in enumerate(lbs):
            J = list(range(i % 3 + 1))
            Lam = np.concatenate([lay.W[J], -lay.W[J]])
            c = np.concatenate([lay.b[J], -lay.b[J]])
            jobs.append((BackSubstitution(en.Wb, lb.relax, lb.x), 2,
                         bsm.float_rows(Lam, lay.eW), c, lay.eb))
        out[prep] = [[fraction(int(x), e) for x in v] for v, e in bsm.lower_bounds_many(jobs)]
    assert out[1] == out[10 ** 9] == out[3]
