"""CLI contract: JSON keys, domain flags, exit codes, one-line errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from verishallow.cli import main

MODELS = Path(__file__).resolve().parents[1] / "models"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code, out, err):
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error:"), err


def test_info_json_keys():
    code, out, _ = run("info", MODELS / "moons.onnx", "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("inputs", "outputs", "hidden_widths", "neurons", "fingerprint",
                "stable_active", "stable_inactive", "unstable"):
        assert key in data
    assert data["inputs"] == 2 and data["hidden_widths"] == [16, 16]
    assert data["stable_active"] + data["stable_inactive"] + data["unstable"] == 32


def test_regions_json_and_domain_flags_agree():
    keys = {"regions", "mean_facets", "facet_histogram", "stable_neurons", "unstable_neurons",
            "method", "seconds", "complete"}
    code, out, err = run("regions", MODELS / "sine.onnx", "--lower", "-1", "--upper", "1",
                         "--json", "--no-coverage-proof")
    assert code == 0, err
    a = json.loads(out)
    assert keys <= set(a)
    assert err == ""  # --json: no progress bar
    # a box starting with a minus sign needs "--" so it is not read as an option
    code, out, _ = run("regions", MODELS / "sine.onnx", "--json", "--no-coverage-proof", "--",
                       "-1:1")
    b = json.loads(out)
    assert a["regions"] == b["regions"] and a["facet_histogram"] == b["facet_histogram"]
    assert sum(a["facet_histogram"].values()) == a["regions"]


def test_regions_vnnlib_and_whole_space(tmp_path):
    vnn = tmp_path / "p.vnnlib"
    vnn.write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
                   "(assert (>= X_0 -0.5))\n(assert (<= X_0 0.5))\n(assert (>= Y_0 10))\n")
    code, out, err = run("regions", MODELS / "sine.onnx", "--vnnlib", vnn, "--json",
                         "--no-coverage-proof")
    assert code == 0, err
    code2, out2, _ = run("regions", MODELS / "sine.onnx", "--json", "--no-coverage-proof",
                         "--", "-0.5:0.5")
    assert json.loads(out)["regions"] == json.loads(out2)["regions"]
    code, out, err = run("regions", MODELS / "sine.onnx", "--whole-space", "--json",
                         "--no-coverage-proof")
    assert code == 0, err
    assert json.loads(out)["regions"] >= json.loads(out2)["regions"]


def test_missing_file():
    assert_one_line_error(*run("info", "no/such/model.onnx"))


def test_corrupt_onnx(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    assert_one_line_error(*run("info", bad))


def test_truncated_onnx(tmp_path):
    data = (MODELS / "moons.onnx").read_bytes()
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(data[: len(data) // 2])
    assert_one_line_error(*run("regions", bad, "0:1,0:1"))


def test_nan_weights(tmp_path):
    f = tmp_path / "nan.npz"
    np.savez(f, W0=np.array([[np.nan, 1.0]]), b0=np.zeros(1), W1=np.ones((1, 1)), b1=np.zeros(1))
    code, out, err = run("info", f)
    assert_one_line_error(code, out, err)
    assert "NaN" in err


def test_unsupported_op(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"], name="squash")],
                              "g", [x], [y])
    f = tmp_path / "sig.onnx"
    onnx.save(helper.make_model(graph), f)
    code, out, err = run("info", f)
    assert_one_line_error(code, out, err)
    assert "Sigmoid" in err and "squash" in err


@pytest.mark.parametrize("args", [
    ("--lower", "0,0,0", "--upper", "1,1,1"),
    ("0:1",),
    ("--lower", "0,0"),
    ("1:0,0:1",),
    ("nonsense",),
])
def test_bad_domains(args):
    code, out, err = run("regions", MODELS / "moons.onnx", *args, "--no-coverage-proof")
    assert code == 2, (code, err)
    assert "Traceback" not in err


def test_debug_shows_traceback():
    result = CliRunner().invoke(main, ["--debug", "info", "no/such/model.onnx"])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr


def test_model_without_default_domain(tmp_path):
    f = tmp_path / "plain.npz"
    np.savez(f, W0=np.ones((2, 2)), b0=np.zeros(2), W1=np.ones((1, 2)), b1=np.zeros(1))
    code, out, err = run("regions", f)
    assert_one_line_error(code, out, err)
    assert "domain" in err


def test_json_stdout_is_pure_json_in_a_fresh_process():
    """Solver banners (HiGHS prints one per process on C-level stdout) must not reach stdout."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "verishallow", "regions", str(MODELS /
                           "sine.onnx"), "--json", "--no-coverage-proof"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["regions"] > 0


def test_c_level_stdout_noise_goes_to_stderr_under_json():
    """What C libraries write to fd 1 during a --json command lands on stderr, not in the JSON."""
    import subprocess
    import sys

    code = ("import os\nfrom verishallow.cli import common\n"
            "with common._json_stdout(True):\n"
            "    os.write(1, b'solver noise\\n')\n"
            "    print('python noise')\n"
            "    common.emit_json({'ok': 1})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"ok": 1}
    assert "solver noise" in proc.stderr and "python noise" in proc.stderr


def test_every_command_has_json_and_quiet():
    from verishallow.cli import COMMANDS

    for _, name in COMMANDS:
        code, out, err = run(name, "--help")
        assert code == 0, (name, err)
        assert "--json" in out and "--quiet" in out, name


def test_regions_coverage_proof_is_the_exact_certificate_first():
    """The default coverage proof is the exact certificate (re-checked in rational arithmetic);
    SCIP gives its second opinion only when asked; a budget that leaves no time proves nothing
    and says why."""
    model = MODELS / "blobs3d.onnx"
    code, out, err = run("regions", model, "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["complete"] is True and rep["coverage"]["by"] == "certificate"
    assert rep["coverage"]["certificate"]["valid"] is True and "scip" not in rep["coverage"]
    code, out, err = run("regions", model, "--scip-coverage", "--json")
    assert code == 0, err
    both = json.loads(out)
    assert both["coverage"]["by"] == "certificate"
    assert both["coverage"]["scip"]["status"] == "covered"
    assert both["regions"] == rep["regions"]
    code, out, err = run("regions", model, "--time-limit", "1e-6", "--json")
    assert code == 0, err
    starved = json.loads(out)
    assert starved["complete"] is False and starved["coverage"]["status"] == "unknown"
    assert "budget" in starved["coverage"]["reason"]
    code, out, err = run("regions", model)
    assert code == 0 and "proved complete by the exact certificate" in out
    code, out, err = run("regions", model, "--scip-coverage", "--store", "somewhere")
    assert_one_line_error(code, out, err)
    code, out, err = run("regions", model, "--exact-coverage", "--json")  # old scripts
    assert code == 0 and json.loads(out)["complete"] is True


def test_cli_method_choices_match_the_engines():
    from verishallow.cli.common import REGION_METHODS
    from verishallow.regions import METHODS

    assert set(REGION_METHODS) == set(METHODS)
