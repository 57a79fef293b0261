"""Proof trees and their exact checker (``docs/proof-search.md``), without the proof search.

Certificates are made here by a tiny test-local generator: split the widest input coordinate
until a float64 reference of the doc's leaf bound refutes every disjunct with a margin. The
exact kernel (:mod:`verishallow.exact.leaf_bounds`) is compared with that reference, with
brute-force sampled minima (floats over many points, exact Fractions at a few) and with the
interval level; every tampering must make the checker fail and name the leaf.
"""

from __future__ import annotations

import copy
import gzip
import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SOLVER_MODULES, loaded_after, shared_file

from verishallow.cli import main
from verishallow.domain import Box
from verishallow.exact import ExactNetwork, layer_bounds, leaf_bound
from verishallow.io import save_npz
from verishallow.network import ReLUNetwork
from verishallow.product import product_network
from verishallow.proofs import goals
from verishallow.proofs.document import CertificateError
from verishallow.proofs.tree_checker import (
    check_equivalence_proof,
    check_proof_tree,
    check_property_proof,
)
from verishallow.vnnlib import parse_vnnlib_text

TOL = 1e-6


def random_net(seed: int, sizes: tuple[int, ...], bias: float = 0.5) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) / np.sqrt(sizes[k])
                        for k in range(len(sizes) - 1)],
                       [rng.normal(size=sizes[k + 1]) * bias for k in range(len(sizes) - 1)])


# ----- float64 reference of the doc's leaf bound -------------------------------------------
def ref_back(net: ReLUNetwork, relax: list, Lam, c, top: int, lo, hi):
    """Lower bounds of ``Lam a_{top-1} + c`` by back-substitution through ``relax`` (per hidden
    layer: lower slopes, upper slopes, upper intercepts), in float64."""
    for k in range(top - 1, -1, -1):
        lam, s, t = relax[k]
        P, N = np.maximum(Lam, 0), np.minimum(Lam, 0)
        c = c + N @ t
        Lz = P * lam + N * s
        c = c + Lz @ net.biases[k]
        Lam = Lz @ net.weights[k]
    return c + np.minimum(Lam * lo, Lam * hi).sum(axis=1)


