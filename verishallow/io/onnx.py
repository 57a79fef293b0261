"""ONNX models <-> :class:`ReLUNetwork`.

Loading traces the graph symbolically instead of pattern-matching layer shapes: every tensor
on the data path is kept as an exact affine function of the current block's variables (the
network input, or the outputs of the last ReLU), as one float64 array ``T`` of shape
``(1 + n, *shape)`` with ``T[0]`` the constant part and ``T[1 + i]`` the coefficients of variable
``i``. Linear ops act on ``T`` directly, constants only touch ``T[0]``, and each ``Relu`` closes
one affine layer. So consecutive affine ops (Gemm, MatMul, Add/Sub/Mul/Div by constants,
BatchNormalization, reshapes) fuse into one layer by construction, the fold is done in float64,
and a plain ``MatMul``/``Add`` pair keeps its stored weights bit for bit (an identity
coefficient block times ``W`` is exactly ``W``).

Dummy batch dimensions (symbolic or of size 1) are traced at size 1; the network's input is the
input tensor flattened in C order, so ACAS Xu's ``[1, 1, 1, 5]`` input becomes 5 inputs and
mnist's ``[1, 784, 1]`` becomes 784.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..domain import Domain, domain_from_dict
from ..errors import InputError, UnsupportedModelError
from ..network import ReLUNetwork

#: Metadata key holding the model's default domain (JSON of :meth:`Domain.to_dict`).
DOMAIN_KEY = "verishallow.domain"

#: Opset written by :func:`save_onnx`.
SAVE_OPSET = 13

#: Ops the loader folds on the data path.
SUPPORTED_OPS = (
    "Add", "BatchNormalization", "Cast", "Concat", "Constant", "Div", "Dropout", "Flatten",
    "Gemm", "Identity", "MatMul", "Mul", "Neg", "Relu", "Reshape", "Squeeze", "Sub",
    "Transpose", "Unsqueeze",
)
#: Ops evaluated only when all their inputs are constants (shape arithmetic of exporters).
CONSTANT_ONLY_OPS = ("Gather", "Shape")

_NOT_PIECEWISE_LINEAR = {
    "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Exp", "Log", "Sqrt", "Pow", "Erf", "Gelu",
    "Softplus", "Softsign", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Mish",
    "Reciprocal", "Sin", "Cos", "Tan", "Atan", "Asin", "Acos", "Sinh", "Cosh", "Round",
    "Floor", "Ceil", "Sign",
}

#: Refuse to trace tensors with more coefficients than this (about 2 GB of float64).
_MAX_TRACE_ENTRIES = 250_000_000


class _ChainError(UnsupportedModelError):
    pass


@dataclass
class _Affine:
    """A data-path tensor: ``value = T[0] + sum_i v_i T[1 + i]`` over block ``block``'s vars."""

    T: np.ndarray
    block: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.T.shape[1:])


class _Unavailable:
    """A secondary node output (e.g. a Dropout mask) that has no meaning in inference."""

    def __init__(self, what: str):
        self.what = what


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ----- loading ----------------------------------------------------------------------------

def read_model(path: str | Path):
    """Parse an ONNX file, turning every failure into a one-line :class:`InputError`."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, external data errors, ...
        raise InputError(f"cannot read ONNX model {path}: {_one_line(exc)}") from None


def load_onnx(path: str | Path) -> ReLUNetwork:
    """Load a feed-forward ReLU network from an ONNX file (see the module docstring)."""
    model = read_model(path)
    try:
        return network_from_onnx(model)
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


def network_from_onnx(model) -> ReLUNetwork:
    """Trace an in-memory ``onnx.ModelProto`` into a :class:`ReLUNetwork`."""
    return _Tracer(model).run()


def _node_label(node, index: int) -> str:
    if node.name:
        return repr(node.name)
    out = node.output[0] if node.output else "?"
    return f"#{index} (output {out!r})"


class _Tracer:
    def __init__(self, model):
        from onnx import numpy_helper

        self._np = numpy_helper
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
            arr = self._np.to_array(proto)
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
        from onnx import TensorProto

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
                        f"node {label} ({node.op_type}) uses {v.what}, which is only defined "
                        "in training mode")
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
            raise UnsupportedModelError("the graph output does not depend on the input")
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
        return UnsupportedModelError(
            f"unsupported ONNX node {label} of op type {node.op_type}: {reason}; supported ops: "
            f"{', '.join(SUPPORTED_OPS)} (plus {', '.join(CONSTANT_ONLY_OPS)} on constants)")

    def _attrs(self, node) -> dict:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

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
        if op == "Shape":
            shape = ins[0].shape if isinstance(ins[0], _Affine) else np.shape(ins[0])
            start, end = a.get("start", 0), a.get("end", None)
            return [np.array(shape[start:end] if end is not None else shape[start:],
                             dtype=np.int64)]
        if op == "Gather":
            return [np.take(ins[0], np.asarray(ins[1]).astype(np.int64), axis=a.get("axis", 0))]
        if op == "Relu":
            return [self._relu(ins[0])]
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
        from onnx import TensorProto, helper

        to = a["to"]
        if isinstance(x, _Affine):
            if to not in (TensorProto.FLOAT, TensorProto.DOUBLE):
                raise self._unsupported(node, label, "casts the data path to a non-float type")
            return x
        if to in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
            return np.asarray(x, dtype=helper.tensor_dtype_to_np_dtype(to)).astype(np.float64)
        return np.asarray(x).astype(helper.tensor_dtype_to_np_dtype(to))

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
