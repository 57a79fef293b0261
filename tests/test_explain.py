"""Exact Shapley values against the axioms, a brute-force permutation formula and ``shap``."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from verishallow.cli import main
from verishallow.domain import Box
from verishallow.errors import InputError
from verishallow.explain import (
    MAX_EXACT_DIM,
    local_attribution,
    shapley_from_game,
    shapley_values,
)
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions
from verishallow.tolerances import SHAPLEY_EFFICIENCY_RTOL

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def random_net(rng, d, widths=(6, 5), out=2, scale=1.0):
    sizes = [d, *widths, out]
    Ws = [rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    bs = [scale * rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)]
    return ReLUNetwork(Ws, bs)


def brute_force_shapley(net, x, ref):
    """The permutation definition: average marginal contribution over all d! orders, with the
    game averaged over the reference rows; independent of the library's subset formula."""
    d = len(x)

    def v(present):
        pts = np.array([[x[i] if i in present else r[i] for i in range(d)] for r in ref])
        return net.forward(pts).mean(axis=0)

    phi = np.zeros((d, net.output_dim))
    for order in itertools.permutations(range(d)):
        present: set[int] = set()
        before = v(present)
        for i in order:
            present.add(i)
            after = v(present)
            phi[i] += after - before
            before = after
    return (phi / math.factorial(d)).T


# ----- axioms -------------------------------------------------------------------------------------
def test_efficiency_exact_in_rational_mode():
    rng = np.random.default_rng(0)
    net = random_net(rng, 3)
    x = rng.normal(size=3)
    bg = rng.normal(size=(3, 3))
    e = shapley_values(net, x, background=bg, exact=True)
    for row, o in enumerate(e.outputs):
        fx = net.exact_forward(x)[o]
        ef = sum((net.exact_forward(b)[o] for b in bg), Fraction(0)) / len(bg)
        assert sum(e.shapley_exact[row]) == fx - ef
    # and the float values are those rationals rounded
    assert np.allclose(e.shapley, [[float(v) for v in r] for r in e.shapley_exact], rtol=0,
                       atol=1e-12)


def test_efficiency_float_within_named_tolerance():
    rng = np.random.default_rng(1)
    net = random_net(rng, 8, widths=(16, 16), out=3)
    x = rng.normal(size=8)
    bg = rng.normal(size=(20, 8))
    e = shapley_values(net, x, background=bg)
    want = net.forward(x) - net.forward(bg).mean(axis=0)
    assert np.all(np.abs(e.shapley.sum(axis=1) - want) <= SHAPLEY_EFFICIENCY_RTOL * e.scale)
    assert np.allclose(e.prediction, net.forward(x), rtol=0, atol=1e-12)


def test_symmetry_features_entering_identically():
    rng = np.random.default_rng(2)
    net = random_net(rng, 4)
    W1 = net.weights[0].copy()
    W1[:, 1] = W1[:, 0]
    net = ReLUNetwork([W1, *net.weights[1:]], net.biases)
    x = np.array([0.7, 0.7, -0.3, 1.1])
    b = np.array([-0.4, -0.4, 0.5, 0.2])
    e = shapley_values(net, x, baseline=b, exact=True)
    for row in e.shapley_exact:
        assert row[0] == row[1]
    assert not np.allclose(e.shapley[:, 0], 0)  # the test is not vacuous


def test_dummy_feature_gets_zero():
    rng = np.random.default_rng(3)
    net = random_net(rng, 4)
    W1 = net.weights[0].copy()
    W1[:, 2] = 0.0
    net = ReLUNetwork([W1, *net.weights[1:]], net.biases)
    x = rng.normal(size=4)
    bg = rng.normal(size=(5, 4))
    e = shapley_values(net, x, background=bg)
    assert np.all(e.shapley[:, 2] == 0.0)
    ex = shapley_values(net, x, background=bg[:2], exact=True)
    assert all(row[2] == 0 for row in ex.shapley_exact)


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_matches_permutation_brute_force(d):
    rng = np.random.default_rng(10 + d)
    net = random_net(rng, d, widths=(7, 6), out=2)
    x = rng.normal(size=d)
    b = rng.normal(size=d)
    bg = rng.normal(size=(4, d))
    assert np.allclose(shapley_values(net, x, baseline=b).shapley,
                       brute_force_shapley(net, x, b[None, :]), rtol=0, atol=1e-10)
    e = shapley_values(net, x, background=bg)
    assert np.allclose(e.shapley, brute_force_shapley(net, x, bg), rtol=0, atol=1e-10)
    assert e.coalition_regions > 1  # nonlinear game: the brute force had work to do


