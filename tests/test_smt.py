"""z3 double-checks (``verishallow.solvers.smt``) against independent facts.

Region (non-)emptiness is compared with a brute force over all 2^N patterns decided by scipy's
``linprog`` (a Chebyshev ball LP independent of the package's HiGHS kernel), affine models with
models computed here in ``Fraction`` arithmetic, coverage with patterns known to be missing.
"""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog

from verishallow.domain import Box, Whole
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions
from verishallow.solvers import smt

BOX = Box([-1.0, -1.0], [1.0, 1.0])


def random_net(seed=0, sizes=(2, 3, 3, 1)) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)],
                       [rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)])


def bits_str(p) -> str:
    return "".join("1" if b else "0" for b in p)


def pattern_maps(net: ReLUNetwork, pattern):
    """Float pre-activation maps ``z = A x + d`` of every neuron under ``pattern``, and the
    output map, computed directly from the weights."""
    A, d = np.eye(net.input_dim), np.zeros(net.input_dim)
    rows, consts, k = [], [], 0
    for li, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        A, d = W @ A, W @ d + b
        if li == len(net.weights) - 1:
            return np.array(rows), np.array(consts), A, d
        rows.append(A)
        consts.append(d)
        s = np.asarray(pattern[k:k + W.shape[0]], dtype=float)
        k += W.shape[0]
        A, d = s[:, None] * A, s * d
    raise AssertionError


def chebyshev_radius(net: ReLUNetwork, pattern, lower, upper) -> float:
    """Radius of the largest ball in the pattern's region inside the box (scipy linprog)."""
    As, ds, _, _ = pattern_maps(net, pattern)
    A = np.vstack(As)
    d = np.concatenate(ds)
    sigma = np.where(np.asarray(pattern, dtype=bool), -1.0, 1.0)
    H = np.vstack([sigma[:, None] * A, np.eye(2), -np.eye(2)])
    c = np.concatenate([-sigma * d, upper, -np.asarray(lower)])
    norms = np.linalg.norm(H, axis=1)
    res = linprog([0.0, 0.0, -1.0], A_ub=np.column_stack([H, norms]), b_ub=c,
                  bounds=[(None, None), (None, None), (0, 10)], method="highs")
    return -res.fun if res.status == 0 else -1.0


# ----- exact witnesses ---------------------------------------------------------------------
def test_check_witness_on_region_points():
    net = random_net(1, (2, 6, 6, 1))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    for r in part.regions[:8]:
        assert smt.check_witness(net, r.pattern, r.center)
        assert smt.check_witness(net, r.pattern, r.center, BOX)
        other = part.regions[(r.id + 1) % len(part)]
        assert not smt.check_witness(net, r.pattern, other.center)
    # agrees with the float network at random points (away from boundaries by construction)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(50, 2))
    P = net.pattern(X)
    for x, p in zip(X, P, strict=True):
        assert smt.check_witness(net, p, x)
        q = p.copy()
        q[0] = not q[0]
        assert not smt.check_witness(net, q, x)
    # outside the domain, or a wrong length
    r = part.regions[0]
    assert not smt.check_witness(net, r.pattern, [5.0, 0.0], BOX)
    assert not smt.check_witness(net, r.pattern, [0.0])


