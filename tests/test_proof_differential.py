"""The leaf level ``"differential"`` (``docs/proof-search.md``, last section): exact kernel
(:mod:`verishallow.exact.differential`) against a float64 reference and sampled minima, its
tightness against ``"symbolic"`` on near-identical pairs, and equivalence proof trees with
differential leaves in the exact checker."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
from conftest import shared_file
from test_proof_tree import assert_invalid, fresh, random_net, ref_back, ref_bound

from verishallow.exact import ExactNetwork, layer_bounds, leaf_bound
from verishallow.exact.differential import (
    DifferentialNetwork,
    differential_bounds,
    differential_leaf_bound,
    pure_difference,
)
from verishallow.network import ReLUNetwork
from verishallow.product import product_network
from verishallow.proofs import goals
from verishallow.proofs.tree_checker import check_equivalence_proof


def _fr(v) -> list[Fraction]:
    return [Fraction(float(x)) for x in v]


def near_pair(seed: int, sizes, noise: float) -> tuple[ReLUNetwork, ReLUNetwork]:
    a = random_net(seed, sizes)
    rng = np.random.default_rng(seed + 1000)
    b = ReLUNetwork([w + noise * rng.normal(size=w.shape) for w in a.weights],
                    [v + noise * rng.normal(size=v.shape) for v in a.biases])
    return a, b


# ----- float64 reference of the differential level ---------------------------------------------
def ref_diff(a: ReLUNetwork, b: ReLUNetwork, lo, hi, fix: dict, C, d):
    """The doc's differential level in plain float64: None if empty, else the row bounds
    (max of the backward and the differential bound for pure differences; layer bounds
    tightened by back-substitution, as at level backward)."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    n = len(lo)
    F = product_network(a, b)
    C = np.asarray(C, dtype=float).reshape(-1, F.output_dim)
    d = np.asarray(d, dtype=float)
    sym = ref_bound(F, lo, hi, fix, "backward", C, d)
    if sym is None:
        return None
    relax = []

    def conc(G, up):
        A, c0 = G[:, :-1], G[:, -1]
        if up:
            return np.maximum(A * hi, A * lo).sum(axis=1) + c0
        return np.minimum(A * hi, A * lo).sum(axis=1) + c0

    def pn(W, U, L):  # W+ U + W- L
        return np.maximum(W, 0) @ U + np.minimum(W, 0) @ L

    alo, ahi = lo, hi
    Lf = np.hstack([np.eye(n), np.zeros((n, 1))])
    Uf = Lf.copy()
    offs = F.layer_offsets
    DW = [wa - wb for wa, wb in zip(a.weights, b.weights, strict=True)]
    Db = [x - y for x, y in zip(a.biases, b.biases, strict=True)]
    DU = np.hstack([DW[0], Db[0][:, None]])
    DL = DU.copy()
    EU = EL = UB = LB = np.zeros((0, n + 1))  # forms of e and of B's post-activations
    for k, (W, bb) in enumerate(zip(F.weights[:-1], F.biases[:-1], strict=True)):
        h = W.shape[0] // 2
        Zu = pn(W, Uf, Lf)
        Zu[:, -1] += bb
        Zl = pn(W, Lf, Uf)
        Zl[:, -1] += bb
        lw = np.maximum(np.maximum(W, 0) @ alo + np.minimum(W, 0) @ ahi + bb, conc(Zl, False))
        u = np.minimum(np.maximum(W, 0) @ ahi + np.minimum(W, 0) @ alo + bb, conc(Zu, True))
        J = np.flatnonzero((lw < 0) & (u > 0)) if k > 0 else []
        if len(J):
            bl = ref_back(F, relax, np.concatenate([W[J], -W[J]]),
                          np.concatenate([bb[J], -bb[J]]), k, lo, hi)
            lw[J] = np.maximum(lw[J], bl[:len(J)])
            u[J] = np.minimum(u[J], -bl[len(J):])
        for j, act in fix.items():
            if offs[k] <= j < offs[k + 1]:
                jj = j - offs[k]
                if act:
                    lw[jj] = max(lw[jj], 0.0)
                else:
                    u[jj] = min(u[jj], 0.0)
        act = lw >= 0
        ina = ~act & (u <= 0)
        uns = ~act & ~ina
        s = np.where(act, 1.0, 0.0)
        s[uns] = u[uns] / (u[uns] - lw[uns])
        lam = np.where(act, 1.0, 0.0)
        lam[uns & (u > -lw)] = 1.0
        t = np.where(uns, -s * lw, 0.0)
        relax.append((lam, s, t))
        if k > 0:  # delta forms of this layer from the previous layer's e and B's a
            WA = a.weights[k]
            DU, DL = (pn(WA, EU, EL) + pn(DW[k], UB, LB),
                      pn(WA, EL, EU) + pn(DW[k], LB, UB))
            DU[:, -1] += Db[k]
            DL[:, -1] += Db[k]
        du = np.minimum(conc(DU, True), u[:h] - lw[h:])
        dl = np.maximum(conc(DL, False), lw[:h] - u[h:])
        EU = np.zeros_like(DU)
        EL = np.zeros_like(DL)
        for j in range(h):
            aA, aB, iA, iB = act[j], act[h + j], ina[j], ina[h + j]
            if aA and aB:
                EU[j], EL[j] = DU[j], DL[j]
            elif iA and iB:
                pass
            elif aA and iB:
                EU[j], EL[j] = Zu[j], Zl[j]
            elif iA and aB:
                EU[j], EL[j] = -Zl[h + j], -Zu[h + j]
            elif dl[j] >= 0:
                EU[j] = DU[j]
            elif du[j] <= 0:
                EL[j] = DL[j]
            else:
                sj = du[j] / (du[j] - dl[j])
                tj = -dl[j] / (du[j] - dl[j])
                EU[j] = sj * DU[j]
                EU[j, -1] -= sj * dl[j]
                EL[j] = tj * DL[j]
                EL[j, -1] -= tj * du[j]
        Uf = s[:, None] * Zu
        Uf[:, -1] += t
        Lf = lam[:, None] * Zl
        UB, LB = Uf[h:], Lf[h:]
        alo = np.where(act, lw, 0.0)
        ahi = np.where(ina, 0.0, u)
    if a.hidden_widths:
        WA, k = a.weights[-1], len(a.weights) - 1
        DU, DL = pn(WA, EU, EL) + pn(DW[k], UB, LB), pn(WA, EL, EU) + pn(DW[k], LB, UB)
        DU[:, -1] += Db[k]
        DL[:, -1] += Db[k]
    m = a.output_dim
    out = sym.copy()
    for i, row in enumerate(C):
        if np.array_equal(row[:m], -row[m:]):
            cA = row[:m]
            G = np.maximum(cA, 0) @ DL + np.minimum(cA, 0) @ DU
            out[i] = max(out[i], conc(G[None, :], False)[0] - d[i])
    return out


