"""The forward symbolic forms in limbs (:mod:`verishallow.exact.forward_forms`) and
the one shared floor they use (``integer_products.floor_rows`` with one row).

Each rounded form is compared with the same form computed in Fractions, nothing rounded: an
upper form must lie above it (a lower form below) at every vertex of the box and at random
points, by less than a tiny gap relative to the terms' magnitudes. The leaf bound built on the
rounded forms is also compared with a Fraction forward pass on the same relaxation, and checked
sound at sampled points on networks whose weights span hundreds of binary orders.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from verishallow.exact import ExactNetwork, layer_bounds, leaf_bound
from verishallow.exact.back_substitution import SLOPE_BITS
from verishallow.exact.forward_forms import (
    FORM_BITS,
    box_slack,
    form_layer,
    post_activation,
    pre_activation,
)
from verishallow.exact.integer_products import floor_rows, limbs
from verishallow.exact.numbers import dyadic, fraction
from verishallow.network import ReLUNetwork

GAP = 1e-11  # allowed loss of a rounded form, relative to its terms' magnitudes


def _box(lo, hi):
    """The kernel's box: (mid, rad, exponent) with lo = (mid - rad) 2**e, hi = (mid + rad) 2**e."""
    both, e = dyadic(list(lo) + list(hi))
    n = len(lo)
    L, H = both[:n], both[n:]
    return H + L, H - L, e - 1


def _value(F: np.ndarray, e: int, x: list[Fraction]) -> list[Fraction]:
    """Each row of the form matrix ``F 2**e`` (float64 integers, last column the constant) at x."""
    s = fraction(1, e)
    return [s * (sum(Fraction(int(c)) * xi for c, xi in zip(row[:-1], x, strict=True))
                 + int(row[-1])) for row in F]


def _points(lo, hi, rng, k=6):
    d = len(lo)
    pts = [list(v) for v in itertools.product(*zip(lo, hi, strict=True))] if d <= 4 else []
    pts += [list(p) for p in rng.uniform(lo, hi, size=(k, d))]
    return [[Fraction(float(v)) for v in p] for p in pts]


def _rand_forms(rng, n, d, bits=40):
    """Upper and lower forms (float64 integers) with U - L >= 0 entrywise in the constant."""
    L = np.floor(rng.uniform(-1, 1, size=(n, d + 1)) * 2.0 ** bits)
    U = L.copy()
    U[:, -1] += np.floor(rng.uniform(0, 1, size=n) * 2.0 ** bits)
    return U, L


def _loss_bound(e: int, lo, hi) -> Fraction:
    """What one rounding of a form may lose at a point of the box: the documented rule, a few
    grid units ``2**e`` times the box's extent (the grid itself is checked by _keeps_bits)."""
    return fraction(1, e) * (4 + sum(abs(Fraction(float(a))) + abs(Fraction(float(b)))
                                     for a, b in zip(lo, hi, strict=True)))


def _keeps_bits(*Fs: np.ndarray) -> bool:
    """Every entry below 2**47 (the limb split's bound) and the grid no coarser than
    FORM_BITS bits of the largest entry, less the bit to spare (so the loss is relative)."""
    big = max(float(np.abs(F).max()) for F in Fs)
    return big < 2 ** 47 and big >= 2 ** (FORM_BITS - 2)


