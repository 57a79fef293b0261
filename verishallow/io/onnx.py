"""ONNX models <-> :class:`ReLUNetwork`.

Loading traces the graph symbolically instead of pattern-matching layer shapes: every tensor
on the data path is kept as an exact affine function of the current block's variables (the
network input, or the outputs of the last ReLU layer), as one float64 array ``T`` of shape
``(1 + n, *shape)`` with ``T[0]`` the constant part and ``T[1 + i]`` the coefficients of variable
``i``. Linear ops act on ``T`` directly, constants only touch ``T[0]``, and each ``Relu`` closes
one affine layer. So consecutive affine ops (Gemm, MatMul, Conv, AveragePool, Add/Sub/Mul/Div
by constants, BatchNormalization, reshapes, slices) fuse into one layer by construction, the
fold is done in float64, and a plain ``MatMul``/``Add`` pair keeps its stored weights bit for
bit (an identity coefficient block times ``W`` is exactly ``W``). Convolutions and pools become
dense matrices this way (the array geometry is in :mod:`verishallow.io.onnx_ops`).

The other piecewise-linear ops add hidden ReLU layers that compute them exactly:
``abs(x) = relu(x) + relu(-x)``, ``leaky(x) = relu(x) - a relu(-x)`` (LeakyRelu, PRelu),
``clip(x) = lo + relu(x - lo) - relu(x - hi)`` (Clip, HardSigmoid), and the maxima of MaxPool,
GlobalMaxPool, ReduceMax/Min and Max/Min by a pairwise tree ``max(a, b) = b + relu(a - b)``:
one layer per halving, with ``b`` (and an unpaired entry) carried through the layer as
``relu(b) - relu(-b)``, or as ``relu(b)`` alone when ``b >= 0`` is known (it is a nonnegative
combination of ReLU outputs, as after Conv-Relu-MaxPool). Equal neurons of such a layer are
merged. Skip connections across a ReLU layer are refused, as are ops that are not
piecewise-linear (Sigmoid, Softmax, ...) and weights or indices that depend on the input.

Dummy batch dimensions (symbolic or of size 1) are traced at size 1; the network's input is the
input tensor flattened in C order, so ACAS Xu's ``[1, 1, 1, 5]`` input becomes 5 inputs and
mnist's ``[1, 784, 1]`` becomes 784.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..domain import Domain, domain_from_dict
from ..errors import InputError, UnsupportedModelError
from ..network import ReLUNetwork
from . import onnx_ops as ops
from . import onnx_proto

#: Metadata key holding the model's default domain (JSON of :meth:`Domain.to_dict`).
DOMAIN_KEY = "verishallow.domain"

#: Opset written by :func:`save_onnx`.
SAVE_OPSET = 13

#: Ops the loader folds on the data path: affine ones act on the traced tensor, piecewise-linear
#: ones (Relu, MaxPool, Max, Abs, Clip, ...) add hidden ReLU layers. The single source of truth
#: for ``verishallow supports --onnx-operators``.
#: Cast to an integer or bool type and the comparisons (Equal, Greater, ...) are step functions
#: of an input-dependent tensor: they load only where constant on the query's input box.
SUPPORTED_OPS = (
    "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant",
    "Conv", "Div", "Dropout", "Equal", "Expand", "Flatten", "Gather", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid",
    "Identity", "LeakyRelu", "Less", "LessOrEqual", "MatMul", "Max", "MaxPool", "Mean", "Min",
    "Mul", "Neg", "Pad", "PRelu", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum", "Relu",
    "Reshape", "Slice", "Split", "Squeeze", "Sub", "Sum", "Tile", "Transpose", "Unsqueeze",
    "Where",
)
#: Ops evaluated only when all their inputs are constants (shape arithmetic of exporters, and
#: the boolean ops on folded comparisons).
CONSTANT_ONLY_OPS = ("And", "ConstantOfShape", "Not", "Or", "Shape", "Xor")
#: Opsets whose operator semantics the loader implements (``supports --onnx-opset-versions``).
OPSET_RANGE = (7, 21)

_NOT_PIECEWISE_LINEAR = {
    "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Exp", "Log", "Sqrt", "Pow", "Erf", "Gelu",
    "Softplus", "Softsign", "Elu", "Selu", "Celu", "HardSwish", "Mish", "Hardmax",
    "Reciprocal", "Sin", "Cos", "Tan", "Atan", "Asin", "Acos", "Sinh", "Cosh",
    "LpNormalization", "LRN", "InstanceNormalization",
    "LayerNormalization", "GroupNormalization", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "LpPool", "GlobalLpPool", "ArgMax",
    "ArgMin", "Einsum",
}
#: Piecewise-linear but with jumps: no ReLU network computes them.
_DISCONTINUOUS = {"Round", "Floor", "Ceil", "Sign", "ThresholdedRelu", "Shrink"}

#: Refuse to trace tensors with more coefficients than this (about 2 GB of float64).
_MAX_TRACE_ENTRIES = 250_000_000


class _ChainError(UnsupportedModelError):
    pass


class NeedsInputBox(UnsupportedModelError):
    """The model casts an input-dependent tensor to an integer or bool type: it loads only where
    that cast is constant, so the loader needs the input box (``input_box``)."""


#: An exact input box: ``(lower, upper)``, one entry a coordinate, ``None`` for unbounded.
ExactBox = tuple[tuple[Fraction | None, ...], tuple[Fraction | None, ...]]


@dataclass
class _Affine:
    """A data-path tensor: ``value = T[0] + sum_i v_i T[1 + i]`` over block ``block``'s vars."""

    T: np.ndarray
    block: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.T.shape[1:])


class _Unavailable:
    """A secondary node output (a Dropout mask, MaxPool's argmax indices) that is not traced."""

    def __init__(self, what: str, why: str = "which is only defined in training mode"):
        self.what = what
        self.why = why


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ----- loading ----------------------------------------------------------------------------

def read_model(path: str | Path):
    """Parse an ONNX file, turning every failure into a one-line :class:`InputError` (without
    importing the onnx package for ordinary models: :mod:`verishallow.io.onnx_proto`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    try:
        return onnx_proto.load_model(path)
    except Exception as exc:  # protobuf DecodeError, external data errors, ...
        raise InputError(f"cannot read ONNX model {path}: {_one_line(exc)}") from None


def load_onnx(path: str | Path, input_box: ExactBox | None = None) -> ReLUNetwork:
    """Load a feed-forward ReLU network from an ONNX file (see the module docstring);
    ``input_box`` as in :func:`network_from_onnx`."""
    model = read_model(path)
    try:
        return network_from_onnx(model, input_box)
    except UnsupportedModelError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def onnx_domain(model) -> Domain | None:
    """The default domain stored in the model's metadata, if any."""
    for prop in model.metadata_props:
        if prop.key == DOMAIN_KEY:
            try:
                data = json.loads(prop.value)
            except json.JSONDecodeError as exc:
                raise InputError(f"ONNX metadata {DOMAIN_KEY!r} is not valid JSON: "
                                 f"{_one_line(exc)}") from None
            if not isinstance(data, dict):
                raise InputError(f"ONNX metadata {DOMAIN_KEY!r} must be a JSON object")
            return domain_from_dict(data)
    return None


def network_from_onnx(model, input_box: ExactBox | None = None) -> ReLUNetwork:
    """Trace an in-memory ``onnx.ModelProto`` into a :class:`ReLUNetwork`.

    ``input_box`` (exact bounds of the flattened input, ``None`` = unbounded) is needed only by
    a ``Cast`` of an input-dependent tensor to an integer or bool type: such a cast is a step
    function, which no ReLU network computes, so it is loaded only when its value is the same
    for every input of the box (then it is that constant, exactly). Without a box such a model
    raises :class:`NeedsInputBox`; with one whose cast is not constant, a one-line
    :class:`UnsupportedModelError` naming the range the cast sees. The network is then exact on
    the box only.
    """
    return _Tracer(model, input_box).run()


def graph_io_types(model) -> tuple[list[str], list[str]]:
    """Element type names (``"float32"``, ``"int64"``, ...) of the graph's inputs (weights
    excluded) and outputs, in order; ``"?"`` where the graph does not say."""
    def name(value) -> str:
        tt = value.type.tensor_type
        if not value.type.HasField("tensor_type") or not tt.elem_type:
            return "?"
        try:
            return str(onnx_proto.np_dtype(tt.elem_type))
        except Exception:  # an element type numpy has no name for (float8, ...)
            return "?"

    inits = {t.name for t in model.graph.initializer}
    return ([name(v) for v in model.graph.input if v.name not in inits],
            [name(v) for v in model.graph.output])


