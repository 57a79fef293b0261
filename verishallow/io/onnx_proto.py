"""ONNX's protobuf messages without the 0.5 s ``import onnx``.

``import onnx`` costs about 0.55 s here, almost all of it in ``ml_dtypes`` (onnx's dtype tables
import it): more than a whole easy verification takes. Reading a model needs only onnx's
generated message classes (``onnx/onnx_ml_pb2.py``, plain protobuf), so :func:`messages` loads
that one file of the installed onnx package under its own name, ``onnx.onnx_ml_pb2``; a later
``import onnx`` (the exporters, the tests) finds and reuses it: the same classes, one descriptor
registration. Tensors of the usual numeric types are decoded here (:func:`to_array`); anything
else (external data, strings, bfloat16 and the float8/4-bit types, segments, a big-endian host)
goes through onnx's own ``numpy_helper``, paying the import only then.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

_PB2 = "onnx.onnx_ml_pb2"
_cache: dict[str, Any] = {}

#: Suffixes :func:`onnx.load` reads as text formats (everything else is binary protobuf).
_TEXT_SUFFIXES = {".onnxtxt", ".textproto", ".txtpb", ".json", ".prototxt"}


def messages() -> Any:
    """The module of ONNX's message classes (``ModelProto``, ``TensorProto``, ...)."""
    pb2 = _cache.get("pb2")
    if pb2 is not None:
        return pb2
    pb2 = sys.modules.get(_PB2)
    if pb2 is None:
        spec = importlib.util.find_spec("onnx")
        path = Path(spec.origin).parent / "onnx_ml_pb2.py" if spec and spec.origin else None
        if path is not None and path.is_file():
            mspec = importlib.util.spec_from_file_location(_PB2, path)
            pb2 = importlib.util.module_from_spec(mspec)
            sys.modules[_PB2] = pb2
            try:
                mspec.loader.exec_module(pb2)
            except Exception:  # another onnx layout: fall back to the package
                del sys.modules[_PB2]
                pb2 = None
        if pb2 is None:
            import onnx

            pb2 = onnx.onnx_ml_pb2
    _cache["pb2"] = pb2
    return pb2


def _uses_external_data(model: Any) -> bool:
    ext = messages().TensorProto.EXTERNAL
    if any(t.data_location == ext for t in model.graph.initializer):
        return True
    return any(a.HasField("t") and a.t.data_location == ext
               for node in model.graph.node for a in node.attribute)


def load_model(path: str | Path) -> Any:
    """``onnx.load(path)``: binary protobuf parsed here; text formats and models with external
    data go through onnx itself. Parse errors propagate (the caller words them)."""
    path = Path(path)
    if path.suffix.lower() in _TEXT_SUFFIXES:
        import onnx

        return onnx.load(str(path))
    model = messages().ModelProto()
    model.ParseFromString(path.read_bytes())
    if _uses_external_data(model):
        import onnx

        return onnx.load(str(path))
    return model


def _np_types() -> dict[int, tuple[np.dtype, str]]:
    """Element type -> (numpy dtype, typed storage field) for the types decoded here."""
    got = _cache.get("types")
    if got is None:
        T = messages().TensorProto
        got = {
            T.FLOAT: (np.dtype(np.float32), "float_data"),
            T.DOUBLE: (np.dtype(np.float64), "double_data"),
            T.FLOAT16: (np.dtype(np.float16), "int32_data"),
            T.INT8: (np.dtype(np.int8), "int32_data"),
            T.INT16: (np.dtype(np.int16), "int32_data"),
            T.INT32: (np.dtype(np.int32), "int32_data"),
            T.INT64: (np.dtype(np.int64), "int64_data"),
            T.UINT8: (np.dtype(np.uint8), "int32_data"),
            T.UINT16: (np.dtype(np.uint16), "int32_data"),
            T.UINT32: (np.dtype(np.uint32), "uint64_data"),
            T.UINT64: (np.dtype(np.uint64), "uint64_data"),
            T.BOOL: (np.dtype(np.bool_), "int32_data"),
        }
        _cache["types"] = got
    return got


def np_dtype(elem_type: int) -> np.dtype:
    """``onnx.helper.tensor_dtype_to_np_dtype``."""
    got = _np_types().get(elem_type)
    if got is not None:
        return got[0]
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def to_array(tensor: Any) -> np.ndarray:
    """``onnx.numpy_helper.to_array(tensor)`` (the same array, tested on every shared model)."""
    got = _np_types().get(tensor.data_type)
    if got is None or sys.byteorder != "little" or tensor.HasField("segment") or \
            tensor.data_location == messages().TensorProto.EXTERNAL:
        from onnx import numpy_helper

        return numpy_helper.to_array(tensor)
    dtype, field = got
    dims = tuple(tensor.dims)
    if tensor.HasField("raw_data"):
        return np.frombuffer(tensor.raw_data, dtype=dtype).reshape(dims).copy()
    vals = getattr(tensor, field)
    if dtype == np.float16:  # the bit patterns, one per int32
        arr = np.asarray(vals, dtype=np.uint16).view(np.float16)
    elif dtype == np.bool_:
        arr = np.asarray(vals, dtype=np.int32).astype(np.bool_)
    else:
        arr = np.asarray(vals, dtype=dtype)
    return arr.reshape(dims)


def attribute_value(attr: Any) -> Any:
    """``onnx.helper.get_attribute_value(attr)``."""
    A = messages().AttributeProto
    if attr.ref_attr_name:
        raise ValueError(f"cannot get the value of reference attribute {attr.name!r}")
    simple = {A.FLOAT: "f", A.INT: "i", A.STRING: "s", A.TENSOR: "t",
              A.SPARSE_TENSOR: "sparse_tensor", A.GRAPH: "g", A.TYPE_PROTO: "tp"}
    repeated = {A.FLOATS: "floats", A.INTS: "ints", A.STRINGS: "strings", A.TENSORS: "tensors",
                A.SPARSE_TENSORS: "sparse_tensors", A.GRAPHS: "graphs",
                A.TYPE_PROTOS: "type_protos"}
    if attr.type in simple:
        return getattr(attr, simple[attr.type])
    if attr.type in repeated:
        return list(getattr(attr, repeated[attr.type]))
    if attr.type == A.UNDEFINED:
        return None
    raise ValueError(f"unsupported ONNX attribute type {attr.type} of {attr.name!r}")