# ----- one shared floor: floor_rows with the whole matrix as one row ------------------------
def _floor_one(a: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    L = limbs(a).astype(np.int64)
    M, drop = floor_rows(L.reshape(L.shape[0], 1, -1), bits)
    return M.reshape(a.shape), int(drop[0])


@pytest.mark.parametrize("seed", range(6))
def test_one_row_floor_is_the_exact_floor_with_one_drop(seed):
    rng = np.random.default_rng(seed)
    scale = [0, 20, 60, 200, 1100, 3000][seed]
    vals = [int(v) << scale for v in rng.integers(-2**40, 2**40, size=30)]
    vals += [0, -1, 1, (1 << (scale + 45)) - 1, -(1 << (scale + 45))]
    a = np.empty((5, 7), dtype=object)
    a.ravel()[:] = vals
    for bits in (46, 30, 8):
        M, drop = _floor_one(a, bits)
        assert M.shape == a.shape and drop >= 0
        for m, v in zip(M.ravel().tolist(), vals, strict=True):
            assert int(m) == v >> drop  # floor(v / 2**drop), exactly
        assert np.abs(M).max() < 2 ** bits
        if drop and scale < 900:  # within the float range: not coarser than needed
            assert np.abs(M).max() >= 2 ** (bits - 3)


def test_one_row_floor_keeps_small_values_exactly():
    a = np.array([[3, -5, 0], [7, 1, -1]], dtype=object)
    M, drop = _floor_one(a, 46)
    assert drop == 0 and M.tolist() == [[3, -5, 0], [7, 1, -1]]


# ----- pre- and post-activation forms ----------------------------------------------------------
def _layer(rng, n, n_prev, wexp=(-8, 4)):
    W = rng.normal(size=(n, n_prev)) * 2.0 ** rng.integers(*wexp, size=(n, n_prev))
    b = rng.normal(size=n) * 2.0 ** rng.integers(*wexp, size=n)
    IW, eW = dyadic(W)
    Ib, eb = dyadic(b)
    return W, b, form_layer(IW, eW, Ib, eb)


@pytest.mark.parametrize("seed", range(5))
def test_pre_activation_forms_bound_the_exact_ones(seed):
    rng = np.random.default_rng(seed)
    n, n_prev, d = 7, 9, 3
    W, b, fl = _layer(rng, n, n_prev, wexp=[(-8, 4), (-60, 60), (-1, 1), (-3, 3), (-30, 2)][seed])
    lo, hi = rng.uniform(-2, 0, size=d), rng.uniform(0, 2, size=d)
    xmid, xrad, ex = _box(lo, hi)
    slack = box_slack(xmid, xrad, ex)
    U, L = _rand_forms(rng, n_prev, d)
    eF = int(rng.integers(-70, 10))
    Zu, Zl, eZ = pre_activation(fl, U, L, eF, slack)
    assert np.abs(Zu).max() < 2 ** 47 and np.abs(Zl).max() < 2 ** 47
    Wf = [[Fraction(float(v)) for v in row] for row in W]
    bf = [Fraction(float(v)) for v in b]
    allowed = _loss_bound(eZ, lo, hi)
    assert _keeps_bits(Zu, Zl)
    for x in _points(lo, hi, rng):
        u = _value(U, eF, x)
        lw = _value(L, eF, x)
        zu = _value(Zu, eZ, x)
        zl = _value(Zl, eZ, x)
        for j in range(n):
            terms = list(zip(Wf[j], u, lw, strict=True))
            ex_u = sum(w * (a if w > 0 else c) for w, a, c in terms) + bf[j]
            ex_l = sum(w * (c if w > 0 else a) for w, a, c in terms) + bf[j]
            assert ex_u <= zu[j] <= ex_u + allowed
            assert ex_l - allowed <= zl[j] <= ex_l


@pytest.mark.parametrize("seed", range(4))
def test_post_activation_forms_bound_the_relaxation(seed):
    rng = np.random.default_rng(10 + seed)
    n, d = 8, 4
    lo, hi = rng.uniform(-1, 0, size=d), rng.uniform(0, 1, size=d)
    xmid, xrad, ex = _box(lo, hi)
    slack = box_slack(xmid, xrad, ex)
    Zu, Zl = _rand_forms(rng, n, d, bits=45)
    eZ = int(rng.integers(-80, 0))
    # relaxation: active, inactive and unstable neurons
    s = np.empty(n, dtype=object)
    lam = np.empty(n, dtype=object)
    t = np.empty(n, dtype=object)
    lval = rng.uniform(-3, -0.1, size=n)
    lint, el = dyadic(lval)
    for j in range(n):
        kind = j % 3
        s[j] = [1 << SLOPE_BITS, 0, int(rng.integers(1, 1 << SLOPE_BITS))][kind]
        lam[j] = [1, 0, j % 2][kind]
        t[j] = -s[j] * int(lint[j]) if kind == 2 else 0
    et = el - SLOPE_BITS
    U, L, eF = post_activation(Zu, Zl, eZ, s, t, et, lam, slack)
    allowed = _loss_bound(eF, lo, hi)
    assert _keeps_bits(U, L)
    for x in _points(lo, hi, rng):
        zu, zl = _value(Zu, eZ, x), _value(Zl, eZ, x)
        u, lw = _value(U, eF, x), _value(L, eF, x)
        for j in range(n):
            ex_u = Fraction(int(s[j]), 1 << SLOPE_BITS) * zu[j] + fraction(int(t[j]), et)
            ex_l = lam[j] * zl[j]
            assert ex_u <= u[j] <= ex_u + allowed
            assert ex_l - allowed <= lw[j] <= ex_l


# ----- the leaf bound on rounded forms ----------------------------------------------------------
def _forward_ref(net: ReLUNetwork, lb, lo, hi, C):
    """Forward symbolic bound of rows C (no offset) in Fractions on lb's relaxation, nothing
    rounded (the doc's step 2, row folding included): per row (bound, magnitude)."""
    d = net.input_dim
    X = [Fraction(float(v)) for v in lo], [Fraction(float(v)) for v in hi]
    eye = [[Fraction(int(i == j)) for j in range(d)] + [Fraction(0)] for i in range(d)]
    U, L = eye, eye
    Ws = [[[Fraction(float(v)) for v in row] for row in W] for W in net.weights]
    bs = [[Fraction(float(v)) for v in b] for b in net.biases]

    def comb(W, b, P, N):  # W+ P + W- N + b
        return [[sum((w * (p[i] if w > 0 else q[i])) for w, p, q in zip(row, P, N, strict=True))
                 + (bj if i == d else 0) for i in range(d + 1)]
                for row, bj in zip(W, b, strict=True)]
    for k in range(len(net.weights) - 1):
        Zu, Zl = comb(Ws[k], bs[k], U, L), comb(Ws[k], bs[k], L, U)
        lower_slope, s_int, es, t, et = lb.relax[k]
        U = [[fraction(int(s_int[j]), es) * v for v in Zu[j][:-1]]
             + [fraction(int(s_int[j]), es) * Zu[j][-1] + fraction(int(t[j]), et)]
             for j in range(len(Zu))]
        L = [[int(lower_slope[j]) * v for v in Zl[j]] for j in range(len(Zl))]
    Wg = [[sum(Fraction(c) * w for c, w in zip(crow, col, strict=True))
           for col in zip(*Ws[-1], strict=True)] for crow in C]
    bg = [sum(Fraction(c) * b for c, b in zip(crow, bs[-1], strict=True)) for crow in C]
    G = comb(Wg, bg, L, U)
    out = []
    for row in G:
        v = row[-1] + sum(min(c * a, c * h) for c, a, h in zip(row[:-1], *X, strict=True))
        out.append(v)
    return out


@pytest.mark.parametrize("seed,scales", [(0, None), (1, [2.0 ** 200, 2.0 ** -190, 1.0]),
                                         (2, [1e-3, 1e3, 2.0 ** -600]), (3, None)])
def test_symbolic_leaf_bound_on_rounded_forms(seed, scales):
    rng = np.random.default_rng(seed)
    sizes = (3, 6, 5, 2)
    Ws = [rng.normal(size=(sizes[k + 1], sizes[k])) * (scales[k] if scales else 1.0)
          for k in range(3)]
    bs = [rng.normal(size=sizes[k + 1]) * 0.3 * (scales[k] if scales else 1.0) for k in range(3)]
    net = ReLUNetwork(Ws, bs)
    en = ExactNetwork(net)
    C = [[Fraction(1), Fraction(-1)], [Fraction(-1), Fraction(0)]]
    for _ in range(3):
        c = rng.uniform(-1, 1, size=3)
        r = rng.uniform(0.05, 0.6, size=3)
        lo, hi = c - r, c + r
        lb = layer_bounds(en, [Fraction(float(v)) for v in lo], [Fraction(float(v)) for v in hi],
                          {}, "symbolic")
        ref = _forward_ref(net, lb, lo, hi, C)
        got = leaf_bound(en, [Fraction(float(v)) for v in lo], [Fraction(float(v)) for v in hi],
                         {}, "symbolic", C, [Fraction(0)] * 2).lower
        # the symbolic leaf bound is the max of interval, forward and backward: at least the
        # rounded forward bound, which is within GAP of the unrounded one
        for g, rf in zip(got, ref, strict=True):
            assert float(rf - g) <= GAP * (abs(float(rf)) + 1.0) * 1e3 or g >= rf
        # sound at sampled points
        xs = rng.uniform(lo, hi, size=(200, 3))
        y = net.forward(xs)
        vals = np.stack([y[:, 0] - y[:, 1], -y[:, 0]], axis=1)
        mins = vals.min(axis=0)
        for g, mn in zip(got, mins, strict=True):
            assert float(g) <= mn + 1e-9 * (abs(mn) + 1)


# ----- numbers.dyadic: vectorised, the same integers as as_integer_ratio ------------------------
def test_dyadic_matches_as_integer_ratio_everywhere():
    rng = np.random.default_rng(7)
    cases = [rng.normal(size=50),
             rng.normal(size=(5, 7)) * 2.0 ** rng.integers(-1070, 1000, size=(5, 7)),
             np.array([0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, 1.0, 3.0, 0.5]),
             np.zeros(4), np.array([]), np.array([3 * 2.0 ** -1074, 2.0 ** 1023]),
             np.array(1.5), [1.0, 2.0, -6.0]]
    for c in cases:
        a = np.asarray(c, dtype=np.float64)
        ints, e = dyadic(c)
        assert ints.shape == a.shape and ints.dtype == object
        pairs = [v.as_integer_ratio() for v in a.ravel().tolist()]
        nonzero = [1 - q.bit_length() for p, q in pairs if p]
        assert e == (min(nonzero) if nonzero else 0)  # the shortest common exponent
        for x, v in zip(ints.ravel().tolist(), a.ravel().tolist(), strict=True):
            assert type(x) is int and fraction(x, e) == Fraction(v)
    with pytest.raises(Exception, match="non-finite"):
        dyadic([1.0, float("nan")])
    with pytest.raises(Exception, match="non-finite"):
        dyadic([float("-inf")])
