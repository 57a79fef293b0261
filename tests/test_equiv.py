"""``verishallow equiv`` / :func:`verishallow.equiv.check_equivalence`: exact maxima,
replayed counterexamples, top-1 mode, deep vs shallow, and the CLI's exit codes and JSON."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, shared_file

from verishallow.cli import main
from verishallow.domain import Box
from verishallow.equiv import check_equivalence, check_shallow_equivalence, joint_network
from verishallow.io import load, load_with_domain, save_nnet, save_npz, save_onnx
from verishallow.network import ReLUNetwork
from verishallow.shallow import to_shallow
from verishallow.shallow.serialise import from_dict, save_shallow, to_dict

MOONS = ROOT / "models" / "moons.onnx"
JSON_KEYS = {"equivalent", "max_difference", "counterexample", "seconds"}


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def rounded(net: ReLUNetwork, dtype=np.float16) -> ReLUNetwork:
    return ReLUNetwork([w.astype(dtype).astype(np.float64) for w in net.weights],
                       [b.astype(dtype).astype(np.float64) for b in net.biases])


def random_net(seed: int, sizes=(2, 6, 6, 2)) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)],
                       [rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)])


def dense_max(net_a, net_b, domain, n=250, quantity="diff"):
    """Brute force: a dense grid plus random points over a 2-D box."""
    g0 = np.linspace(domain.lower[0], domain.upper[0], n)
    g1 = np.linspace(domain.lower[1], domain.upper[1], n)
    X = np.stack(np.meshgrid(g0, g1), axis=-1).reshape(-1, 2)
    X = np.vstack([X, domain.lower + (domain.upper - domain.lower)
                   * np.random.default_rng(0).random((20000, 2))])
    return float(np.max(np.abs(net_a(X) - net_b(X))))


@pytest.fixture(scope="module")
def moons():
    return load_with_domain(MOONS)


@pytest.fixture(scope="module")
def moons16_result(moons):
    net, dom = moons
    return check_equivalence(net, rounded(net), dom, epsilon=1e-9)


# ----- same function ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["npz", "nnet"])
def test_reexported_network_is_equivalent(tmp_path, moons, fmt):
    net, dom = moons
    path = tmp_path / f"moons.{fmt}"
    (save_npz if fmt == "npz" else save_nnet)(net, path)
    res = check_equivalence(net, load(path), dom)
    assert res.equivalent is True
    assert res.max_difference == 0.0 and res.exact == "0"
    assert res.counterexample is None


def test_permuted_hidden_neurons_proved_exactly_equal(moons):
    """Different weights (fingerprints differ), same function: the exact maximum is 0."""
    net, dom = moons
    W, b = list(net.weights), list(net.biases)
    p = np.random.default_rng(1).permutation(W[0].shape[0])
    W[0], b[0], W[1] = W[0][p], b[0][p], W[1][:, p]
    perm = ReLUNetwork(W, b)
    assert perm.fingerprint != net.fingerprint
    res = check_equivalence(net, perm, dom)
    assert res.equivalent is True
    assert res.exact == "0" and res.max_difference == 0.0


# ----- float16 copy -----------------------------------------------------------------------
def test_float16_copy_not_equivalent_and_max_is_exact(moons, moons16_result):
    net, dom = moons
    n16 = rounded(net)
    res = moons16_result
    assert res.equivalent is False
    assert res.details["proved_maximal"]
    reported = res.max_difference
    assert isinstance(reported, float) and reported > 1e-9
    assert float(Fraction(res.exact)) == reported
    x = res.counterexample
    assert dom.contains(x[None, :], tol=0.0)[0]
    # replays in float64 and in exact arithmetic, and attains the reported maximum
    at_x = float(np.max(np.abs(net(x) - n16(x))))
    assert at_x > 1e-9 and abs(at_x - reported) <= 1e-9
    exact_at_x = max(abs(a - b) for a, b in zip(net.exact_forward(x), n16.exact_forward(x),
                                                strict=True))
    assert exact_at_x > 1e-9 and abs(float(exact_at_x) - reported) <= 1e-9
    # independent brute force never exceeds the reported maximum (and comes close)
    sampled = dense_max(net, n16, dom)
    assert sampled <= reported + 1e-12
    assert sampled >= 0.9 * reported


def test_float16_copy_equivalent_at_large_epsilon(moons, moons16_result):
    net, dom = moons
    eps = 1.01 * moons16_result.max_difference
    res = check_equivalence(net, rounded(net), dom, epsilon=eps)
    assert res.equivalent is True
    assert res.counterexample is None
    assert res.max_difference == moons16_result.max_difference
    assert res.upper <= eps


@pytest.mark.parametrize("top1", [False, True])
def test_milp_and_overlay_agree_exactly(top1):
    a, b = random_net(0), random_net(1)
    box = Box([-1.0, -1.0], [1.0, 1.0])
    r1 = check_equivalence(a, b, box, top1=top1, method="milp")
    r2 = check_equivalence(a, b, box, top1=top1, method="regions")
    assert r1.exact is not None and r1.exact == r2.exact
    assert r1.equivalent is False and r2.equivalent is False


def test_joint_network_outputs_both():
    a, b = random_net(0), random_net(1)
    X = np.random.default_rng(0).normal(size=(50, 2))
    J = joint_network(a, b)
    assert np.allclose(J(X), np.hstack([a(X), b(X)]))
    assert joint_network(a, random_net(2, (2, 4, 2))) is None


def test_time_limit_gives_unknown_with_bounds(moons):
    """The MILP cannot finish moons vs its float16 copy in a second (> 50 s per direction)."""
    net, dom = moons
    res = check_equivalence(net, rounded(net), dom, epsilon=0.05, method="milp", time_limit=1.0)
    assert res.equivalent is None
    lo, hi = res.max_difference
    assert lo <= 0.0206 and lo <= hi  # true maximum 0.02050859...
    assert res.details["reason"] == "time limit"
    assert res.seconds < 10.0


# ----- ACAS Xu ----------------------------------------------------------------------------
@pytest.mark.slow
def test_two_acasxu_networks_differ():
    d = "benchmarks/vnncomp2021/acasxu".split("/")
    a = load(shared_file(*d, "ACASXU_run2a_1_1_batch_2000.onnx"))
    b = load(shared_file(*d, "ACASXU_run2a_1_2_batch_2000.onnx"))
    lo = np.array([-0.303531156, -0.009549297, 0.493380324, 0.3, 0.3])  # prop_3's box ...
    hi = np.array([-0.298552812, 0.009549297, 0.5, 0.5, 0.5])
    box = Box(lo, lo + 0.05 * (hi - lo))  # ... a 5% corner of it
    res = check_equivalence(a, b, box, epsilon=1e-6)
    assert res.details["method"].startswith("scip")
    assert res.equivalent is False and res.details["proved_maximal"]
    x = res.counterexample
    assert box.contains(x[None, :], tol=0.0)[0]
    assert abs(float(np.max(np.abs(a(x) - b(x)))) - res.max_difference) <= 1e-9
    X = box.lower + (box.upper - box.lower) * np.random.default_rng(0).random((5000, 5))
    assert float(np.max(np.abs(a(X) - b(X)))) <= res.max_difference + 1e-12


# ----- top-1 ------------------------------------------------------------------------------
def test_top1_same_ranking_different_outputs(moons):
    net, dom = moons
    W, b = list(net.weights), list(net.biases)
    W[-1], b[-1] = 2.0 * W[-1], 2.0 * b[-1] + 1.0  # y -> 2 y + 1: same order everywhere
    scaled = ReLUNetwork(W, b)
    assert check_equivalence(net, scaled, dom, epsilon=1e-6).equivalent is False
    res = check_equivalence(net, scaled, dom, top1=True)
    assert res.equivalent is True
    assert res.upper <= 1e-9


def test_top1_different_ranking(moons):
    net, dom = moons
    b = list(net.biases)
    b[-1] = b[-1] + np.array([0.5, 0.0])  # moves the decision boundary
    shifted = ReLUNetwork(net.weights, b)
    res = check_equivalence(net, shifted, dom, top1=True)
    assert res.equivalent is False
    rep = res.details["replay"]
    assert rep["argmax_a"] != rep["argmax_b"]
    x = res.counterexample
    assert int(np.argmax(net(x))) != int(np.argmax(shifted(x)))
    assert Fraction(rep["exact_value"]) > 0 and rep["float64_value"] > 0


# ----- deep vs shallow --------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_shallow():
    net = random_net(3)
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    return net, dom, to_shallow(net, dom)


def test_deep_vs_own_shallow(small_shallow):
    net, dom, sh = small_shallow
    res = check_shallow_equivalence(net, sh, epsilon=1e-9)
    assert res.equivalent is True
    # decided in exact arithmetic: every region's stored float model is its exact piece
    # rounded, so the functions are equal, also at epsilon 0 (issue #13)
    res = check_shallow_equivalence(net, sh, epsilon=0.0)
    assert res.equivalent is True and res.max_difference == 0.0 and res.exact == "0"
    assert 0.0 < res.details["float_rounding_bound"] <= 1e-12


def test_deep_vs_tampered_shallow(small_shallow):
    net, dom, sh = small_shallow
    data = to_dict(sh)
    r = len(data["regions"]) // 2
    data["regions"][r]["beta"][0] += 1e-3
    bad = from_dict(data)
    res = check_shallow_equivalence(net, bad, epsilon=1e-9)
    assert res.equivalent is False
    x = res.counterexample
    assert abs(float(bad(x)[0] - net(x)[0])) > 1e-9


# ----- CLI --------------------------------------------------------------------------------
def test_cli_exit_0_and_json(tmp_path, moons):
    net, _ = moons
    save_npz(net, tmp_path / "m.npz")
    res = run(["equiv", MOONS, tmp_path / "m.npz", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert JSON_KEYS <= set(data)
    assert data["equivalent"] is True and data["max_difference"] == 0.0
    assert data["counterexample"] is None


def test_cli_exit_1_prints_counterexample(tmp_path, moons):
    net, dom = moons
    save_onnx(rounded(net), tmp_path / "m16.onnx", dom)
    res = run(["equiv", MOONS, tmp_path / "m16.onnx", "--epsilon", "1e-9"])
    assert res.exit_code == 1, res.output
    assert "NOT equivalent" in res.stdout and "counterexample" in res.stdout
    assert "A(x)" in res.stdout and "B(x)" in res.stdout
    res = run(["equiv", MOONS, tmp_path / "m16.onnx", "--epsilon", "1e-9", "--json"])
    data = json.loads(res.stdout)
    assert res.exit_code == 1 and data["equivalent"] is False
    assert len(data["counterexample"]) == 2
    # the proof search decides without the maximum: a replayed lower bound above epsilon
    lower, upper = data["max_difference"]
    assert lower > 1e-9 and upper == "inf"
    assert data["onnxruntime"] == "unavailable" or data["onnxruntime"]["agrees_with_float64"]
    # --max computes the exact maximum (region overlay on 2 inputs)
    res = run(["equiv", MOONS, tmp_path / "m16.onnx", "--epsilon", "1e-9", "--json", "--max"])
    data = json.loads(res.stdout)
    assert res.exit_code == 1 and isinstance(data["max_difference"], float)
    assert data["max_difference"] >= lower


def test_cli_exit_2_bad_input(tmp_path):
    res = run(["equiv", MOONS, ROOT / "models" / "sine.onnx"])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert err.startswith("error:") and "\n" not in err and "inputs" in err
    res = run(["equiv", MOONS, tmp_path / "missing.onnx"])
    assert res.exit_code == 2


def test_cli_exit_3_time_limit(tmp_path, moons):
    net, dom = moons
    save_npz(rounded(net), tmp_path / "m16.npz")
    res = run(["equiv", MOONS, tmp_path / "m16.npz", "--epsilon", "0.05", "--method", "milp",
               "--time-limit", "1", "--json"])
    assert res.exit_code == 3, res.output
    data = json.loads(res.stdout)
    assert data["equivalent"] is None and len(data["max_difference"]) == 2


def test_cli_deep_vs_shallow_file(tmp_path, small_shallow):
    net, dom, sh = small_shallow
    save_npz(net, tmp_path / "net.npz")
    save_shallow(sh, tmp_path / "net.shallow.json")
    save_shallow(sh, tmp_path / "net.shallow.npz")
    for shallow_file in ("net.shallow.json", "net.shallow.npz"):
        res = run(["equiv", tmp_path / "net.npz", tmp_path / shallow_file, "--epsilon", "1e-9",
                   "--json"])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data["equivalent"] is True and data["mode"] == "deep vs shallow"
    res = run(["equiv", tmp_path / "net.shallow.json", tmp_path / "net.shallow.npz"])
    assert res.exit_code == 2
