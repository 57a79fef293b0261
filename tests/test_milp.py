"""The MILP engine against an independent brute force (Chebyshev LPs over all patterns).

The brute force tries every pattern of every layer (2^N in all, pruned only by the exact fact
that an empty prefix has no non-empty extension) and measures each with a Chebyshev-ball LP.
It classifies patterns as clearly regions (radius > R_CLEAR), clearly not (radius <= R_EMPTY,
or infeasible) or borderline; the MILP (margin 1e-6 in pre-activation units) must find every
clear region and nothing outside clear + borderline.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

from verishallow.bounds import preactivation_bounds
from verishallow.domain import Box, Domain, Polytope, Whole
from verishallow.errors import InputError
from verishallow.network import ReLUNetwork, pattern_key
from verishallow.solvers import lp, milp

#: Radius (input units) above which a pattern is clearly a region: at its Chebyshev centre every
#: neuron has |z| >= R_CLEAR * |row|, far above the MILP margin for these weights.
R_CLEAR = 1e-3
#: At or below this a pattern is clearly not a region (a MILP solution at margin 1e-6 implies a
#: ball of radius ~1e-6 / |row| >> R_EMPTY).
R_EMPTY = 1e-9


def random_net(widths: list[int], seed: int, bias_scale: float = 0.5) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    ws, bs = [], []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        ws.append(rng.normal(size=(n_out, n_in)) / math.sqrt(n_in))
        bs.append(rng.normal(size=n_out) * bias_scale)
    return ReLUNetwork(ws, bs)


def pattern_radius(net: ReLUNetwork, pattern: np.ndarray, domain: Domain) -> float:
    """Chebyshev radius of a (prefix) pattern's region, 0 if empty: rows ``sigma A``, offsets
    ``-sigma d`` (``sigma = 1 - 2 s``) plus the domain rows; a zero row is decided by ``d``."""
    A, d = prefix_affine(net, pattern)
    sigma = 1.0 - 2.0 * pattern
    H, c = sigma[:, None] * A, -sigma * d
    zero = np.linalg.norm(H, axis=1) <= 1e-13
    if np.any(pattern[zero] & (d[zero] <= 0)) or np.any(~pattern[zero] & (d[zero] > 0)):
        return 0.0
    G, h, _ = domain.constraints()
    res = lp.chebyshev_center(np.vstack([H[~zero], G]), np.concatenate([c[~zero], h]))
    return 0.0 if res is None else float(res[1])


def prefix_affine(net: ReLUNetwork, prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``A, d`` of the first ``len(prefix)`` neurons (whole layers), via ``local_affine``."""
    full = np.zeros(net.n_hidden, dtype=bool)
    full[: prefix.size] = prefix
    A, d, _, _ = net.local_affine(full)
    return A[: prefix.size], d[: prefix.size]


def brute_force(net: ReLUNetwork, domain: Domain) -> tuple[set[bytes], set[bytes]]:
    """``(clear, borderline)`` pattern keys."""
    prefixes = [np.zeros(0, dtype=bool)]
    clear: set[bytes] = set()
    border: set[bytes] = set()
    widths = net.hidden_widths
    for li, w in enumerate(widths):
        bits = np.array([[(v >> j) & 1 for j in range(w)] for v in range(2 ** w)], dtype=bool)
        nxt = []
        for p in prefixes:
            for b in bits:
                q = np.concatenate([p, b])
                r = pattern_radius(net, q, domain)
                if r <= R_EMPTY:
                    continue
                nxt.append(q)
                if li == len(widths) - 1:
                    (clear if r > R_CLEAR else border).add(pattern_key(q))
        prefixes = nxt
    return clear, border


