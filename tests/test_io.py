"""Model loaders and writers: ONNX (tracing, fusion, refusal), NNet, npz, torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import VNNCOMP, shared_file
from onnx import TensorProto, helper, numpy_helper

from verishallow.domain import Box, Polytope
from verishallow.errors import InputError, UnsupportedModelError
from verishallow.io import (
    from_torch,
    load,
    load_with_domain,
    save_nnet,
    save_npz,
    save_onnx,
    sidecar_path,
)
from verishallow.io.onnx import DOMAIN_KEY, SUPPORTED_OPS, network_from_onnx
from verishallow.network import ReLUNetwork

ort = pytest.importorskip("onnxruntime")

#: Largest accepted ``max |ours - onnxruntime| / max |onnxruntime|`` against a float64 run.
REL_TOL = 1e-6
#: The same against the unmodified float32 model (float32 rounding dominates).
FLOAT32_REL_TOL = 1e-4

ACASXU = sorted(VNNCOMP.glob("acasxu/*.onnx"))
OTHER_BENCHMARKS = sorted(VNNCOMP.glob("test/*.onnx")) + sorted(VNNCOMP.glob("mnistfc/*.onnx"))


# ----- onnxruntime helpers ----------------------------------------------------------------

def as_double(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float64 copy of a float32 model, so onnxruntime computes what the file *means*."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64),
                                               t.name))
    for vi in [*g.input, *g.output, *g.value_info]:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(
                    numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
    return m


def ort_outputs(model: onnx.ModelProto, X: np.ndarray) -> np.ndarray:
    """Run each row of ``X`` through onnxruntime (batch 1, the input's own shape)."""
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    dtype = np.float64 if inp.type == "tensor(double)" else np.float32
    return np.array([sess.run(None, {inp.name: x.astype(dtype).reshape(shape)})[0].reshape(-1)
                     for x in X], dtype=np.float64)


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-300))


def check_matches_ort(path_or_model, n: int = 16, seed: int = 0, float32: bool = False) -> None:
    model = onnx.load(str(path_or_model)) if isinstance(path_or_model, Path) else path_or_model
    net = load(path_or_model) if isinstance(path_or_model, Path) else network_from_onnx(model)
    X = np.random.default_rng(seed).standard_normal((n, net.input_dim))
    assert rel_err(net(X), ort_outputs(as_double(model), X)) <= REL_TOL
    if float32:  # and the double copy means what the float32 file computes
        X32 = X.astype(np.float32).astype(np.float64)
        assert rel_err(net(X32), ort_outputs(model, X32)) <= FLOAT32_REL_TOL


# ----- VNN-COMP benchmarks ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["1_1", "2_5", "4_9"])
def test_acasxu_structure_and_exact_weights(name: str):
    path = shared_file("benchmarks", "vnncomp2021", "acasxu",
                       f"ACASXU_run2a_{name}_batch_2000.onnx")
    net = load(path)
    assert net.input_dim == 5 and net.output_dim == 5
    assert net.hidden_widths == (50,) * 6
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    # Sub of a zero mean and Flatten fold away without touching a single bit of the weights
    assert np.array_equal(net.weights[0], inits["Operation_1_MatMul_W"].T.astype(np.float64))
    assert np.array_equal(net.biases[0], inits["Operation_1_Add_B"].astype(np.float64))
    check_matches_ort(path, float32=True)


def test_all_acasxu_networks_match_onnxruntime():
    if not ACASXU:
        pytest.skip("../shared ACAS Xu networks are absent")
    assert len(ACASXU) == 36
    for k, path in enumerate(ACASXU):
        check_matches_ort(path, n=4, seed=k)


@pytest.mark.parametrize("path", OTHER_BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_matches_onnxruntime(path: Path):
    check_matches_ort(path, float32=True)


def test_small_weight_on_the_left():
    """test_small.onnx computes MatMul(W0, X_0) with X_0 of shape [1]."""
    path = shared_file("benchmarks", "vnncomp2021", "test", "test_small.onnx")
    net = load(path)
    assert repr(net) == "ReLUNetwork(1-2-2-1)"
    W0 = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}["W0"]
    assert np.array_equal(net.weights[0], W0.astype(np.float64))


