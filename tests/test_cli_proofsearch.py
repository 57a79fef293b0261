"""The proof search through the CLI: ``verify``/``equiv --certificate`` then ``check``, the
VNN-LIB 2.0 forms of ``verify``, and one-line errors (exit 2) on bad input before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file

from verishallow.cli import main
from verishallow.io import load, save_onnx
from verishallow.network import ReLUNetwork

MODELS = Path(__file__).resolve().parents[1] / "models"
MOONS = MODELS / "moons.onnx"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code, out, err, fragment: str = ""):
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert fragment in lines[0], lines[0]


def v1_text(lower, upper, rows, with_upper: bool = True) -> str:
    """Inputs in a box, unsafe set ``AND_r (c_r . y <= d_r)``."""
    m = len(rows[0][0])
    lines = [f"(declare-const X_{i} Real)" for i in range(len(lower))]
    lines += [f"(declare-const Y_{j} Real)" for j in range(m)]
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=False)):
        lines.append(f"(assert (>= X_{i} {lo!r}))")
        if with_upper:
            lines.append(f"(assert (<= X_{i} {hi!r}))")
    for c, d in rows:
        terms = " ".join(f"(* {float(v)!r} Y_{j})" for j, v in enumerate(c) if v)
        lines.append(f"(assert (<= (+ {terms}) {d!r}))")
    return "\n".join(lines) + "\n"


def v2_text(lower, upper, rows) -> str:
    """The same property in VNN-LIB 2.0 (one network N, input X[1,n], output Y[m])."""
    n, m = len(lower), len(rows[0][0])
    lines = ["(vnnlib-version <2.0>)",
             f"(declare-network N (declare-input X Real [1,{n}]) (declare-output Y Real [{m}]))"]
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=False)):
        lines.append(f"(assert (and (>= X[0,{i}] {lo!r}) (<= X[0,{i}] {hi!r})))")
    for c, d in rows:
        terms = " ".join(f"(* {float(v)!r} Y[{j}])" for j, v in enumerate(c) if v)
        lines.append(f"(assert (<= (+ {terms}) {d!r}))")
    return "\n".join(lines) + "\n"


LOWER, UPPER = [-0.5, -0.25], [0.5, 0.25]


def moons_threshold(margin: float) -> float:
    """The sampled minimum of y0 - y1 on the box, minus ``margin``."""
    net = load(MOONS)
    X = np.array(LOWER) + (np.array(UPPER) - np.array(LOWER)) * \
        np.random.default_rng(0).random((20000, 2))
    return round(float((net.forward(X) @ np.array([1.0, -1.0])).min()) - margin, 4)


@pytest.fixture(scope="module")
def props(tmp_path_factory):
    d = tmp_path_factory.mktemp("props")
    out = {}
    for name, margin in (("unsat", 0.3), ("unsat2", 1.0), ("sat", -0.5)):
        rows = [((1.0, -1.0), moons_threshold(margin))]
        (d / f"{name}.vnnlib").write_text(v1_text(LOWER, UPPER, rows))
        (d / f"{name}.v2.vnnlib").write_text(v2_text(LOWER, UPPER, rows))
        out[name] = d / f"{name}.vnnlib"
        out[name + "2"] = d / f"{name}.v2.vnnlib"
    # no upper bounds; an unsafe set that is empty (y0 - y1 <= 0 and >= 1), so sampling finds
    # nothing and the search must refuse the unbounded box
    rows = [((1.0, -1.0), 0.0), ((-1.0, 1.0), -1.0)]
    (d / "open.vnnlib").write_text(v1_text(LOWER, UPPER, rows, with_upper=False))
    out["open"] = d / "open.vnnlib"
    # no upper bounds, an unsafe set reached far out (X_0 large)
    rows = [((1.0, -1.0), moons_threshold(5.0))]
    (d / "open_sat.vnnlib").write_text(v1_text(LOWER, UPPER, rows, with_upper=False))
    out["open_sat"] = d / "open_sat.vnnlib"
    return out


def test_verify_certificate_then_check(props, tmp_path):
    cert = tmp_path / "p.json.gz"
    code, out, err = run("verify", MOONS, props["unsat"], "--method", "search",
                         "--certificate", cert)
    assert code == 0 and out.splitlines()[0] == "unsat", (out, err)
    assert cert.is_file()
    code, out, err = run("check", cert, MOONS, props["unsat"])
    assert code == 0, (out, err)
    code, out, err = run("check", cert, MOONS, props["unsat2"])
    assert code == 1, (out, err)
    code, out, err = run("check", cert, MODELS / "blobs3d.onnx", props["unsat"])
    assert code in (1, 2), (out, err)


def test_verify_sat_writes_nothing(props, tmp_path):
    cert = tmp_path / "p.json"
    code, out, err = run("verify", MOONS, props["sat"], "--method", "search",
                         "--certificate", cert, "--json")
    assert code == 1, (out, err)
    data = json.loads(out)
    assert data["status"] == "sat" and data["certificate"] is None and not cert.exists()
    net = load(MOONS)
    x = np.array(data["counterexample"]["x"])
    assert all(lo <= v <= hi for v, lo, hi in zip(x, LOWER, UPPER, strict=False))
    yq = net.exact_forward(x)
    from fractions import Fraction

    prop = (props["sat"]).read_text()
    d = Fraction(float(prop.strip().splitlines()[-1].split()[-1].rstrip(")")))
    assert yq[0] - yq[1] <= d


@pytest.mark.parametrize("name", ["unsat", "sat"])
def test_vnnlib2_single_network_form_agrees(props, name):
    code1, out1, _ = run("verify", MOONS, props[name], "--method", "search")
    code2, out2, err2 = run("verify", props[name + "2"], "--network", f"N={MOONS}")
    assert code1 == code2 and out1.splitlines()[0] == out2.splitlines()[0], (out2, err2)


def _f16_copy(path: Path, tmp_path: Path) -> Path:
    net = load(path)
    b = ReLUNetwork([w.astype(np.float16).astype(np.float64) for w in net.weights],
                    [v.astype(np.float16).astype(np.float64) for v in net.biases])
    out = tmp_path / (path.stem + ".f16.onnx")
    save_onnx(b, out)
    return out


def _two_network_query(eps: float) -> str:
    text = """(vnnlib-version <2.0>)
