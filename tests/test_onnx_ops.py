"""Every affine or piecewise-linear ONNX operator loads exactly into a ReLUNetwork.

Each case builds a small graph with ``onnx.helper`` (random weights, fixed seeds) and compares
``ReLUNetwork.forward`` with a reference run on random inputs:

* float64 graphs: onnxruntime in double where its CPU provider implements the op, else ONNX's
  own numpy reference evaluator in double; tolerance ``TIGHT = 1e-10`` (relative to the
  largest output): only float64 rounding differs, from the summation order and from folding
  (BatchNormalization's ``(x - mean) / sqrt(var + eps) * scale + bias`` becomes one
  ``s x + t``, which loses a few bits to cancellation);
* the same graph in float32 through onnxruntime; tolerance ``FLOAT32 = 1e-5``: onnxruntime
  computes in float32 (about 6e-8 relative rounding per operation, accumulated over sums of up
  to a few hundred terms) while the loaded network evaluates the same float32 weights and
  inputs in float64.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from verishallow.errors import UnsupportedModelError
from verishallow.io.onnx import SUPPORTED_OPS, network_from_onnx

ort = pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402

TIGHT = 1e-10
FLOAT32 = 1e-5

D, F = TensorProto.DOUBLE, TensorProto.FLOAT


# ----- helpers ----------------------------------------------------------------------------

def make(nodes, inits, in_shape, elem=D, opset=17, out="y"):
    """A model with input ``x`` of ``in_shape`` and output ``out``; float inits cast to elem."""
    dtype = np.float64 if elem == D else np.float32
    tensors = [numpy_helper.from_array(v.astype(dtype) if v.dtype.kind == "f" else v, k)
               for k, v in inits.items()]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", elem, in_shape)],
                              [helper.make_tensor_value_info(out, elem, None)],
                              initializer=tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def reference(model, X: np.ndarray) -> np.ndarray:
    """Outputs of each row of X: onnxruntime if it runs the model, else onnx.reference."""
    inp = model.graph.input[0]
    shape = [d.dim_value if d.HasField("dim_value") else 1
             for d in inp.type.tensor_type.shape.dim]
    dtype = np.float64 if inp.type.tensor_type.elem_type == D else np.float32
    try:
        sess = ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        run = lambda x: sess.run(None, {"x": x})[0]  # noqa: E731
    except Exception:  # noqa: BLE001 - no double kernel in onnxruntime's CPU provider
        assert dtype == np.float64
        ref = ReferenceEvaluator(model)
        run = lambda x: ref.run(None, {"x": x})[0]  # noqa: E731
    return np.array([np.asarray(run(x.astype(dtype).reshape(shape))).reshape(-1) for x in X],
                    dtype=np.float64)


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-300))


def check(build, n: int = 6, seed: int = 0):
    """Load ``build(elem)`` for float64 and float32 and compare with the references."""
    nets = []
    for elem, tol in ((D, TIGHT), (F, FLOAT32)):
        model = build(elem)
        net = network_from_onnx(model)
        d = net.input_dim
        X = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
        X = X.astype(np.float64)  # float32 values, so both runs see the same inputs
        err = rel_err(net(X), reference(model, X))
        assert err <= tol, (elem, err)
        nets.append(net)
    return nets[0]


def w(rng, *shape, scale=1.0):
    """Random weights that are exact float32 values (so float32 and float64 graphs agree)."""
    return (scale * rng.standard_normal(shape)).astype(np.float32).astype(np.float64)


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


# ----- Conv -------------------------------------------------------------------------------

CONV_CASES = {
    "3x3 pad 1": dict(x=[1, 2, 6, 6], w=(3, 2, 3, 3), attrs=dict(pads=[1, 1, 1, 1])),
    "stride dilation asym pads bias": dict(x=[1, 2, 9, 8], w=(4, 2, 3, 2), bias=True,
                                           attrs=dict(strides=[2, 3], dilations=[2, 1],
                                                      pads=[1, 0, 2, 1])),
    "group 2": dict(x=[1, 4, 5, 5], w=(6, 2, 3, 3), bias=True, attrs=dict(group=2)),
    "depthwise": dict(x=[1, 3, 5, 5], w=(3, 1, 3, 3), attrs=dict(group=3, pads=[1, 1, 1, 1])),
    "same upper": dict(x=[1, 2, 7, 6], w=(2, 2, 4, 3), attrs=dict(auto_pad="SAME_UPPER",
                                                                  strides=[2, 2])),
    "same lower": dict(x=[1, 2, 7, 6], w=(2, 2, 4, 3), attrs=dict(auto_pad="SAME_LOWER",
                                                                  strides=[2, 1])),
    "valid": dict(x=[1, 1, 6, 6], w=(2, 1, 3, 3), attrs=dict(auto_pad="VALID")),
    "1-D": dict(x=[1, 3, 11], w=(4, 3, 3), bias=True,
                attrs=dict(strides=[2], pads=[1, 2], dilations=[2])),
    "1x1 kernel_shape attr": dict(x=[1, 3, 4, 4], w=(5, 3, 1, 1), attrs=dict(kernel_shape=[1, 1])),
    "symbolic batch": dict(x=["N", 2, 5, 5], w=(2, 2, 3, 3), attrs=dict(strides=[2, 2])),
}


@pytest.mark.parametrize("case", CONV_CASES, ids=list(CONV_CASES))
def test_conv(case):
    c = CONV_CASES[case]
    rng = np.random.default_rng(1)
    inits = {"W": w(rng, *c["w"])}
    ins = ["x", "W"]
    if c.get("bias"):
        inits["B"] = w(rng, c["w"][0])
        ins.append("B")
    net = check(lambda e: make([node("Conv", ins, ["y"], **c["attrs"])], inits, c["x"], e))
    assert net.hidden_widths == ()  # one affine layer


def test_conv_bn_relu_maxpool_flatten_gemm_net():
    rng = np.random.default_rng(2)
    C = 3
    inits = {"W": w(rng, C, 1, 3, 3), "B": w(rng, C),
             "s": w(rng, C), "b": w(rng, C), "m": w(rng, C), "v": np.abs(w(rng, C)) + 0.5,
             "G": w(rng, 10, C * 3 * 3, scale=0.3), "c": w(rng, 10)}
    nodes = [node("Conv", ["x", "W", "B"], ["c1"], pads=[1, 1, 1, 1]),
             node("BatchNormalization", ["c1", "s", "b", "m", "v"], ["bn"], epsilon=1e-3),
             node("Relu", ["bn"], ["r"]),
             node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Flatten", ["p"], ["f"]),
             node("Gemm", ["f", "G", "c"], ["y"], transB=1)]
    net = check(lambda e: make(nodes, inits, [1, 1, 6, 6], e), n=10)
    # conv+BN fold into the first layer; the 2x2 max tree adds two layers (pairs of post-ReLU
    # values: 2 differences + 2 carried values per window, then 1 + 1)
    assert net.hidden_widths == (C * 36, C * 9 * 4, C * 9 * 2)


def test_cifar_like_mini_net():
    """conv-relu-conv(stride 2)-BN-relu-avgpool-flatten-gemm-relu-gemm on a 3x16x16 input."""
    rng = np.random.default_rng(3)
    inits = {"W1": w(rng, 4, 3, 3, 3, scale=0.3), "B1": w(rng, 4),
             "W2": w(rng, 8, 4, 3, 3, scale=0.3), "B2": w(rng, 8),
             "s": w(rng, 8), "b": w(rng, 8), "m": w(rng, 8), "v": np.abs(w(rng, 8)) + 0.5,
             "G1": w(rng, 32, 8 * 4 * 4, scale=0.1), "c1": w(rng, 32),
             "G2": w(rng, 10, 32, scale=0.3), "c2": w(rng, 10),
             "mean": w(rng, 1, 3, 1, 1), "std": np.abs(w(rng, 1, 3, 1, 1)) + 0.5}
    nodes = [node("Sub", ["x", "mean"], ["xn0"]), node("Div", ["xn0", "std"], ["xn"]),
             node("Conv", ["xn", "W1", "B1"], ["a1"], pads=[1, 1, 1, 1]),
             node("Relu", ["a1"], ["r1"]),
             node("Conv", ["r1", "W2", "B2"], ["a2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             node("BatchNormalization", ["a2", "s", "b", "m", "v"], ["bn"]),
             node("Relu", ["bn"], ["r2"]),
             node("AveragePool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Flatten", ["p"], ["f"]),
             node("Gemm", ["f", "G1", "c1"], ["h"], transB=1),
             node("Relu", ["h"], ["r3"]),
             node("Gemm", ["r3", "G2", "c2"], ["y"], transB=1)]
    net = check(lambda e: make(nodes, inits, ["N", 3, 16, 16], e), n=4)
    assert net.input_dim == 768 and net.hidden_widths == (4 * 256, 8 * 64, 32)
    assert net.output_dim == 10


# ----- BatchNormalization, pools ----------------------------------------------------------

def test_batchnorm_after_gemm_rank_2():
    rng = np.random.default_rng(4)
    inits = {"W": w(rng, 4, 3), "s": w(rng, 4), "b": w(rng, 4), "m": w(rng, 4),
             "v": np.abs(w(rng, 4)) + 0.1}
    nodes = [node("Gemm", ["x", "W"], ["z"], transB=1),
             node("BatchNormalization", ["z", "s", "b", "m", "v"], ["y"])]
    check(lambda e: make(nodes, inits, [1, 3], e))


AVG_CASES = {
    "2x2 s2": dict(kernel_shape=[2, 2], strides=[2, 2]),
    "3x3 pads exclude": dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
    "3x3 pads include": dict(kernel_shape=[3, 3], pads=[1, 2, 1, 0], count_include_pad=1),
    "ceil exclude": dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1),
    "ceil include pads": dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                              ceil_mode=1, count_include_pad=1),
    "same upper": dict(kernel_shape=[2, 3], auto_pad="SAME_UPPER"),
}


@pytest.mark.parametrize("case", AVG_CASES, ids=list(AVG_CASES))
def test_average_pool(case):
    check(lambda e: make([node("AveragePool", ["x"], ["y"], **AVG_CASES[case])], {},
                         [1, 2, 7, 6], e))


def test_average_pool_1d_and_global():
    check(lambda e: make([node("AveragePool", ["x"], ["y"], kernel_shape=[3], pads=[1, 1],
                               count_include_pad=1)], {}, [1, 2, 9], e))
    check(lambda e: make([node("GlobalAveragePool", ["x"], ["y"])], {}, [1, 3, 4, 5], e))


MAX_CASES = {
    "2x2 s2": dict(kernel_shape=[2, 2], strides=[2, 2]),
    "3x3 s2 pad": dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "3x3 s1 overlapping": dict(kernel_shape=[3, 3]),
    "ceil": dict(kernel_shape=[2, 3], strides=[2, 2], ceil_mode=1),
    "dilated": dict(kernel_shape=[2, 2], dilations=[2, 2]),
    "same lower": dict(kernel_shape=[3, 2], strides=[2, 1], auto_pad="SAME_LOWER"),
}


@pytest.mark.parametrize("case", MAX_CASES, ids=list(MAX_CASES))
def test_max_pool(case):
    check(lambda e: make([node("MaxPool", ["x"], ["y"], **MAX_CASES[case])], {}, [1, 2, 5, 6],
                         e))


def test_max_pool_1d_global_and_reduce():
    check(lambda e: make([node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2],
                               pads=[1, 1])], {}, [1, 2, 7], e))
    check(lambda e: make([node("GlobalMaxPool", ["x"], ["y"])], {}, [1, 2, 3, 3], e))
    check(lambda e: make([node("ReduceMax", ["x"], ["y"], axes=[1, 3], keepdims=0)], {},
                         [1, 3, 2, 3], e))
    check(lambda e: make([node("ReduceMin", ["x"], ["y"], axes=[-1])], {}, [1, 2, 5], e))


def test_max_tree_structure_and_exactness():
    # on the raw input (sign unknown) every carried value costs two neurons
    net = network_from_onnx(make([node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2])], {},
                                 [1, 1, 2, 2]))
    assert net.hidden_widths == (2 + 2 * 2, 1 + 2)
    # after a ReLU the values are >= 0: one neuron each
    net = network_from_onnx(make([node("Relu", ["x"], ["r"]),
                                  node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2])], {},
                                 [1, 1, 2, 2]))
    assert net.hidden_widths == (4, 2 + 2, 1 + 1)
    # exact in rational arithmetic: max of 5 values (an unpaired one is carried)
    net = network_from_onnx(make([node("MaxPool", ["x"], ["y"], kernel_shape=[5])], {},
                                 [1, 1, 5]))
    rng = np.random.default_rng(5)
    for _ in range(20):
        x = [Fraction(int(v), 7) for v in rng.integers(-50, 50, 5)]
        assert net.exact_forward(x) == [max(x)]


# ----- shape ops --------------------------------------------------------------------------

def test_reshape_flatten_transpose_squeeze_unsqueeze():
    rng = np.random.default_rng(6)
    inits = {"shape": np.array([1, 3, 8], dtype=np.int64), "ax": np.array([0, 2], np.int64),
             "W": w(rng, 8, 4)}
    nodes = [node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             node("Reshape", ["t", "shape"], ["r"]),
             node("Unsqueeze", ["r", "ax"], ["u"]),
             node("Squeeze", ["u", "ax"], ["s"]),
             node("Flatten", ["s"], ["f"], axis=2),
             node("MatMul", ["f", "W"], ["y"])]
    check(lambda e: make(nodes, inits, [1, 2, 3, 4], e))


def test_concat_slice_split_gather():
    rng = np.random.default_rng(7)
    inits = {"c": w(rng, 1, 2, 4), "st": np.array([3, 0], np.int64),
             "en": np.array([-100, 4], np.int64), "axs": np.array([2, 1], np.int64),
             "sp": np.array([-1, 2], np.int64), "split": np.array([2, 3], np.int64),
             "gi": np.array([[2, 0], [1, 1]], np.int64)}
    nodes = [node("Concat", ["x", "c"], ["cat"], axis=1),            # [1, 5, 4]
             node("Slice", ["cat", "st", "en", "axs", "sp"], ["sl"]),  # [1, 2, 4]: rev, step 2
             node("Split", ["cat", "split"], ["a", "b"], axis=1),      # [1, 2, 4], [1, 3, 4]
             node("Gather", ["b", "gi"], ["g"], axis=2),               # [1, 3, 2, 2]
             node("Flatten", ["g"], ["gf"]), node("Flatten", ["sl"], ["sf"]),
             node("Flatten", ["a"], ["af"]),
             node("Concat", ["gf", "sf", "af"], ["y"], axis=1)]
    check(lambda e: make(nodes, inits, [1, 3, 4], e))


def test_split_equal_parts_and_old_opsets():
    nodes = [node("Split", ["x"], ["a", "b", "c"], axis=1),
             node("Sub", ["a", "c"], ["d"]), node("Concat", ["d", "b"], ["y"], axis=1)]
    check(lambda e: make(nodes, {}, [1, 6], e))
    # opset 9: Slice and Split take attributes
    nodes = [node("Slice", ["x"], ["s"], starts=[1], ends=[5], axes=[1]),
             node("Split", ["s"], ["a", "b"], axis=1, split=[3, 1]),
             node("Concat", ["b", "a"], ["y"], axis=1)]
    check(lambda e: make(nodes, {}, [1, 6], e, opset=9))


def test_exporter_shape_arithmetic_and_constants():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as torch.onnx writes Flatten."""
    value = helper.make_tensor("v", D, [1], [2.0])
    nodes = [node("Shape", ["x"], ["sh"]),
             node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.INT64, [],
                                                                      [0])),
             node("Gather", ["sh", "zero"], ["n"], axis=0),
             node("Unsqueeze", ["n", "ax"], ["n1"]),
             node("Concat", ["n1", "minus1"], ["target"], axis=0),
             node("Reshape", ["x", "target"], ["f"]),
             node("ConstantOfShape", ["sh2"], ["two"], value=value),
             node("Mul", ["f", "two"], ["y"])]
    inits = {"ax": np.array([0], np.int64), "minus1": np.array([-1], np.int64),
             "sh2": np.array([1, 12], np.int64)}
    m64 = make(nodes, inits, [1, 3, 4], D)
    net = network_from_onnx(m64)
    assert np.array_equal(net.weights[0], 2.0 * np.eye(12))