def test_nano_final_relu_gets_identity_output_layer():
    net = load(shared_file("benchmarks", "vnncomp2021", "test", "test_nano.onnx"))
    assert net.hidden_widths == (1,)
    assert np.array_equal(net.weights[-1], [[1.0]]) and np.array_equal(net.biases[-1], [0.0])
    assert np.all(net(np.array([[-3.0], [-1.0]])) == 0.0) or np.all(
        net(np.array([[3.0], [1.0]])) == 0.0)


def test_mnist_dummy_dims():
    net = load(shared_file("benchmarks", "vnncomp2021", "mnistfc", "mnist-net_256x2.onnx"))
    assert repr(net) == "ReLUNetwork(784-256-256-10)"


# ----- constructed ONNX models ------------------------------------------------------------

def _f32(rng, *shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _model(nodes, inits, in_shape, out_shape, opset: int = 13, name: str = "x"):
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info(name, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def test_every_affine_construct_folds_and_matches_onnxruntime():
    rng = np.random.default_rng(1)
    d = 4
    inits = {
        "mean": _f32(rng, d), "std": np.abs(_f32(rng, d)) + 0.5, "shift": _f32(rng, 1, d),
        "Wa": _f32(rng, d, 6),              # transA: Gemm(A^T, B) with A = Wa, B = x^T
        "Wb": _f32(rng, 5, 6), "cb": _f32(rng, 5),   # transB
        "bn_s": _f32(rng, 5), "bn_b": _f32(rng, 5), "bn_m": _f32(rng, 5),
        "bn_v": np.abs(_f32(rng, 5)) + 0.1,
        "shape15": np.array([1, 5, 1], dtype=np.int64), "ax2": np.array([2], dtype=np.int64),
        "ax0": np.array([0], dtype=np.int64),
        "Wm": _f32(rng, 5, 3), "bm": _f32(rng, 3), "scale": np.float32(0.5),
        "Wc": _f32(rng, 2, 3), "cc": _f32(rng, 1, 2),
    }
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["n0"], name="center"),
        helper.make_node("Div", ["n0", "std"], ["n1"], name="normalise"),
        helper.make_node("Sub", ["shift", "n1"], ["n2"], name="const_minus_x"),
        helper.make_node("Neg", ["n2"], ["n3"], name="neg"),
        helper.make_node("Transpose", ["n3"], ["n4"], name="to_column", perm=[1, 0]),
        # (Wa^T @ n4)^T is (6, 1): use transA on the constant, then transpose back with Gemm
        helper.make_node("Gemm", ["Wa", "n4"], ["g0"], name="gemm_transA", transA=1,
                         alpha=0.75),
        helper.make_node("Gemm", ["g0", "Wb", "cb"], ["g1"], name="gemm_transB", transA=1,
                         transB=1, alpha=1.5, beta=-2.0),
        helper.make_node("BatchNormalization", ["g1", "bn_s", "bn_b", "bn_m", "bn_v"], ["g2"],
                         name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["g2"], ["r0"], name="relu0"),
        helper.make_node("Reshape", ["r0", "shape15"], ["r1"], name="reshape"),
        helper.make_node("Squeeze", ["r1", "ax2"], ["r2"], name="squeeze"),
        helper.make_node("Dropout", ["r2"], ["r3"], name="dropout"),
        helper.make_node("Identity", ["r3"], ["r4"], name="identity"),
        helper.make_node("Unsqueeze", ["r4", "ax0"], ["r5"], name="unsqueeze"),
        helper.make_node("Flatten", ["r5"], ["r6"], name="flatten", axis=2),
        helper.make_node("MatMul", ["r6", "Wm"], ["m0"], name="matmul"),
        helper.make_node("Add", ["bm", "m0"], ["m1"], name="add_left"),
        helper.make_node("Mul", ["m1", "scale"], ["m2"], name="mul_scalar"),
        helper.make_node("Constant", [], ["k"], name="const",
                         value=numpy_helper.from_array(_f32(rng, 3), "k")),
        helper.make_node("Mul", ["k", "m2"], ["m3"], name="mul_vector"),
        helper.make_node("Relu", ["m3"], ["r7"], name="relu1"),
        helper.make_node("Gemm", ["r7", "Wc", "cc"], ["y"], name="out", transB=1),
    ]
    model = _model(nodes, inits, [1, d], [1, 2])
    net = network_from_onnx(model)
    assert repr(net) == "ReLUNetwork(4-5-3-2)"  # every affine run fused into one layer
    check_matches_ort(model, n=32, float32=True)