def diff_rows(m: int, eps: float = 0.0):
    """Every epsilon-equivalence row ``s (B_j - A_j) + eps`` (as ``C y - d`` with ``d = -eps``)
    plus one non-difference row ``A_0 + B_0``."""
    goal = goals.equivalence_goal([Fraction(0)], [Fraction(1)], m, Fraction(eps), False)
    C = [q.C[0] for q in goal.cases[0].disjuncts]
    d = [q.d[0] for q in goal.cases[0].disjuncts]
    extra = [Fraction(0)] * (2 * m)
    extra[0] = extra[m] = Fraction(1)
    return [*C, extra], [*d, Fraction(0)]


def sampled_minima(a, b, lo, hi, C, rng, n=20000):
    X = rng.uniform(lo, hi, size=(n, len(lo)))
    Y = np.hstack([a(X), b(X)])
    Cf = np.array([[float(v) for v in r] for r in C])
    return (Y @ Cf.T).min(axis=0)


PAIRS = {
    "3-10-10-2": near_pair(3, (3, 10, 10, 2), 1e-3),
    "5-50-50-5": near_pair(4, (5, 50, 50, 5), 1e-3),
    "2-8-2": near_pair(5, (2, 8, 2), 1e-2),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_differential_bounds_sound_tight_and_match_the_reference(name):
    a, b = PAIRS[name]
    F = product_network(a, b)
    enet, dnet = ExactNetwork(F), DifferentialNetwork(a, b)
    m = a.output_dim
    C, d = diff_rows(m)
    assert [pure_difference(r, m) for r in C] == [True] * (2 * m) + [False]
    rng = np.random.default_rng(0)
    n = a.input_dim
    tighter = 0
    for trial in range(4):
        c = rng.uniform(-1, 1, size=n)
        r = rng.uniform(0.05, 0.5, size=n) / (1 + trial)
        lo, hi = c - r, c + r
        fix = {}
        if trial == 3:  # a few phase fixings, as at the box centre
            z = np.concatenate([p[0] for p in _preacts(F, c[None, :])])
            picks = rng.choice(len(z), 4, replace=False)
            fix = {int(j): bool(z[j] >= 0) for j in picks}
        res = differential_leaf_bound(enet, dnet, _fr(lo), _fr(hi), fix, C, d)
        ref = ref_diff(a, b, lo, hi, fix, [[float(v) for v in row] for row in C],
                       [float(v) for v in d])
        if res.empty:
            assert ref is None
            continue
        got = np.array([float(v) for v in res.lower])
        assert np.allclose(got, ref, rtol=1e-7, atol=1e-9), (got, ref)
        base = leaf_bound(enet, _fr(lo), _fr(hi), fix, "backward", C, d)
        assert all(x >= y for x, y in zip(res.lower, base.lower, strict=True))
        assert res.lower[-1] == base.lower[-1]  # not a difference: the base level's bound
        if not fix:
            mins = sampled_minima(a, b, lo, hi, C, rng)
            assert np.all(got <= mins + 1e-12), (got, mins)
            # exact at a few points
            for x in rng.uniform(lo, hi, size=(3, n)):
                xs = _fr(x)
                va = _exact_forward(a, xs)
                vb = _exact_forward(b, xs)
                y = va + vb
                for i, row in enumerate(C):
                    assert res.lower[i] <= sum(ci * yi for ci, yi in zip(row, y,
                                                                         strict=True)) - d[i]
        tighter += sum(x > y for x, y in zip(res.lower[:-1], base.lower[:-1], strict=True))
    assert tighter > 0


def _exact_forward(net: ReLUNetwork, x: list[Fraction]) -> list[Fraction]:
    a = x
    for k, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = [sum((Fraction(float(w)) * v for w, v in zip(row, a, strict=True)), Fraction(0))
             + Fraction(float(bb)) for row, bb in zip(W, b, strict=True)]
        a = z if k == len(net.weights) - 1 else [max(v, Fraction(0)) for v in z]
    return a


def test_differential_is_much_tighter_on_a_near_identical_pair():
    a, b = near_pair(9, (5, 50, 50, 5), 1e-4)
    F = product_network(a, b)
    enet, dnet = ExactNetwork(F), DifferentialNetwork(a, b)
    C, d = diff_rows(5)
    lo, hi = _fr([-0.5] * 5), _fr([0.5] * 5)
    diff = differential_leaf_bound(enet, dnet, lo, hi, {}, C, d).lower
    sym = leaf_bound(enet, lo, hi, {}, "symbolic", C, d).lower
    for x, y in zip(diff[:-1], sym[:-1], strict=True):
        assert x > y
        assert -x < 0.1 * -y  # the difference bound is at least 10x smaller


def test_mismatched_architectures_are_refused():
    a = random_net(1, (3, 10, 10, 2))
    b = random_net(2, (3, 10, 11, 2))
    with pytest.raises(ValueError, match="same architecture"):
        DifferentialNetwork(a, b)


def test_no_hidden_layer():
    a, b = near_pair(2, (3, 2), 1e-2)
    F = product_network(a, b)
    C, d = diff_rows(2)
    lo, hi = [-1.0] * 3, [1.0] * 3
    res = differential_leaf_bound(ExactNetwork(F), DifferentialNetwork(a, b), _fr(lo), _fr(hi),
                                  {}, C, d)
    ref = ref_diff(a, b, lo, hi, {}, [[float(v) for v in r] for r in C], [float(v) for v in d])
    assert np.allclose([float(v) for v in res.lower], ref, rtol=1e-12)
    mins = sampled_minima(a, b, np.array(lo), np.array(hi), C, np.random.default_rng(1))
    assert np.all(np.array([float(v) for v in res.lower]) <= mins + 1e-12)


# ----- proof trees with differential leaves -------------------------------------------------------
def _eq_cert(a, b, lower, upper, eps: Fraction, nodes: list) -> tuple[dict, goals.Goal]:
    goal = goals.equivalence_goal(lower, upper, m=a.output_dim, epsilon=eps, top1=False)
    cert = {"format": "verishallow.proof-tree", "version": 1, "kind": "equivalence",
            "goal_digest": goal.digest(), "networks": [a.fingerprint, b.fingerprint],
            "equivalence": {"mode": "epsilon", "epsilon": str(eps),
                            "lower": [str(v) for v in lower], "upper": [str(v) for v in upper]},
            "trees": [{"case": 0, "nodes": nodes}]}
    return cert, goal


def _leaf(level: str, nd: int) -> list:
    return ["l", level, [[k, 0] for k in range(nd)]]


def test_equivalence_proof_with_differential_leaves():
    a, b = PAIRS["3-10-10-2"]
    F = product_network(a, b)
    enet, dnet = ExactNetwork(F), DifferentialNetwork(a, b)
    lower, upper = [Fraction(-1, 2)] * 3, [Fraction(1, 2)] * 3
    C, d = diff_rows(2)
    C, d = C[:-1], d[:-1]
    # one split of x0 at 0: the worst row bound (eps = 0) of each child at both levels
    halves = [(lower, [Fraction(0), *upper[1:]]), ([Fraction(0), *lower[1:]], upper)]
    worst_sym = min(min(leaf_bound(enet, lo, hi, {}, "symbolic", C, d).lower)
                    for lo, hi in halves)
    worst_dif = min(min(differential_leaf_bound(enet, dnet, lo, hi, {}, C, d).lower)
                    for lo, hi in halves)
    assert worst_dif > worst_sym
    # an eps between the two: rows are s (B_j - A_j) + eps >= 0 to refute
    eps = Fraction((-worst_dif + -worst_sym) / 2).limit_denominator(10**6)
    assert -worst_dif < eps < -worst_sym
    nodes = ["x", 0, "0"]
    cert, goal = _eq_cert(a, b, lower, upper, eps, [nodes, _leaf("differential", 4),
                                                    _leaf("differential", 4)])
    res = check_equivalence_proof(cert, a, b)
    assert res.valid, res.failures
    sym = fresh(cert)
    sym["trees"][0]["nodes"] = [nodes, _leaf("symbolic", 4), _leaf("symbolic", 4)]
    assert_invalid(check_equivalence_proof(sym, a, b), "exact lower bound")
    mixed = fresh(cert)
    mixed["trees"][0]["nodes"][2] = _leaf("symbolic", 4)
    assert not check_equivalence_proof(mixed, a, b).valid
    # a phase split under differential leaves, and an "e" leaf at level differential
    # a phase split of a neuron active on the whole box: its inactive side is empty
    lb = layer_bounds(enet, lower, upper, {}, "symbolic")
    act = [i for i, v in enumerate(v for layer in lb.l for v in layer) if v > 0]
    assert act
    tree = [["n", act[0]], ["e", "differential"], nodes, _leaf("differential", 4),
            _leaf("differential", 4)]
    c2 = fresh(cert)
    c2["trees"][0]["nodes"] = tree
    res = check_equivalence_proof(c2, a, b, workers=2)
    assert res.valid, res.failures
    assert res.checked["empty_leaves"] == 1
    # ... and its active side is not
    c2["trees"][0]["nodes"] = [["n", act[0]], nodes, _leaf("differential", 4),
                               _leaf("differential", 4), ["e", "differential"]]
    assert_invalid(check_equivalence_proof(c2, a, b), "not empty at level differential")


def _preacts(net: ReLUNetwork, X: np.ndarray) -> list[np.ndarray]:
    out, h = [], X
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        z = h @ W.T + b
        out.append(z)
        h = np.maximum(z, 0)
    return out


def test_differential_leaf_on_different_widths_is_invalid():
    a = random_net(1, (3, 10, 10, 2))
    b = random_net(2, (3, 10, 12, 2))
    lower, upper = [Fraction(-1, 2)] * 3, [Fraction(1, 2)] * 3
    cert, _ = _eq_cert(a, b, lower, upper, Fraction(1000), [_leaf("differential", 4)])
    msg = assert_invalid(check_equivalence_proof(cert, a, b), "differential",
                         "same architecture")
    assert "leaf at node 0" in msg
    cert["trees"][0]["nodes"] = [["e", "differential"]]
    assert_invalid(check_equivalence_proof(cert, a, b), "same architecture")
    # the same certificate at level symbolic is fine (eps is huge)
    cert["trees"][0]["nodes"] = [_leaf("symbolic", 4)]
    assert check_equivalence_proof(cert, a, b).valid


# ----- real models -------------------------------------------------------------------------------
def test_acas_pruned_pair_speed_and_reference():
    from verishallow.io import load

    a = load(shared_file("benchmarks", "vnncomp2021", "acasxu", "ACASXU_run2a_1_1_batch_2000.onnx"))
    b = load(shared_file("benchmarks", "verydiff", "ACASXU_run2a_1_1_batch_2000_pruned5.onnx"))
    F = product_network(a, b)
    enet, dnet = ExactNetwork(F), DifferentialNetwork(a, b)
    C, d = diff_rows(5)
    lo = np.array([-0.3, -0.5, -0.5, -0.5, -0.5])
    hi = lo + 1 / 16
    t0 = time.process_time()
    sym = leaf_bound(enet, _fr(lo), _fr(hi), {}, "symbolic", C, d)
    t1 = time.process_time()
    res = differential_leaf_bound(enet, dnet, _fr(lo), _fr(hi), {}, C, d)
    t2 = time.process_time()
    ref = ref_diff(a, b, lo, hi, {}, [[float(v) for v in r] for r in C], [float(v) for v in d])
    got = np.array([float(v) for v in res.lower])
    assert np.allclose(got, ref, rtol=1e-7, atol=1e-9), (got, ref)
    assert all(x >= y for x, y in zip(res.lower, sym.lower, strict=True))
    print(f"\nACAS 1_1 x pruned5 product, one node: symbolic {t1 - t0:.3f}s, "
          f"differential {t2 - t1:.3f}s CPU; worst pure-difference bound symbolic "
          f"{float(min(sym.lower[:-1])):.4g}, differential {float(min(res.lower[:-1])):.4g}")
    # the pruned copy differs from A by 10-40% per layer (pruned and rounded weights): there
    # the differential bound is looser than the symbolic one and the max keeps the symbolic;
    # a slightly perturbed copy of A gets a much tighter bound
    rng = np.random.default_rng(3)
    b2 = ReLUNetwork([w * (1 + 1e-5 * rng.normal(size=w.shape)) for w in a.weights], a.biases)
    F2 = product_network(a, b2)
    enet2 = ExactNetwork(F2)
    db = differential_bounds(enet2, DifferentialNetwork(a, b2), _fr(lo), _fr(hi), {})
    assert len(db.du) == 6 and all(len(v) == 50 for v in db.du)
    sym2 = leaf_bound(enet2, _fr(lo), _fr(hi), {}, "symbolic", C, d)
    res2 = differential_leaf_bound(enet2, DifferentialNetwork(a, b2), _fr(lo), _fr(hi), {}, C, d)
    assert min(res2.lower[:-1]) > 0.5 * min(sym2.lower[:-1])
    print(f"A x (A perturbed by 1e-5 relative): symbolic {float(min(sym2.lower[:-1])):.4g}, "
          f"differential {float(min(res2.lower[:-1])):.4g}")


def test_differential_leaves_outside_pure_differences():
    from test_proof_tree import (
        BOXES3,
        NET3,
        equivalence_cert,
        make_property,
        property_cert,
    )

    from verishallow.proofs.tree_checker import check_property_proof

    # a property proof: level differential does not apply
    prop, _ = make_property(NET3, BOXES3, seed=1)
    cert = property_cert(NET3, goals.property_goal(prop, 3, 3), "symbolic")
    bad = fresh(cert)
    for node in bad["trees"][0]["nodes"]:
        if node[0] in ("l", "e"):
            node[1] = "differential"
    assert check_property_proof(cert, NET3, prop).valid
    assert_invalid(check_property_proof(bad, NET3, prop), "only for equivalence proofs")
    # top-1 rows are not pure differences: differential leaves keep the symbolic bound
    a, b = near_pair(6, (2, 6, 3), 1e-3)
    bs = [np.array(v) for v in a.biases]
    bs[-1][0] += 20.0
    a = ReLUNetwork(a.weights, bs)
    b = ReLUNetwork(b.weights, [*b.biases[:-1], b.biases[-1] + np.eye(3)[0] * 20.0])
    lower, upper = [Fraction(-1, 2)] * 2, [Fraction(1, 2)] * 2
    cert, _ = equivalence_cert(a, b, lower, upper, Fraction(0), True, "symbolic")
    assert check_equivalence_proof(cert, a, b).valid
    dif = fresh(cert)
    for node in dif["trees"][0]["nodes"]:
        if node[0] in ("l", "e"):
            node[1] = "differential"
    res = check_equivalence_proof(dif, a, b)
    assert res.valid, res.failures