# ----- elementwise affine ops -------------------------------------------------------------

def test_arithmetic_with_constants_cast_identity_dropout():
    rng = np.random.default_rng(8)
    inits = {"a": w(rng, 3, 1), "b": w(rng, 4), "c": np.abs(w(rng, 1, 4)) + 0.5,
             "k": np.array(2.5)}

    def build(e):
        nodes = [node("Mul", ["x", "a"], ["m"]), node("Add", ["b", "m"], ["p"]),
                 node("Div", ["p", "c"], ["d"]), node("Sub", ["k", "d"], ["s"]),
                 node("Neg", ["s"], ["n"]), node("Cast", ["n"], ["cd"], to=D),
                 node("Cast", ["cd"], ["cf"], to=e), node("Identity", ["cf"], ["i"]),
                 node("Dropout", ["i"], ["y"])]
        return make(nodes, inits, [3, 4], e)

    check(build)


def test_sum_mean_where_expand_tile_pad_reduce():
    rng = np.random.default_rng(9)
    inits = {"c": w(rng, 2, 3), "cond": np.array([[True, False, True]]),
             "z": w(rng, 1, 3), "shape": np.array([2, 2, 3], np.int64),
             "reps": np.array([1, 1, 2], np.int64),
             "pads": np.array([0, 1, 0, 0, 1, 2], np.int64), "pv": np.array(0.5),
             "ax": np.array([0, 2], np.int64)}
    nodes = [node("Sum", ["x", "c", "x"], ["s"]), node("Mean", ["s", "x"], ["m"]),
             node("Where", ["cond", "m", "z"], ["wh"]),
             node("Expand", ["wh", "shape"], ["ex"]),          # [2, 2, 3]
             node("Tile", ["ex", "reps"], ["ti"]),             # [2, 2, 6]
             node("Pad", ["ti", "pads", "pv"], ["pc"]),        # [2, 4, 8]
             node("Pad", ["pc", "pads"], ["pr"], mode="reflect"),
             node("Pad", ["pr", "pads"], ["pe"], mode="edge"),
             node("ReduceSum", ["pe", "ax"], ["rs"], keepdims=1),
             node("ReduceMean", ["pe"], ["rm"], axes=[1], keepdims=0),
             node("Flatten", ["rs"], ["f1"]), node("Flatten", ["rm"], ["f2"], axis=0),
             node("Concat", ["f1", "f2"], ["y"], axis=1)]
    check(lambda e: make(nodes, inits, [2, 3], e))