def test_batchnorm_before_gemm_and_dummy_batch_dims():
    rng = np.random.default_rng(2)
    inits = {"s": _f32(rng, 3), "b": _f32(rng, 3), "m": _f32(rng, 3),
             "v": np.abs(_f32(rng, 3)) + 0.2, "W": _f32(rng, 3, 4), "c": _f32(rng, 4),
             "W2": _f32(rng, 4, 1), "shape": np.array([1, 3], dtype=np.int64)}
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["z0"]),
        helper.make_node("Reshape", ["z0", "shape"], ["z1"]),
        helper.make_node("Gemm", ["z1", "W", "c"], ["z2"]),
        helper.make_node("Relu", ["z2"], ["z3"]),
        helper.make_node("MatMul", ["z3", "W2"], ["y"]),
    ]
    model = _model(nodes, inits, [1, 3, 1, 1], [1, 1])
    assert repr(network_from_onnx(model)) == "ReLUNetwork(3-4-1)"
    check_matches_ort(model, float32=True)


def test_exporter_shape_arithmetic_and_concat():
    """torch's old ``x.view(x.size(0), -1)`` export, and Concat of data with a constant."""
    rng = np.random.default_rng(6)
    inits = {"zero": np.array(0, dtype=np.int64), "minus1": np.array([-1], dtype=np.int64),
             "ax0": np.array([0], dtype=np.int64), "pad": _f32(rng, 1, 2),
             "W": _f32(rng, 6, 3), "c": _f32(rng, 3)}
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["s0"], axis=0),
        helper.make_node("Unsqueeze", ["s0", "ax0"], ["s1"]),
        helper.make_node("Concat", ["s1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["f"]),
        helper.make_node("Concat", ["f", "pad"], ["g"], axis=1),
        helper.make_node("Gemm", ["g", "W", "c"], ["y"]),
    ]
    model = _model(nodes, inits, [1, 2, 2], [1, 3])
    net = network_from_onnx(model)
    assert repr(net) == "ReLUNetwork(4-3)"
    check_matches_ort(model, float32=True)


def test_sigmoid_is_refused_naming_node_and_op():
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "W"], ["z"], name="dense", transB=1),
             helper.make_node("Sigmoid", ["z"], ["y"], name="squash")]
    model = _model(nodes, {"W": _f32(rng, 2, 2)}, ["N", 2], ["N", 2])
    with pytest.raises(UnsupportedModelError) as info:
        network_from_onnx(model)
    msg = str(info.value)
    assert "'squash'" in msg and "Sigmoid" in msg and "not piecewise-linear" in msg
    assert all(op in msg for op in SUPPORTED_OPS) and "\n" not in msg


def test_sigmoid_is_refused_and_dead_branches_are_ignored(tmp_path: Path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r"),
             helper.make_node("Tanh", ["x"], ["unused"], name="dead")]  # not on the output path
    net = network_from_onnx(_model(nodes, {}, [1, 3], [1, 3]))
    assert net.hidden_widths == (3,)
    # Conv loads now (tests/test_onnx_ops.py); a non-piecewise-linear op is refused by name
    sig = [helper.make_node("Sigmoid", ["x"], ["y"], name="sig1")]
    model = _model(sig, {}, [1, 3], [1, 3])
    onnx.save(model, tmp_path / "sig.onnx")
    with pytest.raises(UnsupportedModelError, match=r"sig.onnx.*'sig1'.*Sigmoid"):
        load(tmp_path / "sig.onnx")


def test_non_chain_and_nonlinear_graphs_are_explained():
    rng = np.random.default_rng(5)
    W = _f32(rng, 3, 3)
    skip = [helper.make_node("MatMul", ["x", "W"], ["z"], name="mm"),
            helper.make_node("Relu", ["z"], ["a"], name="relu"),
            helper.make_node("Add", ["a", "z"], ["y"], name="residual")]
    with pytest.raises(UnsupportedModelError, match="'residual'.*feed-forward chains"):
        network_from_onnx(_model(skip, {"W": W}, [1, 3], [1, 3]))
    branches = [helper.make_node("Relu", ["x"], ["a"], name="r1"),
                helper.make_node("Relu", ["x"], ["b"], name="r2"),
                helper.make_node("Add", ["a", "b"], ["y"], name="join")]
    with pytest.raises(UnsupportedModelError, match="feed-forward"):
        network_from_onnx(_model(branches, {}, [1, 3], [1, 3]))
    square = [helper.make_node("Mul", ["x", "x"], ["y"], name="sq")]
    with pytest.raises(UnsupportedModelError, match="'sq'.*not piecewise-linear"):
        network_from_onnx(_model(square, {}, [1, 3], [1, 3]))
    # a linear combination of two tensors of the same layer is fine
    same = [helper.make_node("MatMul", ["x", "W"], ["z"]), helper.make_node("Sub", ["z", "x"],
                                                                             ["y"])]
    net = network_from_onnx(_model(same, {"W": W}, [1, 3], [1, 3]))
    assert np.allclose(net.weights[0], W.T.astype(np.float64) - np.eye(3))