def test_check_witness_identically_zero_neuron():
    """A neuron with zero weights and bias is 0 everywhere: inactive, and only inactive."""
    W1 = np.array([[1.0, 0.0], [0.0, 0.0]])
    net = ReLUNetwork([W1, np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    assert smt.check_witness(net, [True, False], [0.5, 0.1])
    assert not smt.check_witness(net, [True, True], [0.5, 0.1])
    # a neuron that is zero at the point but not identically zero
    net2 = ReLUNetwork([np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones((1, 2))],
                       [np.zeros(2), np.zeros(1)])
    assert not smt.check_witness(net2, [True, False], [0.5, 0.0])


# ----- emptiness against a brute force -----------------------------------------------------
def test_region_emptiness_brute_force():
    net = random_net(2, (2, 3, 3, 1))
    lower, upper = np.array([-2.0, -2.0]), np.array([2.0, 2.0])
    dom = Box(lower, upper)
    part = enumerate_regions(net, dom, prove_coverage=False)
    lp_yes, z3_yes, z3_no = set(), set(), set()
    for t, bits in enumerate(itertools.product([False, True], repeat=6)):
        p = np.array(bits)
        if chebyshev_radius(net, p, lower, upper) > 1e-9:
            lp_yes.add(bits_str(p))
        ans = smt.region_nonempty(net, dom, p, timeout=20)
        assert ans in ("yes", "no")
        if t % 8 == 0:
            assert smt.region_empty(net, dom, p, timeout=20) == {"yes": "no", "no": "yes"}[ans]
        (z3_yes if ans == "yes" else z3_no).add(bits_str(p))
    assert z3_yes == lp_yes == {bits_str(r.pattern) for r in part.regions}
    assert z3_no  # some patterns are infeasible on this net


def test_region_nonempty_fixed_coordinate_and_whole():
    net = random_net(3, (3, 4, 1))
    dom = Box([-1.0, 0.5, -1.0], [1.0, 0.5, 1.0])
    part = enumerate_regions(net, dom, prove_coverage=False)
    found = {bits_str(r.pattern) for r in part.regions}
    for bits in itertools.product([False, True], repeat=4):
        p = np.array(bits)
        assert (smt.region_nonempty(net, dom, p) == "yes") == (bits_str(p) in found)
    net2 = random_net(4, (2, 4, 1))
    whole = {bits_str(r.pattern) for r in enumerate_regions(net2, Whole(2),
                                                            prove_coverage=False).regions}
    for bits in itertools.product([False, True], repeat=4):
        p = np.array(bits)
        assert (smt.region_nonempty(net2, Whole(2), p) == "yes") == (bits_str(p) in whole)


# ----- affine models -----------------------------------------------------------------------
def exact_model(net: ReLUNetwork, pattern) -> tuple[list[list[Fraction]], list[Fraction]]:
    """The pattern-fixed output map in Fractions: evaluate at 0 and at the unit vectors."""
    def f(x):
        a = [Fraction(v) for v in x]
        k = 0
        for li, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            z = [sum((Fraction(float(w)) * v for w, v in zip(row, a, strict=True)),
                     Fraction(float(bi))) for row, bi in zip(W, b, strict=True)]
            if li == len(net.weights) - 1:
                return z
            a = [v if pattern[k + i] else Fraction(0) for i, v in enumerate(z)]
            k += len(z)
        raise AssertionError

    d = net.input_dim
    beta = f([0] * d)
    cols = [[u - v for u, v in zip(f([int(i == j) for i in range(d)]), beta, strict=True)]
            for j in range(d)]
    alpha = [[cols[j][o] for j in range(d)] for o in range(len(beta))]
    return alpha, beta


def test_exact_model_matches_float_model():
    net = random_net(5, (2, 5, 5, 2))
    for r in enumerate_regions(net, BOX, prove_coverage=False).regions[:5]:
        alpha, beta = smt.exact_model(net, r.pattern)
        assert exact_model(net, r.pattern) == (alpha, beta)
        np.testing.assert_allclose(np.array(alpha, dtype=float), r.alpha, atol=1e-12)
        np.testing.assert_allclose(np.array(beta, dtype=float), r.beta, atol=1e-12)


def test_affine_equal():
    net = random_net(5, (2, 5, 5, 2))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    for r in part.regions[:5]:
        alpha, beta = exact_model(net, r.pattern)
        assert smt.affine_equal(net, r.pattern, alpha, beta) is True
        assert smt.affine_equal(net, r.pattern, [[str(v) for v in row] for row in alpha],
                                [str(v) for v in beta]) is True
        bad = [list(row) for row in alpha]
        bad[1][0] += Fraction(1, 10**15)
        assert smt.affine_equal(net, r.pattern, bad, beta) is False
        assert smt.affine_equal(net, r.pattern, alpha, [beta[0], beta[1] - 1]) is False
        assert smt.affine_equal(net, r.pattern, alpha[:1], beta[:1]) is False
        # another region's model is different (the network is not affine across regions)
        other = part.regions[-1]
        if not np.allclose(other.alpha, r.alpha):
            a2, b2 = exact_model(net, other.pattern)
            assert smt.affine_equal(net, r.pattern, a2, b2) is False


# ----- coverage ----------------------------------------------------------------------------
def test_prove_coverage():
    net = random_net(6, (2, 4, 4, 1))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    pats = [r.pattern for r in part.regions]
    full = smt.prove_coverage(net, BOX, pats, timeout=60)
    assert full.status == "covered" and full.witness is None
    missing = part.regions[len(pats) // 2]
    rest = [p for p in pats if bits_str(p) != bits_str(missing.pattern)]
    cov = smt.prove_coverage(net, BOX, rest, timeout=60)
    assert cov.status == "uncovered"
    assert bits_str(cov.pattern) == bits_str(missing.pattern)
    assert smt.check_witness(net, missing.pattern, cov.witness, BOX)
    assert bits_str(net.pattern(np.array([[float(v) for v in cov.witness]]))[0]) == \
        bits_str(missing.pattern)
    nothing = smt.prove_coverage(net, BOX, [], timeout=60)
    assert nothing.status == "uncovered"


def test_prove_coverage_fixed_coordinate():
    net = random_net(7, (3, 4, 3, 1))
    dom = Box([-1.0, -0.5, -1.0], [1.0, -0.5, 1.0])
    part = enumerate_regions(net, dom, prove_coverage=False)
    pats = [r.pattern for r in part.regions]
    assert smt.prove_coverage(net, dom, pats).status == "covered"
    cov = smt.prove_coverage(net, dom, pats[1:])
    assert cov.status == "uncovered" and cov.witness[1] == Fraction(-1, 2)
    assert bits_str(cov.pattern) == bits_str(pats[0])


def test_timeouts_give_unknown():
    net = random_net(8, (2, 16, 16, 2))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    cov = smt.prove_coverage(net, BOX, [r.pattern for r in part.regions[:-1]], timeout=0.001)
    assert cov.status == "unknown" and cov.witness is None
    few = dataclasses.replace(part, regions=part.regions[:3])  # keeps the per-region part short
    report = smt.double_check(few, z3_timeout=10, coverage_timeout=0.001)
    assert report["coverage"]["status"] == "unknown"
    assert "stands alone" in report["coverage"]["note"]
    skipped = smt.double_check(few, z3_timeout=10, coverage_max_unstable=0)
    assert skipped["coverage"]["status"] == "skipped"


@pytest.mark.parametrize("seed", [0, 1])
def test_double_check_report(seed):
    net = random_net(seed, (2, 5, 5, 1))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    rep = smt.double_check(part)
    n = len(part)
    assert rep["witnesses"]["exact"] + rep["witnesses"]["z3"] == n
    assert rep["affine"]["equal"] == n
    assert 0 <= rep["affine"]["max_float_error"] < 1e-9
    assert rep["coverage"]["status"] == "covered" and rep["missed_regions"] == []
    assert len(rep["per_region"]) == n


def test_double_check_rejected_patterns():
    """Patterns the LP engine rejected near its tolerance are re-decided: an empty one stays
    rejected, a non-empty unlisted one is reported as a missed region."""
    net = random_net(2, (2, 3, 3, 1))
    dom = Box([-2.0, -2.0], [2.0, 2.0])
    part = enumerate_regions(net, dom, prove_coverage=False)
    found = {bits_str(r.pattern) for r in part.regions}
    empty = next(np.array(b) for b in itertools.product([False, True], repeat=6)
                 if bits_str(b) not in found)
    lost = part.regions[-1].pattern
    cut = dataclasses.replace(part, regions=part.regions[:-1],
                              stats={**part.stats, "rejected": [(empty, 1e-10), (lost, 5e-10),
                                                                (part.regions[0].pattern, 0.0)]})
    rep = smt.double_check(cut)
    assert rep["rejected"] == {"recorded": True, "checked": 2, "empty": 1, "nonempty": 1,
                               "unknown": 0}
    assert rep["missed_regions"] == [bits_str(lost)]
    assert rep["coverage"]["status"] == "uncovered"
