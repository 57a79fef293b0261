"""Partition pictures: valid PNGs of the requested size, slices, exact decision boundaries."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from verishallow.cli import main
from verishallow.domain import Box, Polytope
from verishallow.errors import InputError
from verishallow.network import ReLUNetwork
from verishallow.plot import decision_segments, plot_partition, slice_network
from verishallow.regions import enumerate_regions
from verishallow.studies.common import he_network
from verishallow.studies.facets import region_polygon

MODELS = Path(__file__).resolve().parents[1] / "models"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("color,size", [("output", (640, 480)), ("model", (333, 257))])
def test_png_of_requested_size(tmp_path, color, size):
    net = he_network(2, [6, 6], 2, seed=0)
    out = tmp_path / "p.png"
    res = plot_partition(net, Box([-1, -1], [1, 1]), out, color=color, width=size[0],
                         height=size[1], decision_boundary=True)
    assert png_size(out) == size
    assert res.regions == len(enumerate_regions(net, Box([-1, -1], [1, 1]),
                                                prove_coverage=False))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary behind


def test_one_input_model_is_refused(tmp_path):
    net = he_network(1, [4], 1, seed=0)
    with pytest.raises(InputError, match="2-D"):
        plot_partition(net, Box([-1], [1]), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_slice_of_3d_model(tmp_path):
    net = he_network(3, [5, 5], 3, seed=1)
    dom = Box([-1, -2, -3], [1, 2, 3])
    net2, dom2, x0 = slice_network(net, dom, (0, 2), at=[0.5])
    assert np.array_equal(dom2.lower, [-1, -3]) and np.array_equal(dom2.upper, [1, 3])
    assert np.array_equal(x0, [0.0, 0.5, 0.0])
    Y = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    X = np.column_stack([Y[:, 0], np.full(50, 0.5), Y[:, 1]])
    assert np.allclose(net2.forward(Y), net.forward(X))
    out = tmp_path / "s.png"
    res = plot_partition(net, dom, out, dims=(0, 2), at=[0.5], width=300, height=200)
    assert png_size(out) == (300, 200) and res.regions > 1
    with pytest.raises(InputError, match="--slice"):
        plot_partition(net, dom, tmp_path / "t.png")
    with pytest.raises(InputError, match="outside the domain"):
        slice_network(net, dom, (0, 2), at=[5.0])


def test_slice_of_polytope_domain():
    net = he_network(3, [4], 1, seed=2)
    dom = Polytope([[1.0, 1.0, 1.0]], [1.0], [-1, -1, -1], [1, 1, 1])
    _, dom2, x0 = slice_network(net, dom, (0, 1), at=[0.0, 0.0, 0.5])
    assert np.allclose(dom2.A, [[1.0, 1.0]]) and np.allclose(dom2.b, [0.5])


def test_decision_boundary_is_exact():
    net = he_network(2, [8, 8], 3, seed=4)
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    segs = [s for r in part for s in decision_segments(region_polygon(r), r.alpha, r.beta)]
    assert segs
    # every segment point is a tie between the two largest outputs
    for s in segs:
        for t in (0.0, 0.37, 1.0):
            y = np.sort(net.forward((1 - t) * s[0] + t * s[1]))
            assert abs(y[-1] - y[-2]) <= 1e-9 * max(1.0, abs(y[-1]))
    # every argmax change between neighbouring grid points is crossed by a segment
    g = np.linspace(-0.99, 0.99, 120)
    X = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    lab = net.forward(X).argmax(axis=1).reshape(120, 120)
    P = X.reshape(120, 120, 2)
    A = np.array([s[0] for s in segs])
    B = np.array([s[1] for s in segs])
    for i, j in zip(*np.nonzero(lab[:, 1:] != lab[:, :-1]), strict=True):
        p, q = P[i, j], P[i, j + 1]
        assert _crosses(p, q, A, B), (p, q)


def _crosses(p, q, A, B) -> bool:
    """Does segment pq meet any segment A[k]B[k] (closed, with a small slack)?"""
    def orient(a, b, c):
        return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) \
            - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    eps = 1e-12
    d1, d2 = orient(A, B, p), orient(A, B, q)
    d3, d4 = orient(p, q, A), orient(p, q, B)
    return bool(np.any((d1 * d2 <= eps) & (d3 * d4 <= eps)))


def test_single_output_boundary_is_zero_level():
    net = ReLUNetwork([np.eye(2), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    segs = [s for r in part for s in decision_segments(region_polygon(r), r.alpha, r.beta)]
    for s in segs:
        assert np.allclose(net.forward(s), 0.0, atol=1e-12)
    assert np.isclose(sum(np.linalg.norm(s[1] - s[0]) for s in segs),
                      np.sqrt(2) + 1 + 1)  # the diagonal in Q1, the two half-axes elsewhere


# ----- CLI ----------------------------------------------------------------------------------------
def _model(name: str) -> Path:
    p = MODELS / f"{name}.onnx"
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return p


def test_cli_plot_moons(tmp_path):
    moons = _model("moons")
    out = tmp_path / "m.png"
    res = CliRunner().invoke(main, ["plot", str(moons), "-o", str(out), "--decision-boundary",
                                    "--width", "420", "--height", "300", "--json"])
    assert res.exit_code == 0, res.output
    assert png_size(out) == (420, 300)
    assert json.loads(res.output)["regions"] > 1


def test_cli_plot_one_input_exit_2(tmp_path):
    sine = _model("sine")
    res = CliRunner().invoke(main, ["plot", str(sine), "-o", str(tmp_path / "s.png")])
    assert res.exit_code == 2
    assert "2-D" in res.output and len(res.output.strip().splitlines()) == 1


def test_cli_plot_slice_blobs3d(tmp_path):
    blobs = _model("blobs3d")
    out = tmp_path / "b.png"
    res = CliRunner().invoke(main, ["plot", str(blobs), "-o", str(out), "--slice", "0,2",
                                    "--color", "model", "--width", "256", "--height", "256"])
    assert res.exit_code == 0, res.output
    assert png_size(out) == (256, 256)
    bad = CliRunner().invoke(main, ["plot", str(blobs), "-o", str(out)])
    assert bad.exit_code == 2 and "--slice" in bad.output