def test_negative_pads_crop():
    check(lambda e: make([node("Pad", ["x", "p"], ["y"])],
                         {"p": np.array([0, -1, 0, 2], np.int64)}, [2, 4], e))


# ----- piecewise-linear activations -------------------------------------------------------

PWL_CASES = {
    "LeakyRelu": ([node("LeakyRelu", ["x"], ["y"], alpha=0.1)], {}),
    "PRelu": ([node("PRelu", ["x", "s"], ["y"])], {"s": np.array([[0.2], [-0.5], [1.5]])}),
    "Abs": ([node("Abs", ["x"], ["y"])], {}),
    "Clip both": ([node("Clip", ["x", "lo", "hi"], ["y"])],
                  {"lo": np.array(-0.5), "hi": np.array(0.75)}),
    "Clip min only": ([node("Clip", ["x", "lo"], ["y"])], {"lo": np.array(-0.25)}),
    "Clip max only": ([node("Clip", ["x", "", "hi"], ["y"])], {"hi": np.array(0.25)}),
    "Clip none": ([node("Clip", ["x"], ["y"])], {}),
    "HardSigmoid": ([node("HardSigmoid", ["x"], ["y"], alpha=0.5, beta=0.25)], {}),
    "Max with constant": ([node("Max", ["x", "c"], ["y"])], {"c": np.array([0.0, 0.5, -1.0])}),
    "Min three": ([node("Neg", ["x"], ["n"]), node("Min", ["x", "n", "c"], ["y"])],
                  {"c": np.array([0.3, -0.2, 0.0])}),
    "Max then Gemm": ([node("Gemm", ["x", "W"], ["z"]), node("Max", ["x", "z"], ["y"])],
                      {"W": np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5],
                                      [0.0, 1.0, 1.0]])}),
}


