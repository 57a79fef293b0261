"""Reading ONNX without ``import onnx`` (``verishallow.io.onnx_proto``) gives what onnx gives.

Every tensor and attribute of the bundled models and of the shared VNN-COMP / VeryDiff models
decodes to the array / value onnx's own helpers return; so do synthetic tensors of every
element type the fast path takes, in raw and in typed storage. Types it does not decode,
external data and text formats go through onnx itself. Loading a model in a fresh interpreter
leaves the onnx package unimported (that is the point: its import costs ~0.5 s).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import ROOT, SHARED
from onnx import TensorProto, helper, numpy_helper

from verishallow.io import onnx_proto
from verishallow.io.onnx import load_onnx

MODELS = sorted((ROOT / "models").glob("*.onnx"))
SHARED_MODELS = sorted(SHARED.glob("benchmarks/vnncomp2021/test/*.onnx")) + \
    sorted(SHARED.glob("benchmarks/verydiff/*.onnx")) + \
    sorted(SHARED.glob("benchmarks/vnncomp2021/acasxu/ACASXU_run2a_1_[12]_batch_2000.onnx"))


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("path", MODELS + SHARED_MODELS, ids=lambda p: p.name)
def test_models_decode_as_onnx_decodes_them(path):
    ours = onnx_proto.load_model(path)
    ref = onnx.load(str(path))
    assert ours.SerializeToString() == ref.SerializeToString()
    assert isinstance(ours, onnx.ModelProto)  # the very same message classes
    for t in ref.graph.initializer:
        _same(onnx_proto.to_array(t), numpy_helper.to_array(t))
    for node in ref.graph.node:
        for a in node.attribute:
            ours_v, ref_v = onnx_proto.attribute_value(a), helper.get_attribute_value(a)
            if isinstance(ref_v, onnx.TensorProto):
                _same(onnx_proto.to_array(ours_v), numpy_helper.to_array(ref_v))
            else:
                assert ours_v == ref_v


FAST_TYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]


@pytest.mark.parametrize("dtype", FAST_TYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
def test_every_fast_type_in_both_storages(dtype, raw):
    rng = np.random.default_rng(0)
    for shape in [(), (3,), (2, 3, 4)]:
        x = rng.normal(size=shape) * 50
        arr = np.asarray(x > 0 if dtype is np.bool_ else x).astype(dtype)
        elem = helper.np_dtype_to_tensor_dtype(arr.dtype)
        t = helper.make_tensor("t", elem, arr.shape, arr.tobytes() if raw else arr.ravel(),
                               raw=raw)
        _same(onnx_proto.to_array(t), numpy_helper.to_array(t))
        assert onnx_proto.np_dtype(elem) == np.dtype(dtype)


def test_other_types_go_through_onnx():
    t = helper.make_tensor("s", TensorProto.STRING, (2,), [b"a", b"bc"])
    _same(onnx_proto.to_array(t), numpy_helper.to_array(t))
    t = helper.make_tensor("b", TensorProto.BFLOAT16, (3,), [1.0, -2.5, 3.0])
    np.testing.assert_array_equal(onnx_proto.to_array(t).astype(np.float64),
                                  numpy_helper.to_array(t).astype(np.float64))
    assert onnx_proto.np_dtype(TensorProto.BFLOAT16) == \
        np.dtype(helper.tensor_dtype_to_np_dtype(TensorProto.BFLOAT16))


@pytest.mark.filterwarnings("ignore:The onnxtxt format is experimental")
def test_external_data_and_text_formats_load_through_onnx(tmp_path):
    src = onnx.load(str(ROOT / "models" / "moons.onnx"))
    path = tmp_path / "ext.onnx"
    ext = onnx.ModelProto()
    ext.CopyFrom(src)  # save_model moves the copy's tensors out
    onnx.save_model(ext, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").is_file()
    ours = onnx_proto.load_model(path)
    for t, r in zip(ours.graph.initializer, src.graph.initializer, strict=True):
        _same(onnx_proto.to_array(t), numpy_helper.to_array(r))
    a, b = load_onnx(path), load_onnx(ROOT / "models" / "moons.onnx")
    assert a.fingerprint == b.fingerprint
    txt = tmp_path / "moons.onnxtxt"
    onnx.save_model(src, str(txt), format="onnxtxt")
    assert load_onnx(txt).fingerprint == b.fingerprint


def test_attribute_values_of_every_kind():
    g = helper.make_graph([], "g", [], [])
    t = numpy_helper.from_array(np.arange(3, dtype=np.float32), "t")
    for value in [1.5, 7, b"s", t, g, [1.0, 2.0], [1, 2], [b"a", b"b"], [t, t]]:
        a = helper.make_attribute("a", value)
        ours, ref = onnx_proto.attribute_value(a), helper.get_attribute_value(a)
        assert ours == ref
    ref_attr = onnx.AttributeProto(name="r", ref_attr_name="outer", type=onnx.AttributeProto.INT)
    with pytest.raises(ValueError, match="reference attribute"):
        onnx_proto.attribute_value(ref_attr)


def test_loading_a_model_does_not_import_onnx():
    code = ("import sys; from verishallow.io import load; "
            f"net = load({str(ROOT / 'models' / 'moons.onnx')!r}); "
            "print(net.input_dim, 'onnx' in sys.modules, 'ml_dtypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["2", "False", "False"]
