"""The proof search (``verishallow.proofsearch``) against independent computations.

Verdicts are compared with the region path (``verify_property(method="regions")``) on small
seeded nets with VNN-LIB properties written as text; counterexamples are replayed here in exact
rational arithmetic (``net.exact_forward`` and the property's exact rows, not the search's own
replay); every proof is re-derived by the exact tree checker, and tampered proofs are rejected.
Equivalence is tested on a net against its float16-rounded copy (same architecture: the
differential level) and against another architecture (product padding); serial and parallel
searches must build the same tree.
"""

from __future__ import annotations

import copy
import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file

from verishallow.cli import main
from verishallow.domain import Box
from verishallow.io import load, save_npz
from verishallow.network import ReLUNetwork
from verishallow.product import product_network
from verishallow.proofs.goals import equivalence_goal, property_goal
from verishallow.proofs.tree_checker import check_equivalence_proof, check_property_proof
from verishallow.proofsearch.bab import search
from verishallow.proofsearch.bounds import diff_spec
from verishallow.proofsearch.decide import prove_equivalence
from verishallow.verify import verify_property
from verishallow.vnnlib import parse_vnnlib, parse_vnnlib_text


def random_net(seed: int, sizes: tuple[int, ...]) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    return ReLUNetwork([rng.normal(size=(o, i)) / np.sqrt(i) for i, o in pairs],
                       [rng.normal(size=o) * 0.5 for o in sizes[1:]])


def f16(net: ReLUNetwork) -> ReLUNetwork:
    """The same architecture with every weight and bias rounded to float16."""
    return ReLUNetwork([w.astype(np.float16).astype(np.float64) for w in net.weights],
                       [b.astype(np.float16).astype(np.float64) for b in net.biases])


def vnnlib_text(lower, upper, disjuncts) -> str:
    """Box ``lower <= x <= upper`` and ``OR_k AND_r (c_r . y <= d_r)``."""
    m = len(disjuncts[0][0][0])
    lines = [f"(declare-const X_{i} Real)" for i in range(len(lower))]
    lines += [f"(declare-const Y_{j} Real)" for j in range(m)]
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=False)):
        lines += [f"(assert (>= X_{i} {float(lo)!r}))", f"(assert (<= X_{i} {float(hi)!r}))"]

    def lin(c):
        return "(+ " + " ".join(f"(* {float(v)!r} Y_{j})" for j, v in enumerate(c) if v) + ")"

    ands = ["(and " + " ".join(f"(<= {lin(c)} {float(d)!r})" for c, d in rows) + ")"
            for rows in disjuncts]
    lines.append(f"(assert (or {' '.join(ands)}))")
    return "\n".join(lines) + "\n"


def random_property(net: ReLUNetwork, seed: int, want: str, margin: float = 0.03):
    """A random box and output disjuncts whose thresholds come from sampled output ranges:
    ``want="sat"`` puts them inside the sampled range, ``"unsat"`` ``margin`` (a fraction of
    the range) beyond it, which may still be violated somewhere the samples missed."""
    rng = np.random.default_rng(seed)
    n, m = net.input_dim, net.output_dim
    centre = rng.uniform(-1, 1, n)
    radius = rng.uniform(0.1, 0.6, n)
    lower, upper = np.round(centre - radius, 3), np.round(centre + radius, 3)
    X = lower + (upper - lower) * rng.random((4000, n))
    Y = net.forward(X)
    disjuncts = []
    for _ in range(int(rng.integers(1, 3))):
        rows = []
        for _ in range(int(rng.integers(1, 3))):
            c = np.zeros(m)
            c[rng.choice(m, size=min(m, int(rng.integers(1, 3))), replace=False)] = \
                rng.choice([-1.0, 1.0, 0.5])
            v = Y @ c
            span = float(v.max() - v.min()) + 1e-3
            # c . y <= d: sat needs d above the sampled min, unsat below the min by a margin
            d = v.min() + 0.3 * span if want == "sat" else v.min() - margin * span
            rows.append((c, round(float(d), 4)))
        disjuncts.append(rows)
    return parse_vnnlib_text(vnnlib_text(lower, upper, disjuncts), f"r{seed}.vnnlib")