@pytest.mark.parametrize("case", PWL_CASES, ids=list(PWL_CASES))
def test_piecewise_linear_activation(case):
    nodes, inits = PWL_CASES[case]
    check(lambda e: make(nodes, inits, [3, 3], e), n=12)


def test_clip_attributes_in_opset_7():
    check(lambda e: make([node("Clip", ["x"], ["y"], min=-0.5, max=0.5)], {}, [2, 3], e,
                         opset=7))


# ----- refusals ---------------------------------------------------------------------------

REFUSED = {
    "Sigmoid": [node("Sigmoid", ["x"], ["y"], name="sig")],
    "Softmax": [node("Gemm", ["x", "W"], ["z"]), node("Softmax", ["z"], ["y"], name="sm")],
    "Floor": [node("Floor", ["x"], ["y"], name="fl")],
    "LSTM": [node("LSTM", ["x", "W", "W"], ["y"], name="rnn", hidden_size=3)],
}


@pytest.mark.parametrize("op", REFUSED, ids=list(REFUSED))
def test_non_piecewise_linear_ops_are_refused_in_one_line(op):
    model = make(REFUSED[op], {"W": np.eye(3)}, [3, 3])
    with pytest.raises(UnsupportedModelError) as info:
        network_from_onnx(model)
    msg = str(info.value)
    assert f"of op type {op}" in msg and "\n" not in msg
    assert op not in SUPPORTED_OPS


