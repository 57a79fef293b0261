"""Pre-activation bounds: soundness, tightness against known answers, and edge cases.

Soundness alone cannot catch a bound that is merely loose, so besides sampling we check exact
answers derived by hand, a brute-force exact range (one LP per neuron per activation region),
and a scalar, loop-based reference implementation of the same relaxation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from verishallow.bounds import (
    Bounds,
    interval_bounds,
    preactivation_bounds,
    symbolic_bounds,
)
from verishallow.domain import Box, Domain, Polytope, Whole
from verishallow.errors import InputError
from verishallow.network import ReLUNetwork
from verishallow.solvers import lp

ARCHS = [(2, 4, 1), (3, 8, 8, 2), (4, 6, 6, 6, 3), (5, 20, 20, 20, 2)]


def random_net(widths: tuple[int, ...], seed: int) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    pairs = zip(widths[:-1], widths[1:], strict=True)
    ws = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in pairs]
    bs = [rng.normal(size=o) * 0.3 for o in widths[1:]]
    return ReLUNetwork(ws, bs)


def random_box(d: int, rng: np.random.Generator, n_fixed: int = 0) -> Box:
    c = rng.uniform(-1, 1, d)
    r = rng.uniform(0.05, 1.0, d)
    lo, hi = c - r, c + r
    fixed = rng.choice(d, size=n_fixed, replace=False)
    lo[fixed] = hi[fixed] = c[fixed]
    return Box(lo, hi)


def random_polytope(d: int, rng: np.random.Generator) -> Polytope:
    """A box cut by three random half-spaces that keep the origin inside."""
    A = rng.normal(size=(3, d))
    b = rng.uniform(0.1, 0.5, 3)
    return Polytope(A, b, np.full(d, -1.0), np.full(d, 1.0))


def sample(domain: Domain, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform points of the bounding box (plus its corners) that lie in the domain."""
    lo, hi = domain.lower, domain.upper
    X = rng.uniform(lo, hi, size=(n, domain.dim))
    if domain.dim <= 6:
        corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))))
        X = np.vstack([X, corners])
    return X[domain.contains(X, tol=0.0)]


def assert_sound(net: ReLUNetwork, bounds: Bounds, X: np.ndarray) -> None:
    assert len(X) > 0
    Z = np.concatenate(net.preactivations(X), axis=1)
    lo, up = bounds.flat_lower, bounds.flat_upper
    assert not np.isnan(lo).any() and not np.isnan(up).any()
    tol = 1e-9 * (1.0 + np.abs(Z))
    assert np.all(Z >= lo - tol), (Z.min(axis=0) - lo).min()
    assert np.all(Z <= up + tol), (up - Z.max(axis=0)).min()


def assert_not_looser(sym: Bounds, ibp: Bounds) -> None:
    assert np.all(sym.flat_lower >= ibp.flat_lower)
    assert np.all(sym.flat_upper <= ibp.flat_upper)
    # every stable neuron of interval arithmetic stays stable
    assert np.all(sym.stable_active[ibp.stable_active])
    assert np.all(sym.stable_inactive[ibp.stable_inactive])