def exact_violation(prop, x: np.ndarray, yq: list[Fraction]) -> bool:
    """Is ``x`` in some input case exactly, with ``yq`` in one of the case's disjuncts?"""
    xq = [Fraction(float(v)) for v in x]
    for region, outs in prop.cases:
        if any(lo is not None and v < lo for v, lo in zip(xq, region.lower_exact, strict=False)):
            continue
        if any(hi is not None and v > hi for v, hi in zip(xq, region.upper_exact, strict=False)):
            continue
        if any(sum((a * v for a, v in zip(r, xq, strict=False)), Fraction(0)) > b
               for r, b in zip(region.A_exact, region.b_exact, strict=False)):
            continue
        for c in outs:
            if all(sum((Fraction(a) * t for a, t in zip(r, yq, strict=False)), Fraction(0)) <= d
                   for r, d in zip(c.C_exact, c.d_exact, strict=False)):
                return True
    return False


def assert_genuine(net: ReLUNetwork, prop, cex) -> None:
    x, y = cex
    assert np.array_equal(net.forward(x), y)
    assert exact_violation(prop, x, net.exact_forward(x))


NETS = [(2, 8, 8, 2), (3, 10, 10, 3), (2, 6, 1), (4, 6, 6, 2)]
CASES = [(sizes, seed, want) for sizes in NETS for seed in range(3) for want in ("sat", "unsat")]


@pytest.mark.parametrize("sizes,seed,want", CASES)
def test_search_agrees_with_regions(sizes, seed, want):
    net = random_net(100 * len(sizes) + seed, sizes)
    prop = random_property(net, seed + 17 * sum(sizes), want)
    s = verify_property(net, prop, method="search", certificate=True, time_limit=20)
    r = verify_property(net, prop, method="regions", time_limit=20)
    assert s.status != "unknown", s.reason
    if r.status != "unknown":
        assert s.status == r.status, (s.status, r.status, r.reason)
    if s.status == "sat":
        assert_genuine(net, prop, s.counterexample)
        assert s.certificate is None
    else:
        assert s.certificate is not None
        chk = check_property_proof(s.certificate, net, prop)
        assert chk.valid, chk.failures
    if r.status == "sat":
        assert_genuine(net, prop, r.counterexample)


def test_both_answers_are_covered():
    """The generator really gives both verdicts (so the agreement test is not one-sided)."""
    got = set()
    for sizes, seed, want in CASES:
        if sizes != (2, 8, 8, 2):
            continue
        net = random_net(100 * len(sizes) + seed, sizes)
        prop = random_property(net, seed + 17 * sum(sizes), want)
        got.add(verify_property(net, prop, method="search").status)
    assert got == {"sat", "unsat"}


# ----- certificates and tampering ---------------------------------------------------------------
@pytest.fixture(scope="module")
def proved():
    """A property proof with at least one input split."""
    for seed in range(20):
        net = random_net(seed, (2, 8, 8, 2))
        prop = random_property(net, seed, "unsat")
        res = verify_property(net, prop, method="search", certificate=True)
        if res.status == "unsat" and any(len(t["nodes"]) > 3 for t in res.certificate["trees"]):
            return net, prop, res.certificate
    pytest.fail("no proof with splits among the seeds")


def _first(nodes: list, tag: str) -> int:
    return next(i for i, nd in enumerate(nodes) if nd[0] == tag)


def test_certificate_valid_and_tampering_is_caught(proved):
    net, prop, cert = proved
    assert check_property_proof(cert, net, prop).valid
    tree = next(t for t in cert["trees"] if len(t["nodes"]) > 3)
    k = cert["trees"].index(tree)

    bad = copy.deepcopy(cert)
    del bad["trees"][k]["nodes"][-1]  # drop a leaf
    assert not check_property_proof(bad, net, prop).valid

    bad = copy.deepcopy(cert)
    bad["trees"][k]["nodes"].append(copy.deepcopy(tree["nodes"][-1]))  # a leaf too many
    assert not check_property_proof(bad, net, prop).valid

    region = prop.cases[k][0]
    i = _first(tree["nodes"], "x")
    coord = tree["nodes"][i][1]
    for v in (region.upper_exact[coord] + 1, region.lower_exact[coord] - 1):
        bad = copy.deepcopy(cert)
        bad["trees"][k]["nodes"][i][2] = str(v)  # split outside its box
        res = check_property_proof(bad, net, prop)
        assert not res.valid and res.failures

    bad = copy.deepcopy(cert)
    j = _first(tree["nodes"], "l")
    bad["trees"][k]["nodes"][j][2] = []  # a leaf that refutes nothing
    assert not check_property_proof(bad, net, prop).valid

    other = ReLUNetwork([w.copy() for w in net.weights],
                        [b + (1e-9 if i == 0 else 0) for i, b in enumerate(net.biases)])
    res = check_property_proof(cert, other, prop)
    assert not res.valid and "model" in res.failures[0]

    other_prop = random_property(net, 999, "unsat")
    res = check_property_proof(cert, net, other_prop)
    assert not res.valid