def assert_matches_brute_force(net: ReLUNetwork, domain: Domain, **kw) -> milp.MilpEnumeration:
    res = milp.enumerate_patterns(net, domain, **kw)
    assert res.complete and res.status == "complete"
    found = [pattern_key(p) for p in res.patterns]
    assert len(set(found)) == len(found), "a pattern was reported twice"
    clear, border = brute_force(net, domain)
    missing = clear - set(found)
    extra = set(found) - clear - border
    assert not missing, f"MILP missed {len(missing)} clear regions"
    assert not extra, f"MILP reported {len(extra)} patterns that are not regions"
    assert len(border) <= max(2, len(clear) // 10), "too many borderline regions for a test"
    for p, x in zip(res.patterns, res.witnesses, strict=True):
        assert p.dtype == bool and p.shape == (net.n_hidden,)
        assert np.array_equal(net.pattern(x), p)
        assert domain.contains(x, tol=1e-7)[0]
    return res


CASES = [
    ([2, 6, 1], 0), ([2, 8, 1], 1), ([2, 5, 5, 1], 2), ([2, 6, 6, 1], 3),
    ([2, 4, 4, 4, 1], 4), ([3, 6, 1], 5), ([3, 5, 5, 1], 6), ([3, 4, 4, 3, 1], 7),
]


@pytest.mark.parametrize(("widths", "seed"), CASES)
def test_enumeration_matches_brute_force(widths: list[int], seed: int) -> None:
    net = random_net(widths, seed)
    d = widths[0]
    rng = np.random.default_rng(100 + seed)
    lo = -1.0 - rng.uniform(0, 1, d)
    assert_matches_brute_force(net, Box(lo, lo + 2.0 + rng.uniform(0, 1, d)))


def test_one_dimensional_net_counts_breakpoints() -> None:
    net = random_net([1, 8, 1], 11)
    w, b = net.weights[0][:, 0], net.biases[0]
    breaks = -b / w
    inside = np.sum((breaks > -2.0) & (breaks < 2.0))
    res = assert_matches_brute_force(net, Box([-2.0], [2.0]))
    assert len(res.patterns) == inside + 1


def test_fixed_coordinate_box_matches_reduced_net() -> None:
    net = random_net([3, 5, 5, 1], 12)
    dom = Box([-1.0, 0.3, -1.5], [1.0, 0.3, 1.0])
    res = milp.enumerate_patterns(net, dom)
    assert res.complete
    assert all(x[1] == 0.3 for x in res.witnesses)
    red = dom.reduce()
    rnet = net.compose_input(red.E, red.x0)
    clear, border = brute_force(rnet, red.domain)
    found = {pattern_key(p) for p in res.patterns}
    assert clear <= found <= clear | border


def test_polytope_domain() -> None:
    net = random_net([2, 5, 5, 1], 13)
    tri = Polytope([[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], [1.0, 1.0, 1.0])
    res = assert_matches_brute_force(net, tri)
    G, h, _ = tri.constraints()
    assert all(np.all(G @ x <= h + 1e-7) for x in res.witnesses)


def test_bias_free_deeper_layer_has_silent_neurons() -> None:
    """Layer-2 bias 0: a neuron is identically 0 where all its inputs are off (a zero row, not
    a facet): the margin must not hide those regions."""
    net = ReLUNetwork(
        [np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
         np.array([[1.0, 1.0, 0.0], [-1.0, 0.5, 1.0]]), np.array([[1.0, -1.0]])],
        [np.array([0.1, -0.2, 0.3]), np.zeros(2), np.zeros(1)])
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    assert milp._silent_inputs(net, preactivation_bounds(net, dom)) == {3: [0, 1], 4: [0, 1, 2]}
    res = assert_matches_brute_force(net, dom)
    silent = [p for p in res.patterns if not p[:3].any()]
    assert len(silent) == 1 and not silent[0].any()


def test_loop_strategy_agrees_with_tree() -> None:
    net = random_net([2, 6, 6, 1], 15)
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    tree = milp.enumerate_patterns(net, dom)
    loop = milp.enumerate_patterns(net, dom, strategy="loop")
    assert loop.complete and loop.solves == len(loop.patterns) + 1
    assert {pattern_key(p) for p in tree.patterns} == {pattern_key(p) for p in loop.patterns}


def test_limits() -> None:
    net = random_net([2, 6, 6, 1], 16)
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    for strategy in ("tree", "loop"):
        res = milp.enumerate_patterns(net, dom, limit=3, strategy=strategy)
        assert len(res.patterns) == 3 and not res.complete and res.status == "pattern_limit"
    with pytest.raises(InputError):
        milp.enumerate_patterns(net, dom, strategy="nope")


def test_whole_plane_line_arrangement_uses_indicators() -> None:
    n = 6
    net = random_net([2, n, 1], 17)
    bounds = preactivation_bounds(net, Whole(2))
    assert np.all(bounds.unstable) and np.all(np.isinf(bounds.flat_upper))
    res = milp.enumerate_patterns(net, Whole(2))
    assert res.complete and len(res.patterns) == 1 + n + math.comb(n, 2)
    assert all(np.array_equal(net.pattern(x), p)
               for p, x in zip(res.patterns, res.witnesses, strict=True))


def test_whole_plane_deep_net_matches_brute_force() -> None:
    assert_matches_brute_force(random_net([2, 3, 3, 1], 18), Whole(2))


def test_find_uncovered() -> None:
    net = random_net([2, 6, 5, 1], 19)
    dom = Box([-1.0, -1.0], [1.5, 1.0])
    pats = milp.enumerate_patterns(net, dom).patterns
    bounds = preactivation_bounds(net, dom)
    impossible = ~bounds.stable_active & ~bounds.unstable  # contradicts every stable bit
    full = milp.find_uncovered(net, dom, [*pats, impossible])
    assert full.status == "covered" and full.scip_status == "infeasible" and full.seconds >= 0
    assert full.pattern is None and full.witness is None
    for drop in (0, len(pats) // 2, len(pats) - 1):
        res = milp.find_uncovered(net, dom, pats[:drop] + pats[drop + 1:])
        assert res.status == "uncovered"
        assert np.array_equal(res.pattern, pats[drop])
        assert np.array_equal(net.pattern(res.witness), pats[drop])
        assert dom.contains(res.witness)[0]


def test_no_hidden_layer() -> None:
    net = ReLUNetwork([np.array([[1.0, -2.0]])], [np.array([0.5])])
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    res = milp.enumerate_patterns(net, dom)
    assert res.complete and len(res.patterns) == 1 and res.patterns[0].shape == (0,)
    assert milp.find_uncovered(net, dom, []).status == "uncovered"
    assert milp.find_uncovered(net, dom, res.patterns).status == "covered"


def test_two_networks_share_inputs() -> None:
    """``encode_network`` twice over one set of inputs: the building block of equivalence."""
    import pyscipopt

    net = random_net([2, 4, 4, 1], 20)
    other = ReLUNetwork(net.weights, [*net.biases[:-1], net.biases[-1] + 1e-2])
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    for second, expected in ((net, "infeasible"), (other, "optimal")):
        model = pyscipopt.Model()
        milp.configure_scip(model)
        xs = milp.add_input_vars(model, dom)
        e1 = milp.encode_network(model, net, xs, preactivation_bounds(net, dom), prefix="f_")
        e2 = milp.encode_network(model, second, xs, preactivation_bounds(second, dom),
                                 prefix="g_")
        model.addCons(e2.y[0] - e1.y[0] >= 1e-3)
        model.optimize()
        assert model.getStatus() == expected


def test_check_pattern_rejects_a_wrong_bit() -> None:
    net = random_net([2, 4, 1], 21)
    x = np.array([0.3, -0.2])
    p = net.pattern(x)
    milp.check_pattern(net, x, p, milp.MILP_MARGIN)
    z = np.concatenate(net.preactivations(x), axis=1)[0]
    q = p.copy()
    q[int(np.argmax(np.abs(z)))] ^= True
    with pytest.raises(milp.MilpReadoutError):
        milp.check_pattern(net, x, q, milp.MILP_MARGIN)


# ----- Pyomo model -----------------------------------------------------------------------------
def _assign(m: pyo.ConcreteModel, net: ReLUNetwork, x: np.ndarray, pattern: np.ndarray) -> None:
    z = np.concatenate(net.preactivations(x), axis=1)[0]
    for i, v in enumerate(x):
        if not m.x[i].fixed:
            m.x[i].set_value(float(v))
    for k in range(net.n_hidden):
        m.z[k].set_value(float(z[k]))
        if not m.a[k].fixed:
            m.a[k].set_value(float(max(z[k], 0.0)))
    for k in m.U:
        m.s[k].set_value(int(pattern[k]))
    for k in m.Q:
        m.q[k].set_value(0)
    m.y[0].set_value(float(net.forward(x)[0]))


def _violations(m: pyo.ConcreteModel, tol: float = 1e-9) -> list[str]:
    bad = []
    for c in m.component_data_objects(pyo.Constraint, active=True):
        v = pyo.value(c.body)
        lo, hi = pyo.value(c.lower), pyo.value(c.upper)
        if (lo is not None and v < lo - tol) or (hi is not None and v > hi + tol):
            bad.append(c.name)
    for var in m.component_data_objects(pyo.Var):
        v = var.value
        if (var.lb is not None and v < var.lb - tol) or (var.ub is not None and v > var.ub + tol):
            bad.append(var.name)
    return bad


def test_pyomo_model_structure_and_known_point() -> None:
    net = random_net([3, 5, 5, 1], 22)
    dom = Box([-1.0, -1.0, 0.25], [1.0, 1.0, 0.25])
    bounds = preactivation_bounds(net, dom)
    m = milp.pyomo_model(net, dom, bounds)
    n_unstable = int(bounds.unstable.sum())
    assert 0 < n_unstable < net.n_hidden or n_unstable == net.n_hidden
    assert len(m.x) == 3 and m.x[2].fixed and m.x[2].value == 0.25
    assert len(m.z) == len(m.a) == net.n_hidden and len(m.y) == 1
    assert len(m.s) == n_unstable and all(v.is_binary() for v in m.s.values())
    assert len(m.q) == 0
    n_vars = len(list(m.component_data_objects(pyo.Var)))
    assert n_vars == 3 + 2 * net.n_hidden + n_unstable + 1
    witness = milp.enumerate_patterns(net, dom).witnesses
    x = witness[len(witness) // 2]
    p = net.pattern(x)
    _assign(m, net, x, p)
    assert _violations(m) == []
    k = int(next(iter(m.U)))
    m.s[k].set_value(1 - int(p[k]))  # wrong bit: some constraint must break
    assert _violations(m)


def test_pyomo_model_rejects_unbounded_domain() -> None:
    with pytest.raises(InputError, match="bounded domain"):
        milp.pyomo_model(random_net([2, 3, 1], 23), Whole(2))


def test_pyomo_model_solves_with_scip() -> None:
    solver = None
    for name in ("scip", "scip_direct"):
        cand = pyo.SolverFactory(name)
        if cand is not None and cand.available(exception_flag=False):
            solver = cand
            break
    if solver is None:
        pytest.skip("no Pyomo SCIP interface available")
    net = random_net([2, 5, 4, 1], 24)
    dom = Polytope([[1.0, 1.0]], [1.0], [-1.0, -1.0], [1.0, 1.0])
    m = milp.pyomo_model(net, dom)
    k = int(next(iter(m.U)))
    m.s[k].fix(1)  # ask for a point with this neuron active
    res = solver.solve(m)
    assert pyo.check_optimal_termination(res)
    x = np.array([pyo.value(m.x[i]) for i in range(2)])
    p = net.pattern(x)
    assert p[k]
    assert all(p[j] == (pyo.value(m.s[j]) > 0.5) for j in m.U)
    assert abs(pyo.value(m.y[0]) - net.forward(x)[0]) < 1e-6


@pytest.mark.parametrize("group", [1, 4])
def test_find_uncovered_sharded_equals_unsharded(monkeypatch, group: int) -> None:
    """Layer-by-layer shards ask exactly the one-query question: same answers, any drop."""
    monkeypatch.setattr(milp, "SHARD_GROUP", group)
    net = random_net([2, 5, 4, 3, 1], 23)
    dom = Box([-1.0, -1.0], [1.0, 1.2])
    pats = milp.enumerate_patterns(net, dom).patterns
    assert len(pats) > 4 * group
    full = milp.find_uncovered(net, dom, pats)
    assert full.status == "covered" and full.solves > 1
    assert milp.find_uncovered(net, dom, pats, sharded=False).status == "covered"
    for drop in range(0, len(pats), max(1, len(pats) // 7)):
        rest = pats[:drop] + pats[drop + 1:]
        res = milp.find_uncovered(net, dom, rest)
        assert res.status == "uncovered" and np.array_equal(res.pattern, pats[drop])
        assert np.array_equal(net.pattern(res.witness), pats[drop])