def ref_bound(net: ReLUNetwork, lo, hi, fix: dict, level: str, C, d):
    """The doc's algorithm in plain float64 (no rounding control): None if empty, else the
    row lower bounds."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    n = len(lo)
    sym = level in ("symbolic", "backward")

    def conc(F, up):
        A, c0 = F[:, :-1], F[:, -1]
        if up:
            return np.maximum(A * hi, A * lo).sum(axis=1) + c0
        return np.minimum(A * hi, A * lo).sum(axis=1) + c0

    def back(Lam, c, top):
        return ref_back(net, relax, Lam, c, top, lo, hi)

    alo, ahi = lo, hi
    Lf = np.hstack([np.eye(n), np.zeros((n, 1))])
    Uf = Lf.copy()
    relax = []
    offs = net.layer_offsets
    for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1], strict=True)):
        Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
        il = Wp @ alo + Wn @ ahi + b
        iu = Wp @ ahi + Wn @ alo + b
        Zu = Wp @ Uf + Wn @ Lf
        Zu[:, -1] += b
        Zl = Wp @ Lf + Wn @ Uf
        Zl[:, -1] += b
        lw, u = il.copy(), iu.copy()
        if sym:
            lw, u = np.maximum(lw, conc(Zl, False)), np.minimum(u, conc(Zu, True))
        if level == "backward" and k > 0:
            J = np.flatnonzero((lw < 0) & (u > 0))
            if J.size:
                bl = back(np.concatenate([W[J], -W[J]]), np.concatenate([b[J], -b[J]]), k)
                lw[J] = np.maximum(lw[J], bl[:J.size])
                u[J] = np.minimum(u[J], -bl[J.size:])
        for j, act in fix.items():
            if offs[k] <= j < offs[k + 1]:
                jj = j - offs[k]
                if act:
                    lw[jj] = max(lw[jj], 0.0)
                else:
                    u[jj] = min(u[jj], 0.0)
                if lw[jj] > u[jj]:
                    return None
        act = lw >= 0
        ina = ~act & (u <= 0)
        uns = ~act & ~ina
        s = np.where(act, 1.0, 0.0)
        s[uns] = u[uns] / (u[uns] - lw[uns])
        lam = np.where(act, 1.0, 0.0)
        lam[uns & (u > -lw)] = 1.0
        t = np.where(uns, -s * lw, 0.0)
        relax.append((lam, s, t))
        Uf = s[:, None] * Zu
        Uf[:, -1] += t
        Lf = lam[:, None] * Zl
        alo = np.where(act, lw, 0.0)
        ahi = np.where(ina, 0.0, u)
    C = np.asarray(C, dtype=float).reshape(-1, net.output_dim)
    d = np.asarray(d, dtype=float)
    Wg = C @ net.weights[-1]
    bg = C @ net.biases[-1] - d
    Wp, Wn = np.maximum(Wg, 0), np.minimum(Wg, 0)
    best = Wp @ alo + Wn @ ahi + bg
    if sym:
        G = Wp @ Lf + Wn @ Uf
        G[:, -1] += bg
        best = np.maximum(best, conc(G, False))
        best = np.maximum(best, back(Wg, bg.copy(), len(relax)))
    return best


# ----- a tiny proof generator -----------------------------------------------------------------
def gen_tree(net: ReLUNetwork, case: goals.Case, level: str, max_depth: int = 40,
             min_depth: int = 0) -> list:
    """Preorder nodes: split the widest coordinate at its midpoint until an input row excludes
    the box or the reference bound refutes every disjunct by more than TOL."""
    nodes: list = []
    A = np.array([[float(v) for v in r] for r in case.A]).reshape(len(case.A), len(case.lower))
    b = np.array([float(v) for v in case.b])

    def rec(lo, hi, depth):
        if depth >= min_depth:
            for r in range(len(b)):
                if np.minimum(A[r] * lo, A[r] * hi).sum() > b[r] + TOL:
                    nodes.append(["o", r])
                    return
            pairs = []
            for k, q in enumerate(case.disjuncts):
                if not q.C:
                    break
                C, dd = q.float_rows()
                low = ref_bound(net, lo, hi, {}, level, C, dd)
                i = int(np.argmax(low))
                if low[i] <= TOL:
                    break
                pairs.append([k, i])
            else:
                nodes.append(["l", level, pairs])
                return
        assert depth < max_depth, "the generator cannot close this box"
        i = int(np.argmax(hi - lo))
        v = float((lo[i] + hi[i]) / 2)
        assert lo[i] < v < hi[i]
        nodes.append(["x", i, str(Fraction(v))])
        h1 = hi.copy()
        h1[i] = v
        rec(lo, h1, depth + 1)
        l2 = lo.copy()
        l2[i] = v
        rec(l2, hi, depth + 1)

    lo, hi = goals.float_box(case)
    rec(lo.copy(), hi.copy(), 0)
    return nodes


def property_cert(net: ReLUNetwork, goal: goals.Goal, level: str, **kw) -> dict:
    return {"format": "verishallow.proof-tree", "version": 1, "kind": "property",
            "goal_digest": goal.digest(), "networks": [net.fingerprint],
            "trees": [{"case": k, "nodes": gen_tree(net, c, level, **kw)}
                      for k, c in enumerate(goal.cases)],
            "stats": {"made by": "the test generator"}}


def equivalence_cert(a: ReLUNetwork, b: ReLUNetwork, lower, upper, eps: Fraction, top1: bool,
                     level: str, **kw) -> tuple[dict, goals.Goal]:
    goal = goals.equivalence_goal(lower, upper, m=a.output_dim, epsilon=eps, top1=top1)
    prod = product_network(a, b)
    cert = {"format": "verishallow.proof-tree", "version": 1, "kind": "equivalence",
            "goal_digest": goal.digest(), "networks": [a.fingerprint, b.fingerprint],
            "equivalence": {"mode": "top1" if top1 else "epsilon", "epsilon": str(eps),
                            "lower": [str(Fraction(v)) for v in lower],
                            "upper": [str(Fraction(v)) for v in upper]},
            "trees": [{"case": 0, "nodes": gen_tree(prod, goal.cases[0], level, **kw)}]}
    return cert, goal


def vnnlib_text(n: int, m: int, boxes: list, out: str, rows: str = "") -> str:
    lines = [f"(declare-const X_{i} Real)" for i in range(n)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(m)]
    cases = []
    for k, (lo, hi) in enumerate(boxes):
        atoms = " ".join(f"(>= X_{i} {lo[i]}) (<= X_{i} {hi[i]})" for i in range(n))
        if rows and k == len(boxes) - 1:
            atoms += " " + rows
        cases.append(f"(and {atoms})")
    lines.append(f"(assert (or {' '.join(cases)}))")
    lines.append(out)
    return "\n".join(lines) + "\n"


def make_property(net: ReLUNetwork, boxes: list, rows: str = "", seed: int = 0):
    """A property that holds: Y_0 stays above and Y_1 below thresholds a quarter of their
    sampled range beyond the sampled extremes; disjunct 1 has a second row that cannot refute
    it (Y_0 <= 1000)."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.uniform(lo, hi, size=(4000, len(lo))) for lo, hi in boxes])
    Y = net(X)
    r0, r1 = np.ptp(Y[:, 0]), np.ptp(Y[:, 1])
    c0 = np.floor((Y[:, 0].min() - 0.25 * r0) * 1000) / 1000
    c1 = np.ceil((Y[:, 1].max() + 0.25 * r1) * 1000) / 1000
    out = (f"(assert (or (and (<= Y_0 {c0:.3f})) (and (>= Y_1 {c1:.3f}) (<= Y_0 1000.0))))")
    text = vnnlib_text(net.input_dim, net.output_dim, boxes, out, rows)
    return parse_vnnlib_text(text, n_inputs=net.input_dim, n_outputs=net.output_dim), text


# ----- fixtures -------------------------------------------------------------------------------
NET2 = random_net(1, (2, 8, 8, 2))
NET3 = random_net(2, (3, 10, 10, 3))
BOXES2 = [([-0.5, -0.5], [0.0, 0.5]), ([0.0, -0.5], [0.5, 0.5])]
ROWS2 = "(<= (+ X_0 X_1) 0.4)"
BOXES3 = [([-0.25, 0.0, -0.5], [0.25, 0.5, 0.0])]


@pytest.fixture(scope="module")
def prop2():
    prop, text = make_property(NET2, BOXES2, ROWS2)
    goal = goals.property_goal(prop, 2, 2)
    cert = property_cert(NET2, goal, "interval", min_depth=3)
    return prop, text, goal, cert


@pytest.fixture(scope="module")
def prop3():
    prop, text = make_property(NET3, BOXES3, seed=1)
    goal = goals.property_goal(prop, 3, 3)
    cert = property_cert(NET3, goal, "symbolic")
    return prop, text, goal, cert


def fresh(cert: dict) -> dict:
    return copy.deepcopy(cert)