def test_property_leaves_use_back_substituted_layer_bounds():
    """On a deeper net the search closes leaves at level backward; the checker re-derives them,
    and the same leaves relabelled ``"symbolic"`` (forward layer bounds only) fail, named."""
    weaker = 0
    for seed in range(4):
        net = random_net(seed, (3, 16, 16, 16, 16, 2))
        prop = random_property(net, seed, "unsat", margin=0.01)
        res = verify_property(net, prop, method="search", certificate=True, time_limit=30)
        if res.status != "unsat":
            continue
        cert = res.certificate
        assert leaf_levels(cert) <= {"interval", "backward"}
        assert check_property_proof(cert, net, prop).valid
        if "backward" not in leaf_levels(cert):
            continue
        bad = copy.deepcopy(cert)
        for t in bad["trees"]:
            for nd in t["nodes"]:
                if nd[0] in ("l", "e") and nd[1] == "backward":
                    nd[1] = "symbolic"
        chk = check_property_proof(bad, net, prop)
        if not chk.valid:
            weaker += 1
            assert "leaf" in chk.failures[0] and "exact lower bound" in chk.failures[0]
    assert weaker >= 1


def test_a_sum_of_rows_refutes_a_disjunct_no_single_row_does():
    """``y0 - y1 <= 0`` and ``y1 - y0 <= -0.1`` cannot both hold, but each does somewhere in
    the box: the proof is one leaf refuting the disjunct by the sum of its two rows, which the
    checker re-derives; the same leaf naming either row alone fails, named."""
    net = random_net(3, (2, 8, 8, 2))
    lower, upper = [-1.0, -1.0], [1.0, 1.0]
    X = np.random.default_rng(0).uniform(-1, 1, size=(4000, 2))
    Y = net.forward(X)
    assert (Y[:, 0] < Y[:, 1]).any() and (Y[:, 0] > Y[:, 1] + 0.1).any()
    prop = parse_vnnlib_text(vnnlib_text(lower, upper, [[(np.array([1.0, -1.0]), 0.0),
                                                          (np.array([-1.0, 1.0]), -0.1)]]),
                             "sum.vnnlib")
    res = verify_property(net, prop, method="search", certificate=True)
    assert res.status == "unsat", res.reason
    nodes = res.certificate["trees"][0]["nodes"]
    assert nodes[0][0] == "l" and nodes[0][2] == [[0, [0, 1]]], nodes[:3]
    assert check_property_proof(res.certificate, net, prop).valid
    for bad_rows in (0, 1):
        bad = copy.deepcopy(res.certificate)
        bad["trees"][0]["nodes"][0][2] = [[0, bad_rows]]
        chk = check_property_proof(bad, net, prop)
        assert not chk.valid and f"row {bad_rows} of disjunct 0" in chk.failures[0]
    for malformed in ([1, 0], [0, 0], [0], [0, 2], [0, True]):
        bad = copy.deepcopy(res.certificate)
        bad["trees"][0]["nodes"][0][2] = [[0, malformed]]
        chk = check_property_proof(bad, net, prop)
        assert not chk.valid and "leaf" in chk.failures[0], malformed


def test_split_value_changed_inside_the_box_is_rechecked():
    """A proof whose root split is moved somewhere else strictly inside the box: the checker
    re-derives the leaves over the new boxes, so a too-coarse leaf must fail."""
    net = random_net(3, (2, 8, 8, 2))
    # a property that needs many splits: threshold just below the true minimum of y0 - y1
    lower, upper = [-1.0, -1.0], [1.0, 1.0]
    X = np.random.default_rng(0).uniform(-1, 1, (20000, 2))
    v = net.forward(X) @ np.array([1.0, -1.0])
    d = float(v.min()) - 0.02
    prop = parse_vnnlib_text(vnnlib_text(lower, upper, [[(np.array([1.0, -1.0]), d)]]), "t")
    res = verify_property(net, prop, method="search", certificate=True)
    assert res.status == "unsat"
    cert = res.certificate
    nodes = cert["trees"][0]["nodes"]
    assert nodes[0][0] == "x" and len(nodes) > 7
    moved = 0
    for frac in (0.001, 0.999):
        bad = copy.deepcopy(cert)
        bad["trees"][0]["nodes"][0][2] = str(Fraction(-1 + 2 * frac))
        if not check_property_proof(bad, net, prop).valid:
            moved += 1
    assert moved >= 1