def _node_label(node, index: int) -> str:
    if node.name:
        return repr(node.name)
    out = node.output[0] if node.output else "?"
    return f"#{index} (output {out!r})"


class _Rows:
    """Rows ``R_j`` (``(r, 1 + n)`` arrays: constant, then coefficients) of a new ReLU layer,
    and the read-out ``(output column, coefficient)`` of each."""

    def __init__(self, n: int):
        self.n = n
        self.parts: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []

    def add(self, R: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        if R.shape[0]:
            self.parts.append(R)
            self.cols.append(np.asarray(cols, dtype=np.int64))
            self.vals.append(np.asarray(vals, dtype=np.float64))

    def collect(self):
        if not self.parts:
            return (np.zeros((0, 1 + self.n)), np.zeros(0, dtype=np.int64), np.zeros(0))
        return (np.concatenate(self.parts, axis=0), np.concatenate(self.cols),
                np.concatenate(self.vals))


#: Affine ops handled by :meth:`_Tracer._linear` (first input is the data, the rest constants,
#: except Where/Sum/Mean).
_LINEAR_OPS = {"AveragePool", "Conv", "Expand", "Gather", "GlobalAveragePool", "Mean", "Pad",
               "ReduceMean", "ReduceSum", "Slice", "Split", "Sum", "Tile", "Where"}
#: Piecewise-linear ops handled by :meth:`_Tracer._pwl`.
_PWL_OPS = {"Abs", "Clip", "GlobalMaxPool", "HardSigmoid", "LeakyRelu", "Max", "MaxPool", "Min",
            "PRelu", "ReduceMax", "ReduceMin"}


class _Tracer:
    def __init__(self, model, input_box: ExactBox | None = None):
        self.input_box = input_box
        self._bounds: list[tuple] = []  # per block: sound (lower, upper) of its variables

        self.graph = model.graph
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = imp.version
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        self.block = 0
        self.values: dict[str, object] = {}

    # ----- setup ---------------------------------------------------------------------------
    def _tensor(self, proto) -> np.ndarray:
        try:
            arr = onnx_proto.to_array(proto)
        except Exception as exc:
            raise InputError(f"cannot read tensor {proto.name!r}: {_one_line(exc)}") from None
        if arr.dtype.kind in "fc":
            if arr.dtype.kind == "c":
                raise UnsupportedModelError(f"tensor {proto.name!r} is complex")
            arr = arr.astype(np.float64)
        return arr

    def _input(self) -> tuple[str, tuple[int, ...]]:
        init_names = {t.name for t in self.graph.initializer}
        real = [i for i in self.graph.input if i.name not in init_names]
        if len(real) != 1:
            names = ", ".join(repr(i.name) for i in real) or "none"
            raise UnsupportedModelError(
                f"expected exactly one graph input (besides weights), found {len(real)}: {names}")
        inp = real[0]
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type"):
            raise UnsupportedModelError(f"graph input {inp.name!r} is not a tensor")
        TensorProto = onnx_proto.messages().TensorProto
        if tt.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                                TensorProto.BFLOAT16):
            raise UnsupportedModelError(f"graph input {inp.name!r} is not a float tensor")
        if not tt.HasField("shape"):
            raise UnsupportedModelError(f"graph input {inp.name!r} has no shape information")
        shape = []
        for k, dim in enumerate(tt.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(int(dim.dim_value))
            elif k == 0:
                shape.append(1)  # symbolic batch dimension
            else:
                raise UnsupportedModelError(
                    f"graph input {inp.name!r} has a symbolic size in dimension {k}; only the "
                    "leading (batch) dimension may be symbolic")
        return inp.name, tuple(shape)

    def _needed_nodes(self) -> list[int]:
        """Indices of the nodes the graph output depends on (dead branches are ignored)."""
        producer = {}
        for i, node in enumerate(self.graph.node):
            for out in node.output:
                if out:
                    producer[out] = i
        needed: set[int] = set()
        stack = [o.name for o in self.graph.output]
        while stack:
            name = stack.pop()
            i = producer.get(name)
            if i is None or i in needed:
                continue
            needed.add(i)
            stack.extend(n for n in self.graph.node[i].input if n)
        return sorted(needed)

    # ----- main loop -----------------------------------------------------------------------
    def run(self) -> ReLUNetwork:
        if len(self.graph.output) != 1:
            raise UnsupportedModelError(
                f"expected one graph output, found {len(self.graph.output)}")
        name, shape = self._input()
        for t in self.graph.initializer:
            self.values[t.name] = self._tensor(t)
        d = int(np.prod(shape))
        self.d = d
        if self.input_box is not None and any(len(side) != d for side in self.input_box):
            raise InputError(f"the input box has {len(self.input_box[0])} coordinates but the "
                             f"model has {d} inputs")
        self.values[name] = self._identity(d, shape)
        for i in self._needed_nodes():
            node = self.graph.node[i]
            label = _node_label(node, i)
            if node.domain not in ("", "ai.onnx"):
                raise self._unsupported(node, label, f"custom domain {node.domain!r}")
            ins = []
            for n in node.input:
                if not n:
                    ins.append(None)
                    continue
                if n not in self.values:
                    raise UnsupportedModelError(
                        f"node {label} ({node.op_type}) reads {n!r}, which no earlier node or "
                        "initializer provides (graph not topologically sorted or has a loop)")
                v = self.values[n]
                if isinstance(v, _Unavailable):
                    raise UnsupportedModelError(
                        f"node {label} ({node.op_type}) uses {v.what}, {v.why}")
                ins.append(v)
            try:
                outs = self._apply(node, label, ins)
            except _ChainError as exc:
                raise UnsupportedModelError(
                    f"node {label} ({node.op_type}): {exc}; only feed-forward chains (one data "
                    "path through ReLU layers, no skip connections or parallel branches) are "
                    "supported") from None
            except (UnsupportedModelError, InputError):
                raise
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                raise UnsupportedModelError(
                    f"node {label} ({node.op_type}) has inconsistent shapes or attributes: "
                    f"{_one_line(exc)}") from None
            for k, out in enumerate(node.output):
                if out:
                    self.values[out] = outs[k] if k < len(outs) else _Unavailable(
                        f"output {k} of {node.op_type} node {label}")
        out = self.values.get(self.graph.output[0].name)
        if out is None:
            raise UnsupportedModelError(
                f"graph output {self.graph.output[0].name!r} is not computed by any node")
        if not isinstance(out, _Affine):
            out = self._constant_output(out)
        if out.block != self.block:
            raise UnsupportedModelError(
                "the graph output bypasses a ReLU layer; only feed-forward chains are supported")
        self._close_layer(out)
        ws = [w + 0.0 for w, _ in self.layers]  # + 0.0 turns -0.0 into 0.0: stable fingerprints
        bs = [b + 0.0 for _, b in self.layers]
        return ReLUNetwork(ws, bs)

    # ----- helpers -------------------------------------------------------------------------
    def _identity(self, n: int, shape: tuple[int, ...]) -> _Affine:
        if (1 + n) * n > _MAX_TRACE_ENTRIES:
            raise UnsupportedModelError(f"a layer of {n} neurons is too large to trace")
        T = np.concatenate([np.zeros((1, n)), np.eye(n)]).reshape((1 + n, *shape))
        return _Affine(T, self.block)

    def _close_layer(self, v: _Affine) -> None:
        n = v.T.shape[0] - 1
        T = v.T.reshape(1 + n, -1)
        self.layers.append((np.ascontiguousarray(T[1:].T), T[0].copy()))

    def _unsupported(self, node, label: str, reason: str) -> UnsupportedModelError:
        if node is not None and node.op_type in (*SUPPORTED_OPS, *CONSTANT_ONLY_OPS):
            # a supported op used in a way that is not: the list of ops would only confuse
            return UnsupportedModelError(
                f"unsupported use of ONNX node {label} of op type {node.op_type}: {reason}")
        return UnsupportedModelError(
            f"unsupported ONNX node {label} of op type {node.op_type}: {reason}; supported ops: "
            f"{', '.join(SUPPORTED_OPS)} (plus {', '.join(CONSTANT_ONLY_OPS)} on constants)")

    def _attrs(self, node) -> dict:
        return {a.name: onnx_proto.attribute_value(a) for a in node.attribute}

    @staticmethod
    def _bcast(T: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``T`` with its tensor part broadcast to ``shape`` (a writable copy)."""
        S = T.shape[1:]
        pad = len(shape) - len(S)
        T = T.reshape((T.shape[0],) + (1,) * pad + S)
        return np.broadcast_to(T, (T.shape[0],) + tuple(shape)).copy()

    def _same_block(self, *vals) -> int:
        blocks = {v.block for v in vals if isinstance(v, _Affine)}
        if len(blocks) > 1:
            raise _ChainError("it combines tensors from before and after a ReLU")
        return blocks.pop()

    def _lift(self, c: np.ndarray, n: int) -> np.ndarray:
        T = np.zeros((1 + n, *c.shape))
        T[0] = c
        return T

    # ----- ops -----------------------------------------------------------------------------
    def _apply(self, node, label: str, ins: list) -> list:
        op = node.op_type
        a = self._attrs(node)
        data = [v for v in ins if isinstance(v, _Affine)]
        if op not in SUPPORTED_OPS and op not in CONSTANT_ONLY_OPS:
            reason = ("not piecewise-linear" if op in _NOT_PIECEWISE_LINEAR
                      else "discontinuous, so no ReLU network computes it" if op in _DISCONTINUOUS
                      else "not supported by this loader (dense feed-forward ReLU networks only)")
            raise self._unsupported(node, label, reason)
        if op in CONSTANT_ONLY_OPS and data and op != "Shape":
            raise self._unsupported(node, label, "only supported on constant tensors")

        if op == "Constant":
            return [self._constant(node, label, a)]
        if op in ("Identity", "Dropout"):
            if op == "Dropout" and len(ins) > 2 and ins[2] is not None:
                if isinstance(ins[2], _Affine) or bool(np.asarray(ins[2]).reshape(-1)[0]):
                    raise self._unsupported(node, label, "Dropout in training mode")
            return [ins[0]]
        if op == "Cast":
            return [self._cast(node, label, ins[0], a)]
        if op in _COMPARE_OPS:
            return [self._compare(node, label, op, ins[0], ins[1])]
        if op == "Not":
            return [np.logical_not(np.asarray(ins[0]))]
        if op in _LOGIC_OPS:
            return [_LOGIC_OPS[op](np.asarray(ins[0]), np.asarray(ins[1]))]
        if op == "Shape":
            shape = ins[0].shape if isinstance(ins[0], _Affine) else np.shape(ins[0])
            start, end = a.get("start", 0), a.get("end", None)
            return [np.array(shape[start:end] if end is not None else shape[start:],
                             dtype=np.int64)]
        if op == "ConstantOfShape":
            value = self._tensor(a["value"]).reshape(-1) if "value" in a else np.zeros(1)
            return [np.full([int(v) for v in np.asarray(ins[0]).reshape(-1)], value[0],
                            dtype=value.dtype)]
        if op == "Relu":
            return [self._relu(ins[0])]
        if op in _PWL_OPS:
            if not data:
                return [self._pwl_constant(op, ins, a)]
            return self._pwl(node, label, op, ins, a)
        if op in _LINEAR_OPS:
            self._const_args(node, label, op, ins)
            self._n_outputs = len(node.output)
            if not data:
                return self._linear_constant(op, ins, a)
            return self._linear(node, label, op, ins, a)
        if op in ("Add", "Sub", "Mul", "Div"):
            return [self._binary(node, label, op, ins[0], ins[1])]
        if op == "Neg":
            x = ins[0]
            return [_Affine(-x.T, x.block) if isinstance(x, _Affine) else -x]
        if op == "MatMul":
            return [self._matmul(node, label, ins[0], ins[1])]
        if op == "Gemm":
            return [self._gemm(node, label, ins, a)]
        if op == "BatchNormalization":
            return [self._batchnorm(node, label, ins, a)]
        if op == "Concat":
            return [self._concat(ins, a["axis"])]
        # shape ops: apply the same reshaping to the constant and to every coefficient
        x = ins[0]
        shape = x.shape if isinstance(x, _Affine) else np.shape(x)
        if op == "Flatten":
            axis = a.get("axis", 1)
            axis = axis + len(shape) if axis < 0 else axis
            new = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
            return [self._reshape(x, new)]
        if op == "Reshape":
            if isinstance(ins[1], _Affine):
                raise self._unsupported(node, label, "the target shape depends on the input")
            target = [int(t) for t in np.asarray(ins[1]).reshape(-1)]
            return [self._reshape(x, _reshape_target(shape, target, a.get("allowzero", 0)))]
        if op in ("Squeeze", "Unsqueeze"):
            axes = a.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                if isinstance(ins[1], _Affine):
                    raise self._unsupported(node, label, "axes depend on the input")
                axes = [int(t) for t in np.asarray(ins[1]).reshape(-1)]
            if op == "Squeeze":
                rank = len(shape)
                if axes is None:
                    axes = [k for k, s in enumerate(shape) if s == 1]
                axes = {k + rank if k < 0 else k for k in axes}
                if any(shape[k] != 1 for k in axes):
                    raise ValueError(f"cannot squeeze axes {sorted(axes)} of shape {shape}")
                new = tuple(s for k, s in enumerate(shape) if k not in axes)
            else:
                if axes is None:
                    raise ValueError("Unsqueeze needs axes")
                rank = len(shape) + len(axes)
                axes = {k + rank if k < 0 else k for k in axes}
                it = iter(shape)
                new = tuple(1 if k in axes else next(it) for k in range(rank))
            return [self._reshape(x, new)]
        if op == "Transpose":
            perm = a.get("perm", list(range(len(shape)))[::-1])
            if isinstance(x, _Affine):
                return [_Affine(x.T.transpose([0, *(p + 1 for p in perm)]).copy(), x.block)]
            return [np.transpose(x, perm)]
        raise self._unsupported(node, label, "not implemented")  # pragma: no cover

    def _constant(self, node, label: str, a: dict) -> np.ndarray:
        if "value" in a:
            return self._tensor(a["value"])
        for key in ("value_float", "value_floats"):
            if key in a:
                return np.asarray(a[key], dtype=np.float64)
        for key in ("value_int", "value_ints"):
            if key in a:
                return np.asarray(a[key], dtype=np.int64)
        raise self._unsupported(node, label, f"Constant with attributes {sorted(a)}")

    def _cast(self, node, label: str, x, a: dict):
        TensorProto = onnx_proto.messages().TensorProto
        to = a["to"]
        if isinstance(x, _Affine):
            if to in (TensorProto.FLOAT, TensorProto.DOUBLE):
                return x
            if to in _STEP_CASTS:
                return self._cast_constant(node, label, x, to)
            name = TensorProto.DataType.Name(to).lower()
            why = (f"casts the data path to {name}, which rounds it (not exact)"
                   if to in _ROUNDING_CASTS else f"casts the data path to {name}")
            raise self._unsupported(node, label, why)
        if to in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
            return np.asarray(x, dtype=onnx_proto.np_dtype(to)).astype(np.float64)
        return np.asarray(x).astype(onnx_proto.np_dtype(to))

    # ----- Cast to integers and bool: constant on the input box, or refused -----------------
    def _cast_constant(self, node, label: str, x: _Affine, to: int) -> np.ndarray:
        """The value of ``Cast(x, to)`` (``to`` an integer or bool type), which must be the same
        for every input of the box; else a one-line error with the range ``x`` takes."""
        TensorProto = onnx_proto.messages().TensorProto
        dtype = onnx_proto.np_dtype(to)
        name = TensorProto.DataType.Name(to).lower()
        return self._step_constant(node, label, x, f"Cast to {name}", dtype,
                                   lambda lo, hi: _step_value(name, dtype, lo, hi))

    def _compare(self, node, label: str, op: str, a, b):
        """``Greater``/``Less``/``Equal``/... : numpy on constants; with an input-dependent
        operand, the sign of ``a - b``, which must be the same on the whole input box."""
        if not isinstance(a, _Affine) and not isinstance(b, _Affine):
            return _COMPARE_OPS[op][0](np.asarray(a), np.asarray(b))
        diff = self._binary(node, label, "Sub", a, b)
        decide = _COMPARE_OPS[op][1]
        return self._step_constant(node, label, diff, op, np.dtype(bool), decide)

    def _step_constant(self, node, label: str, x: _Affine, what: str, dtype: np.dtype,
                       decide) -> np.ndarray:
        """``decide(lo, hi)`` per element of ``x``: the value of a step function of ``x`` if it
        is the same for every ``lo <= x <= hi`` (bounds: floats, Fractions, ``None`` or inf =
        unbounded), else ``None``. Sound float bounds of ``x`` on the input box first; the
        elements they leave open are bounded again in exact rationals. Any still open: a
        one-line error naming the range."""
        what = f"{what} of an input-dependent tensor"
        if self.input_box is None:
            raise NeedsInputBox(
                f"node {label} ({node.op_type}): {what} is a step function, which no ReLU "
                "network computes; it is loaded only where it is constant, on the input box "
                "of a query (verishallow verify SPEC.vnnlib --network N=MODEL.onnx)")
        T0 = x.T[0].reshape(-1)
        Tc = x.T[1:].reshape(x.T.shape[0] - 1, -1).T
        lo, hi = self._float_bounds(x.block)
        low, high = _interval(T0, Tc, lo, hi)
        out = [decide(float(a), float(b)) for a, b in zip(low, high, strict=True)]
        bad = [j for j, v in enumerate(out) if v is None]
        if bad:  # the rounded bounds straddle a jump: decide those elements exactly
            ex = self._exact_bounds(x.block)
            if ex is not None:
                for j in bad:
                    elo, ehi = _interval_exact(Fraction(float(T0[j])),
                                               [Fraction(float(v)) for v in Tc[j]], *ex)
                    out[j] = decide(elo, ehi)
        bad = [j for j, v in enumerate(out) if v is None]
        if bad:
            j = bad[0]
            where = "" if len(out) == 1 else f" (element {j} of {len(out)})"
            arg = "its argument" if what.startswith("Cast") else "the difference of its operands"
            raise UnsupportedModelError(
                f"node {label} ({node.op_type}): {what} is a step function, which no ReLU "
                f"network computes, and on the query's input box {arg}{where} ranges over "
                f"[{low[j]:.6g}, {high[j]:.6g}], where it is not constant")
        return np.array(out, dtype=dtype).reshape(x.shape)

    def _float_bounds(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Sound float64 bounds of block ``block``'s variables on the input box: outward
        rounded, propagated through the closed layers with a rounding margin per layer."""
        if not self._bounds:
            L, U = self.input_box
            lo = np.array([-np.inf if v is None else _down(v) for v in L])
            hi = np.array([np.inf if v is None else _up(v) for v in U])
            self._bounds.append((lo, hi))
        while len(self._bounds) <= block:
            W, b = self.layers[len(self._bounds) - 1]
            lo, hi = _interval(b, W, *self._bounds[-1])
            self._bounds.append((np.maximum(lo, 0.0), np.maximum(hi, 0.0)))
        return self._bounds[block]

    def _exact_bounds(self, block: int):
        """Exact (Fraction, ``None`` = unbounded) bounds of block ``block``'s variables, or
        ``None`` when that would take more than :data:`_EXACT_BUDGET` rational products."""
        cost = sum(W.size for W, _ in self.layers[:block])
        if cost > _EXACT_BUDGET:
            return None
        lo, hi = (list(side) for side in self.input_box)
        for W, b in self.layers[:block]:
            nlo, nhi = [], []
            for row, c in zip(W, b, strict=True):
                r_lo, r_hi = _interval_exact(Fraction(float(c)), [Fraction(float(v)) for v in row],
                                             lo, hi)
                nlo.append(None if r_lo is None else max(r_lo, Fraction(0)))
                nhi.append(None if r_hi is None else max(r_hi, Fraction(0)))
            lo, hi = nlo, nhi
        return lo, hi

    def _constant_output(self, out) -> _Affine:
        """A graph output that does not depend on the input (Shape, a constant Cast): a
        constant of the current block, exactly (integers up to 2**53)."""
        arr = np.asarray(out)
        if arr.dtype.kind == "b":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind in "iu":
            if arr.size and max(abs(int(v)) for v in arr.reshape(-1)) > 2**53:
                raise UnsupportedModelError("the graph output is an integer beyond 2**53, which "
                                            "float64 does not hold exactly")
            arr = arr.astype(np.float64)
        elif arr.dtype.kind != "f":
            raise UnsupportedModelError(f"the graph output has element type {arr.dtype}")
        n = self.d if self.block == 0 else self.layers[-1][1].size
        return _Affine(self._lift(arr.astype(np.float64), n), self.block)

    def _relu(self, x):
        if not isinstance(x, _Affine):
            return np.maximum(x, 0)
        if x.block != self.block:
            raise _ChainError("a second ReLU reads a tensor from an earlier layer")
        self._close_layer(x)
        self.block += 1
        n = self.layers[-1][1].size
        return self._identity(n, x.shape)

    def _binary(self, node, label: str, op: str, x, y):
        if not isinstance(x, _Affine) and not isinstance(y, _Affine):
            return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                    "Div": _const_div}[op](x, y)
        if op in ("Mul", "Div") and isinstance(x, _Affine) and isinstance(y, _Affine):
            raise self._unsupported(node, label, f"{op} of two input-dependent tensors is not "
                                    "piecewise-linear")
        if op == "Div" and isinstance(y, _Affine):
            raise self._unsupported(node, label, "division by an input-dependent tensor is not "
                                    "piecewise-linear")
        if op in ("Add", "Sub"):
            if isinstance(x, _Affine) and isinstance(y, _Affine):
                block = self._same_block(x, y)
                shape = np.broadcast_shapes(x.shape, y.shape)
                X, Y = self._bcast(x.T, shape), self._bcast(y.T, shape)
                return _Affine(X + Y if op == "Add" else X - Y, block)
            if isinstance(x, _Affine):
                c = np.asarray(y, dtype=np.float64)
                T = self._bcast(x.T, np.broadcast_shapes(x.shape, c.shape))
                T[0] = T[0] + c if op == "Add" else T[0] - c
                return _Affine(T, x.block)
            c = np.asarray(x, dtype=np.float64)
            T = self._bcast(y.T, np.broadcast_shapes(y.shape, c.shape))
            if op == "Sub":
                T = -T
            T[0] = c + T[0]
            return _Affine(T, y.block)
        v, c = (x, y) if isinstance(x, _Affine) else (y, x)
        c = np.asarray(c, dtype=np.float64)
        T = self._bcast(v.T, np.broadcast_shapes(v.shape, c.shape))
        return _Affine(T * c if op == "Mul" else T / c, v.block)

    def _matmul(self, node, label: str, x, y):
        if not isinstance(x, _Affine) and not isinstance(y, _Affine):
            return np.matmul(x, y)
        if isinstance(x, _Affine) and isinstance(y, _Affine):
            raise self._unsupported(node, label, "product of two input-dependent tensors is not "
                                    "piecewise-linear")
        if isinstance(x, _Affine):
            W = np.asarray(y, dtype=np.float64)
            T, S = x.T, x.shape
            if W.ndim == 1:
                out = T @ W
            elif len(S) == 1:
                out = T @ W if W.ndim == 2 else np.einsum("dn,...nk->d...k", T, W)
            else:
                out = np.matmul(self._pad(T, W.ndim), W)
            return _Affine(out, x.block)
        W = np.asarray(x, dtype=np.float64)
        T, S = y.T, y.shape
        if len(S) == 1:
            out = T @ W if W.ndim == 1 else np.einsum("...mn,dn->d...m", W, T)
        elif W.ndim == 1:
            out = np.einsum("n,d...nk->d...k", W, T)
        else:
            out = np.matmul(W, self._pad(T, W.ndim))
        return _Affine(out, y.block)

    @staticmethod
    def _pad(T: np.ndarray, ndim: int) -> np.ndarray:
        S = T.shape[1:]
        if len(S) >= ndim:
            return T
        return T.reshape((T.shape[0],) + (1,) * (ndim - len(S)) + S)

    def _gemm(self, node, label: str, ins: list, a: dict):
        A, B = ins[0], ins[1]
        C = ins[2] if len(ins) > 2 else None
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        if isinstance(C, _Affine):
            raise self._unsupported(node, label, "the Gemm bias C depends on the input")
        for v in (A, B):
            shape = v.shape if isinstance(v, _Affine) else np.shape(v)
            if len(shape) != 2:
                raise ValueError(f"Gemm operands must be 2-D, got shape {shape}")

        def trans(v):
            if isinstance(v, _Affine):
                return _Affine(v.T.transpose(0, 2, 1), v.block)
            return np.asarray(v).T

        if a.get("transA", 0):
            A = trans(A)
        if a.get("transB", 0):
            B = trans(B)
        prod = self._matmul(node, label, A, B)
        if alpha != 1.0:
            prod = self._binary(node, label, "Mul", prod, np.float64(alpha))
        if C is not None:
            c = np.asarray(C, dtype=np.float64)
            prod = self._binary(node, label, "Add", prod, c * beta if beta != 1.0 else c)
        return prod

    def _batchnorm(self, node, label: str, ins: list, a: dict):
        x = ins[0]
        if a.get("training_mode", 0):
            raise self._unsupported(node, label, "BatchNormalization in training mode")
        if a.get("spatial", 1) != 1:
            raise self._unsupported(node, label, "BatchNormalization with spatial=0")
        if any(isinstance(v, _Affine) for v in ins[1:5]):
            raise self._unsupported(node, label, "its statistics depend on the input")
        scale, bias, mean, var = (np.asarray(v, dtype=np.float64).reshape(-1) for v in ins[1:5])
        shape = x.shape if isinstance(x, _Affine) else np.shape(x)
        if len(shape) < 2:
            raise ValueError(f"BatchNormalization needs an input of rank >= 2, got {shape}")
        eps = float(a.get("epsilon", 1e-5))
        s = scale / np.sqrt(var + eps)
        t = bias - mean * s
        bshape = (shape[1],) + (1,) * (len(shape) - 2)
        y = self._binary(node, label, "Mul", x, s.reshape(bshape))
        return self._binary(node, label, "Add", y, t.reshape(bshape))

    def _concat(self, ins: list, axis: int):
        vals = [v for v in ins if v is not None]
        data = [v for v in vals if isinstance(v, _Affine)]
        if not data:
            return np.concatenate(vals, axis=axis)
        block = self._same_block(*data)
        n = data[0].T.shape[0] - 1
        rank = len(data[0].shape)
        axis = axis + rank if axis < 0 else axis
        Ts = [v.T if isinstance(v, _Affine) else self._lift(np.asarray(v, np.float64), n)
              for v in vals]
        return _Affine(np.concatenate(Ts, axis=axis + 1), block)

    def _reshape(self, x, new: tuple[int, ...]):
        if isinstance(x, _Affine):
            return _Affine(x.T.reshape((x.T.shape[0], *new)), x.block)
        return np.reshape(x, new)

    # ----- affine ops on stacks: the same linear map on the constant and every coefficient ----
    def _const_args(self, node, label: str, op: str, ins: list) -> None:
        """The weights, shapes, indices (and Where's condition) of a linear op are constants."""
        if op in ("Sum", "Mean"):
            return
        checked = ins[:1] if op == "Where" else ins[1:]
        for k, v in enumerate(checked):
            if isinstance(v, _Affine):
                what = "condition" if op == "Where" else f"input {k + 1}"
                raise self._unsupported(node, label, f"its {what} depends on the network input "
                                        "(only constant weights, shapes and indices keep it "
                                        "piecewise-linear)")

    def _linear_constant(self, op: str, ins: list, a: dict) -> list:
        if op in ("Where", "Sum", "Mean"):
            vals = [np.asarray(v) for v in ins if v is not None]
            if op == "Where":
                return [np.where(vals[0].astype(bool), vals[1], vals[2])]
            total = sum(vals[1:], vals[0])
            return [total / len(vals) if op == "Mean" else total]
        return [Y if bias is None else Y + bias
                for Y, bias in self._stack(op, np.asarray(ins[0]), 0, ins, a)]

    def _linear(self, node, label: str, op: str, ins: list, a: dict) -> list:
        if op in ("Sum", "Mean"):
            vals = [v for v in ins if v is not None]
            total = vals[0]
            for v in vals[1:]:
                total = self._binary(node, label, "Add", total, v)
            if op == "Mean" and len(vals) > 1:
                total = self._binary(node, label, "Div", total, np.float64(len(vals)))
            return [total]
        if op == "Where":
            cond = np.asarray(ins[0]).astype(bool)
            x, y = ins[1], ins[2]
            block = self._same_block(x, y)
            n = next(v for v in (x, y) if isinstance(v, _Affine)).T.shape[0] - 1
            sx = x.shape if isinstance(x, _Affine) else np.shape(x)
            sy = y.shape if isinstance(y, _Affine) else np.shape(y)
            shape = np.broadcast_shapes(cond.shape, sx, sy)
            Tx, Ty = (self._bcast(v.T if isinstance(v, _Affine)
                                  else self._lift(np.asarray(v, np.float64), n), shape)
                      for v in (x, y))
            return [_Affine(np.where(np.broadcast_to(cond, shape)[None], Tx, Ty), block)]
        x = ins[0]
        if not isinstance(x, _Affine):
            raise self._unsupported(node, label, "only its first input may depend on the "
                                    "network input")
        outs = []
        for Y, bias in self._stack(op, x.T, 1, ins, a):
            if bias is not None:
                Y = Y.copy()
                Y[0] = Y[0] + bias
            self._check_size(Y.size)
            outs.append(_Affine(Y, x.block))
        return outs

    def _check_size(self, entries: int) -> None:
        if entries > _MAX_TRACE_ENTRIES:
            raise UnsupportedModelError(
                f"a traced tensor needs {entries:,} coefficients (more than "
                f"{_MAX_TRACE_ENTRIES:,}): the model is too large to fold into dense layers")

    @staticmethod
    def _ints(v) -> list[int]:
        return [int(t) for t in np.asarray(v).reshape(-1)]

    def _axes(self, ins: list, a: dict, rank: int, pos: int = 1) -> list[int] | None:
        axes = a.get("axes")
        if axes is None and len(ins) > pos and ins[pos] is not None:
            axes = self._ints(ins[pos])
        if axes is None:
            return None
        return sorted({k + rank if k < 0 else k for k in axes})

    def _stack(self, op: str, X: np.ndarray, lead: int, ins: list, a: dict) -> list:
        """Apply linear op ``op`` to ``X`` (``lead`` stack axes in front); [(Y, bias or None)]."""
        shape = X.shape[lead:]
        rank = len(shape)
        keep = (slice(None),) * lead
        if op == "Conv":
            W = np.asarray(ins[1], dtype=np.float64)
            if rank < 3:
                raise ValueError(f"Conv needs an input of rank >= 3, got shape {shape}")
            if "kernel_shape" in a and tuple(a["kernel_shape"]) != W.shape[2:]:
                raise ValueError(f"kernel_shape {a['kernel_shape']} differs from the weight's "
                                 f"{W.shape[2:]}")
            win = ops.window(shape[2:], a, kernel=W.shape[2:])
            self._check_size(int(np.prod(X.shape[:lead + 1])) * W.shape[0]
                             * int(np.prod(win.out)))
            Y = ops.conv(X.reshape((-1,) + shape[1:]), W, win, int(a.get("group", 1)))
            Y = Y.reshape(X.shape[:lead + 1] + Y.shape[1:])
            bias = None
            if len(ins) > 2 and ins[2] is not None:
                bias = np.asarray(ins[2], np.float64).reshape((-1,) + (1,) * (rank - 2))
            return [(Y, bias)]
        if op == "AveragePool":
            if rank < 3:
                raise ValueError(f"AveragePool needs an input of rank >= 3, got shape {shape}")
            win = ops.window(shape[2:], a, ceil_mode=bool(a.get("ceil_mode", 0)))
            S = ops.pool_sum(X.reshape((-1,) + shape[1:]), win)
            S = S.reshape(X.shape[:lead + 1] + S.shape[1:])
            return [(S / ops.pool_counts(shape[2:], win, bool(a.get("count_include_pad", 0))),
                     None)]
        if op == "GlobalAveragePool":
            axes = tuple(range(lead + 2, lead + rank))
            return [(X.mean(axis=axes, keepdims=True), None)]
        if op in ("ReduceSum", "ReduceMean"):
            axes = self._axes(ins, a, rank)
            if not axes:
                if a.get("noop_with_empty_axes", 0):
                    return [(X, None)]
                axes = list(range(rank))
            fn = np.sum if op == "ReduceSum" else np.mean
            return [(fn(X, axis=tuple(k + lead for k in axes),
                        keepdims=bool(a.get("keepdims", 1))), None)]
        if op == "Gather":
            idx = np.asarray(ins[1]).astype(np.int64)
            axis = int(a.get("axis", 0))
            axis = axis + rank if axis < 0 else axis
            return [(np.take(X, idx, axis=axis + lead), None)]
        if op == "Slice":
            starts = a.get("starts", self._ints(ins[1]) if len(ins) > 1 else None)
            ends = a.get("ends", self._ints(ins[2]) if len(ins) > 2 else None)
            axes = a.get("axes")
            if axes is None:
                axes = self._ints(ins[3]) if len(ins) > 3 and ins[3] is not None else \
                    list(range(len(starts)))
            steps = self._ints(ins[4]) if len(ins) > 4 and ins[4] is not None else \
                [1] * len(starts)
            sl = [slice(None)] * rank
            for ax, s, e, st in zip(axes, starts, ends, steps, strict=True):
                ax = ax + rank if ax < 0 else ax
                sl[ax] = ops.slice_bounds(shape[ax], int(s), int(e), int(st))
            return [(X[keep + tuple(sl)], None)]
        if op == "Split":
            axis = int(a.get("axis", 0))
            axis = axis + rank if axis < 0 else axis
            sizes = a.get("split")
            if sizes is None and len(ins) > 1 and ins[1] is not None:
                sizes = self._ints(ins[1])
            dim = shape[axis]
            if sizes is None:
                parts = int(a.get("num_outputs", self._n_outputs))
                size = -(-dim // parts)
                sizes = [min(size, dim - k * size) for k in range(parts)]
            if sum(sizes) != dim or min(sizes) < 0:
                raise ValueError(f"Split sizes {list(sizes)} do not add up to {dim}")
            cuts = np.cumsum([0, *sizes])
            return [(X[keep + (slice(None),) * axis + (slice(int(b), int(e)),)], None)
                    for b, e in zip(cuts[:-1], cuts[1:], strict=True)]
        if op == "Pad":
            return [self._pad_op(X, lead, ins, a)]
        if op == "Expand":
            target = tuple(self._ints(ins[1]))
            out = np.broadcast_shapes(shape, target)
            Xr = X.reshape(X.shape[:lead] + (1,) * (len(out) - rank) + shape)
            return [(np.broadcast_to(Xr, X.shape[:lead] + out).copy(), None)]
        if op == "Tile":
            reps = self._ints(ins[1])
            return [(np.tile(X, [1] * lead + reps), None)]
        raise ValueError(f"no linear rule for {op}")  # pragma: no cover

    def _pad_op(self, X: np.ndarray, lead: int, ins: list, a: dict):
        shape = X.shape[lead:]
        rank = len(shape)
        pads = a.get("pads")
        if pads is None:
            pads = self._ints(ins[1])
        value = a.get("value")
        if value is None:
            value = (float(np.asarray(ins[2]).reshape(-1)[0])
                     if len(ins) > 2 and ins[2] is not None else 0.0)
        axes = self._axes(ins, a, rank, pos=3) if len(ins) > 3 else None
        axes = list(range(rank)) if axes is None else axes
        if len(pads) != 2 * len(axes):
            raise ValueError(f"Pad has {len(pads)} pads for {len(axes)} axes")
        before, after = [0] * rank, [0] * rank
        for k, ax in enumerate(axes):
            before[ax], after[ax] = int(pads[k]), int(pads[k + len(axes)])
        # negative pads crop
        crop = tuple(slice(max(0, -b), shape[ax] - max(0, -e)) for ax, (b, e) in
                     enumerate(zip(before, after, strict=True)))
        X = X[(slice(None),) * lead + crop]
        widths = [(0, 0)] * lead + [(max(0, b), max(0, e)) for b, e in
                                    zip(before, after, strict=True)]
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode in ("reflect", "edge", "wrap"):
            return np.pad(X, widths, mode=mode), None
        if mode != "constant":
            raise ValueError(f"unknown Pad mode {mode!r}")
        if not lead:
            return np.pad(X, widths, constant_values=value), None
        Y = np.pad(X, widths)
        if value == 0.0:
            return Y, None
        inner = np.pad(np.zeros(X.shape[lead:]), widths[lead:], constant_values=1.0)
        return Y, inner * value

    # ----- piecewise-linear ops: new hidden ReLU layers -------------------------------------
    def _pwl_constant(self, op: str, ins: list, a: dict):
        vals = [np.asarray(v, dtype=np.float64) for v in ins if v is not None]
        x = vals[0]
        if op in ("Max", "Min"):
            fn = np.maximum if op == "Max" else np.minimum
            out = vals[0]
            for v in vals[1:]:
                out = fn(out, v)
            return out
        if op == "Abs":
            return np.abs(x)
        if op in ("LeakyRelu", "PRelu"):
            slope = float(a.get("alpha", 0.01)) if op == "LeakyRelu" else vals[1]
            return np.where(x >= 0, x, slope * x)
        if op in ("Clip", "HardSigmoid"):
            lo, hi, x = self._clip_bounds(op, ins, a, x)
            return np.minimum(np.maximum(x, lo), hi)
        # pools and reductions: the same windows as on the data path
        idx, out_shape = self._max_windows(op, x.shape, ins, a)
        flat = x.reshape(-1)
        sign = -1.0 if op == "ReduceMin" else 1.0
        cand = np.where(idx >= 0, sign * flat[np.maximum(idx, 0)], -np.inf)
        return (sign * cand.max(axis=1)).reshape(out_shape)

    def _clip_bounds(self, op: str, ins: list, a: dict, x):
        if op == "HardSigmoid":
            alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
            if isinstance(x, _Affine):
                x = self._binary(None, "", "Add", self._binary(None, "", "Mul", x,
                                                               np.float64(alpha)),
                                 np.float64(beta))
            else:
                x = x * alpha + beta
            return 0.0, 1.0, x
        lo, hi = a.get("min"), a.get("max")
        for k, name in ((1, "min"), (2, "max")):
            if len(ins) > k and ins[k] is not None:
                if isinstance(ins[k], _Affine):
                    raise UnsupportedModelError(f"the Clip bound {name} depends on the input")
                v = float(np.asarray(ins[k]).reshape(-1)[0])
                lo, hi = (v, hi) if k == 1 else (lo, v)
        lo = -np.inf if lo is None else float(lo)
        hi = np.inf if hi is None else float(hi)
        return min(lo, hi), hi, x

    def _max_windows(self, op: str, shape: tuple, ins: list, a: dict):
        """Rows of flat input indices whose maximum each output is (-1 = padding)."""
        rank = len(shape)
        if op == "MaxPool":
            if rank < 3:
                raise ValueError(f"MaxPool needs an input of rank >= 3, got shape {shape}")
            win = ops.window(tuple(shape[2:]), a, ceil_mode=bool(a.get("ceil_mode", 0)))
            return ops.pool_windows(tuple(shape), win), tuple(shape[:2]) + win.out
        if op == "GlobalMaxPool":
            axes = list(range(2, rank))
            keepdims = True
        else:  # ReduceMax / ReduceMin
            axes = self._axes(ins, a, rank)
            keepdims = bool(a.get("keepdims", 1))
            if not axes:
                if a.get("noop_with_empty_axes", 0):
                    return np.arange(int(np.prod(shape)))[:, None], tuple(shape)
                axes = list(range(rank))
        kept = [k for k in range(rank) if k not in axes]
        grid = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        red = int(np.prod([shape[k] for k in axes]))
        idx = grid.transpose(kept + axes).reshape(-1, red)
        out = tuple(1 if k in axes else shape[k] for k in range(rank)) if keepdims else \
            tuple(shape[k] for k in kept)
        return idx, out

    def _pwl(self, node, label: str, op: str, ins: list, a: dict) -> list:
        if op in ("Max", "Min"):
            vals = [v for v in ins if v is not None]
            block = self._same_block(*vals)
            self._current(block)
            n = next(v for v in vals if isinstance(v, _Affine)).T.shape[0] - 1
            shape = np.broadcast_shapes(*(v.shape if isinstance(v, _Affine) else np.shape(v)
                                          for v in vals))
            K = int(np.prod(shape))
            sign = 1.0 if op == "Max" else -1.0
            T = np.concatenate([sign * self._bcast(
                v.T if isinstance(v, _Affine) else self._lift(np.asarray(v, np.float64), n),
                shape).reshape(1 + n, K) for v in vals], axis=1)
            idx = np.arange(K)[:, None] + K * np.arange(len(vals))[None, :]
            out = self._max_tree(T.T, idx)
            return [_Affine(sign * out.T.reshape((out.T.shape[0], *shape)), out.block)]
        x = ins[0]
        if not isinstance(x, _Affine):
            raise self._unsupported(node, label, "only its first input may depend on the "
                                    "network input")
        for v in ins[1:]:
            if isinstance(v, _Affine):
                raise self._unsupported(node, label, "its parameters depend on the network "
                                        "input")
        self._current(x.block)
        shape = x.shape
        K = int(np.prod(shape))
        n = x.T.shape[0] - 1
        if op in ("MaxPool", "GlobalMaxPool", "ReduceMax", "ReduceMin"):
            idx, out_shape = self._max_windows(op, shape, ins, a)
            sign = -1.0 if op == "ReduceMin" else 1.0
            out = self._max_tree(sign * x.T.reshape(1 + n, K).T, idx)
            y = _Affine(sign * out.T.reshape((out.T.shape[0], *out_shape)), out.block)
            if op == "MaxPool" and len(node.output) > 1:
                return [y, _Unavailable(f"the Indices output of MaxPool node {label}",
                                        "which is not a piecewise-linear function of the input")]
            return [y]
        X = x.T.reshape(1 + n, K).T  # one row per element
        acc = _Rows(n)
        const = np.zeros(K)
        cols = np.arange(K)
        if op in ("Abs", "LeakyRelu", "PRelu"):
            if op == "Abs":
                slope = np.full(K, -1.0)
            elif op == "LeakyRelu":
                slope = np.full(K, float(a.get("alpha", 0.01)))
            else:
                s = np.asarray(ins[1], dtype=np.float64)
                slope = np.broadcast_to(s.reshape((1,) * (len(shape) - s.ndim) + s.shape)
                                        if s.ndim <= len(shape) else s, shape).reshape(-1)
            # f(x) = relu(x) - slope relu(-x)
            acc.add(X, cols, np.ones(K))
            acc.add(-X, cols, -slope)
        else:  # Clip, HardSigmoid: lo + relu(x - lo) - relu(x - hi)
            lo, hi, x = self._clip_bounds(op, ins, a, x)
            X = x.T.reshape(1 + n, K).T
            if np.isfinite(lo):
                const += lo
                acc.add(self._shift(X, -lo), cols, np.ones(K))
                if np.isfinite(hi):
                    acc.add(self._shift(X, -hi), cols, -np.ones(K))
            elif np.isfinite(hi):  # min(x, hi) = hi - relu(hi - x)
                const += hi
                acc.add(self._shift(-X, hi), cols, -np.ones(K))
            else:
                return [x]
        out = self._relu_layer(acc, const)
        return [_Affine(out.T.reshape((out.T.shape[0], *shape)), out.block)]

    @staticmethod
    def _shift(X: np.ndarray, c: float) -> np.ndarray:
        Y = X.copy()
        Y[:, 0] += c
        return Y

    def _current(self, block: int) -> None:
        if block != self.block:
            raise _ChainError("it reads a tensor from before the last ReLU layer")

    def _carry(self, acc: _Rows, TT: np.ndarray, src: np.ndarray, dst: np.ndarray,
               const: np.ndarray) -> None:
        """Carry rows ``src`` of ``TT`` (one affine form a row) into output columns ``dst``.

        ``y = relu(y) - relu(-y)``; one neuron when the sign is known (the current variables are
        ReLU outputs, hence >= 0, after the first layer) and none for a constant.
        """
        C = TT[src]
        fixed = ~np.any(C[:, 1:] != 0, axis=1)
        np.add.at(const, dst[fixed], C[fixed, 0])
        if self.block > 0:
            pos = ~fixed & np.all(C >= 0, axis=1)
            neg = ~fixed & ~pos & np.all(C <= 0, axis=1)
        else:
            pos = neg = np.zeros_like(fixed)
        both = ~fixed & ~pos & ~neg
        up, down = pos | both, neg | both
        acc.add(C[up], dst[up], np.ones(int(up.sum())))
        acc.add(-C[down], dst[down], -np.ones(int(down.sum())))

    def _relu_layer(self, acc: _Rows, const: np.ndarray) -> _Affine:
        """Close a hidden layer of neurons ``relu(R_j)``; return ``const + sum_j c_j relu(R_j)``.

        ``acc`` holds the rows ``R_j`` (affine in the current variables) and the read-out
        ``(output column, coefficient)`` of each. Equal rows share one neuron; constant rows need
        none. Without any neuron the result is a constant of the current block. The result's
        ``T`` is a transposed view of a row-major ``(K, 1 + u)`` array.
        """
        R, cols, vals = acc.collect()
        n = acc.n
        K = const.size
        const = const.copy()
        fixed = ~np.any(R[:, 1:] != 0, axis=1)
        np.add.at(const, cols[fixed], vals[fixed] * np.maximum(R[fixed, 0], 0.0))
        live = np.flatnonzero(~fixed)
        RL = R if live.size == R.shape[0] else R[live]
        first: dict[bytes, int] = {}
        neuron = np.empty(live.size, dtype=np.int64)
        keep = []
        for i in range(live.size):
            key = RL[i].tobytes()
            j = first.get(key)
            if j is None:
                j = first[key] = len(keep)
                keep.append(i)
            neuron[i] = j
        u = len(keep)
        if u == 0:
            return _Affine(self._lift(const, n), self.block)
        self._check_size((1 + u) * K)
        U = RL if u == live.size else RL[keep]
        self.layers.append((U[:, 1:], U[:, 0].copy()))
        self.block += 1
        TT = np.zeros((K, 1 + u))
        TT[:, 0] = const
        np.add.at(TT, (cols[live], 1 + neuron), vals[live])
        return _Affine(TT.T, self.block)

    def _max_tree(self, TT: np.ndarray, idx: np.ndarray) -> _Affine:
        """Row-wise maxima of the rows of ``TT`` (one affine form a row) listed in ``idx``
        (-1 = none), as an _Affine of shape ``(rows,)``, by the pairwise tree
        ``max(a, b) = b + relu(a - b)``: each round halves every list and adds one hidden
        layer (``b`` and an unpaired last entry are carried through it exactly)."""
        TT = np.ascontiguousarray(TT)
        block = self.block
        while idx.shape[1] > 1:
            if idx.shape[1] % 2:
                idx = np.pad(idx, ((0, 0), (0, 1)), constant_values=-1)
            A, B = idx[:, 0::2], idx[:, 1::2]
            pair, single = (A >= 0) & (B >= 0), (A >= 0) & (B < 0)
            if not pair.any():
                idx = idx[:, :1]
                break
            pairs, pinv = np.unique(np.stack([A[pair], B[pair]], axis=1), axis=0,
                                    return_inverse=True)
            singles, sinv = np.unique(A[single], return_inverse=True)
            p, s = len(pairs), len(singles)
            acc = _Rows(TT.shape[1] - 1)
            const = np.zeros(p + s)
            acc.add(TT[pairs[:, 0]] - TT[pairs[:, 1]], np.arange(p), np.ones(p))
            self._carry(acc, TT, pairs[:, 1], np.arange(p), const)
            self._carry(acc, TT, singles, p + np.arange(s), const)
            out = self._relu_layer(acc, const)
            TT, block = np.ascontiguousarray(out.T.T), out.block
            new = np.full(A.shape, -1, dtype=np.int64)
            new[pair] = pinv.reshape(-1)
            new[single] = p + sinv.reshape(-1)
            idx = new
        return _Affine(TT[idx[:, 0]].T, block)


def _step_casts() -> tuple[set[int], set[int]]:
    P = onnx_proto.messages().TensorProto
    ints = {P.INT8, P.INT16, P.INT32, P.INT64, P.UINT8, P.UINT16, P.UINT32, P.UINT64, P.BOOL}
    rounding = {P.FLOAT16, P.BFLOAT16}
    for name in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT4E2M1"):
        if hasattr(P, name):
            rounding.add(getattr(P, name))
    return ints, rounding


#: Casts that are step functions of a real argument (trunc toward zero; x != 0 for bool), and
#: casts that round to a narrower float.
_STEP_CASTS, _ROUNDING_CASTS = _step_casts()
#: Most rational products spent on exact bounds at a Cast before giving up (then refused).
_EXACT_BUDGET = 400_000
_U = 2.0 ** -53


def _down(v: Fraction) -> float:
    f = float(v)
    return float(np.nextafter(f, -np.inf)) if Fraction(f) > v else f


def _up(v: Fraction) -> float:
    f = float(v)
    return float(np.nextafter(f, np.inf)) if Fraction(f) < v else f


def _interval(c: np.ndarray, W: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Sound float64 bounds of ``c + W v`` over ``lo <= v <= hi`` (rows of ``W``): the
    rounded endpoint sums, widened by twice the dot-product error bound
    ``gamma_{n+2} (|c| + |W| max(|lo|, |hi|))`` and one ulp."""
    n = W.shape[1]
    with np.errstate(invalid="ignore", over="ignore"):
        pos, neg = W > 0, W < 0
        low = c + np.where(pos, W * lo, 0.0).sum(axis=1) + np.where(neg, W * hi, 0.0).sum(axis=1)
        high = c + np.where(pos, W * hi, 0.0).sum(axis=1) + np.where(neg, W * lo, 0.0).sum(axis=1)
        mag = np.abs(c) + np.where(W != 0, np.abs(W) * np.maximum(np.abs(lo), np.abs(hi)),
                                   0.0).sum(axis=1)
    k = n + 2
    margin = 2.0 * (k * _U / (1 - k * _U)) * mag + k * 2.0 ** -1022
    return (np.nextafter(low - margin, -np.inf), np.nextafter(high + margin, np.inf))


def _interval_exact(c: Fraction, row: list[Fraction], lo: list, hi: list):
    """Exact bounds of ``c + row . v`` over the box (``None`` = unbounded)."""
    low: Fraction | None = c
    high: Fraction | None = c
    for w, a, b in zip(row, lo, hi, strict=True):
        if not w:
            continue
        p, q = (a, b) if w > 0 else (b, a)
        low = None if low is None or p is None else low + w * p
        high = None if high is None or q is None else high + w * q
    return low, high


def _step_value(name: str, dtype: np.dtype, lo, hi):
    """``Cast(v, dtype)`` if it is the same for every ``lo <= v <= hi`` (``None``/inf =
    unbounded), else ``None``. Integers truncate toward zero (as onnxruntime does) and must be
    in the type's range (out of range is undefined in ONNX); bool is ``v != 0``."""
    unbounded = any(v is None or isinstance(v, float) and not math.isfinite(v)
                    for v in (lo, hi))
    if name == "bool":
        if lo is not None and lo > 0 or hi is not None and hi < 0:
            return True
        return False if not unbounded and lo == 0 and hi == 0 else None
    if unbounded:
        return None
    a, b = math.trunc(lo), math.trunc(hi)
    info = np.iinfo(dtype)
    return a if a == b and info.min <= a <= info.max else None


def _sign_test(true_if, false_if):
    """A comparison of ``v`` with 0 decided on ``[lo, hi]``: ``true_if(lo, hi)`` /
    ``false_if(lo, hi)`` on finite-or-None bounds (None, -inf and inf are unbounded)."""
    def decide(lo, hi):
        lo = None if lo is None or isinstance(lo, float) and not math.isfinite(lo) else lo
        hi = None if hi is None or isinstance(hi, float) and not math.isfinite(hi) else hi
        if true_if(lo, hi):
            return True
        if false_if(lo, hi):
            return False
        return None
    return decide


def _gt(v, c) -> bool:
    return v is not None and v > c


def _lt(v, c) -> bool:
    return v is not None and v < c


def _ge(v, c) -> bool:
    return v is not None and v >= c


def _le(v, c) -> bool:
    return v is not None and v <= c


#: Comparison ops: (numpy function for constants, decision of ``a - b`` on an interval).
_COMPARE_OPS = {
    "Greater": (np.greater, _sign_test(lambda lo, hi: _gt(lo, 0), lambda lo, hi: _le(hi, 0))),
    "GreaterOrEqual": (np.greater_equal,
                       _sign_test(lambda lo, hi: _ge(lo, 0), lambda lo, hi: _lt(hi, 0))),
    "Less": (np.less, _sign_test(lambda lo, hi: _lt(hi, 0), lambda lo, hi: _ge(lo, 0))),
    "LessOrEqual": (np.less_equal,
                    _sign_test(lambda lo, hi: _le(hi, 0), lambda lo, hi: _gt(lo, 0))),
    "Equal": (np.equal, _sign_test(lambda lo, hi: _ge(lo, 0) and _le(hi, 0),
                                   lambda lo, hi: _gt(lo, 0) or _lt(hi, 0))),
}
#: Boolean ops, on constants only (their inputs are comparisons or casts folded to constants).
_LOGIC_OPS = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}


def _const_div(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind in "iu" and y.dtype.kind in "iu":
        return np.trunc(x / y).astype(x.dtype)  # ONNX integer division truncates
    return x / y


def _reshape_target(shape: tuple[int, ...], target: list[int], allowzero: int) -> tuple:
    """ONNX Reshape semantics: 0 copies the input dimension (unless allowzero), -1 infers."""
    out = [shape[k] if t == 0 and not allowzero else t for k, t in enumerate(target)]
    if out.count(-1) > 1:
        raise ValueError(f"Reshape target {target} has more than one -1")
    total = int(np.prod(shape))
    if -1 in out:
        known = int(np.prod([t for t in out if t != -1]))
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {shape} into {target}")
        out[out.index(-1)] = total // known
    if int(np.prod(out)) != total:
        raise ValueError(f"cannot reshape {shape} into {target}")
    return tuple(out)


# ----- saving -----------------------------------------------------------------------------

def _float32_exact(net: ReLUNetwork) -> bool:
    return all(np.array_equal(a.astype(np.float32).astype(np.float64), a)
               for a in (*net.weights, *net.biases))


def to_onnx_model(net: ReLUNetwork, domain: Domain | None = None,
                  metadata: Mapping[str, str] | None = None):
    """A clean ``Gemm``/``Relu`` model: input ``x`` ``[batch, d]``, output ``y`` ``[batch, m]``.

    Weights are stored as float32 when every value is exactly a float32 (the usual case and
    what other verifiers expect), else as float64, so loading the file gives back the very
    same network (same fingerprint).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if domain is not None and domain.dim != net.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the network has "
                         f"{net.input_dim} inputs")
    f32 = _float32_exact(net)
    dtype, elem = (np.float32, TensorProto.FLOAT) if f32 else (np.float64, TensorProto.DOUBLE)
    inits, nodes = [], []
    prev = "x"
    n_layers = len(net.weights)
    for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        inits.append(numpy_helper.from_array(w.astype(dtype), f"W{k}"))
        inits.append(numpy_helper.from_array(b.astype(dtype), f"b{k}"))
        out = "y" if k == n_layers - 1 else f"z{k}"
        nodes.append(helper.make_node("Gemm", [prev, f"W{k}", f"b{k}"], [out], name=f"gemm{k}",
                                      transB=1))
        if k < n_layers - 1:
            nodes.append(helper.make_node("Relu", [out], [f"a{k}"], name=f"relu{k}"))
            prev = f"a{k}"
    graph = helper.make_graph(
        nodes, "verishallow",
        [helper.make_tensor_value_info("x", elem, ["batch", net.input_dim])],
        [helper.make_tensor_value_info("y", elem, ["batch", net.output_dim])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", SAVE_OPSET)],
                              producer_name="verishallow")
    model.ir_version = 7  # opset 13 needs IR >= 7; keep it low for older runtimes
    props = dict(metadata or {})
    if domain is not None:
        props[DOMAIN_KEY] = json.dumps(domain.to_dict(), sort_keys=True)
    for key in sorted(props):
        model.metadata_props.add(key=str(key), value=str(props[key]))
    onnx.checker.check_model(model)
    return model


def save_onnx(net: ReLUNetwork, path: str | Path, domain: Domain | None = None,
              metadata: Mapping[str, str] | None = None) -> None:
    """Write ``net`` as ONNX (atomically), with ``domain`` in metadata ``verishallow.domain``."""
    from ..atomic import write_bytes

    model = to_onnx_model(net, domain, metadata)
    write_bytes(path, model.SerializeToString())
