"""ONNX export of the shallow network (opset 17, float64), with exact region selection.

Graph (inputs ``X`` of shape (N, d); outputs ``Y`` (N, m) and ``region`` (N,) int64)::

    h      = X H^T + c                                   layer 1 (plus an all-zero row K)
    scale  = max_j |X_j| * |H_k|_1 + |c_k|
    h      = Where(|h| <= BOUNDARY_TOL * scale, 0, h)    the boundary rule of model.py
    u      = Gather(Relu([h, -h]), facet slots)          (R, F, N): ReLU(sigma_rk h_k)
    viol   = ReduceSum(u over the F slots)               (N, R), >= 0
    region = ArgMin(viol, axis 1, first index)           layer 2
    Y      = ReduceSum(Gather(alpha, region) * X, 2) + Gather(beta, region)    layer 3

Why this is exact without a big-M: region ``r`` is selected (``v_r = 0`` with the +inf weights)
iff every term of ``viol_r`` is 0, i.e. iff ``viol_r = 0`` exactly (a sum of non-negative
floats is 0 only if each is). ``ArgMin`` returns the first index of the minimum, so when some
region is selected it returns the smallest selected id, which is the tie rule of
``ShallowNetwork``; when none is, it returns the region with the smallest violation, the
fallback rule. Rows outside the domain (``DOMAIN_TOL``), non-finite rows, and rows whose
smallest violation exceeds ``GAP_TOL * max(1, |x|_inf)`` (uncovered) get NaN outputs and region
-1, as ``ShallowNetwork.evaluate(X, outside="nan")`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import write_bytes
from . import model as M
from .model import ShallowNetwork
from .serialise import to_json

OPSET = 17
#: Metadata of the export: ``verishallow.kind`` is ``shallow-network``; ``verishallow.shallow``
#: holds the network itself (the ``convert`` JSON, with its source network), so that
#: :func:`verishallow.io.load` can read the export back (see :mod:`verishallow.io.shallow_onnx`);
#: ``verishallow.domain`` its domain, as in any verishallow ONNX file.
KIND_KEY = "verishallow.kind"
KIND = "shallow-network"
SHALLOW_KEY = "verishallow.shallow"
DOMAIN_KEY = "verishallow.domain"


def to_onnx(net: ShallowNetwork, metadata: bool = True):
    """Build the ONNX ``ModelProto`` (checked with ``onnx.checker``); with ``metadata`` the
    network's JSON and domain go into the model's metadata (see :data:`SHALLOW_KEY`)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    d, m, R = net.input_dim, net.output_dim, net.n_regions
    Hx, cx, idx, sig, _ = net._padded
    F = idx.shape[1]
    dom = net.domain
    lo = dom.lower - M.DOMAIN_TOL * np.maximum(1.0, np.abs(dom.lower))
    hi = dom.upper + M.DOMAIN_TOL * np.maximum(1.0, np.abs(dom.upper))
    inits = []

    def const(name: str, value, dtype=np.float64) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    nodes = []

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    const("HT", Hx.T)
    const("c", cx)
    const("rowl1", np.abs(Hx).sum(axis=1))
    const("absc", np.abs(cx))
    const("btol", M.BOUNDARY_TOL)
    const("zero", 0.0)
    const("one", 1.0)
    const("nan", np.nan)
    const("gtol", M.GAP_TOL)
    # slot -> row of relu([h, -h]): k for sigma = +1, K + 1 + k for sigma = -1; padding slots
    # (sigma 0) point at row K, the all-zero hyperplane, whose ReLU is 0
    pm_slots = np.where(sig < 0, idx + Hx.shape[0], idx) if R else np.full((1, F), Hx.shape[0] - 1)
    const("slots", pm_slots.reshape(-1), np.int64)
    const("slot_shape", [max(R, 1), F, -1], np.int64)
    const("alpha", net.alpha if R else np.zeros((1, m, d)))
    const("beta", net.beta if R else np.zeros((1, m)))
    # 0 per region; a network with no region yet gets one dummy slot that is never covered
    const("vbias", np.zeros(R) if R else np.array([np.inf]))
    const("ax1", [1], np.int64)
    const("ax2", [2], np.int64)
    const("lo", lo)
    const("hi", hi)
    const("minus1", -1, np.int64)

    # layer 1 with the boundary rule
    node("MatMul", ["X", "HT"], "XH")
    node("Add", ["XH", "c"], "h_raw")
    node("Abs", ["X"], "absX")
    node("ReduceMax", ["absX"], "xmax_k", axes=[1], keepdims=1)
    node("Mul", ["xmax_k", "rowl1"], "xH")
    node("Add", ["xH", "absc"], "scale")
    node("Mul", ["scale", "btol"], "thr")
    node("Abs", ["h_raw"], "abs_h")
    node("LessOrEqual", ["abs_h", "thr"], "on_plane")
    node("Where", ["on_plane", "zero", "h_raw"], "h")
    # layer 2: per region, ReLU(sigma h_k) over its facet slots
    # ReLU(sigma h_k) for sigma = +1 and -1: rows k and K+1+k of relu([h, -h])^T (N last)
    node("Neg", ["h"], "neg_h")
    node("Concat", ["h", "neg_h"], "pm_h", axis=1)
    node("Relu", ["pm_h"], "pm_u")
    node("Transpose", ["pm_u"], "pm_uT", perm=[1, 0])
    node("Gather", ["pm_uT", "slots"], "u_slots", axis=0)
    node("Reshape", ["u_slots", "slot_shape"], "u")
    node("ReduceSum", ["u", "ax1"], "viol0T", keepdims=0)
    node("Transpose", ["viol0T"], "viol0", perm=[1, 0])
    node("Add", ["viol0", "vbias"], "viol")
    node("ArgMin", ["viol"], "region_raw", axis=1, keepdims=0, select_last_index=0)
    node("ReduceMin", ["viol"], "min_viol", axes=[1], keepdims=0)
    # layer 3: the chosen region's affine model
    node("Gather", ["alpha", "region_raw"], "alpha_r", axis=0)
    node("Gather", ["beta", "region_raw"], "beta_r", axis=0)
    node("Unsqueeze", ["X", "ax1"], "X3")
    node("Mul", ["alpha_r", "X3"], "aX")
    node("ReduceSum", ["aX", "ax2"], "g", keepdims=0)
    node("Add", ["g", "beta_r"], "Y_raw")
    # validity: inside the domain, finite, covered
    node("GreaterOrEqual", ["X", "lo"], "ge_lo")
    node("LessOrEqual", ["X", "hi"], "le_hi")
    node("And", ["ge_lo", "le_hi"], "in_box")
    node("IsInf", ["X"], "x_inf")
    node("Not", ["x_inf"], "x_fin")
    node("And", ["in_box", "x_fin"], "ok_coord")
    node("Cast", ["ok_coord"], "ok_coord_f", to=TensorProto.DOUBLE)
    node("ReduceMin", ["ok_coord_f"], "ok_pt_f", axes=[1], keepdims=0)
    node("Greater", ["ok_pt_f", "zero"], "in_domain0")
    last = "in_domain0"
    if dom.A.shape[0]:
        const("AT", dom.A.T)
        const("absAT", np.abs(dom.A).T)
        const("b", dom.b)
        const("absb", np.abs(dom.b))
        const("dtol", M.DOMAIN_TOL)
        node("MatMul", ["X", "AT"], "XA")
        node("MatMul", ["absX", "absAT"], "absXA")
        node("Add", ["absXA", "absb"], "ascale")
        node("Max", ["ascale", "one"], "ascale1")
        node("Mul", ["ascale1", "dtol"], "aslack")
        node("Add", ["b", "aslack"], "b_tol")
        node("LessOrEqual", ["XA", "b_tol"], "row_ok")
        node("Cast", ["row_ok"], "row_ok_f", to=TensorProto.DOUBLE)
        node("ReduceMin", ["row_ok_f"], "rows_ok_f", axes=[1], keepdims=0)
        node("Greater", ["rows_ok_f", "zero"], "rows_ok")
        last = node("And", ["in_domain0", "rows_ok"], "in_domain1")
    node("Squeeze", ["xmax_k", "ax1"], "xmax")
    node("Max", ["xmax", "one"], "xmax1")
    node("Mul", ["xmax1", "gtol"], "gap")
    node("LessOrEqual", ["min_viol", "gap"], "covered")
    node("And", [last, "covered"], "valid")
    node("Unsqueeze", ["valid", "ax1"], "valid2")
    node("Where", ["valid2", "Y_raw", "nan"], "Y")
    node("Where", ["valid", "region_raw", "minus1"], "region")

    graph = helper.make_graph(
        nodes, "verishallow_shallow",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, ["N", d])],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, ["N", m]),
         helper.make_tensor_value_info("region", TensorProto.INT64, ["N"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="verishallow")
    model.ir_version = 8
    model.doc_string = ("Shallow (three-layer) network equivalent to a deep ReLU network on "
                        f"{dom.describe()}: {R} regions, {net.n_hyperplanes} hyperplanes.")
    if metadata:
        props = {KIND_KEY: KIND, SHALLOW_KEY: to_json(net),
                 DOMAIN_KEY: json.dumps(dom.to_dict())}
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    return model


def save_onnx(net: ShallowNetwork, path: str | Path) -> None:
    """Write the ONNX export atomically."""
    write_bytes(path, to_onnx(net).SerializeToString())