# ----- equivalence --------------------------------------------------------------------------
BOX = Box([-1.0, -1.0], [1.0, 1.0])


def max_diff_sampled(a: ReLUNetwork, b: ReLUNetwork, dom: Box, n: int = 20000) -> float:
    X = dom.lower + (dom.upper - dom.lower) * np.random.default_rng(1).random((n, dom.dim))
    return float(np.abs(a.forward(X) - b.forward(X)).max())


def exact_diff(a: ReLUNetwork, b: ReLUNetwork, x) -> Fraction:
    return max(abs(p - q) for p, q in zip(a.exact_forward(x), b.exact_forward(x), strict=False))


def leaf_levels(cert: dict) -> set[str]:
    return {nd[1] for t in cert["trees"] for nd in t["nodes"] if nd[0] in ("l", "e")}


def assert_inside(x, dom: Box) -> None:
    xq = [Fraction(float(v)) for v in x]
    assert all(Fraction(float(lo)) <= v <= Fraction(float(hi))
               for v, lo, hi in zip(xq, dom.lower, dom.upper, strict=False))


@pytest.mark.parametrize("sizes", [(2, 8, 8, 2), (3, 10, 10, 3)])
def test_float16_copy_holds_at_large_epsilon_with_differential_leaves(sizes):
    a = random_net(7, sizes)
    b = f16(a)
    dom = Box([-1.0] * sizes[0], [1.0] * sizes[0])
    D = max_diff_sampled(a, b, dom)
    assert 0 < D < 0.05
    dec = prove_equivalence(a, b, dom, epsilon=4 * D, certificate=True)
    assert dec.status == "holds", dec.reason
    assert "differential" in leaf_levels(dec.certificate)
    chk = check_equivalence_proof(dec.certificate, a, b, domain=dom)
    assert chk.valid, chk.failures
    # the same certificate is not a proof for the swapped pair or another epsilon's goal
    assert not check_equivalence_proof(dec.certificate, b, a).valid
    bad = copy.deepcopy(dec.certificate)
    bad["equivalence"]["epsilon"] = str(Fraction(D / 100))
    assert not check_equivalence_proof(bad, a, b).valid
    # without the differential level (only on 2 inputs: on 3 the symbolic level alone needs
    # minutes) the search still decides, with no differential leaf
    if sizes[0] > 2:
        return
    dec2 = prove_equivalence(a, b, dom, epsilon=10 * D, certificate=True, differential=False,
                             time_limit=20)
    assert dec2.status == "holds", dec2.reason
    assert "differential" not in leaf_levels(dec2.certificate)
    assert check_equivalence_proof(dec2.certificate, a, b, domain=dom).valid


@pytest.mark.parametrize("frac", [0.0, 0.1])
def test_float16_copy_violated_at_small_epsilon(frac):
    a = random_net(7, (2, 8, 8, 2))
    b = f16(a)
    eps = frac * max_diff_sampled(a, b, BOX)
    dec = prove_equivalence(a, b, BOX, epsilon=eps, certificate=True)
    assert dec.status == "violated" and dec.certificate is None
    x, y = dec.counterexample
    assert_inside(x, BOX)
    assert np.array_equal(y, product_network(a, b).forward(x))
    assert exact_diff(a, b, x) > Fraction(eps)


def test_constant_output_shift_top1_vs_epsilon():
    """B = A + c on every output (exactly: dyadic biases): the difference is exactly c
    everywhere and the argmax never changes, an independent ground truth for both modes."""
    a = random_net(11, (2, 8, 8, 3))
    a = ReLUNetwork(a.weights, [*a.biases[:-1], np.round(a.biases[-1] * 2**20) / 2**20])
    c = 0.25
    b = ReLUNetwork([w.copy() for w in a.weights], [*a.biases[:-1], a.biases[-1] + c])
    assert all(Fraction(float(v)) + Fraction(c) == Fraction(float(w))
               for v, w in zip(a.biases[-1], b.biases[-1], strict=False))
    # margin 0: both networks share their decision boundary, which no leaf bound can close
    # (its rows straddle 0 on every box meeting it); the search must not claim a violation
    dec = prove_equivalence(a, b, BOX, epsilon=0.0, top1=True, time_limit=1.0)
    assert dec.status in ("holds", "unknown")
    dec = prove_equivalence(a, b, BOX, epsilon=0.03, top1=True, certificate=True,
                            time_limit=20)
    assert dec.status == "holds", dec.reason
    assert dec.certificate["equivalence"]["mode"] == "top1"
    assert check_equivalence_proof(dec.certificate, a, b, domain=BOX).valid
    dec = prove_equivalence(a, b, BOX, epsilon=0.5, certificate=True)
    assert dec.status == "holds"
    assert check_equivalence_proof(dec.certificate, a, b, domain=BOX).valid
    dec = prove_equivalence(a, b, BOX, epsilon=0.2)
    assert dec.status == "violated"
    assert exact_diff(a, b, dec.counterexample[0]) == Fraction(c)