def test_input_dependent_parameters_are_refused():
    conv = [node("Reshape", ["x", "s"], ["k"]), node("Conv", ["x", "k"], ["y"], name="c")]
    with pytest.raises(UnsupportedModelError, match="'c'.*Conv.*input 1 depends on the network"):
        network_from_onnx(make(conv, {"s": np.array([1, 1, 2, 2], np.int64)}, [1, 1, 2, 2]))
    idx = [node("MaxPool", ["x"], ["p", "i"], kernel_shape=[2, 2]),
           node("Cast", ["i"], ["f"], to=D), node("Add", ["p", "f"], ["y"], name="use")]
    with pytest.raises(UnsupportedModelError, match="'f'.*Cast.*Indices output of MaxPool"):
        network_from_onnx(make(idx, {}, [1, 1, 2, 2]))


def test_maxpool_skip_connection_is_refused():
    nodes = [node("MaxPool", ["x"], ["p"], kernel_shape=[1, 2]),
             node("Slice", ["x", "st", "en", "ax"], ["q"]),
             node("Add", ["p", "q"], ["y"], name="skip")]
    inits = {"st": np.array([0], np.int64), "en": np.array([1], np.int64),
             "ax": np.array([3], np.int64)}
    with pytest.raises(UnsupportedModelError, match="'skip'.*feed-forward"):
        network_from_onnx(make(nodes, inits, [1, 1, 1, 2]))