(declare-network A (declare-input XA Real [1,2]) (declare-output YA Real [2]))
(declare-network B (equal-to A) (declare-input XB Real [1,2]) (declare-output YB Real [2]))
(assert (== XA[0,0] XB[0,0]))
(assert (== XA[0,1] XB[0,1]))
(assert (and (>= XA[0,0] -0.5) (<= XA[0,0] 0.5) (>= XA[0,1] -0.25) (<= XA[0,1] 0.25)))
"""
    return text + "(assert (or " + " ".join(
        f"(> (- YA[{j}] YB[{j}]) {eps!r}) (< (- YA[{j}] YB[{j}]) {-eps!r})"
        for j in range(2)) + "))\n"


def test_two_network_vnnlib2_query(tmp_path):
    b = _f16_copy(MOONS, tmp_path)
    q = tmp_path / "q.vnnlib"
    q.write_text(_two_network_query(1.0))
    cert = tmp_path / "q.json"
    code, out, err = run("verify", q, "--network", f"A={MOONS}", "--network", f"B={b}",
                         "--certificate", cert)
    assert code == 0 and out.splitlines()[0] == "unsat", (out, err)
    code, out, err = run("check", cert, MOONS, b)
    assert code == 0, (out, err)
    q.write_text(_two_network_query(0.0))
    code, out, err = run("verify", q, "--network", f"A={MOONS}", "--network", f"B={b}")
    assert code == 1 and out.splitlines()[0] == "sat", (out, err)


@pytest.mark.parametrize("model", ["moons", "blobs3d", "sine"])
def test_equiv_search_certificate_then_check(model, tmp_path):
    a = MODELS / f"{model}.onnx"
    b = _f16_copy(a, tmp_path)
    dom = MODELS / f"{model}.domain.json"
    cert = tmp_path / "eq.json"
    code, out, err = run("equiv", a, b, dom, "--method", "search", "--epsilon", "0.5",
                         "--certificate", cert)
    assert code == 0 and out.startswith("equivalent"), (out, err)
    code, out, err = run("check", cert, a, b)
    assert code == 0, (out, err)
    code, out, err = run("check", cert, b, a)
    assert code == 1, (out, err)
    code, out, err = run("equiv", a, b, dom, "--method", "search", "--epsilon", "0")
    assert code == 1 and out.startswith("NOT equivalent"), (out, err)


def test_an_easier_property_is_also_proved():
    """Once the search halved one thin coordinate forever (a hyperplane nearly parallel to a
    box face) and left the easier -21.5928 unproved; MAX_ASPECT / SPLIT_GAIN_TOL fixed it."""
    from verishallow.verify import verify_property
    from verishallow.vnnlib import parse_vnnlib_text

    net = load(MOONS)
    for d in (-21.3928, -21.5928):
        prop = parse_vnnlib_text(v1_text(LOWER, UPPER, [((1.0, -1.0), d)]), "m.vnnlib")
        res = verify_property(net, prop, method="search", time_limit=2)
        assert res.status == "unsat", (d, res.reason)


# ----- bad input: exit 2, one line, before any work -----------------------------------------
@pytest.mark.parametrize("eps", ["-0.1", "nan"])
def test_bad_epsilon(eps, tmp_path):
    assert_one_line_error(*run("equiv", MOONS, MOONS, MODELS / "moons.domain.json",
                               "--method", "search", "--epsilon", eps), "epsilon")


def test_property_for_another_input_count(props):
    assert_one_line_error(*run("verify", MODELS / "blobs3d.onnx", props["unsat"],
                               "--method", "search"))


def test_networks_with_different_input_sizes():
    args = ("equiv", MOONS, MODELS / "blobs3d.onnx", MODELS / "moons.domain.json",
            "--method", "search", "--epsilon", "1")
    assert_one_line_error(*run(*args, "--quiet"), "inputs")


def test_networks_with_different_input_sizes_no_progress_bar():
    assert_one_line_error(*run("equiv", MOONS, MODELS / "blobs3d.onnx",
                               MODELS / "moons.domain.json", "--method", "search",
                               "--epsilon", "1"), "inputs")


def test_unbounded_input(props):
    assert_one_line_error(*run("verify", MOONS, props["open"], "--method", "search"),
                          "bound")


def test_unbounded_input_even_when_sampling_would_find_a_violation(props):
    assert_one_line_error(*run("verify", MOONS, props["open_sat"], "--method", "search"),
                          "bound")


def test_certificate_into_a_missing_directory(props, tmp_path):
    missing = tmp_path / "nope" / "p.json"
    assert_one_line_error(*run("verify", MOONS, props["unsat"], "--certificate", missing),
                          "does not exist")
    assert_one_line_error(*run("equiv", MOONS, MOONS, MODELS / "moons.domain.json",
                               "--method", "search", "--certificate", missing),
                          "does not exist")


# ----- shared benchmark -----------------------------------------------------------------------
@pytest.mark.slow
def test_mnist_pruned_pair_top1_equivalent():
    d = ("benchmarks", "verydiff")
    a = shared_file(*d, "mnist_relu_3_100.onnx")
    b = shared_file(*d, "mnist_relu_3_100_pruned5.onnx")
    prop = shared_file(*d, "mnist_0_local_15.vnnlib")
    code, out, err = run("equiv", a, b, "--vnnlib", prop, "--top1", "--method", "search",
                         "--time-limit", "60", "--workers", "2")
    assert code == 0 and out.startswith("equivalent"), (out, err)