def _top1_disagree_exact(pa: list[Fraction], pb: list[Fraction], eps: Fraction) -> bool:
    for p, q in ((pa, pb), (pb, pa)):
        m = len(p)
        for i in range(m):
            if all(p[j] - p[i] < -eps for j in range(m) if j != i) and \
                    any(q[i] - q[k] < -eps for k in range(m) if k != i):
                return True
    return False


@pytest.mark.parametrize("seed", [11, 12])
def test_top1_classifier_vs_perturbed_copy(seed):
    a = random_net(seed, (2, 8, 8, 3))
    rng = np.random.default_rng(seed)
    b = ReLUNetwork([w + 0.05 * rng.normal(size=w.shape) for w in a.weights],
                    [v + 0.05 * rng.normal(size=v.shape) for v in a.biases])
    X = rng.uniform(-1, 1, (20000, 2))
    sampled = bool(np.any(a.forward(X).argmax(1) != b.forward(X).argmax(1)))
    dec = prove_equivalence(a, b, BOX, epsilon=0.0, top1=True, certificate=True,
                            time_limit=20)
    assert dec.status != "unknown", dec.reason
    if dec.status == "violated":
        x = dec.counterexample[0]
        assert_inside(x, BOX)
        assert _top1_disagree_exact(a.exact_forward(x), b.exact_forward(x), Fraction(0))
    else:
        assert not sampled
        assert check_equivalence_proof(dec.certificate, a, b, domain=BOX).valid
    # a huge margin can never be exceeded
    dec = prove_equivalence(a, b, BOX, epsilon=1e3, top1=True, certificate=True)
    assert dec.status == "holds"
    assert check_equivalence_proof(dec.certificate, a, b, domain=BOX).valid


def test_different_architectures_use_product_padding():
    a = random_net(21, (2, 8, 2))
    b = random_net(22, (2, 6, 6, 2))
    assert diff_spec(a, b) is None
    D = max_diff_sampled(a, b, BOX)
    dec = prove_equivalence(a, b, BOX, epsilon=1.5 * D + 0.1, certificate=True)
    assert dec.status == "holds", dec.reason
    assert "differential" not in leaf_levels(dec.certificate)
    assert check_equivalence_proof(dec.certificate, a, b, domain=BOX).valid
    dec = prove_equivalence(a, b, BOX, epsilon=0.5 * D)
    assert dec.status == "violated"
    assert exact_diff(a, b, dec.counterexample[0]) > Fraction(0.5 * D)
    # a differential leaf pasted into this (padded) proof is refused
    bad = copy.deepcopy(prove_equivalence(a, b, BOX, epsilon=1.5 * D + 0.1,
                                          certificate=True).certificate)
    for nd in bad["trees"][0]["nodes"]:
        if nd[0] == "l":
            nd[1] = "differential"
            break
    assert not check_equivalence_proof(bad, a, b).valid


