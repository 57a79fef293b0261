"""VNN-LIB verification: answers checked against independent oracles, replay, CLI contract.

Independent oracles (none uses the region engine or verishallow's LP code):

* 1-D networks: the exact piecewise-linear output from knots (every zero crossing of every
  neuron, layer by layer), so the worst margin of an output disjunct over an interval is exact
  up to float rounding;
* 2-D networks: one scipy ``linprog`` per activation pattern (all 2^N of them) on the closed
  pattern polytope, with the pattern's affine maps recomputed here in numpy;
* sampling, for ``sat`` answers on the larger VNN-COMP nets, and VNN-COMP's published results
  for ACAS Xu (properties 3 and 4 are violated exactly on networks 1_7, 1_8 and 1_9).

Known answers are made robust by construction: thresholds sit a fixed gap away from the true
worst margin, so float rounding cannot flip them.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file
from scipy.optimize import linprog

from verishallow.cli import main
from verishallow.io import load
from verishallow.network import ReLUNetwork
from verishallow.verify import (
    VerifyResult,
    exact_counterexample,
    format_counterexample,
    replay,
    verify_property,
)
from verishallow.vnnlib import parse_vnnlib, parse_vnnlib_text

TEST_DIR = ("benchmarks", "vnncomp2021", "test")
ACAS_DIR = ("benchmarks", "vnncomp2021", "acasxu")
GAP = 0.05


# ----- helpers -----------------------------------------------------------------------------

def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def random_net(widths: list[int], seed: int) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(widths, widths[1:], strict=False)]
    bs = [rng.normal(size=o) * 0.5 for o in widths[1:]]
    return ReLUNetwork(ws, bs)


def vnnlib_text(lower, upper, disjuncts, rows=()) -> str:
    """Box ``lower <= x <= upper``, extra rows ``a.x <= b``, and ``OR_k (C_k y <= d_k)``."""
    n_in = len(lower)
    n_out = len(disjuncts[0][0][0])
    lines = [f"(declare-const X_{i} Real)" for i in range(n_in)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(n_out)]
    for i in range(n_in):
        lines.append(f"(assert (>= X_{i} {float(lower[i])!r}))")
        lines.append(f"(assert (<= X_{i} {float(upper[i])!r}))")

    def lin(coef, var):
        terms = [f"(* {float(c)!r} {var}_{i})" for i, c in enumerate(coef) if c != 0]
        return f"(+ {' '.join(terms)} 0.0)"

    for a, b in rows:
        lines.append(f"(assert (<= {lin(a, 'X')} {float(b)!r}))")
    ands = []
    for C, d in disjuncts:
        atoms = " ".join(f"(<= {lin(c, 'Y')} {float(v)!r})" for c, v in zip(C, d, strict=True))
        ands.append(f"(and {atoms})")
    lines.append(f"(assert (or {' '.join(ands)}))")
    return "\n".join(lines) + "\n"


def assert_replays(net: ReLUNetwork, prop, res: VerifyResult) -> None:
    """A sat answer's counterexample is genuine: float64 and exact rational, no tolerance."""
    assert res.status == "sat" and res.counterexample is not None
    x, y = res.counterexample
    assert np.array_equal(net.forward(x), y)
    assert prop.is_counterexample(x, net.forward(x))
    yq = net.exact_forward(x)
    assert exact_counterexample(prop, x, yq)
    assert replay(net, prop, x) is not None


# ----- independent oracles -----------------------------------------------------------------

def _forward_hidden(net: ReLUNetwork, X: np.ndarray, upto: int) -> np.ndarray:
    a = X
    for W, b in list(zip(net.weights, net.biases, strict=True))[:upto]:
        a = np.maximum(a @ W.T + b, 0.0)
    return a