def assert_invalid(res, *fragments: str) -> str:
    assert not res.valid, "tampered certificate accepted"
    msg = res.first_failure
    for f in fragments:
        assert f in msg, (f, msg)
    return msg


# ----- the exact kernel ------------------------------------------------------------------------
def _fr(v) -> list[Fraction]:
    return [Fraction(float(x)) for x in v]


@pytest.mark.parametrize("net", [NET2, NET3, random_net(7, (3, 12, 12, 12, 2))],
                         ids=["2-8-8-2", "3-10-10-3", "3-12x3-2"])
def test_exact_bounds_are_sound_and_match_the_float_reference(net):
    rng = np.random.default_rng(3)
    en = ExactNetwork(net)
    n, m = net.input_dim, net.output_dim
    C = [[Fraction(1)] + [Fraction(0)] * (m - 1),
         [Fraction(1, 3), Fraction(-1)] + [Fraction(0)] * (m - 2),
         [Fraction(-7, 10)] * m]
    d = [Fraction(1, 10), Fraction(0), Fraction(-2, 3)]
    Cf = np.array([[float(v) for v in r] for r in C])
    df = np.array([float(v) for v in d])
    for _ in range(6):
        c = rng.uniform(-1, 1, size=n)
        w = rng.uniform(0.05, 0.6, size=n)
        lo, hi = c - w, c + w
        X = rng.uniform(lo, hi, size=(10000, n))
        sampled = (net(X) @ Cf.T - df).min(axis=0)
        low = {}
        for level in ("interval", "symbolic", "backward"):
            res = leaf_bound(en, _fr(lo), _fr(hi), {}, level, C, d)
            assert not res.empty
            low[level] = res.lower
            ref = ref_bound(net, lo, hi, {}, level, Cf, df)
            for v, r, s in zip(res.lower, ref, sampled, strict=True):
                assert float(v) <= s + 1e-9
                assert abs(float(v) - r) <= 1e-7 * (1 + abs(r)), (level, float(v), r)
        assert all(s >= i for s, i in zip(low["symbolic"], low["interval"], strict=True))
        assert all(s >= i for s, i in zip(low["backward"], low["interval"], strict=True))
        # exactly, at a few points
        for x in X[:3]:
            y = net.exact_forward(_fr(x))
            for i in range(len(C)):
                val = sum((a * b for a, b in zip(C[i], y, strict=True)), Fraction(0)) - d[i]
                assert low["symbolic"][i] <= val
                assert low["backward"][i] <= val


@pytest.mark.parametrize("level", ["interval", "symbolic", "backward"])
def test_float_batch_bounds_match_the_exact_kernel(level):
    """The search's float64 bounds (batched, with fixings) are the exact kernel's numbers up to
    rounding: every layer bound and every row, node by node."""
    from verishallow.proofsearch.bounds import batch_bounds, layers_of

    net = random_net(4, (3, 12, 12, 12, 2))
    en = ExactNetwork(net)
    rng = np.random.default_rng(8)
    C = np.array([[1.0, -1.0], [0.25, 1.0]])
    dg = np.array([0.1, -0.3])
    Cq = [[Fraction(v) for v in r] for r in C]
    dq = [Fraction(v) for v in dg]
    B = 6
    c = rng.uniform(-1, 1, size=(B, 3))
    w = rng.uniform(0.1, 0.8, size=(B, 3))
    lo, hi = c - w, c + w
    fix = np.full((B, net.n_hidden), -1, dtype=np.int8)
    fix[1, 3], fix[2, 15], fix[3, 30] = 1, 0, 1
    bt = batch_bounds(layers_of(net), lo, hi, fix, level, C, dg)
    for i in range(B):
        fx = {int(j): bool(fix[i, j]) for j in np.flatnonzero(fix[i] >= 0)}
        lb = layer_bounds(en, _fr(lo[i]), _fr(hi[i]), fx, level)
        assert lb.empty == bool(bt.empty[i])
        if lb.empty:
            continue
        for k in range(len(lb.l)):
            for f, e in ((bt.lower[k][i], lb.l[k]), (bt.upper[k][i], lb.u[k])):
                assert np.allclose(f, e, rtol=1e-9, atol=1e-9), (k, f, e)
        res = leaf_bound(en, _fr(lo[i]), _fr(hi[i]), fx, level, Cq, dq)
        assert np.allclose(bt.rows_lower[i], [float(v) for v in res.lower], rtol=1e-9,
                           atol=1e-9)