# ----- soundness on random networks -----------------------------------------------------------
@pytest.mark.parametrize("widths", ARCHS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sound_and_tighter_on_boxes(widths: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    net = random_net(widths, seed)
    d = widths[0]
    for n_fixed in {0, 1, d - 1}:
        dom = random_box(d, rng, n_fixed)
        X = sample(dom, 2000, rng)
        ibp, sym = interval_bounds(net, dom), symbolic_bounds(net, dom)
        assert_sound(net, ibp, X)
        assert_sound(net, sym, X)
        assert_not_looser(sym, ibp)


@pytest.mark.parametrize("widths", ARCHS[:3])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("polytope_lp", [False, True])
def test_sound_and_tighter_on_polytopes(widths: tuple[int, ...], seed: int,
                                        polytope_lp: bool) -> None:
    rng = np.random.default_rng(200 + seed)
    net = random_net(widths, seed)
    dom = random_polytope(widths[0], rng)
    X = sample(dom, 20000, rng)
    ibp = interval_bounds(net, dom)
    sym = symbolic_bounds(net, dom, polytope_lp=polytope_lp)
    assert_sound(net, ibp, X)
    assert_sound(net, sym, X)
    assert_not_looser(sym, ibp)


def test_polytope_lp_tightens_and_stays_not_looser() -> None:
    rng = np.random.default_rng(7)
    net = random_net((3, 8, 8, 2), 3)
    dom = random_polytope(3, rng)
    off = symbolic_bounds(net, dom, polytope_lp=False)
    on = symbolic_bounds(net, dom, polytope_lp=True)
    assert np.all(on.flat_upper <= off.flat_upper + 1e-12)
    assert np.all(on.flat_lower >= off.flat_lower - 1e-12)
    assert np.sum(on.flat_upper - on.flat_lower) < np.sum(off.flat_upper - off.flat_lower)


def test_symbolic_strictly_tighter_on_deep_net() -> None:
    net = random_net((4, 6, 6, 6, 3), 0)
    dom = Box(np.full(4, -0.5), np.full(4, 0.5))
    sym, ibp = symbolic_bounds(net, dom), interval_bounds(net, dom)
    width_sym = np.sum(sym.flat_upper - sym.flat_lower)
    width_ibp = np.sum(ibp.flat_upper - ibp.flat_lower)
    assert width_sym < 0.9 * width_ibp


# ----- exact answers -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_layer_exact_on_box(seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = random_net((4, 7, 3), seed)
    dom = random_box(4, rng, n_fixed=1)
    W, b = net.weights[0], net.biases[0]
    Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
    exact_up = Wp @ dom.upper + Wn @ dom.lower + b
    exact_lo = Wp @ dom.lower + Wn @ dom.upper + b
    for bounds in (symbolic_bounds(net, dom), interval_bounds(net, dom)):
        np.testing.assert_allclose(bounds.upper[0], exact_up, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bounds.lower[0], exact_lo, rtol=0, atol=1e-12)


def test_redundant_polytope_rows_cost_no_lp(monkeypatch: pytest.MonkeyPatch) -> None:
    import verishallow.bounds as bounds_module

    calls: list[int] = []
    real = bounds_module._lp_upper
    monkeypatch.setattr(bounds_module, "_lp_upper",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    net = random_net((3, 8, 8, 2), 1)
    ones = np.ones(3)
    loose = Polytope([[1.0, 1.0, 1.0]], [3.5], -ones, ones)  # never binding on the box
    got = symbolic_bounds(net, loose, polytope_lp=True)
    want = symbolic_bounds(net, Box(-ones, ones))
    assert calls == []
    np.testing.assert_array_equal(got.flat_lower, want.flat_lower)
    np.testing.assert_array_equal(got.flat_upper, want.flat_upper)
    symbolic_bounds(net, Polytope([[1.0, 1.0, 1.0]], [0.5], -ones, ones), polytope_lp=True)
    assert calls


def test_first_layer_exact_on_polytope_with_lp() -> None:
    rng = np.random.default_rng(3)
    net = random_net((3, 6, 2), 5)
    dom = random_polytope(3, rng)
    sym = symbolic_bounds(net, dom, polytope_lp=True)
    W, b = net.weights[0], net.biases[0]
    G, h, _ = dom.constraints()
    for i in range(W.shape[0]):
        for sense, got in ((True, sym.upper[0][i]), (False, sym.lower[0][i])):
            sol = lp.solve_lp(W[i], G, np.full(len(h), -lp.INF), h, np.full(3, -lp.INF),
                              np.full(3, lp.INF), maximize=sense)
            assert sol.ok
            assert got == pytest.approx(sol.objective + b[i], abs=1e-7)


def _net(layers: list[tuple[list, list]]) -> ReLUNetwork:
    return ReLUNetwork([np.array(w, float) for w, _ in layers],
                       [np.array(b, float) for _, b in layers])


def test_hand_made_abs_net_symbolic_proves_inactive() -> None:
    """z3 = ReLU(x) + ReLU(-x) - 1.5 = |x| - 1.5 on [-1, 1]: exact range [-1.5, -0.5].

    Interval arithmetic sees two independent [0, 1] inputs and gets [-1.5, 0.5] (unstable);
    the triangle bounds (x + 1)/2 and (1 - x)/2 sum to 1, so symbolic proves z3 <= -0.5.
    Both hidden neurons have u = -l, so the lower slope is 0 and the lower bound is -1.5.
    """
    net = _net([([[1.0], [-1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [-1.5]), ([[1.0]], [0.0])])
    dom = Box([-1.0], [1.0])
    ibp, sym = interval_bounds(net, dom), symbolic_bounds(net, dom)
    np.testing.assert_allclose([ibp.lower[1][0], ibp.upper[1][0]], [-1.5, 0.5])
    np.testing.assert_allclose([sym.lower[1][0], sym.upper[1][0]], [-1.5, -0.5], atol=1e-12)
    np.testing.assert_allclose(sym.lower[0], [-1, -1])
    np.testing.assert_allclose(sym.upper[0], [1, 1])
    assert ibp.unstable[2] and sym.stable_inactive[2]
    assert list(sym.unstable) == [True, True, False]


def test_hand_made_adaptive_lower_slope_one() -> None:
    """z3 = ReLU(x1 + 2) - ReLU(x1) on x1 in [-1, 3]: exact range [1, 2].

    z1 = x1 has u = 3 > -l = 1, so the lower slope is 1: z3 <= (x1 + 2) - x1 = 2. The triangle
    ReLU(x1) <= 3/4 x1 + 3/4 gives z3 >= x1/4 + 5/4 >= 1. Interval: [1, 5] - [0, 3] = [-2, 5].
    """
    net = _net([([[1.0], [1.0]], [0.0, 2.0]), ([[-1.0, 1.0]], [0.0]), ([[1.0]], [0.0])])
    dom = Box([-1.0], [3.0])
    ibp, sym = interval_bounds(net, dom), symbolic_bounds(net, dom)
    np.testing.assert_allclose([ibp.lower[1][0], ibp.upper[1][0]], [-2.0, 5.0])
    np.testing.assert_allclose([sym.lower[1][0], sym.upper[1][0]], [1.0, 2.0], atol=1e-12)
    assert ibp.unstable[2] and sym.stable_active[2]


def test_hand_made_adaptive_lower_slope_zero() -> None:
    """z3 = ReLU(x1 + 4) - ReLU(x1) on x1 in [-3, 1] (exact range [1, 4]).

    Here u = 1 < -l = 3, so the smaller-area lower slope is 0 and the upper bound stays
    x1 + 4 <= 5 (slope 1 would give 4: a different, not the specified, relaxation). The lower
    bound uses the triangle ReLU(x1) <= x1/4 + 3/4: z3 >= 3/4 x1 + 13/4 >= 1.
    """
    net = _net([([[1.0], [1.0]], [0.0, 4.0]), ([[-1.0, 1.0]], [0.0]), ([[1.0]], [0.0])])
    sym = symbolic_bounds(net, Box([-3.0], [1.0]))
    np.testing.assert_allclose([sym.lower[1][0], sym.upper[1][0]], [1.0, 5.0], atol=1e-12)


def test_near_zero_bounds_use_the_right_relaxation() -> None:
    """Neurons barely on one side of 0 must get the exact relaxation of their side.

    On x in [0, 1]: z0 = x + 0.0005 >= 0.0005 is active and z2 = x >= 0 too, so
    ReLU(z0) - 2 ReLU(z2) = 0.0005 - x has maximum 0.0005 (a triangle through (l, 0) for z0
    would give 0 and wrongly call it inactive); z1 = x - 0.9995 <= 0.0005 is unstable, so
    ReLU(z1) reaches 0.0005 (treating it as inactive would give 0).
    """
    net = _net([([[1.0], [1.0], [1.0]], [0.0005, -0.9995, 0.0]),
                ([[1.0, 0.0, -2.0], [0.0, 1.0, 0.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0])])
    dom = Box([0.0], [1.0])
    sym = symbolic_bounds(net, dom)
    assert_sound(net, sym, np.linspace(0, 1, 2001)[:, None])
    np.testing.assert_allclose(sym.lower[1], [-0.9995, 0.0], atol=1e-12)
    np.testing.assert_allclose(sym.upper[1], [0.0005, 0.0005], atol=1e-12)
    assert list(sym.stable_active) == [True, False, False, False, False]
    assert list(sym.unstable) == [False, True, True, True, True]


def test_half_infinite_relaxations() -> None:
    """Unstable neurons with one infinite bound still have finite relaxations.

    On x >= 0, z0 = x - 1 lies in [-1, inf): ReLU(z0) <= z0 + 1 and >= z0, so
    ReLU(z0) - x - 0.5 is in [-1.5, -0.5] (interval arithmetic: unbounded).
    On x <= 0, z0 = x + 1 lies in (-inf, 1]: ReLU(z0) <= 1, so ReLU(z0) - 2 <= -1.
    """
    net = _net([([[1.0], [1.0]], [-1.0, 0.0]), ([[1.0, -1.0]], [-0.5]), ([[1.0]], [0.0])])
    right = Polytope([[-1.0]], [0.0])
    sym = symbolic_bounds(net, right)
    np.testing.assert_allclose([sym.lower[1][0], sym.upper[1][0]], [-1.5, -0.5], atol=1e-12)
    assert sym.stable_inactive[2] and interval_bounds(net, right).unstable[2]
    net = _net([([[1.0]], [1.0]), ([[1.0]], [-2.0]), ([[1.0]], [0.0])])
    sym = symbolic_bounds(net, Polytope([[1.0]], [0.0]))
    assert sym.lower[0][0] == -np.inf and sym.upper[0][0] == pytest.approx(1.0)
    assert sym.upper[1][0] == pytest.approx(-1.0, abs=1e-12)
    assert sym.lower[1][0] == pytest.approx(-2.0, abs=1e-12)


# ----- brute force and reference implementation -----------------------------------------------
def exact_ranges(net: ReLUNetwork, dom: Box) -> tuple[np.ndarray, np.ndarray]:
    """Exact pre-activation ranges: LPs over the closure of every activation region."""
    N, d = net.n_hidden, net.input_dim
    lo, hi = np.full(N, np.inf), np.full(N, -np.inf)
    free_lo, free_hi = np.full(N, -lp.INF), np.zeros(N)
    for bits in itertools.product([False, True], repeat=N):
        s = np.array(bits)
        A, c, _, _ = net.local_affine(s)
        # active: A x + c >= 0, inactive: A x + c <= 0
        row_lo = np.where(s, -c, free_lo)
        row_hi = np.where(s, lp.INF, free_hi - c)
        feas = lp.solve_lp(np.zeros(d), A, row_lo, row_hi, dom.lower, dom.upper)
        if not feas.ok:
            continue
        for i in range(N):
            for sense in (False, True):
                sol = lp.solve_lp(A[i], A, row_lo, row_hi, dom.lower, dom.upper, maximize=sense)
                assert sol.ok
                v = sol.objective + c[i]
                lo[i], hi[i] = (lo[i], max(hi[i], v)) if sense else (min(lo[i], v), hi[i])
    return lo, hi


def reference_symbolic(net: ReLUNetwork, lo_x: np.ndarray, hi_x: np.ndarray) -> Bounds:
    """Scalar loops over neurons: same relaxation, written independently of the module."""
    relax: list[list[tuple[float, float, float]]] = []
    lows, ups = [], []
    a_lo, a_hi = lo_x, hi_x
    for k in range(len(net.weights) - 1):
        W, b = net.weights[k], net.biases[k]
        low, up = [], []
        for i in range(W.shape[0]):
            ibp_up = sum(max(w * a_lo[t], w * a_hi[t]) for t, w in enumerate(W[i])) + b[i]
            ibp_lo = sum(min(w * a_lo[t], w * a_hi[t]) for t, w in enumerate(W[i])) + b[i]
            best = []
            for sign in (1.0, -1.0):  # bound sign * z_i from above
                coef, const = sign * W[i], sign * b[i]
                for j in range(k - 1, -1, -1):
                    new = np.zeros(net.weights[j].shape[1])
                    for t, ct in enumerate(coef):
                        su, tu, sl = relax[j][t]
                        zc = ct * su if ct > 0 else ct * sl
                        const += ct * tu if ct > 0 else 0.0
                        const += zc * net.biases[j][t]
                        new += zc * net.weights[j][t]
                    coef = new
                best.append(const + sum(max(c * lo_x[t], c * hi_x[t])
                                        for t, c in enumerate(coef)))
            up.append(min(ibp_up, best[0]))
            low.append(max(ibp_lo, -best[1]))
        layer = []
        for lb, ub in zip(low, up, strict=True):
            if lb >= 0:
                layer.append((1.0, 0.0, 1.0))
            elif ub <= 0:
                layer.append((0.0, 0.0, 0.0))
            else:
                su = ub / (ub - lb)
                layer.append((su, -lb * su, 1.0 if ub > -lb else 0.0))
        relax.append(layer)
        lows.append(np.array(low))
        ups.append(np.array(up))
        a_lo, a_hi = np.maximum(lows[-1], 0), np.maximum(ups[-1], 0)
    return Bounds(tuple(lows), tuple(ups), "reference")


@pytest.mark.parametrize("widths", [(3, 5, 4, 3, 2), (5, 10, 10, 10, 1), (2, 8, 8, 8, 8, 1)])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_implementation(widths: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = random_net(widths, seed)
    dom = random_box(widths[0], rng, n_fixed=1)
    sym = symbolic_bounds(net, dom)
    ref = reference_symbolic(net, dom.lower, dom.upper)
    np.testing.assert_allclose(sym.flat_lower, ref.flat_lower, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sym.flat_upper, ref.flat_upper, rtol=0, atol=1e-9)


@pytest.mark.parametrize("widths,seed", [((2, 3, 3, 1), 0), ((2, 4, 3, 1), 1), ((2, 4, 1), 2),
                                         ((3, 3, 3, 1), 3)])
def test_against_brute_force_exact_ranges(widths: tuple[int, ...], seed: int) -> None:
    net = random_net(widths, seed)
    dom = Box(np.full(widths[0], -1.0), np.full(widths[0], 1.0))
    lo, hi = exact_ranges(net, dom)
    n1 = widths[1]
    for bounds in (symbolic_bounds(net, dom), interval_bounds(net, dom)):
        # sound: contains the exact range
        assert np.all(bounds.flat_lower <= lo + 1e-7)
        assert np.all(bounds.flat_upper >= hi - 1e-7)
        # stable flags are never wrong
        assert np.all(lo[bounds.stable_active] > 0)
        assert np.all(hi[bounds.stable_inactive] <= 1e-9)
        # the first layer is exact, so its flags agree with the truth
        np.testing.assert_allclose(bounds.flat_lower[:n1], lo[:n1], atol=1e-7)
        np.testing.assert_allclose(bounds.flat_upper[:n1], hi[:n1], atol=1e-7)
        np.testing.assert_array_equal(bounds.stable_active[:n1], lo[:n1] > 0)


# ----- unbounded domains, fixed inputs, dispatch ------------------------------------------------
def test_whole_space_random_nets_no_nan_and_sound() -> None:
    rng = np.random.default_rng(0)
    for widths in ARCHS:
        net = random_net(widths, 1)
        dom = Whole(widths[0])
        sym, ibp = symbolic_bounds(net, dom), interval_bounds(net, dom)
        for bounds in (sym, ibp):
            assert not np.isnan(bounds.flat_lower).any()
            assert not np.isnan(bounds.flat_upper).any()
        assert np.all(np.isinf(sym.lower[0])) and np.all(np.isinf(sym.upper[0]))
        assert_not_looser(sym, ibp)
        assert_sound(net, sym, rng.normal(scale=1e3, size=(500, widths[0])))


def test_whole_space_keeps_provable_finite_bounds() -> None:
    """On R: only what exact zeros and stable neurons pin down is finite.

    Layer 1: z0 = x (unbounded), z1 = 0 x - 1 (always -1, stable inactive).
    Layer 2: z2 = 1 - ReLU(z0) <= 1, z3 = -ReLU(z0) - 1 <= -1 (stable inactive),
    z4 = 0 ReLU(z0) + 5 ReLU(z1) + 0.5 = 0.5 (0 * inf = 0), z5 = ReLU(z0) (unbounded above).
    """
    net = _net([([[1.0], [0.0]], [0.0, -1.0]),
                ([[-1.0, 0.0], [-1.0, 0.0], [0.0, 5.0], [1.0, 0.0]], [1.0, -1.0, 0.5, 0.0]),
                ([[1.0, 1.0, 1.0, 1.0]], [0.0])])
    for method in ("symbolic", "interval"):
        b = preactivation_bounds(net, Whole(1), method)
        np.testing.assert_array_equal(b.lower[0], [-np.inf, -1.0])
        np.testing.assert_array_equal(b.upper[0], [np.inf, -1.0])
        np.testing.assert_allclose(b.upper[1], [1.0, -1.0, 0.5, np.inf])
        np.testing.assert_allclose(b.lower[1], [-np.inf, -np.inf, 0.5, 0.0])
        assert list(b.unstable) == [True, False, True, False, False, True]
        assert b.stable_inactive[1] and b.stable_inactive[3] and b.stable_active[4]


def test_exact_cancellation_needs_finite_relaxations() -> None:
    """z2 = ReLU(x) - ReLU(x) - 1: exactly -1, but only provably so where the ReLUs are exact.

    On R both hidden neurons are unbounded both ways (no finite affine upper bound exists), so
    z2 stays unbounded; on the half-line x >= 0 they are stable active and cancel exactly,
    which interval arithmetic ([0, inf] - [0, inf]) cannot see.
    """
    net = _net([([[1.0], [1.0]], [0.0, 0.0]), ([[1.0, -1.0]], [-1.0]), ([[1.0]], [0.0])])
    sym = symbolic_bounds(net, Whole(1))
    ibp = interval_bounds(net, Whole(1))
    assert ibp.upper[1][0] == np.inf and ibp.unstable[2]
    assert sym.upper[1][0] == np.inf and sym.lower[1][0] == -np.inf
    half = Polytope([[-1.0]], [0.0])  # x >= 0
    sym = symbolic_bounds(net, half)
    np.testing.assert_allclose([sym.lower[1][0], sym.upper[1][0]], [-1.0, -1.0])
    assert sym.stable_inactive[2] and interval_bounds(net, half).unstable[2]


def test_unbounded_polytope_no_nan() -> None:
    rng = np.random.default_rng(4)
    net = random_net((3, 8, 8, 2), 4)
    dom = Polytope(rng.normal(size=(2, 3)), [0.5, 0.5])
    for polytope_lp in (False, True):
        b = symbolic_bounds(net, dom, polytope_lp=polytope_lp)
        assert not np.isnan(b.flat_lower).any() and not np.isnan(b.flat_upper).any()
        X = rng.normal(scale=10.0, size=(5000, 3))
        assert_sound(net, b, X[dom.contains(X)])


def test_polytope_lp_proves_stability() -> None:
    """z = x1 + x2 - 0.1 on {x in [-1, 1]^2 : x1 + x2 <= 0}: the box says [-2.1, 1.9]."""
    net = _net([([[1.0, 1.0]], [-0.1]), ([[1.0]], [0.0])])
    dom = Polytope([[1.0, 1.0]], [0.0], [-1.0, -1.0], [1.0, 1.0])
    with_lp = symbolic_bounds(net, dom, polytope_lp=True)
    assert with_lp.upper[0][0] == pytest.approx(-0.1, abs=1e-9)
    assert with_lp.lower[0][0] == pytest.approx(-2.1, abs=1e-9)
    assert with_lp.stable_inactive[0]
    assert preactivation_bounds(net, dom).stable_inactive[0]  # default: small polytope uses LP
    assert symbolic_bounds(net, dom, polytope_lp=False).unstable[0]
    assert interval_bounds(net, dom).unstable[0]


def test_all_but_one_input_fixed() -> None:
    net = random_net((3, 6, 6, 1), 9)
    dom = Box([0.3, -1.0, -0.2], [0.3, 1.0, -0.2])
    t = np.linspace(-1, 1, 4001)
    X = np.column_stack([np.full_like(t, 0.3), t, np.full_like(t, -0.2)])
    sym = symbolic_bounds(net, dom)
    assert_sound(net, sym, X)
    Z = np.concatenate(net.preactivations(X), axis=1)
    # the first layer is affine in the one free input: its extremes are the sampled endpoints
    np.testing.assert_allclose(sym.lower[0], Z[:, :6].min(axis=0), atol=1e-12)
    np.testing.assert_allclose(sym.upper[0], Z[:, :6].max(axis=0), atol=1e-12)


def test_no_hidden_layer() -> None:
    net = _net([([[1.0, 2.0]], [0.0])])
    b = symbolic_bounds(net, Box([0, 0], [1, 1]))
    assert b.lower == () and b.upper == () and b.unstable.size == 0


def test_dispatch_and_errors() -> None:
    net = random_net((2, 4, 1), 0)
    dom = Box([-1, -1], [1, 1])
    assert preactivation_bounds(net, dom).method == "symbolic"
    assert preactivation_bounds(net, dom, "symbolic").method == "symbolic"
    assert preactivation_bounds(net, dom, "interval").method == "interval"
    with pytest.raises(InputError, match="unknown bounds method"):
        preactivation_bounds(net, dom, "crown")
    with pytest.raises(InputError, match="coordinates"):
        preactivation_bounds(net, Box([0, 0, 0], [1, 1, 1]))
    with pytest.raises(InputError):
        symbolic_bounds(net, Whole(3))
