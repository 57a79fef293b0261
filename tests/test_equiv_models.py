"""Models for the equivalence benchmarks (``scripts/make_equiv_models.py``): float16 copies and
the 5-100-100-5 student of ACAS Xu 1_1."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from conftest import ROOT, shared_file

from verishallow.domain import Box
from verishallow.errors import InputError
from verishallow.io import load, load_with_domain, sidecar_path
from verishallow.network import ReLUNetwork

STUDENT = ROOT / "models" / "acas_1_1_student.onnx"
DOC = ROOT / "docs" / "equiv-models.md"


@pytest.fixture(scope="module")
def script():
    name = "verishallow_make_equiv_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" /
                                                      "make_equiv_models.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _is_float16(a: np.ndarray) -> bool:
    return bool(np.array_equal(a.astype(np.float16).astype(np.float64), a))


def _check_float16_copy(net: ReLUNetwork, copy: ReLUNetwork) -> None:
    assert [w.shape for w in copy.weights] == [w.shape for w in net.weights]
    assert [b.shape for b in copy.biases] == [b.shape for b in net.biases]
    params = list(zip((*net.weights, *net.biases), (*copy.weights, *copy.biases), strict=True))
    assert all(c.dtype == np.float64 and _is_float16(c) for _, c in params)
    assert any(not np.array_equal(p, c) for p, c in params)
    for p, c in params:  # round to nearest: within half a float16 ulp (or subnormal spacing)
        assert np.all(np.abs(p - c) <= np.maximum(np.abs(p) * 2.0 ** -11, 2.0 ** -25))
    assert copy.fingerprint != net.fingerprint


def test_float16_copy_rounds_every_value(script):
    net = load(ROOT / "models" / "moons.onnx")
    copy = script.float16_copy(net)
    _check_float16_copy(net, copy)
    assert script.float16_copy(copy).fingerprint == copy.fingerprint  # idempotent


def test_float16_copy_ties_and_range(script):
    net = ReLUNetwork([np.array([[1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1e-9]])],
                      [np.array([65504.0])])
    copy = script.float16_copy(net)
    assert copy.weights[0].tolist() == [[1.0, 1.0 + 2.0 ** -9, 0.0]]  # half to even; underflow
    assert copy.biases[0].tolist() == [65504.0]
    with pytest.raises(InputError, match="float16"):
        script.float16_copy(ReLUNetwork([np.eye(1)], [np.array([1e5])]))


def test_float16_cli_writes_exact_copies(script, tmp_path):
    src = ROOT / "models" / "sine.onnx"
    assert script.main(["float16", str(tmp_path), str(src)]) == 0
    out = tmp_path / "sine.f16.onnx"
    net, domain = load_with_domain(out)
    orig, orig_domain = load_with_domain(src)
    assert net.fingerprint == script.float16_copy(orig).fingerprint
    assert domain.to_dict() == orig_domain.to_dict()
    assert json.loads(sidecar_path(out).read_text()) == orig_domain.to_dict()


def test_float16_copy_of_acas(script, tmp_path):
    path = shared_file("benchmarks", "vnncomp2021", "acasxu", "ACASXU_run2a_1_1_batch_2000.onnx")
    net = load(path)
    copy = script.float16_copy(net)
    _check_float16_copy(net, copy)
    out = script.write_float16_copy(path, tmp_path)
    assert load(out).fingerprint == copy.fingerprint
    assert not sidecar_path(out).exists()  # the ACAS file ships no domain


def test_student_file_and_domain(script):
    net, domain = load_with_domain(STUDENT)
    assert (net.input_dim, *net.hidden_widths, net.output_dim) == script.STUDENT_SIZES
    assert all(_is_float16(w) or np.array_equal(w.astype(np.float32), w) for w in net.weights)
    assert isinstance(domain, Box)
    side = json.loads(sidecar_path(STUDENT).read_text())
    assert side == domain.to_dict()
    assert side["lower"] == [0.6, -0.5, -0.5, 0.45, -0.5]
    assert side["upper"] == [0.679857769, 0.5, 0.5, 0.5, -0.45]


def test_student_matches_recorded_statistics(script):
    shared_file("benchmarks", "vnncomp2021", "acasxu", "ACASXU_run2a_1_1_batch_2000.onnx")
    teacher, box = script.acas_teacher()
    net, domain = load_with_domain(STUDENT)
    assert domain.to_dict() == box.to_dict()
    stats = script.sampled_difference(net, teacher, box)
    for key, value in script.STUDENT_STATS.items():
        assert abs(stats[key] - value) <= 1e-12, key
    text = DOC.read_text()
    assert f"{script.STUDENT_STATS['max_abs_diff']:.6e}" in text
    assert f"{script.STUDENT_STATS['mean_abs_diff']:.6e}" in text


def test_student_training_is_reproducible(script):
    shared_file("benchmarks", "vnncomp2021", "acasxu", "ACASXU_run2a_1_1_batch_2000.onnx")
    teacher, box = script.acas_teacher()
    kw = dict(steps=4, batch=64, refresh=2, candidates=256, refit_points=512)
    a = script.train_student(teacher, box, **kw)
    b = script.train_student(teacher, box, **kw)
    assert a.fingerprint == b.fingerprint
    assert (a.input_dim, *a.hidden_widths, a.output_dim) == script.STUDENT_SIZES