def test_cli_refuses_softmax_in_one_line_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from verishallow.cli import main

    path = tmp_path / "softmax.onnx"
    path.write_bytes(make(REFUSED["Softmax"], {"W": np.eye(3)}, [3, 3]).SerializeToString())
    result = CliRunner().invoke(main, ["info", str(path)])
    lines = [ln for ln in result.stderr.splitlines() if ln]
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "'sm' of op type Softmax" in lines[0]


# ----- Cast to integer and bool types, Shape as the output: constants on the input box -----

I64, BOOL = TensorProto.INT64, TensorProto.BOOL


def cast_model(to, back=F, relu=False, out_elem=F):
    """y = Cast(Cast(x, to), back) + 0 (the suite's shape), optionally through a Relu first."""
    nodes = [node("Relu", ["x"], ["r"])] if relu else []
    src = "r" if relu else "x"
    nodes += [node("Cast", [src], ["c"], to=to)]
    if back is not None:
        nodes += [node("Cast", ["c"], ["b"], to=back)]
    last = "b" if back is not None else "c"
    zero = np.zeros(1, np.float32 if (back or to) == F else np.int64)
    nodes += [node("Add", [last, "z"], ["y"])]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", F, [2])],
                              [helper.make_tensor_value_info("y", out_elem, [2])],
                              initializer=[numpy_helper.from_array(zero, "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


CAST_CASES = {
    # (to, back, relu, out_elem, box): every input of the box casts to the same value
    "bool negative and positive": (BOOL, F, False, F, (["-2", "0.25"], ["-1", "0.5"])),
    "bool exact zero (degenerate box)": (BOOL, F, False, F, (["0", "0.25"], ["0", "0.5"])),
    "int64 truncates": (I64, F, False, F, (["2.1", "-2.7"], ["2.4", "-2.1"])),
    "int64 at an integer endpoint": (I64, F, False, F, (["3", "-3.9"], ["3.4", "-3"])),
    "int64 output": (I64, None, False, I64, (["3.1", "0"], ["3.4", "0.9"])),
    "after a Relu": (I64, F, True, F, (["-5", "1"], ["0.5", "1.75"])),
}


@pytest.mark.parametrize("case", CAST_CASES, ids=list(CAST_CASES))
def test_cast_to_integer_or_bool_is_constant_on_the_box(case):
    # The loaded network must equal onnxruntime at every point of the box (endpoints and
    # random points); the float32 endpoints are inside the exact decimal box.
    to, back, relu, out_elem, (lo, hi) = CAST_CASES[case]
    model = cast_model(to, back, relu, out_elem)
    box = (tuple(Fraction(v) for v in lo), tuple(Fraction(v) for v in hi))
    net = network_from_onnx(model, box)
    assert all(not W.any() for W in net.weights[-1:])  # a constant
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    lo32 = np.array([np.float32(float(v)) for v in lo])
    hi32 = np.array([np.float32(float(v)) for v in hi])
    lo32 = np.where(lo32.astype(np.float64) < [float(v) for v in lo],
                    np.nextafter(lo32, np.float32(np.inf)), lo32)
    hi32 = np.where(hi32.astype(np.float64) > [float(v) for v in hi],
                    np.nextafter(hi32, np.float32(-np.inf)), hi32)
    rng = np.random.default_rng(3)
    X = np.vstack([lo32, hi32, lo32 + (hi32 - lo32) * rng.random((20, 2), np.float32)])
    for x in X.astype(np.float32):
        ref = sess.run(None, {"x": x})[0].astype(np.float64)
        assert np.array_equal(net(x.astype(np.float64)[None])[0], ref), (x, ref)


def test_cast_needs_the_box_and_refuses_a_jump_in_one_line():
    from verishallow.io.onnx import NeedsInputBox

    model = cast_model(I64)
    with pytest.raises(NeedsInputBox, match="Cast to int64 .* step function"):
        network_from_onnx(model)
    box = ((Fraction(2), Fraction(0)), (Fraction(3), Fraction(1, 2)))  # trunc jumps at 3
    with pytest.raises(UnsupportedModelError) as info:
        network_from_onnx(model, box)
    msg = str(info.value)
    assert "\n" not in msg and "not constant" in msg and "[2, 3]" in msg
    assert "supported ops:" not in msg  # Cast is supported: the op list would confuse
    with pytest.raises(UnsupportedModelError, match="not constant"):  # bool across 0
        network_from_onnx(cast_model(BOOL), ((Fraction(-1), Fraction(1)), (Fraction(1),) * 2))
    with pytest.raises(UnsupportedModelError, match="not constant"):  # unbounded
        network_from_onnx(model, ((None, Fraction(0)), (Fraction(1), Fraction(0))))
    with pytest.raises(UnsupportedModelError, match="float16, which rounds it"):
        network_from_onnx(cast_model(TensorProto.FLOAT16), box)


@pytest.mark.parametrize("shape", [[3], [2, 3]])
def test_shape_as_the_output_is_a_constant_network(shape):
    graph = helper.make_graph([node("Shape", ["x"], ["y"])], "t",
                              [helper.make_tensor_value_info("x", F, shape)],
                              [helper.make_tensor_value_info("y", I64, [len(shape)])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    net = network_from_onnx(model)
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})[0]
    assert np.array_equal(net(x.reshape(1, -1).astype(np.float64))[0], ref.astype(np.float64))
    assert net.input_dim == int(np.prod(shape)) and not net.weights[0].any()


@pytest.mark.parametrize("op", ["Mul", "Div"])
def test_product_of_two_inputs_is_refused_without_the_op_list(op):
    model = make([node("Slice", ["x", "a0", "a1"], ["p"]), node("Slice", ["x", "b0", "b1"], ["q"]),
                  node(op, ["p", "q"], ["y"], name="prod")],
                 {"a0": np.array([0]), "a1": np.array([1]), "b0": np.array([1]),
                  "b1": np.array([2])}, [2])
    with pytest.raises(UnsupportedModelError) as info:
        network_from_onnx(model)
    msg = str(info.value)
    assert "'prod'" in msg and "not piecewise-linear" in msg and "supported ops:" not in msg


def compare_model(op, thresh, where=True):
    """y = Where(op(x, t), x, 10) or Cast(op(x, t), float) (the suite's Where and Equal)."""
    nodes = [node(op, ["x", "t"], ["c"])]
    if where:
        nodes.append(node("Where", ["c", "x", "ten"], ["y"]))
    else:
        nodes.append(node("Cast", ["c"], ["y"], to=F))
    inits = [numpy_helper.from_array(np.array(thresh, np.float32), "t"),
             numpy_helper.from_array(np.array([10.0], np.float32), "ten")]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", F, [2])],
                              [helper.make_tensor_value_info("y", F, [2])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


COMPARE_CASES = {
    # (op, threshold, Where or Cast, box): the comparison is constant on the box
    "Greater mixed": ("Greater", [0.5, 0.5], True, (["0", "0.6"], ["0.4", "1"])),
    "Greater at the threshold": ("Greater", [0.5, -1], True, (["0", "0"], ["0.5", "1"])),
    "GreaterOrEqual at the threshold": ("GreaterOrEqual", [0.5, 2], True,
                                        (["0.5", "0"], ["1", "1"])),
    "Less": ("Less", [0.0, 5.0], True, (["0", "-2"], ["1", "4"])),
    "LessOrEqual at the threshold": ("LessOrEqual", [1.0, 1.0], True,
                                     (["0", "1.5"], ["1", "2"])),
    "Equal fixed and apart": ("Equal", [0.0, 0.0], False, (["0", "1"], ["0", "2"])),
}


@pytest.mark.parametrize("case", COMPARE_CASES, ids=list(COMPARE_CASES))
def test_comparisons_are_constant_on_the_box(case):
    op, thresh, where, (lo, hi) = COMPARE_CASES[case]
    model = compare_model(op, thresh, where)
    box = (tuple(Fraction(v) for v in lo), tuple(Fraction(v) for v in hi))
    net = network_from_onnx(model, box)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(5)
    lo32, hi32 = (np.array([float(v) for v in side], np.float32) for side in (lo, hi))
    X = np.vstack([lo32, hi32, lo32 + (hi32 - lo32) * rng.random((20, 2), np.float32)])
    for x in X.astype(np.float32):  # these endpoints are exact float32 values
        ref = sess.run(None, {"x": x})[0].astype(np.float64)
        assert np.array_equal(net(x.astype(np.float64)[None])[0], ref), (x, ref)


def test_a_comparison_that_changes_on_the_box_is_refused():
    from verishallow.io.onnx import NeedsInputBox

    model = compare_model("Greater", [0.5, 0.5])
    with pytest.raises(NeedsInputBox):
        network_from_onnx(model)
    box = ((Fraction(0), Fraction(0)), (Fraction(1), Fraction(1, 4)))
    with pytest.raises(UnsupportedModelError) as info:
        network_from_onnx(model, box)
    msg = str(info.value)
    assert "\n" not in msg and "Greater of an input-dependent tensor" in msg
    assert "(element 0 of 2)" in msg and "not constant" in msg