# ----- serial vs parallel ---------------------------------------------------------------------
def _goal_of(net, prop):
    return property_goal(prop, net.input_dim, net.output_dim)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 2 nodes, so that these small searches really go through the worker pool."""
    from verishallow.proofsearch import bab

    monkeypatch.setattr(bab, "CHUNK", 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_workers_build_the_same_tree(seed, small_chunks):
    net = random_net(seed, (3, 10, 10, 3))
    for want in ("unsat", "sat"):
        prop = random_property(net, 50 + seed, want)
        goal = _goal_of(net, prop)
        r1 = search(net, goal, workers=1, record=True)
        r2 = search(net, goal, workers=2, record=True)
        assert r1.status == r2.status
        assert r1.trees == r2.trees
        if r1.counterexample is not None:
            assert r1.counterexample[:2] == r2.counterexample[:2]
            assert np.array_equal(r1.counterexample[2], r2.counterexample[2])


@pytest.mark.parametrize("n,differential", [(3, True), (2, False)])
def test_workers_same_tree_equivalence(n, differential, small_chunks):
    a = random_net(7, (n, 10, 10, 3) if n == 3 else (n, 8, 8, 2))
    b = f16(a)
    dom = Box([-1.0] * n, [1.0] * n)
    eps = Fraction(10 * max_diff_sampled(a, b, dom))
    goal = equivalence_goal([Fraction(-1)] * n, [Fraction(1)] * n, a.output_dim, eps, False)
    prod = product_network(a, b)
    diff = diff_spec(a, b) if differential else None
    r1 = search(prod, goal, workers=1, record=True, diff=diff)
    r2 = search(prod, goal, workers=2, record=True, diff=diff)
    assert r1.status == r2.status == "holds"
    assert r1.trees == r2.trees


def test_dask_cluster_builds_the_same_tree(small_chunks, tmp_path):
    """Chunks bounded on a Dask cluster: the serial tree and answer, for a property (sat and
    unsat), for a differential equivalence, and from the command line by address."""
    distributed = pytest.importorskip("distributed")
    net = random_net(0, (3, 10, 10, 3))
    a = random_net(7, (3, 10, 10, 3))
    b = f16(a)
    dom = Box([-1.0] * 3, [1.0] * 3)
    eps = Fraction(10 * max_diff_sampled(a, b, dom))
    eq_goal = equivalence_goal([Fraction(-1)] * 3, [Fraction(1)] * 3, a.output_dim, eps, False)
    prod, diff = product_network(a, b), diff_spec(a, b)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        for want in ("unsat", "sat"):
            goal = _goal_of(net, random_property(net, 50, want))
            r1 = search(net, goal, workers=1, record=True)
            r2 = search(net, goal, record=True, scheduler=client)
            assert r1.status == r2.status and r1.trees == r2.trees
        r1 = search(prod, eq_goal, record=True, diff=diff)
        r2 = search(prod, eq_goal, record=True, diff=diff, scheduler=client)
        assert r1.status == r2.status == "holds" and r1.trees == r2.trees
        # the CLI connects by address and closes only its own client
        pa, pb = tmp_path / "a.npz", tmp_path / "b.npz"
        save_npz(a, pa)
        save_npz(b, pb)
        out = CliRunner().invoke(main, ["equiv", str(pa), str(pb), "--lower", "-1,-1,-1",
                                        "--upper", "1,1,1", "--epsilon", str(float(eps)),
                                        "--method", "search", "--scheduler",
                                        cluster.scheduler_address, "--json", "-q"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["equivalent"] is True
        assert client.status == "running"


def test_unreachable_scheduler_is_one_line_exit_2(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from verishallow import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)  # the message, not the wait
    net = random_net(0, (3, 10, 10, 3))
    path = tmp_path / "n.npz"
    save_npz(net, path)
    out = CliRunner().invoke(main, ["equiv", str(path), str(path), "--lower", "-1,-1,-1",
                                    "--upper", "1,1,1", "--epsilon", "0.1", "--method",
                                    "search", "--scheduler", "tcp://127.0.0.1:9", "-q"])
    assert out.exit_code == 2, out.output
    assert "cannot reach Dask scheduler" in out.output and "Traceback" not in out.output


# ----- shared benchmarks ------------------------------------------------------------------------
def _acas(net_name: str, prop_name: str):
    d = ("benchmarks", "vnncomp2021", "acasxu")
    net = load(shared_file(*d, f"ACASXU_run2a_{net_name}_batch_2000.onnx"))
    prop = parse_vnnlib(shared_file(*d, f"{prop_name}.vnnlib"), n_inputs=5, n_outputs=5)
    return net, prop


@pytest.mark.slow
def test_acas_1_1_prop_4_holds_with_a_valid_certificate():
    net, prop = _acas("1_1", "prop_4")
    res = verify_property(net, prop, method="search", certificate=True, time_limit=60)
    assert res.status == "unsat", res.reason
    chk = check_property_proof(res.certificate, net, prop, workers=2)
    assert chk.valid, chk.failures


def test_acas_1_7_prop_3_is_sat():
    net, prop = _acas("1_7", "prop_3")
    res = verify_property(net, prop, method="search", time_limit=30)
    assert res.status == "sat"
    assert_genuine(net, prop, res.counterexample)