def _reference_back_substitute(enet, relax, top, Lam, eL, c, ec, x):
    """The backward bound in plain Python integers, nothing rounded (the kernel before it held
    its rows as limbs): ``(lower bounds, exponent)``."""
    from verishallow.exact.numbers import add

    for k in range(top - 1, -1, -1):
        lower_slope, s_int, es, t, et = relax[k]
        lay = enet.layers[k]
        P = np.where(Lam > 0, Lam, 0)
        N = Lam - P
        c, ec = add(c, ec, N @ t, eL + et)
        Lz, eLz = add(P * lower_slope[None, :], eL, N * s_int[None, :], eL + es)
        c, ec = add(c, ec, Lz @ lay.b, eLz + lay.eb)
        Lam, eL = Lz @ lay.W, eLz + lay.eW
    xmid, xrad, ex = x
    return add(Lam @ xmid - np.abs(Lam) @ xrad, eL + ex, c, ec)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_limb_back_substitution_rounds_down_by_a_hair(seed):
    """The kernel's backward bound (rows as limbs, rounded down to ROW_BITS bits after every
    layer) against the same back-substitution in unrounded Python integers, on the same
    relaxations: within ~1e-12 of the terms' magnitude (soundness itself is tested against
    sampled and exact points above)."""
    from verishallow.exact.numbers import fraction

    net = random_net(10 + seed, (4, 20, 20, 20, 20, 3), bias=0.3)
    en = ExactNetwork(net)
    rng = np.random.default_rng(seed)
    c0 = rng.uniform(-1, 1, size=4)
    w = rng.uniform(0.05, 0.8, size=4)
    lb = layer_bounds(en, _fr(c0 - w), _fr(c0 + w), {}, "backward")
    assert not lb.empty and lb.back is not None
    out = en.layers[-1]
    # rows with wide integers (a third of 1e9 + 1/7) and plain ones, over the last hidden layer
    C = [[1, 0, 0], [Fraction(10**9, 3), -1, Fraction(1, 7)], [0, 0, -1]]
    from verishallow.exact.leaf_bounds import scaled_rows

    Cq, dq, _ = scaled_rows(C, [0, 0, 0], 3)
    Lam = Cq @ out.W
    cst = Cq @ out.b
    for top, L_, eL, cc, ecc in ((len(en.widths), Lam, out.eW, cst, out.eb),
                                 (2, en.layers[2].W[:5], en.layers[2].eW, en.layers[2].b[:5],
                                  en.layers[2].eb),
                                 (0, en.layers[0].W[:3], en.layers[0].eW, en.layers[0].b[:3],
                                  en.layers[0].eb)):
        got, eg = lb.back.lower_bounds(top, L_, eL, cc, ecc)
        ref, er = _reference_back_substitute(en, lb.relax, top, L_, eL, cc, ecc, lb.x)
        for g_, r_ in zip(got.tolist(), ref.tolist(), strict=True):
            gv, rv = fraction(int(g_), eg), fraction(int(r_), er)
            mag = 1 + abs(float(rv)) + float(np.abs(L_.astype(float)).sum() * 2.0 ** eL) * 10
            assert abs(float(rv - gv)) <= 1e-12 * mag, (top, float(rv), float(gv))


def test_backward_level_tightens_deep_layers():
    """Back-substituted layer bounds: never looser than the forward symbolic ones on the same
    relaxation (layer 1, whose earlier layers are identical), much tighter deep down."""
    net = random_net(6, (3, 16, 16, 16, 16, 2), bias=0.2)
    en = ExactNetwork(net)
    lo, hi = [-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]
    sym = layer_bounds(en, _fr(lo), _fr(hi), {}, "symbolic")
    bwd = layer_bounds(en, _fr(lo), _fr(hi), {}, "backward")
    assert sym.l[0] == bwd.l[0] and sym.u[0] == bwd.u[0]
    assert all(b >= s for b, s in zip(bwd.l[1], sym.l[1], strict=True))
    assert all(b <= s for b, s in zip(bwd.u[1], sym.u[1], strict=True))
    width = [sum(u - v for u, v in zip(lb.u[-1], lb.l[-1], strict=True)) for lb in (sym, bwd)]
    assert width[1] < 0.8 * width[0], width


def test_layer_bounds_contain_every_sampled_preactivation_under_fixings():
    net = NET3
    en = ExactNetwork(net)
    rng = np.random.default_rng(5)
    lo, hi = np.array([-1.0, -0.8, -1.0]), np.array([1.0, 1.0, 0.9])
    X = rng.uniform(lo, hi, size=(20000, 3))
    Z = np.concatenate(net.preactivations(X), axis=1)
    base = layer_bounds(en, _fr(lo), _fr(hi), {}, "symbolic")
    unstable = [j for j in range(10) if base.l[0][j] < 0 < base.u[0][j]]
    unstable += [10 + j for j in range(10) if base.l[1][j] < 0 < base.u[1][j]]
    pos = (Z > 0).mean(axis=0)
    mixed = [j for j in unstable if 0.2 < pos[j] < 0.8]
    first = [j for j in mixed if j < 10]
    second = [j for j in mixed if j >= 10]
    assert len(first) >= 2
    fix = {first[0]: True, first[1]: False}
    if second:
        fix[second[0]] = bool((Z[:, second[0]] > 0).mean() < 0.5)
    ok = np.ones(len(X), dtype=bool)
    for j, act in fix.items():
        ok &= (Z[:, j] >= 0) if act else (Z[:, j] <= 0)
    assert ok.sum() > 100
    for level in ("interval", "symbolic", "backward"):
        lb = layer_bounds(en, _fr(lo), _fr(hi), fix, level)
        assert not lb.empty
        lflat = np.concatenate(lb.l)
        uflat = np.concatenate(lb.u)
        assert np.all(Z[ok] >= lflat - 1e-12) and np.all(Z[ok] <= uflat + 1e-12)
        # every bound is a float64 (rounded outward)
        assert all(isinstance(v, float) for v in lflat.tolist())


def test_empty_node_when_a_fixing_is_contradicted():
    net = NET2
    en = ExactNetwork(net)
    lo, hi = [Fraction(-1, 8)] * 2, [Fraction(1, 8)] * 2
    lb = layer_bounds(en, lo, hi, {}, "interval")
    stable = [(j, lb.l[0][j] > 0) for j in range(8) if lb.l[0][j] > 0 or lb.u[0][j] < 0]
    assert stable
    j, active = stable[0]
    res = leaf_bound(en, lo, hi, {j: not active}, "interval", [[1, 0]], [0])
    assert res.empty and res.empty_neuron == j
    res = leaf_bound(en, lo, hi, {j: active}, "interval", [[1, 0]], [0])
    assert not res.empty


