"""``verishallow supports``: the VNN-LIB 2.0 capability query."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from verishallow.cli import main
from verishallow.cli.supports import CAPABILITIES
from verishallow.io.onnx import CONSTANT_ONLY_OPS, OPSET_RANGE, SUPPORTED_OPS


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_onnx_operators_one_per_line_from_the_loader():
    code, out, err = run("supports", "--onnx-operators")
    assert code == 0, err
    lines = out.splitlines()
    assert lines == sorted({*SUPPORTED_OPS, *CONSTANT_ONLY_OPS})
    for op in ("Conv", "MaxPool", "AveragePool", "BatchNormalization", "Gemm", "Relu",
               "Reshape", "Slice", "Gather"):
        assert op in lines
    assert "Sigmoid" not in lines and "Softmax" not in lines


def test_pairs_and_booleans():
    code, out, _ = run("supports", "--onnx-opset-versions")
    assert code == 0 and out.splitlines() == [str(v) for v in OPSET_RANGE]
    code, out, _ = run("supports", "--vnnlib-versions")
    assert code == 0 and out.splitlines() == ["1.0", "2.0"]
    code, out, _ = run("supports", "--onnx-element-types")
    assert code == 0 and out.splitlines()[0] == "real"
    for flag in ("--unsat-proofs", "--serialise-assignments",
                 "--optimised-disjunctive-reasoning"):
        code, out, _ = run("supports", flag)
        assert code == 0 and out == "false\n", flag
    code, out, _ = run("supports", "--onnx-operators-unsat-proofs")
    assert code == 0 and out == ""


@pytest.mark.parametrize("flag, answer", [
    ("--hidden-node-theories", "NH"), ("--multiple-input-output-theories", "SIO"),
    ("--multiple-network-theories", "SNET"), ("--multiple-node-comparison-theories", "SNC"),
    ("--arithmetic-complexity-theories", "BND OUTC LIN")])
def test_theories(flag, answer):
    # every theory contained in a supported one is listed too (LIN contains BND and OUTC)
    code, out, _ = run("supports", flag)
    assert code == 0 and out.splitlines() == answer.split()


def test_json_all_and_selected():
    code, out, _ = run("supports", "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == [flag for flag, _, _ in CAPABILITIES]
    assert data["onnx-operators"] == sorted({*SUPPORTED_OPS, *CONSTANT_ONLY_OPS})
    assert data["unsat-proofs"] is False
    code, out, _ = run("supports", "--json", "--onnx-operators", "--unsat-proofs")
    assert code == 0 and set(json.loads(out)) == {"onnx-operators", "unsat-proofs"}


def test_needs_exactly_one_capability_without_json():
    code, _, err = run("supports")
    assert code == 2 and "exactly one capability" in err
    code, _, err = run("supports", "--onnx-operators", "--unsat-proofs")
    assert code == 2 and "exactly one capability" in err


def test_help_documents_every_capability():
    code, out, _ = run("supports", "--help")
    assert code == 0
    for flag, _, _ in CAPABILITIES:
        assert f"--{flag}" in out


def test_element_types_real_floats_as_real_and_integer_outputs():
    # real first; float types carry the note that they are read as real (no rounding
    # modelled); integer types are claimed for outputs only (the standard's "IDENT * note")
    code, out, _ = run("supports", "--onnx-element-types")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "real"
    floats = [ln for ln in lines if ln.split()[0].startswith(("float", "bfloat", "double"))]
    assert floats and all("read as real" in ln for ln in floats)
    idents = [ln.split()[0] for ln in lines]
    assert "int64" in idents and "uint8" in idents
    assert all(" * outputs only" in ln for ln in lines if "int" in ln.split()[0])


def test_global_name_and_version_options():
    # VNN-LIB 2.0 "Global Options": --name prints the solver's name, --version a bare
    # version string (the VNN-LIB solver database compares it with the release directory)
    from verishallow import __version__

    code, out, _ = run("--name")
    assert code == 0 and out == "verishallow\n"
    code, out, _ = run("--version")
    assert code == 0 and out == f"{__version__}\n"


def test_a_closed_pipe_is_not_an_error():
    # ``verishallow supports --onnx-operators | head -1``: the reader leaves early
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "verishallow", "supports", "--onnx-operators"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    proc.stdout.close()  # before the first write: every write then fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "error" not in err, err