def test_two_real_inputs_are_refused():
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "t",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2]) for n in "ab"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    with pytest.raises(UnsupportedModelError, match="exactly one graph input"):
        network_from_onnx(helper.make_model(graph))


# ----- ONNX writing -----------------------------------------------------------------------

def _random_net(seed: int = 0, sizes=(3, 5, 4, 2), float32: bool = False) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.standard_normal(o) for o in sizes[1:]]
    if float32:
        ws = [w.astype(np.float32) for w in ws]
        bs = [b.astype(np.float32) for b in bs]
    return ReLUNetwork(ws, bs)


@pytest.mark.parametrize("float32", [False, True])
def test_save_onnx_round_trip_is_exact(tmp_path: Path, float32: bool):
    net = _random_net(float32=float32)
    dom = Box([-1, -2, -3], [1, 2, 3])
    path = tmp_path / "net.onnx"
    save_onnx(net, path, dom, metadata={"note": "hi"})
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]  # no temp file left behind
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 13
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["y"]
    assert {n.op_type for n in model.graph.node} == {"Gemm", "Relu"}
    assert model.graph.initializer[0].data_type == (TensorProto.FLOAT if float32
                                                    else TensorProto.DOUBLE)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["note"] == "hi" and json.loads(props[DOMAIN_KEY]) == dom.to_dict()
    back, back_dom = load_with_domain(path)
    assert back.fingerprint == net.fingerprint and back_dom == dom
    X = np.random.default_rng(0).standard_normal((8, 3))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dtype = np.float32 if float32 else np.float64
    ref = sess.run(None, {"x": X.astype(dtype)})[0]  # the saved model accepts a batch
    assert rel_err(net(X.astype(dtype).astype(np.float64)), ref) <= (
        FLOAT32_REL_TOL if float32 else REL_TOL)


def test_save_onnx_rejects_wrong_domain(tmp_path: Path):
    with pytest.raises(InputError, match="2 coordinates"):
        save_onnx(_random_net(), tmp_path / "n.onnx", Box([0, 0], [1, 1]))


# ----- dispatch, sidecars, errors ---------------------------------------------------------

def test_load_errors_are_one_line_input_errors(tmp_path: Path):
    with pytest.raises(InputError, match=r"\.onnx, \.nnet, \.npz"):
        load(tmp_path / "model.h5")
    with pytest.raises(InputError, match="not found"):
        load(tmp_path / "missing.onnx")
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(InputError, match="not a file"):
        load(tmp_path / "dir.onnx")
    for name, data in (("bad.onnx", b"\x08\x07garbage\xff\xff\xff"), ("bad.npz", b"not a zip"),
                       ("bad.nnet", b"// only a comment\n")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError) as info:
            load(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)


def test_sidecar_overrides_metadata_and_is_checked(tmp_path: Path):
    net = _random_net()
    path = tmp_path / "m.onnx"
    save_onnx(net, path, Box([0, 0, 0], [1, 1, 1]))
    assert load_with_domain(path)[1] == Box([0, 0, 0], [1, 1, 1])
    side = Polytope([[1.0, 1.0, 1.0]], [1.0], [0, 0, 0], [1, 1, 1])
    sidecar_path(path).write_text(json.dumps(side.to_dict()))
    assert sidecar_path(path).name == "m.domain.json"
    assert load_with_domain(path)[1] == side
    sidecar_path(path).write_text(json.dumps(Box([0], [1]).to_dict()))
    with pytest.raises(InputError, match="1 coordinates but the model has 3"):
        load_with_domain(path)
    plain = tmp_path / "plain.npz"
    save_npz(net, plain)
    assert load_with_domain(plain)[1] is None