@pytest.mark.parametrize("shape", [(50, 50, 6), (7, 300, 1), (3, 4, 2), (40, 64, 0)])
def test_blas_integer_products_are_exact(shape):
    from verishallow.exact.integer_products import imatmul, limbs

    n, k, m = shape
    rng = np.random.default_rng(n + k + m)

    def rnd(sh, bits):
        a = np.empty(sh, dtype=object)
        a.ravel()[:] = [int(rng.integers(-2**62, 2**62)) * (1 << int(rng.integers(0, bits)))
                        + int(rng.integers(-3, 3)) for _ in range(a.size)]
        return a

    A = rnd((n, k), 45)
    B = rnd((k, m) if m else (k,), 400)
    A.ravel()[:7] = [0, -1, 1, -(1 << 15), 1 << 15, -(1 << 16), (1 << 16) - 1][:A.size]
    B.ravel()[0] = 0
    assert np.array_equal(imatmul(A, B, limbs(A)), A @ B)
    assert np.array_equal(imatmul(A, -B), A @ -B)


def test_limb_rows_are_rounded_down_exactly():
    """floor_rows on int64 limbs: exactly floor(v / 2**drop) per row, below 2**bits, with no
    more than two bits to spare; carry and limb_ints keep every value."""
    from verishallow.exact.integer_products import carry, floor_rows, limb_ints, limbs

    rng = np.random.default_rng(3)
    R, m = 7, 9
    v = np.empty((R, m), dtype=object)
    for r in range(R):
        bits = [0, 5, 46, 47, 80, 200, 400][r]
        v[r, :] = [int(rng.integers(-2**62, 2**62)) >> max(0, 62 - bits) if bits else 0
                   for _ in range(m)]
    v[5, 0], v[6, 0] = -(1 << 300), (1 << 399) - 1
    D = limbs(v).astype(np.int64)
    D = np.concatenate([D, np.zeros((2, R, m), dtype=np.int64)])  # headroom, then re-carry
    D[0] += 3 * 65536  # an uncarried limb: the value plus 3 * 2**16 ...
    D[1] -= 3  # ... minus it again
    carry(D)
    assert np.array_equal(limb_ints(D.reshape(D.shape[0], -1)).reshape(R, m), v)
    for bits in (47, 20):
        M, drop = floor_rows(D, bits)
        for r in range(R):
            d = int(drop[r])
            expect = [x >> d for x in v[r].tolist()]
            assert M[r].astype(np.int64).tolist() == expect
            assert max(abs(x) for x in expect) < 1 << bits
            if d:
                assert max(abs(x) for x in expect) >= 1 << (bits - 3)


def test_no_hidden_layer_and_non_dyadic_rows():
    net = ReLUNetwork([np.array([[0.5, -0.25]])], [np.array([0.1])])
    en = ExactNetwork(net)
    lo, hi = [Fraction(0), Fraction(0)], [Fraction(1), Fraction(1)]
    for level in ("interval", "symbolic", "backward"):
        res = leaf_bound(en, lo, hi, {}, level, [[Fraction(1, 3)]], [Fraction(1, 7)])
        # min of (0.5 x0 - 0.25 x1 + 0.1) / 3 - 1/7 at x = (0, 1)
        expect = (Fraction(-1, 4) + Fraction(0.1)) / 3 - Fraction(1, 7)
        assert res.lower == [expect]


# ----- property proofs ------------------------------------------------------------------------
def test_valid_property_proofs(prop2, prop3):
    for prop, _, _goal, cert in (prop2, prop3):
        net = NET2 if prop.n_inputs == 2 else NET3
        res = check_property_proof(cert, net, prop)
        assert res.valid, res.failures
        assert res.checked["leaves"] >= 2 and res.checked["bound_computations"] >= 1
    # the 2-input one uses the input row of its second case and several splits
    nodes = prop2[3]["trees"][1]["nodes"]
    assert any(nd[0] == "o" for nd in nodes)
    assert prop2[3]["trees"][0]["nodes"][0][0] == "x"


def test_gzip_and_path(prop2, tmp_path):
    prop, _, _, cert = prop2
    p = tmp_path / "proof.json.gz"
    p.write_bytes(gzip.compress(json.dumps(cert).encode()))
    assert check_property_proof(p, NET2, prop).valid
    (tmp_path / "bad.json").write_text(json.dumps({**cert, "format": "something else"}))
    with pytest.raises(CertificateError, match="not a verishallow proof tree"):
        check_property_proof(tmp_path / "bad.json", NET2, prop)
    (tmp_path / "v.json").write_text(json.dumps({**cert, "version": 7}))
    with pytest.raises(CertificateError, match="version"):
        check_property_proof(tmp_path / "v.json", NET2, prop)
    with pytest.raises(CertificateError, match="not found"):
        check_property_proof(tmp_path / "nope.json", NET2, prop)


def _leaf_indices(nodes: list, tag: str = "l") -> list[int]:
    return [i for i, nd in enumerate(nodes) if nd[0] == tag]


