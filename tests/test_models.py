"""The bundled example models: shapes, shipped domains, honest accuracy, deterministic training."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import ROOT

from verishallow.domain import Box, domain_from_dict
from verishallow.io import load_with_domain, sidecar_path
from verishallow.io.onnx import DOMAIN_KEY

MODELS = ROOT / "models"


def _script():
    name = "verishallow_train_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "train_models.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


T = _script()

SHAPES = {"moons": "2-16-16-2", "sine": "1-16-16-1", "blobs3d": "3-8-8-3"}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_bundled_model_loads_with_its_domain(name: str):
    path = MODELS / f"{name}.onnx"
    net, dom = load_with_domain(path)
    assert repr(net) == f"ReLUNetwork({SHAPES[name]})"
    assert dom == T.SPECS[name].domain and isinstance(dom, Box) and dom.is_bounded_box
    # the domain is shipped twice, identically: sidecar and ONNX metadata
    side = domain_from_dict(json.loads(sidecar_path(path).read_text()))
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert side == dom == domain_from_dict(json.loads(props[DOMAIN_KEY]))
    # float32 file, and the loaded weights are exactly those float32 values
    assert all(np.array_equal(w.astype(np.float32), w) for w in net.weights)


def test_moons_accuracy_on_fresh_data():
    net, _ = load_with_domain(MODELS / "moons.onnx")
    X, y = T.make_moons(4000, seed=12345)
    assert np.mean(net(X).argmax(axis=1) == y) >= 0.95


def test_blobs3d_accuracy_on_fresh_data():
    net, dom = load_with_domain(MODELS / "blobs3d.onnx")
    X, y = T.make_blobs3d(3000, seed=12345)
    assert np.mean(dom.contains(X)) >= 0.99  # the box covers the data
    assert np.mean(net(X).argmax(axis=1) == y) >= 0.95


def test_sine_fit_on_a_fine_grid():
    net, _ = load_with_domain(MODELS / "sine.onnx")
    x = np.linspace(-3.0, 3.0, 2001)[:, None]
    err = net(x) - T.sine_target(x)
    assert np.sqrt(np.mean(err ** 2)) <= 0.05 and np.max(np.abs(err)) <= 0.2


def test_training_is_deterministic(tmp_path: Path):
    a, b = T.train_moons(steps=40), T.train_moons(steps=40)
    assert a.fingerprint == b.fingerprint
    assert T.train_sine(steps=40).fingerprint == T.train_sine(steps=40).fingerprint
    assert T.train_blobs3d(steps=40).fingerprint == T.train_blobs3d(steps=40).fingerprint
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        T.write_model("moons", a, tmp_path / d)
    for f in ("moons.onnx", "moons.domain.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