def test_bad_metadata_domain(tmp_path: Path):
    net = _random_net()
    path = tmp_path / "m.onnx"
    save_onnx(net, path, metadata={DOMAIN_KEY: "{not json"})
    with pytest.raises(InputError, match="verishallow.domain"):
        load_with_domain(path)
    assert load(path).fingerprint == net.fingerprint  # plain load ignores metadata


# ----- NNet -------------------------------------------------------------------------------

TINY_NNET = """\
// A hand-written 2-3-1 network with input and output normalisation
// second comment line
2,2,1,3,
2,3,1,
0,
-1.0,0.0,
1.0,10.0,
0.5,5.0,2.0,
2.0,10.0,4.0,
1.0,-2.0,
0.5,0.25,
-1.0,1.0,
0.1,
-0.2,
0.3,
1.0,-1.0,2.0,
0.5,
"""


def _tiny_nnet_reference(x: np.ndarray) -> np.ndarray:
    """The NNet semantics written out: clip, normalise, evaluate, de-normalise."""
    lo, hi = np.array([-1.0, 0.0]), np.array([1.0, 10.0])
    xn = (np.clip(x, lo, hi) - np.array([0.5, 5.0])) / np.array([2.0, 10.0])
    W0 = np.array([[1.0, -2.0], [0.5, 0.25], [-1.0, 1.0]])
    h = np.maximum(W0 @ xn + np.array([0.1, -0.2, 0.3]), 0.0)
    y = np.array([[1.0, -1.0, 2.0]]) @ h + 0.5
    return y * 4.0 + 2.0


def test_nnet_hand_written_file(tmp_path: Path):
    path = tmp_path / "tiny.nnet"
    path.write_text(TINY_NNET)
    net, dom = load_with_domain(path)
    assert repr(net) == "ReLUNetwork(2-3-1)"
    assert dom == Box([-1.0, 0.0], [1.0, 10.0])
    X = np.random.default_rng(0).uniform([-1, 0], [1, 10], (50, 2))
    ref = np.array([_tiny_nnet_reference(x) for x in X])
    assert np.allclose(net(X), ref, rtol=1e-12, atol=1e-12)
    # outside the min/max box the file clips and the loaded network does not (documented)
    far = np.array([5.0, 50.0])
    assert not np.allclose(net(far), _tiny_nnet_reference(far))


def test_nnet_round_trip_is_exact(tmp_path: Path):
    net = _random_net(7, sizes=(2, 6, 6, 3))
    path = tmp_path / "r.nnet"
    save_nnet(net, path, Box([-1, -2], [1, 2]))
    back, dom = load_with_domain(path)
    assert back.fingerprint == net.fingerprint and dom == Box([-1, -2], [1, 2])
    save_nnet(net, path)  # no domain: infinite min/max, no default domain
    assert load_with_domain(path)[1] is None and load(path).fingerprint == net.fingerprint
    with pytest.raises(InputError, match="only an input box"):
        save_nnet(net, path, Polytope([[1.0, 1.0]], [1.0]))


def test_nnet_errors_name_the_problem(tmp_path: Path):
    path = tmp_path / "e.nnet"
    path.write_text(TINY_NNET.replace("0.5,0.25,", "0.5,oops,"))
    with pytest.raises(InputError, match=r"e\.nnet:11: expected a number, found 'oops'"):
        load(path)
    path.write_text(TINY_NNET.rsplit("\n", 2)[0] + "\n")
    with pytest.raises(InputError, match="ends early: expected 24 numbers"):
        load(path)
    path.write_text(TINY_NNET.replace("2,3,1,", "2,3,2,"))
    with pytest.raises(InputError, match="layer sizes"):
        load(path)


# ----- npz --------------------------------------------------------------------------------

def test_npz_round_trip_and_errors(tmp_path: Path):
    net = _random_net(3)
    path = tmp_path / "n.npz"
    save_npz(net, path)
    assert load(path).fingerprint == net.fingerprint
    arrays = {f"{k}{i}": v for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True))
              for k, v in (("W", w), ("b", b))}
    cases = {
        "missing key b1": {k: v for k, v in arrays.items() if k != "b1"},
        "missing key W1": {k: v for k, v in arrays.items() if k not in ("W1", "b1")},
        "unexpected keys": {**arrays, "extra": np.zeros(1)},
        "no weight arrays": {},
    }
    for msg, content in cases.items():
        bad = tmp_path / "bad.npz"
        np.savez(bad, **content)
        with pytest.raises(InputError, match=msg):
            load(bad)
    np.savez(tmp_path / "shape.npz", W0=np.zeros((2, 3)), b0=np.zeros(3))
    with pytest.raises(InputError, match="bias has 3 entries"):
        load(tmp_path / "shape.npz")