def test_game_combination_on_a_known_game():
    # majority of 3: v(S) = [|S| >= 2] -> 1/3 each; v(S) = [0 in S] -> (1, 0, 0)
    size = np.array([bin(s).count("1") for s in range(8)])
    v = np.column_stack([(size >= 2).astype(float), (np.arange(8) & 1).astype(float)])
    phi = shapley_from_game(v)
    assert np.allclose(phi[:, 0], 1 / 3)
    assert np.allclose(phi[:, 1], [1, 0, 0])


def test_single_output_selection():
    rng = np.random.default_rng(4)
    net = random_net(rng, 3, out=3)
    x, b = rng.normal(size=3), rng.normal(size=3)
    full = shapley_values(net, x, baseline=b)
    one = shapley_values(net, x, baseline=b, output=2)
    assert one.outputs == (2,)
    assert np.array_equal(one.shapley[0], full.shapley[2])
    with pytest.raises(InputError, match="out of range"):
        shapley_values(net, x, baseline=b, output=3)


# ----- evaluators ---------------------------------------------------------------------------------
def test_partition_evaluator_agrees_with_network():
    rng = np.random.default_rng(5)
    net = random_net(rng, 2, widths=(8, 8), out=2)
    part = enumerate_regions(net, Box([-2, -2], [2, 2]), prove_coverage=False)
    x = np.array([0.3, -0.8])
    bg = rng.uniform(-2, 2, size=(30, 2))
    a = shapley_values(net, x, background=bg)
    b = shapley_values(net, x, background=bg, partition=part)
    assert b.evaluator == "partition" and a.evaluator == "network"
    assert b.fallbacks == 0
    assert b.region is not None and b.region == part.find(b.pattern)
    assert np.allclose(a.shapley, b.shapley, rtol=0, atol=1e-12)
    # coalition points outside the partition's domain fall back to the network, still agree
    far = rng.uniform(5, 9, size=(5, 2))
    c = shapley_values(net, x, background=far, partition=part)
    d = shapley_values(net, x, background=far)
    assert np.allclose(c.shapley, d.shapley, rtol=0, atol=1e-12)


def test_rational_and_float_modes_agree():
    rng = np.random.default_rng(6)
    net = random_net(rng, 4)
    x, bg = rng.normal(size=4), rng.normal(size=(3, 4))
    a = shapley_values(net, x, background=bg)
    b = shapley_values(net, x, background=bg, exact=True)
    assert np.allclose(a.shapley, b.shapley, rtol=0, atol=1e-12)


# ----- region-local attribution -----------------------------------------------------------------
def _box_inside_region(net, domain, rng):
    """x and b whose whole coalition box lies in one region: both within half the region's
    Chebyshev radius of its centre (every corner is then inside the inscribed ball)."""
    part = enumerate_regions(net, domain, prove_coverage=False)
    r = max(part, key=lambda reg: reg.radius)
    d = net.input_dim
    h = 0.45 * r.radius / math.sqrt(d)
    x = r.center + h * rng.uniform(-1, 1, size=d)
    b = r.center + h * rng.uniform(-1, 1, size=d)
    return part, r, x, b


def test_local_linear_equals_exact_when_box_is_inside_one_region():
    rng = np.random.default_rng(7)
    net = random_net(rng, 3, widths=(5, 4), out=2)
    part, r, x, b = _box_inside_region(net, Box([-3] * 3, [3] * 3), rng)
    e = shapley_values(net, x, baseline=b, exact=True, partition=part)
    assert e.coalition_regions == 1
    assert e.exact_agrees_local  # exact equality, in rationals
    assert np.allclose(e.local_linear, r.alpha * (x - b), rtol=0, atol=1e-12)
    f = shapley_values(net, x, baseline=b)
    assert f.exact_agrees_local and np.allclose(f.shapley, f.local_linear, rtol=0, atol=1e-12)