def test_tampering_is_caught_and_names_the_leaf(prop2):
    prop, _, goal, cert = prop2
    nodes = cert["trees"][0]["nodes"]
    li = _leaf_indices(nodes)
    t = li[len(li) // 2]

    bad = fresh(cert)  # dropped leaf: the tree no longer parses as the same splits
    del bad["trees"][0]["nodes"][t]
    res = check_property_proof(bad, NET2, prop)
    assert_invalid(res, "case 0")
    assert any("the tree ends early" in f for f in res.failures)

    bad = fresh(cert)  # dropped last leaf
    del bad["trees"][0]["nodes"][-1]
    assert_invalid(check_property_proof(bad, NET2, prop), "case 0: the tree ends early")

    bad = fresh(cert)  # extra node
    bad["trees"][0]["nodes"].append(["l", "interval", [[0, 0], [1, 0]]])
    assert_invalid(check_property_proof(bad, NET2, prop), "case 0", "after the end of the tree")

    bad = fresh(cert)  # split value moved outside its box
    s = _leaf_indices(nodes, "x")[1]
    i = nodes[s][1]
    bad["trees"][0]["nodes"][s][2] = "5"
    assert_invalid(check_property_proof(bad, NET2, prop), f"node {s}",
                   f"split value 5.0 of x{i} is not strictly inside")

    bad = fresh(cert)  # a split value that is not a float64
    bad["trees"][0]["nodes"][0][2] = "-1/3"
    assert_invalid(check_property_proof(bad, NET2, prop), "node 0", "not a float64")

    bad = fresh(cert)  # row index changed to a row that does not refute
    leaf = bad["trees"][0]["nodes"][t]
    leaf[2] = [[k, 1] if k == 1 else [k, i] for k, i in leaf[2]]
    msg = assert_invalid(check_property_proof(bad, NET2, prop), f"case 0, leaf at node {t} (",
                         "row 1 of disjunct 1 has exact lower bound", "not > 0")
    assert "x" in msg.split("(")[1]  # the path of splits is named

    bad = fresh(cert)  # row index that does not exist
    bad["trees"][0]["nodes"][t][2][0][1] = 5
    assert_invalid(check_property_proof(bad, NET2, prop), f"leaf at node {t}",
                   "row 5 of disjunct 0 does not exist")

    bad = fresh(cert)  # a disjunct missing
    bad["trees"][0]["nodes"][t][2] = bad["trees"][0]["nodes"][t][2][:1]
    assert_invalid(check_property_proof(bad, NET2, prop), f"leaf at node {t}",
                   "disjunct 1 is not refuted")

    bad = fresh(cert)  # a disjunct twice
    bad["trees"][0]["nodes"][t][2].append([0, 0])
    assert_invalid(check_property_proof(bad, NET2, prop), f"leaf at node {t}",
                   "disjunct 0 is listed twice")

    bad = fresh(cert)  # a leaf whose bound is negative: close the root at once
    bad["trees"][0]["nodes"] = [["l", "interval", [[0, 0], [1, 0]]]]
    assert_invalid(check_property_proof(bad, NET2, prop), "case 0, leaf at node 0 (root)",
                   "has exact lower bound -")

    bad = fresh(cert)  # input row leaf where the row does not exclude the box
    n1 = bad["trees"][1]["nodes"]
    u = _leaf_indices(n1)[0]
    n1[u] = ["o", 0]
    assert_invalid(check_property_proof(bad, NET2, prop), f"case 1, leaf at node {u} (",
                   "input row 0 does not exclude the box")
    bad = fresh(cert)
    bad["trees"][0]["nodes"][t] = ["o", 0]  # case 0 has no input rows
    assert_invalid(check_property_proof(bad, NET2, prop), f"case 0, leaf at node {t} (",
                   "input row 0 does not exist")

    bad = fresh(cert)  # unknown level
    bad["trees"][0]["nodes"][t][1] = "exact"
    assert_invalid(check_property_proof(bad, NET2, prop), "unknown level")

    bad = fresh(cert)  # trees out of order / missing
    bad["trees"] = bad["trees"][:1]
    assert_invalid(check_property_proof(bad, NET2, prop), "1 trees but the goal has 2 cases")


def test_other_model_and_other_property(prop2):
    prop, text, goal, cert = prop2
    other = random_net(9, (2, 8, 8, 2))
    assert_invalid(check_property_proof(cert, other, prop), "certificate is for another model")
    text2 = text.replace("(<= (+ X_0 X_1) 0.4)", "(<= (+ X_0 X_1) 0.5)")
    prop_b = parse_vnnlib_text(text2, n_inputs=2, n_outputs=2)
    assert_invalid(check_property_proof(cert, NET2, prop_b),
                   "certificate is for another property")


def test_phase_split_leaves(prop2):
    """``["n", j]`` with an empty inactive child (the neuron is stably active there) passes; the
    same split with the children swapped claims a non-empty node empty and fails."""
    prop, _, goal, cert = prop2
    en = ExactNetwork(NET2)
    nodes = cert["trees"][0]["nodes"]
    # find a leaf's box (replay the splits) with a stable first-layer neuron
    lo0, hi0 = goals.float_box(goal.cases[0])
    boxes = {}
    stack = [(list(lo0), list(hi0))]
    for i, nd in enumerate(nodes):
        lo, hi = stack.pop()
        if nd[0] == "x":
            v = float(Fraction(nd[2]))
            h1, l2 = list(hi), list(lo)
            h1[nd[1]] = v
            l2[nd[1]] = v
            stack.append((l2, hi))
            stack.append((lo, h1))
        else:
            boxes[i] = (lo, hi)
    found = None
    for i, (lo, hi) in boxes.items():
        lb = layer_bounds(en, _fr(lo), _fr(hi), {}, "interval")
        for j in range(8):
            if lb.l[0][j] > 0:
                found = (i, j, True)
            elif lb.u[0][j] < 0:
                found = (i, j, False)
            if found:
                break
        if found:
            break
    assert found
    i, j, active = found
    leaf = nodes[i]
    empty = ["e", "interval"]
    # children: first z_j <= 0 (inactive), then z_j >= 0 (active)
    kids = [empty, leaf] if active else [leaf, empty]
    good = fresh(cert)
    good["trees"][0]["nodes"][i:i + 1] = [["n", j], *kids]
    res = check_property_proof(good, NET2, prop)
    assert res.valid, res.failures
    assert res.checked["empty_leaves"] == 1 and res.checked["phase_splits"] == 1
    bad = fresh(cert)
    bad["trees"][0]["nodes"][i:i + 1] = [["n", j], *kids[::-1]]
    e_at = i + 2 if active else i + 1
    msg = assert_invalid(check_property_proof(bad, NET2, prop), f"leaf at node {e_at}",
                         "the node is not empty")
    name = NET2.neuron_name(j)
    assert (f"{name}>=0" if active else f"{name}<=0") in msg
    bad = fresh(cert)  # the same neuron twice on a path
    bad["trees"][0]["nodes"][i:i + 1] = [["n", j], ["n", j], *kids, leaf]
    assert_invalid(check_property_proof(bad, NET2, prop), "already fixed on this path")
    bad = fresh(cert)
    bad["trees"][0]["nodes"][i:i + 1] = [["n", 99], *kids]
    assert_invalid(check_property_proof(bad, NET2, prop), "neuron 99", "does not exist")


def test_workers_give_the_same_verdict(prop3):
    prop, _, goal, _ = prop3
    cert = property_cert(NET3, goal, "interval")  # about 650 leaves
    one = check_proof_tree(cert, NET3, goal, workers=1)
    two = check_proof_tree(cert, NET3, goal, workers=2)
    assert one.valid and two.valid and one.checked == two.checked
    bad = fresh(cert)
    nodes = bad["trees"][0]["nodes"]
    for t in _leaf_indices(nodes)[::3]:
        nodes[t][2] = [[0, 0], [1, 1]]
    one = check_proof_tree(bad, NET3, goal, workers=1)
    two = check_proof_tree(bad, NET3, goal, workers=2)
    assert not one.valid and one.failures == two.failures


def test_leaf_batches_give_the_same_verdict(prop3, monkeypatch):
    # the checker computes up to LEAF_BATCH leaves in lock-step; one at a time must agree
    from verishallow.proofs import tree_checker

    prop, _, goal, _ = prop3
    cert = property_cert(NET3, goal, "backward")
    bad = fresh(cert)
    nodes = bad["trees"][0]["nodes"]
    for t in _leaf_indices(nodes)[1::4]:
        nodes[t][2] = [[0, 0], [1, 1]]
    batched = [check_proof_tree(c, NET3, goal, workers=1) for c in (cert, bad)]
    monkeypatch.setattr(tree_checker, "LEAF_BATCH", 1)
    alone = [check_proof_tree(c, NET3, goal, workers=1) for c in (cert, bad)]
    assert batched[0].valid and alone[0].valid and batched[0].checked == alone[0].checked
    assert not batched[1].valid and batched[1].failures == alone[1].failures


# ----- equivalence proofs ------------------------------------------------------------------------
def _pair(seed: int, sizes, noise: float, bias0: float = 0.0):
    a = random_net(seed, sizes)
    rng = np.random.default_rng(seed + 100)
    bs = [np.array(b) for b in a.biases]
    bs[-1][0] += bias0
    a = ReLUNetwork(a.weights, bs)
    b = ReLUNetwork([w + noise * rng.normal(size=w.shape) for w in a.weights], a.biases)
    return a, b


def test_equivalence_proofs():
    a, b = _pair(5, (2, 8, 2), 1e-3)
    lower, upper = [Fraction(-1, 2)] * 2, [Fraction(1, 2)] * 2
    # epsilon large enough that the interval bound proves it at the root
    prod = product_network(a, b)
    goal0 = goals.equivalence_goal(lower, upper, 2, Fraction(0), False)
    worst = min(float(ref_bound(prod, [-0.5] * 2, [0.5] * 2, {}, "interval", *q.float_rows())[0])
                for q in goal0.cases[0].disjuncts)
    eps = Fraction(int(-worst) + 1)
    cert, goal = equivalence_cert(a, b, lower, upper, eps, False, "interval")
    assert cert["trees"][0]["nodes"][0][0] == "l"
    res = check_equivalence_proof(cert, a, b)
    assert res.valid, res.failures
    assert check_equivalence_proof(cert, a, b, domain=Box([-0.5, -0.5], [0.5, 0.5])).valid
    assert_invalid(check_equivalence_proof(cert, a, b, domain=Box([-0.5, -0.5], [0.5, 0.6])),
                   "box differs")
    assert_invalid(check_equivalence_proof(cert, b, a), "certificate is for another model")
    bad = fresh(cert)
    bad["equivalence"]["epsilon"] = str(eps / 100)
    assert_invalid(check_equivalence_proof(bad, a, b), "another question")
    # a smaller epsilon at level symbolic: the generator splits
    eps2 = Fraction(1, 4)
    cert2, _ = equivalence_cert(a, b, lower, upper, eps2, False, "symbolic", max_depth=24)
    assert len(cert2["trees"][0]["nodes"]) > 1
    res = check_equivalence_proof(cert2, a, b, workers=2)
    assert res.valid, res.failures


def test_top1_equivalence_proof():
    a, b = _pair(6, (2, 6, 3), 1e-3, bias0=20.0)
    lower, upper = [Fraction(-1, 2)] * 2, [Fraction(1, 2)] * 2
    cert, goal = equivalence_cert(a, b, lower, upper, Fraction(0), True, "symbolic")
    assert len(goal.cases[0].disjuncts) == 12
    res = check_equivalence_proof(cert, a, b)
    assert res.valid, res.failures
    bad = fresh(cert)
    bad["equivalence"]["mode"] = "epsilon"
    assert_invalid(check_equivalence_proof(bad, a, b), "another question")


# ----- command line -------------------------------------------------------------------------------
def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def test_cli_property(prop2, tmp_path):
    prop, text, goal, cert = prop2
    (tmp_path / "p.vnnlib").write_text(text)
    save_npz(NET2, tmp_path / "m.npz")
    (tmp_path / "ok.json").write_text(json.dumps(cert))
    code, out, _ = run("check", tmp_path / "ok.json", tmp_path / "m.npz", tmp_path / "p.vnnlib")
    assert code == 0 and out.startswith("valid: property proof"), out
    code, out, _ = run("check", tmp_path / "ok.json", tmp_path / "m.npz", "--vnnlib",
                       tmp_path / "p.vnnlib", "--json")
    assert code == 0 and json.loads(out)["valid"] is True
    bad = fresh(cert)
    bad["trees"][0]["nodes"] = [["l", "interval", [[0, 0], [1, 0]]]]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    code, out, _ = run("check", tmp_path / "bad.json", tmp_path / "m.npz", tmp_path / "p.vnnlib")
    assert code == 1 and out.startswith("invalid: case 0, leaf at node 0 (root)"), out
    assert len(out.strip().splitlines()) == 1
    code, _, err = run("check", tmp_path / "ok.json", tmp_path / "m.npz")
    assert code == 2 and "give the model and the property" in err
    (tmp_path / "v.json").write_text(json.dumps({**cert, "version": 3}))
    code, _, err = run("check", tmp_path / "v.json", tmp_path / "m.npz", tmp_path / "p.vnnlib")
    assert code == 2 and "version" in err
    code, _, _ = run("check", tmp_path / "missing.json", tmp_path / "m.npz",
                     tmp_path / "p.vnnlib")
    assert code == 2


def test_cli_equivalence(tmp_path):
    a, b = _pair(5, (2, 8, 2), 1e-3)
    lower, upper = [Fraction(-1, 2)] * 2, [Fraction(1, 2)] * 2
    cert, _ = equivalence_cert(a, b, lower, upper, Fraction(50), False, "interval")
    save_npz(a, tmp_path / "a.npz")
    save_npz(b, tmp_path / "b.npz")
    (tmp_path / "e.json").write_text(json.dumps(cert))
    code, out, _ = run("check", tmp_path / "e.json", tmp_path / "a.npz", tmp_path / "b.npz")
    assert code == 0 and out.startswith("valid: equivalence proof"), out
    code, out, _ = run("check", tmp_path / "e.json", tmp_path / "a.npz", tmp_path / "b.npz",
                       "--", "-0.5:0.5,-0.5:0.5")
    assert code == 0, out
    code, out, _ = run("check", tmp_path / "e.json", tmp_path / "a.npz", tmp_path / "b.npz",
                       "--", "-0.5:0.5,-0.5:0.25")
    assert code == 1 and "box differs" in out
    code, out, _ = run("check", tmp_path / "e.json", tmp_path / "b.npz", tmp_path / "a.npz")
    assert code == 1 and "another model" in out
    code, _, err = run("check", tmp_path / "e.json", tmp_path / "a.npz")
    assert code == 2 and "give both models" in err


# ----- trusted base ---------------------------------------------------------------------------
def test_tree_checker_imports_no_solver():
    mods = [*SOLVER_MODULES, "scipy.optimize", "verishallow.proofsearch"]
    assert loaded_after("import verishallow.proofs.tree_checker\nimport verishallow.exact",
                        mods) == []


def test_check_command_on_a_proof_tree_imports_no_solver(prop2, tmp_path):
    prop, text, goal, cert = prop2
    (tmp_path / "p.vnnlib").write_text(text)
    save_npz(NET2, tmp_path / "m.npz")
    (tmp_path / "ok.json").write_text(json.dumps(cert))
    args = [str(tmp_path / f) for f in ("ok.json", "m.npz", "p.vnnlib")]
    code = ("from click.testing import CliRunner\nfrom verishallow.cli import main\n"
            f"r = CliRunner().invoke(main, ['check', *{args!r}])\n"
            "assert r.exit_code == 0, r.output")
    mods = [*SOLVER_MODULES, "scipy.optimize", "verishallow.proofsearch"]
    assert loaded_after(code, mods) == []


# ----- real models ----------------------------------------------------------------------------
def test_acas_leaf_matches_the_float_reference():
    from verishallow.io import load
    from verishallow.vnnlib import parse_vnnlib

    root = shared_file("benchmarks", "vnncomp2021", "acasxu")
    net = load(root / "ACASXU_run2a_1_1_batch_2000.onnx")
    prop = parse_vnnlib(root / "prop_1.vnnlib", n_inputs=5, n_outputs=5)
    goal = goals.property_goal(prop, 5, 5)
    lo, hi = goals.float_box(goal.cases[0])
    hi = lo + (hi - lo) / 64
    q = goal.cases[0].disjuncts[0]
    res = leaf_bound(ExactNetwork(net), _fr(lo), _fr(hi), {}, "symbolic", q.C, q.d)
    ref = ref_bound(net, lo, hi, {}, "symbolic", *q.float_rows())
    assert abs(float(res.lower[0]) - ref[0]) <= 1e-7 * (1 + abs(ref[0]))
    assert res.lower[0] > 0  # prop 1 holds on this sub-box, at the root of a tree