def pwl_1d(net: ReLUNetwork, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``xs`` and outputs ``ys`` such that ``f`` is affine between consecutive knots."""
    xs = np.array([a, b], dtype=np.float64)
    for k in range(len(net.weights) - 1):
        A = _forward_hidden(net, xs[:, None], k)
        Z = A @ net.weights[k].T + net.biases[k]
        new = []
        for j in range(Z.shape[1]):
            z0, z1 = Z[:-1, j], Z[1:, j]
            cross = np.flatnonzero(z0 * z1 < 0)
            new.extend(xs[cross] + (xs[cross + 1] - xs[cross]) * z0[cross] / (z0[cross]
                                                                               - z1[cross]))
        xs = np.unique(np.concatenate([xs, new]))
    return xs, net.forward(xs[:, None])


def worst_margin_1d(net: ReLUNetwork, a: float, b: float, C: np.ndarray, d: np.ndarray
                    ) -> float:
    """``min_x max_i (C_i f(x) - d_i)`` over ``[a, b]`` (min of a max of affine pieces)."""
    xs, ys = pwl_1d(net, a, b)
    best = np.inf
    for k in range(len(xs) - 1):
        g0 = C @ ys[k] - d
        g1 = C @ ys[k + 1] - d
        ss = [0.0, 1.0]
        for i, j in itertools.combinations(range(len(d)), 2):
            den = (g1[i] - g0[i]) - (g1[j] - g0[j])
            if den != 0:
                s = (g0[j] - g0[i]) / den
                if 0 < s < 1:
                    ss.append(s)
        best = min(best, min(float(np.max(g0 + s * (g1 - g0))) for s in ss))
    return best


def worst_margin_patterns(net: ReLUNetwork, lo, hi, C, d, rows=()) -> float:
    """``min_x max_i (C_i f(x) - d_i)`` over a polytope: one linprog per activation pattern."""
    n_in = net.input_dim
    widths = [w.shape[0] for w in net.weights[:-1]]
    best = np.inf
    for bits in itertools.product([0, 1], repeat=sum(widths)):
        s = np.array(bits, dtype=np.float64)
        M, m = np.eye(n_in), np.zeros(n_in)
        A_ub, b_ub, off = [], [], 0
        for W, b, n in zip(net.weights[:-1], net.biases[:-1], widths, strict=True):
            A, dv = W @ M, W @ m + b
            sig = 1.0 - 2.0 * s[off:off + n]
            A_ub.append(sig[:, None] * A)
            b_ub.append(-sig * dv)
            M, m = A * s[off:off + n, None], dv * s[off:off + n]
            off += n
        alpha, beta = net.weights[-1] @ M, net.weights[-1] @ m + net.biases[-1]
        G = np.vstack(A_ub)
        k = len(d)
        rows_x = [np.hstack([G, np.zeros((len(G), 1))]),
                  np.hstack([C @ alpha, -np.ones((k, 1))])]
        rhs = [np.concatenate(b_ub), d - C @ beta]
        for a, bb in rows:
            rows_x.append(np.append(a, 0.0)[None, :])
            rhs.append(np.array([bb]))
        res = linprog(np.r_[np.zeros(n_in), 1.0], A_ub=np.vstack(rows_x),
                      b_ub=np.concatenate(rhs),
                      bounds=[*zip(lo, hi, strict=True), (None, None)], method="highs")
        if res.status == 0:
            best = min(best, float(res.fun))
    return best


def sample_violation(net, prop, n=20000, seed=0):
    """A sampled counterexample (float64, no tolerance), or None."""
    rng = np.random.default_rng(seed)
    for region, outs in prop.cases:
        lo, hi = region.domain.lower, region.domain.upper
        X = lo + (hi - lo) * rng.random((n, lo.size))
        Y = net.forward(X)
        for cons in outs:
            ok = cons.holds(Y)
            if ok.any():
                return X[np.flatnonzero(ok)[0]]
    return None


# ----- the VNN-COMP test/ benchmarks -------------------------------------------------------

@pytest.mark.parametrize("name", ["nano", "tiny", "small"])
@pytest.mark.parametrize("shortcuts", [True, False])
def test_vnncomp_one_input_nets_match_the_exact_1d_oracle(name, shortcuts):
    net = load(shared_file(*TEST_DIR, f"test_{name}.onnx"))
    prop = parse_vnnlib(shared_file(*TEST_DIR, f"test_{name}.vnnlib"))
    region, outs = prop.cases[0]
    a, b = float(region.lower_exact[0]), float(region.upper_exact[0])
    worst = min(worst_margin_1d(net, a, b, c.C, c.d) for c in outs)
    expected = "sat" if worst <= 0 else "unsat"
    res = verify_property(net, prop, shortcuts=shortcuts)
    assert res.status == expected
    if expected == "sat":
        assert_replays(net, prop, res)
    if not shortcuts:
        assert res.method == "regions" and res.regions_checked >= 1


def test_vnncomp_test_sat_is_found_and_replays():
    net = load(shared_file(*TEST_DIR, "test_sat.onnx"))
    prop = parse_vnnlib(shared_file(*TEST_DIR, "test_prop.vnnlib"))
    assert sample_violation(net, prop) is not None  # independent: plain sampling finds one
    res = verify_property(net, prop)
    assert_replays(net, prop, res)


def test_vnncomp_test_unsat_holds():
    net = load(shared_file(*TEST_DIR, "test_unsat.onnx"))
    prop = parse_vnnlib(shared_file(*TEST_DIR, "test_prop.vnnlib"))
    # independent evidence: dense sampling finds nothing (VNN-COMP's answer is unsat; this
    # 6x50 net is too big for a brute-force oracle, so the region stage cross-check is slow)
    assert sample_violation(net, prop) is None
    res = verify_property(net, prop)
    assert res.status == "unsat" and res.counterexample is None


# ----- synthetic properties with known answers -----------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("answer", ["sat", "unsat"])
def test_random_1d_nets_match_breakpoint_oracle(seed, answer, tmp_path):
    net = random_net([1, 8, 8, 2], seed)
    C = np.array([[1.0, -1.0], [0.0, 1.0]])  # y0 - y1 <= d0 and y1 <= d1
    base = np.array([0.0, 0.0])
    worst = worst_margin_1d(net, -2.0, 2.0, C, base)
    # shift both rows by the same amount: the worst margin moves by exactly that amount
    shift = worst + GAP if answer == "sat" else worst - GAP
    prop = parse_vnnlib_text(vnnlib_text([-2.0], [2.0], [(C, base + shift)]))
    for shortcuts in (True, False):
        res = verify_property(net, prop, shortcuts=shortcuts)
        assert res.status == answer, (shortcuts, res)
        if answer == "sat":
            assert_replays(net, prop, res)


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("answer", ["sat", "unsat"])
def test_random_2d_nets_match_exhaustive_pattern_lps(seed, answer):
    net = random_net([2, 4, 2, 3], seed)
    lo, hi = np.array([-1.0, -1.5]), np.array([1.5, 1.0])
    rows = [(np.array([1.0, 1.0]), 0.75)]  # a cut of the box: exercises polytope inputs
    C1 = np.array([[1.0, -1.0, 0.0], [1.0, 0.0, -1.0]])  # "y0 is maximal" ...
    C2 = np.array([[0.0, 1.0, 0.0]])  # ... or y1 small
    w1 = worst_margin_patterns(net, lo, hi, C1, np.zeros(2), rows)
    w2 = worst_margin_patterns(net, lo, hi, C2, np.zeros(1), rows)
    # sat: the second disjunct is reachable by GAP; unsat: both are missed by GAP
    if answer == "sat":
        d1, d2 = w1 - GAP, w2 + GAP
    else:
        d1, d2 = w1 - GAP, w2 - GAP
    text = vnnlib_text(lo, hi, [(C1, np.full(2, d1)), (C2, np.full(1, d2))], rows)
    prop = parse_vnnlib_text(text)
    for shortcuts in (True, False):
        res = verify_property(net, prop, shortcuts=shortcuts)
        assert res.status == answer, (shortcuts, res)
        if answer == "sat":
            assert_replays(net, prop, res)
        elif not shortcuts:
            assert res.regions_checked >= 1 and res.complete


def test_boundary_counterexample_is_accepted_when_it_replays_exactly():
    # y = relu(x) on [-1, 1], unsafe iff y >= 1: the only violation is the corner x = 1
    net = ReLUNetwork([np.array([[1.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    prop = parse_vnnlib_text(vnnlib_text([-1.0], [1.0], [(np.array([[-1.0]]), [-1.0])]))
    for shortcuts in (True, False):
        res = verify_property(net, prop, shortcuts=shortcuts)
        assert_replays(net, prop, res)
        assert res.counterexample[0][0] == 1.0


def test_unreplayable_boundary_point_gives_unknown_not_sat():
    # unsafe iff y = relu(x) >= 1/10 with x <= 1/10: only x = 1/10 exactly, which no double
    # represents (float(0.1) > 1/10), so the honest answer is "unknown"
    net = ReLUNetwork([np.array([[1.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    text = ("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
            "(assert (>= X_0 -1))\n(assert (<= X_0 0.1))\n(assert (>= Y_0 0.1))\n")
    prop = parse_vnnlib_text(text)
    assert Fraction(0.1) > Fraction(1, 10)
    for shortcuts in (True, False):
        res = verify_property(net, prop, shortcuts=shortcuts)
        assert res.status == "unknown", res
        assert res.counterexample is None and "tolerance" in res.reason


def test_fixed_point_input_is_decided_exactly():
    net = ReLUNetwork([np.array([[2.0]]), np.array([[1.0]])], [np.zeros(1), np.array([-1.0])])
    # f(0.75) = 0.5 exactly
    hold = parse_vnnlib_text(vnnlib_text([0.75], [0.75], [(np.array([[-1.0]]), [-0.6])]))
    viol = parse_vnnlib_text(vnnlib_text([0.75], [0.75], [(np.array([[-1.0]]), [-0.5])]))
    assert verify_property(net, hold).status == "unsat"
    res = verify_property(net, viol)
    assert_replays(net, viol, res)


def test_unbounded_inputs_and_several_input_cases():
    # f(x) = |x| on all of R (no input constraint at all), then on two disjoint intervals
    net = ReLUNetwork([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])],
                      [np.zeros(2), np.zeros(1)])
    head = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
    far = parse_vnnlib_text(head + "(assert (>= Y_0 5000))\n")
    never = parse_vnnlib_text(head + "(assert (<= Y_0 -1))\n")
    two = parse_vnnlib_text(head + "(assert (or (and (>= X_0 -1) (<= X_0 -0.5)) "
                            "(and (>= X_0 2) (<= X_0 3))))\n(assert (>= Y_0 2.5))\n")
    assert len(two.cases) == 2
    for shortcuts in (True, False):
        assert_replays(net, far, verify_property(net, far, shortcuts=shortcuts))
        assert verify_property(net, never, shortcuts=shortcuts).status == "unsat"
        res = verify_property(net, two, shortcuts=shortcuts)
        assert_replays(net, two, res)
        assert 2 <= res.counterexample[0][0] <= 3


def test_dimension_mismatch_is_an_input_error():
    from verishallow.errors import InputError

    net = random_net([2, 3, 1], 0)
    prop = parse_vnnlib_text(vnnlib_text([0.0], [1.0], [(np.array([[1.0]]), [0.0])]))
    with pytest.raises(InputError, match="inputs"):
        verify_property(net, prop)


def test_format_counterexample_reads_back_exactly():
    x, y = np.array([0.1, -2.5e-17]), np.array([1 / 3])
    text = format_counterexample(x, y)
    assert text.startswith("((X_0 ") and text.endswith("))")
    lines = text.splitlines()
    assert lines[1].startswith(" (X_1 ") and lines[2].startswith(" (Y_0 ")
    vals = [float(line.strip("() ").split()[1]) for line in lines]
    assert vals == [*x, *y]


# ----- ACAS Xu ------------------------------------------------------------------------------

def acas(net_id: str):
    return load(shared_file(*ACAS_DIR, f"ACASXU_run2a_{net_id}_batch_2000.onnx"))


def sub_box_property(prop_path: Path, factor: float, path: Path) -> Path:
    """The property with its input box shrunk by ``factor`` around its centre."""
    base = parse_vnnlib(prop_path)
    region, outs = base.cases[0]
    lo, hi = region.domain.lower, region.domain.upper
    c, r = (lo + hi) / 2, (hi - lo) / 2 * factor
    path.write_text(vnnlib_text(c - r, c + r, [(o.C, o.d) for o in outs]))
    return path


def test_acas_prop3_violated_on_1_7_found_by_the_shortcut():
    net = acas("1_7")
    prop = parse_vnnlib(shared_file(*ACAS_DIR, "prop_3.vnnlib"))
    res = verify_property(net, prop)
    assert res.method == "sampling" and res.regions_checked == 0
    assert_replays(net, prop, res)


def test_acas_prop3_sub_box_on_1_1_holds_by_regions(tmp_path):
    # VNN-COMP: prop 3 holds on 1_1, so it holds on any sub-box; the region stage alone
    # checks ~20 regions and SCIP proves their coverage
    net = acas("1_1")
    path = sub_box_property(shared_file(*ACAS_DIR, "prop_3.vnnlib"), 0.1, tmp_path / "p.vnnlib")
    prop = parse_vnnlib(path)
    res = verify_property(net, prop, shortcuts=False)
    assert res.status == "unsat" and res.method == "regions" and res.complete
    assert res.regions_checked > 1
    assert verify_property(net, prop).status == "unsat"


def test_acas_region_stage_finds_a_violation_near_a_known_one(tmp_path):
    # a small box around the shortcut's counterexample on 1_7: the region stage must find one
    net = acas("1_7")
    full = parse_vnnlib(shared_file(*ACAS_DIR, "prop_3.vnnlib"))
    x, _ = verify_property(net, full).counterexample
    region, outs = full.cases[0]
    lo, hi = region.domain.lower, region.domain.upper
    r = (hi - lo) * 0.02
    text = vnnlib_text(np.maximum(x - r, lo), np.minimum(x + r, hi), [(o.C, o.d) for o in outs])
    prop = parse_vnnlib_text(text)
    res = verify_property(net, prop, shortcuts=False)
    assert res.method == "regions"
    assert_replays(net, prop, res)


@pytest.mark.slow
@pytest.mark.parametrize("net_id", ["1_7", "1_8", "1_9"])
@pytest.mark.parametrize("prop_id", [3, 4])
def test_acas_known_violations(net_id, prop_id):
    net = acas(net_id)
    prop = parse_vnnlib(shared_file(*ACAS_DIR, f"prop_{prop_id}.vnnlib"))
    assert_replays(net, prop, verify_property(net, prop))


@pytest.mark.slow
@pytest.mark.parametrize("prop_id", [3, 4])
def test_acas_1_1_holds_on_a_large_sub_box(prop_id, tmp_path):
    # VNN-COMP: props 3 and 4 hold on 1_1. The full boxes have ~72k (prop 3) and ~19k (prop 4)
    # regions, whose SCIP coverage proof takes far longer than a test should; 30% of the box
    # (~700 regions for prop 3) is checked region by region with coverage proved in ~15 s
    net = acas("1_1")
    path = sub_box_property(shared_file(*ACAS_DIR, f"prop_{prop_id}.vnnlib"), 0.3,
                            tmp_path / "p.vnnlib")
    res = verify_property(net, parse_vnnlib(path), shortcuts=False,
                          workers=1)
    assert res.status == "unsat" and res.complete and res.regions_checked > 100


@pytest.mark.slow
def test_acas_1_1_prop_4_holds_on_the_full_box():
    """VNN-COMP: prop 4 holds on 1_1. The full box has ~19k regions; SCIP does not prove their
    coverage in its budget, the exact certificate does, and only with the one thin region
    (radius ~3e-10) that borders four of them: verify must check the property there too."""
    net = acas("1_1")
    prop = parse_vnnlib(shared_file(*ACAS_DIR, "prop_4.vnnlib"))
    res = verify_property(net, prop, shortcuts=False, workers=2)
    assert res.status == "unsat" and res.complete, res.reason
    assert res.regions_checked > 19_000


@pytest.mark.slow
def test_vnncomp_test_unsat_holds_by_regions_alone():
    net = load(shared_file(*TEST_DIR, "test_unsat.onnx"))
    prop = parse_vnnlib(shared_file(*TEST_DIR, "test_prop.vnnlib"))
    res = verify_property(net, prop, shortcuts=False)
    assert res.status == "unsat" and res.regions_checked > 1


# ----- CLI ----------------------------------------------------------------------------------

def _write_1d(tmp_path: Path, threshold: float) -> tuple[Path, Path]:
    """y = relu(x) on [-1, 1] saved as .npz, and the property y >= threshold."""
    model = tmp_path / "relu.npz"
    np.savez(model, W0=np.array([[1.0]]), b0=np.zeros(1), W1=np.array([[1.0]]), b1=np.zeros(1))
    prop = tmp_path / "p.vnnlib"
    prop.write_text(vnnlib_text([-1.0], [1.0], [(np.array([[-1.0]]), [-threshold])]))
    return model, prop


def test_cli_sat_prints_vnncomp_counterexample_and_exits_1():
    model = shared_file(*TEST_DIR, "test_sat.onnx")
    prop_path = shared_file(*TEST_DIR, "test_prop.vnnlib")
    code, out, _ = run("verify", model, prop_path, "--quiet")
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0] == "sat"
    assert lines[1].startswith("((X_0 ") and lines[-1].endswith("))")
    vals = {}
    for line in lines[1:]:
        name, v = line.strip("() ").split()
        vals[name] = float(v)
    assert list(vals) == [f"X_{i}" for i in range(5)] + [f"Y_{j}" for j in range(5)]
    net, prop = load(model), parse_vnnlib(prop_path)
    x = np.array([vals[f"X_{i}"] for i in range(5)])
    assert np.array_equal(net.forward(x), [vals[f"Y_{j}"] for j in range(5)])
    assert replay(net, prop, x) is not None


def test_cli_unsat_json_and_exit_0():
    code, out, err = run("verify", shared_file(*TEST_DIR, "test_small.onnx"),
                         shared_file(*TEST_DIR, "test_small.vnnlib"), "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert {"status", "counterexample", "regions_checked", "seconds"} <= set(data)
    assert data["status"] == "unsat" and data["counterexample"] is None


def test_cli_sat_json_counterexample(tmp_path):
    model, prop = _write_1d(tmp_path, 0.5)
    code, out, _ = run("verify", model, prop, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == "sat"
    x, y = data["counterexample"]["x"], data["counterexample"]["y"]
    assert len(x) == 1 and len(y) == 1 and y[0] >= 0.5 and -1 <= x[0] <= 1


def test_cli_time_limit_gives_unknown_and_exit_3(tmp_path):
    # holds only just (max of relu on [-1, 1] is 1): not provable in zero seconds
    model, prop = _write_1d(tmp_path, 1.0 + 1e-3)
    code, out, _ = run("verify", model, prop, "--time-limit", "0", "--quiet")
    assert code == 3 and out.strip() == "unknown"
    code, out, _ = run("verify", model, prop, "--quiet", "--workers", "1")
    assert code == 0 and out.strip() == "unsat"


def test_cli_bad_inputs_exit_2(tmp_path):
    model, _ = _write_1d(tmp_path, 0.5)
    bad = tmp_path / "bad.vnnlib"
    bad.write_text("(declare-const X_0 Real)\n(assert (<= X_0 1)")
    two = tmp_path / "two.vnnlib"
    two.write_text(vnnlib_text([0.0, 0.0], [1.0, 1.0], [(np.array([[1.0]]), [0.0])]))
    for args in ((model, bad), (model, two), (model, tmp_path / "missing.vnnlib")):
        code, out, err = run("verify", *args)
        assert code == 2, (args, code, out, err)
        assert "Traceback" not in err
        lines = [ln for ln in err.strip().splitlines() if ln]
        assert len(lines) == 1 and lines[0].startswith("error:"), err


def test_unsat_coverage_by_exact_certificate_without_scip(monkeypatch):
    """The exact certificate proves coverage; SCIP is never asked when it does."""
    import verishallow.solvers.milp as milp
    import verishallow.verify as V

    def no_scip(*args, **kw):
        raise AssertionError("SCIP's coverage query ran although the certificate proved it")

    monkeypatch.setattr(milp, "find_uncovered", no_scip)
    rng = np.random.default_rng(3)
    net = ReLUNetwork([rng.normal(size=(6, 2)), rng.normal(size=(5, 6)), rng.normal(size=(1, 5))],
                      [rng.normal(size=6), rng.normal(size=5), rng.normal(size=1)])
    X = rng.uniform(-1, 1, size=(20000, 2))
    top = float(net.forward(X).max())
    # the unsafe set "y >= top + 1" is empty: no output comes near the sampled max + 1
    prop = parse_vnnlib_text(vnnlib_text([-1.0, -1.0], [1.0, 1.0],
                                         [(np.array([[-1.0]]), [-(top + 1.0)])]))
    res = V.verify_property(net, prop, shortcuts=False)
    assert res.status == "unsat", res.reason
    assert "certificate" in res.reason and res.regions_checked > 1