def test_local_linear_flagged_when_background_spans_regions():
    rng = np.random.default_rng(8)
    net = random_net(rng, 3, widths=(8, 8), out=1)
    x = rng.normal(size=3)
    bg = rng.normal(scale=3.0, size=(10, 3))
    e = shapley_values(net, x, background=bg)
    assert e.coalition_regions > 1
    assert not e.exact_agrees_local
    assert (~e.agrees).any()
    # the local estimate still sums to alpha (x - E x), not to f(x) - E f
    assert np.isclose(e.local_linear.sum(), (e.alpha @ (x - bg.mean(axis=0)))[0])


def test_too_many_inputs_points_to_local_estimate():
    rng = np.random.default_rng(9)
    d = MAX_EXACT_DIM + 1
    net = random_net(rng, d, widths=(4,), out=1)
    x, b = rng.normal(size=d), rng.normal(size=d)
    with pytest.raises(InputError, match=r"too large.*local"):
        shapley_values(net, x, baseline=b)
    loc = local_attribution(net, x, baseline=b)
    assert loc.shapley is None and loc.local_linear.shape == (1, d)


@pytest.mark.slow  # importing shap alone takes ~10 s
def test_matches_shap_exact_explainer():
    shap = pytest.importorskip("shap")
    rng = np.random.default_rng(11)
    net = random_net(rng, 4, widths=(8, 8), out=2)
    x = rng.normal(size=4)
    bg = rng.normal(size=(12, 4))
    masker = shap.maskers.Independent(bg, max_samples=len(bg))
    explainer = shap.explainers.Exact(net.forward, masker)
    sv = explainer(x[None, :])
    ours = shapley_values(net, x, background=bg)
    assert np.allclose(np.asarray(sv.values)[0].T, ours.shapley, rtol=0, atol=1e-9)
    assert np.allclose(np.asarray(sv.base_values)[0], ours.base_value, rtol=0, atol=1e-9)


# ----- CLI ----------------------------------------------------------------------------------------
def _model(name: str) -> Path:
    p = MODELS / f"{name}.onnx"
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return p


def test_cli_json_keys_and_default_baseline():
    moons = _model("moons")
    res = CliRunner().invoke(main, ["explain", str(moons), "--point", "0.5,0.2", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    for key in ("shapley", "local_linear", "region", "prediction", "base_value",
                "exact_agrees_local"):
        assert key in rep
    assert rep["baseline_source"] == "domain centre"
    dom = Box(rep["domain"]["lower"], rep["domain"]["upper"])
    assert np.allclose(rep["baseline"], (dom.lower + dom.upper) / 2)
    gap = np.sum(rep["shapley"], axis=1) - (np.array(rep["prediction"])
                                            - np.array(rep["base_value"]))
    assert np.all(np.abs(gap) <= 1e-9 * max(1.0, np.abs(rep["prediction"]).max()))


def test_cli_point_outside_domain_exit_2():
    moons = _model("moons")
    res = CliRunner().invoke(main, ["explain", str(moons), "--point", "50,0"])
    assert res.exit_code == 2
    assert "outside the domain" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_cli_background_output_and_exact(tmp_path):
    moons = _model("moons")
    bg = np.random.default_rng(0).uniform([-1, -0.5], [2, 1], size=(6, 2))
    f = tmp_path / "bg.npy"
    np.save(f, bg)
    res = CliRunner().invoke(main, ["explain", str(moons), "--point", "0.1,0.4",
                                    "--background", str(f), "--output", "1", "--exact",
                                    "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["outputs"] == [1] and rep["background_rows"] == 6
    total = sum(Fraction(s) for s in rep["shapley_exact"][0])
    from verishallow.io import load

    net = load(str(moons))
    want = net.exact_forward([0.1, 0.4])[1] - sum(
        (net.exact_forward(r)[1] for r in bg), Fraction(0)) / 6
    assert total == want
    bad = CliRunner().invoke(main, ["explain", str(moons), "--point", "0.1,0.4",
                                    "--output", "7"])
    assert bad.exit_code == 2 and "out of range" in bad.output


def test_cli_via_regions_reports_region_id():
    moons = _model("moons")
    res = CliRunner().invoke(main, ["explain", str(moons), "--point", "0.5,0.2",
                                    "--baseline", "0,0", "--via", "regions", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert isinstance(rep["region"]["id"], int) and rep["evaluator"] == "partition"
