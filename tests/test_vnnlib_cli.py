"""The VNN-LIB 2.0 solver command line on the cases vnnlib-satisfactory 1.0.1 found wanting.

``verishallow verify SPEC --network N=MODEL.onnx``: Cast to integer and bool types (constant on
the query's input box), Shape and other integer outputs (exact comparisons), queries without an
output constraint, and the element-type rule (float types read as real unless --strict-float).
The models mirror the suite's own (see docs/vnnlib-satisfactory.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from verishallow.cli import main
from verishallow.cli.verify import STRICT_FLOAT_ENV

F, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def run(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result.exit_code, result.stdout, result.stderr


def save(path: Path, nodes, inputs, outputs, inits=()) -> Path:
    graph = helper.make_graph(nodes, "t", inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def cast_net(tmp_path: Path, to: int, back: int | None = F, n: int = 1) -> Path:
    """y = Cast(Cast(x, to), back) + 0, or Cast(x, to) + 0 with an integer output."""
    nodes = [helper.make_node("Cast", ["x"], ["c"], to=to)]
    last, out = "c", to
    if back is not None:
        nodes.append(helper.make_node("Cast", ["c"], ["b"], to=back))
        last, out = "b", back
    zero = np.zeros(1, np.float32 if out == F else np.int64)
    nodes.append(helper.make_node("Add", [last, "z"], ["y"]))
    return save(tmp_path / "cast.onnx", nodes, [helper.make_tensor_value_info("x", F, [n])],
                [helper.make_tensor_value_info("y", out, [n])],
                [numpy_helper.from_array(zero, "z")])


def query(tmp_path: Path, body: str, x: str = "real [1]", y: str = "real [1]") -> Path:
    path = tmp_path / "q.vnnlib"
    path.write_text(f"(vnnlib-version <2.0>)\n(declare-network N\n    (declare-input X {x})\n"
                    f"    (declare-output Y {y})\n)\n{body}\n")
    return path


def verify(spec: Path, model: Path, *extra, env=None):
    return run("verify", spec, "--network", f"N={model}", "--timeout", 20, *extra, env=env)


BOOL_BOX = "(assert (>= X[0] -2.0))\n(assert (<= X[0] -1.0))\n"
INT_BOX = "(assert (>= X[0] 3.0))\n(assert (<= X[0] 3.4))\n"


@pytest.mark.parametrize("to, box, output, verdict", [
    # Cast(x, BOOL) is 1 for every nonzero x; Cast(x, INT64) truncates (3 on [3, 3.4])
    (BOOL, BOOL_BOX, "(assert (<= Y[0] 0.5))", "unsat"),
    (BOOL, BOOL_BOX, "(assert (>= Y[0] 1.0))", "sat"),
    (I64, INT_BOX, "(assert (>= Y[0] 3.5))", "unsat"),
    (I64, INT_BOX, "(assert (and (>= Y[0] 3.0) (<= Y[0] 3.0)))", "sat"),
])
def test_cast_round_trips_decide_on_the_input_box(tmp_path, to, box, output, verdict):
    code, out, err = verify(query(tmp_path, box + output), cast_net(tmp_path, to))
    assert out.splitlines()[0] == verdict, err
    assert code == (0 if verdict == "unsat" else 1)


def test_a_cast_that_jumps_on_the_box_is_refused_in_one_line(tmp_path):
    spec = query(tmp_path, "(assert (>= X[0] 2.5))\n(assert (<= X[0] 3.5))\n"
                           "(assert (>= Y[0] 3.0))")
    code, out, err = verify(spec, cast_net(tmp_path, I64))
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1
    assert "Cast to int64" in lines[0] and "not constant" in lines[0]


def test_project_form_loads_a_cast_on_the_property_box(tmp_path):
    spec = query(tmp_path, BOOL_BOX + "(assert (<= Y[0] 0.5))")
    code, out, err = run("verify", cast_net(tmp_path, BOOL), spec)
    assert code == 0 and out.splitlines()[0] == "unsat", err


@pytest.mark.parametrize("output, verdict", [
    ("(assert (>= Y[0] 4))", "unsat"),
    ("(assert (>= Y[0] 3))", "sat"),
    # Y is the integer 3: Y < 3 is false (its closure Y <= 3 would be true), Y > 2 is true
    ("(assert (< Y[0] 3))", "unsat"),
    ("(assert (> Y[0] 2))", "sat"),
    ("(assert (!= Y[0] 3))", "unsat"),
])
def test_shape_output_with_an_integer_type(tmp_path, output, verdict):
    model = save(tmp_path / "shape.onnx", [helper.make_node("Shape", ["x"], ["y"])],
                 [helper.make_tensor_value_info("x", F, [3])],
                 [helper.make_tensor_value_info("y", I64, [1])])
    box = "".join(f"(assert (>= X[{i}] 0.0))\n(assert (<= X[{i}] 1.0))\n" for i in range(3))
    spec = query(tmp_path, box + output, x="real [3]", y="int64 [1]")
    code, out, err = verify(spec, model)
    assert out.splitlines()[0] == verdict, err
    assert code == (0 if verdict == "unsat" else 1)


def test_int64_cast_output_and_a_type_mismatch(tmp_path):
    model = cast_net(tmp_path, I64, back=None)
    spec = query(tmp_path, INT_BOX + "(assert (>= Y[0] 4))", y="int64 [1]")
    code, out, err = verify(spec, model)
    assert code == 0 and out.splitlines()[0] == "unsat", err
    # the standard: declared types must match the model's (unless real)
    spec = query(tmp_path, INT_BOX + "(assert (>= Y[0] 4))", y="int32 [1]")
    code, out, err = verify(spec, model)
    assert code == 2 and out == "" and "Y is declared int32 but output 0" in err
    assert "is int64" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("bound, verdict", [("3.0", "unsat"), ("2.0", "sat")])
def test_a_query_without_output_constraints(tmp_path, bound, verdict):
    # vnnlib-satisfactory arithmetic_lin01 ended in an internal error (exit 4)
    model = save(tmp_path / "id.onnx", [helper.make_node("Add", ["x", "z"], ["y"])],
                 [helper.make_tensor_value_info("x", F, [2])],
                 [helper.make_tensor_value_info("y", F, [2])],
                 [numpy_helper.from_array(np.zeros(2, np.float32), "z")])
    body = "".join(f"(assert (>= X[{i}] 0.0))\n(assert (<= X[{i}] 2.0))\n" for i in range(2))
    body += f"(assert (>= (+ (* 0.5 X[0]) (* 0.75 X[1])) {bound}))"
    code, out, err = verify(query(tmp_path, body, x="real [2]", y="real [2]"), model)
    assert out.splitlines()[0] == verdict, err
    assert code == (0 if verdict == "unsat" else 1)


def test_float_types_read_as_real_unless_strict(tmp_path):
    # the analysis is exact over the reals: float32 declarations are read as real by default
    # (as other verifiers do); --strict-float (or its variable) refuses them in one line
    model = cast_net(tmp_path, BOOL)
    spec = query(tmp_path, BOOL_BOX + "(assert (<= Y[0] 0.5))", x="float32 [1]",
                 y="float32 [1]")
    code, out, err = verify(spec, model)
    assert code == 0 and out.splitlines()[0] == "unsat", err
    for extra, env in ((("--strict-float",), None), ((), {STRICT_FLOAT_ENV: "1"})):
        code, out, err = verify(spec, model, *extra, env=env)
        lines = err.splitlines()
        assert code == 2 and out == "" and len(lines) == 1, err
        assert "q.vnnlib:3: X is declared float32" in lines[0] and "--strict-float" in lines[0]
    # read as real, every float type fits a float32 model (the standard exempts real from
    # the type match); strict, the type is refused first
    spec = query(tmp_path, BOOL_BOX + "(assert (<= Y[0] 0.5))", x="float64 [1]",
                 y="float16 [1]")
    code, out, err = verify(spec, model, "--float-as-real")  # old scripts: accepted, no-op
    assert code == 0 and out.splitlines()[0] == "unsat", err
    code, out, err = verify(spec, model, "--strict-float")
    assert code == 2 and "X is declared float64" in err