def test_negative_zero_is_canonical_across_formats(tmp_path: Path):
    net = ReLUNetwork([np.array([[-0.0, 1.0]]), np.array([[2.0]])],
                      [np.array([-0.0]), np.array([0.0])])
    save_npz(net, tmp_path / "z.npz")
    save_onnx(net, tmp_path / "z.onnx")
    save_nnet(net, tmp_path / "z.nnet")
    prints = {load(tmp_path / f"z{s}").fingerprint for s in (".npz", ".onnx", ".nnet")}
    assert len(prints) == 1


# ----- torch ------------------------------------------------------------------------------

def test_from_torch_without_torch_is_a_clear_error():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="PyTorch"):
            from_torch(object())
    else:
        pytest.skip("torch is installed")


def test_from_torch_sequential():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 5), nn.Linear(5, 4), nn.ReLU(),
                          nn.Sequential(nn.Dropout(0.5), nn.Identity(), nn.Linear(4, 2)),
                          nn.ReLU()).double().eval()
    net = from_torch(model)
    assert repr(net) == "ReLUNetwork(3-4-2-2)"  # fused Linear pair; identity output layer
    X = np.random.default_rng(0).standard_normal((10, 3))
    with torch.no_grad():
        ref = model(torch.from_numpy(X)).numpy()
    assert np.allclose(net(X), ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(InputError, match="Tanh"):
        from_torch(nn.Sequential(nn.Linear(2, 2), nn.Tanh()))


def _fake_torch():
    """A stand-in for the few torch classes from_torch touches (torch is optional)."""
    import types

    class Tensor:
        def __init__(self, a):
            self.a = np.asarray(a, dtype=np.float32)

        def detach(self):
            return self

        def cpu(self):
            return self

        def double(self):
            return Tensor.__new__(Tensor)._set(self.a.astype(np.float64))

        def _set(self, a):
            self.a = a
            return self

        def numpy(self):
            return self.a

    class Module:
        def named_children(self):
            return []

    class Sequential(Module):
        def __init__(self, *layers):
            self.layers = layers

        def named_children(self):
            return [(str(i), layer) for i, layer in enumerate(self.layers)]

    class Linear(Module):
        def __init__(self, W, b=None):
            self.weight = Tensor(W)
            self.bias = None if b is None else Tensor(b)

    nn = types.SimpleNamespace(Module=Module, Sequential=Sequential, Linear=Linear)
    for name in ("ReLU", "Flatten", "Identity", "Dropout", "Tanh"):
        setattr(nn, name, type(name, (Module,), {}))
    return types.SimpleNamespace(nn=nn)


def test_from_torch_logic_with_a_stand_in(monkeypatch):
    import sys

    fake = _fake_torch()
    monkeypatch.setitem(sys.modules, "torch", fake)
    nn = fake.nn
    rng = np.random.default_rng(0)
    W1, b1, W2, W3, b3 = (_f32(rng, 5, 3), _f32(rng, 5), _f32(rng, 4, 5), _f32(rng, 2, 4),
                          _f32(rng, 2))
    model = nn.Sequential(nn.Flatten(), nn.Linear(W1, b1), nn.Linear(W2), nn.ReLU(),
                          nn.Sequential(nn.Dropout(), nn.Identity(), nn.Linear(W3, b3)),
                          nn.ReLU())
    net = from_torch(model)
    assert repr(net) == "ReLUNetwork(3-4-2-2)"  # fused Linear pair; identity output layer
    X = rng.standard_normal((6, 3))
    h = np.maximum(X @ (W2.astype(float) @ W1.astype(float)).T + W2.astype(float) @ b1, 0)
    ref = np.maximum(h @ W3.astype(float).T + b3, 0)
    assert np.allclose(net(X), ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(InputError, match=r"layer '1' of type Tanh"):
        from_torch(nn.Sequential(nn.Linear(W1, b1), nn.Tanh()))
    with pytest.raises(InputError, match="expects 4 inputs"):
        from_torch(nn.Sequential(nn.Linear(W1, b1), nn.Linear(W3, b3)))
    with pytest.raises(InputError, match="no Linear layer"):
        from_torch(nn.Sequential(nn.Flatten()))
