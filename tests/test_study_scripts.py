"""The study script ``scripts/studies.py`` in its ``--quick`` mode: valid PNGs, tables with the
expected rows, one section per study in ``studies.md``, sections rewritten in place."""

from __future__ import annotations

import importlib.util
import re
import struct
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "studies.py"


@pytest.fixture(scope="module")
def studies():
    spec = importlib.util.spec_from_file_location("verishallow_study_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    assert data[-8:-4] == b"IEND"
    return w, h


def section(text: str, name: str) -> str:
    m = re.search(rf"<!-- study:{name} -->(.*?)<!-- /study:{name} -->", text, re.S)
    assert m, f"no {name} section"
    return m.group(1)


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in ``text``: rows of cells, header and rule dropped."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cur is None:
                cur = [cells]
            else:
                cur.append(cells)
        elif cur is not None:
            out.append(cur[2:])
            cur = None
    if cur is not None:
        out.append(cur[2:])
    return out


def test_facets_quick(studies, tmp_path):
    res = studies.main(["facets", "--quick", "--out", str(tmp_path)])
    assert res == 0
    w, h = png_size(tmp_path / "figures" / "facets_histogram.png")
    assert w > 200 and h > 200
    sec = section((tmp_path / "studies.md").read_text(), "facets")
    assert "figures/facets_histogram.png" in sec
    main_t, closed_t = tables(sec)
    cfg = studies.FACETS["quick"]["configs"]
    expected = [(str(d), str(w), str(L)) for d, w, ds, *_ in cfg for L in ds]
    assert [tuple(r[:3]) for r in main_t] == expected
    for r in main_t:
        if r[0] == "2":  # Euler: a generic 2-D partition of a box has 4 sides on average
            assert r[5] == "4.000"
    assert len(closed_t) == sum(len(ns) for _, ns in studies.FACETS["quick"]["closed"])
    assert all(r[6] == "yes" for r in closed_t)
    # the other sections are placeholders until their studies run
    assert "not generated yet" in section((tmp_path / "studies.md").read_text(), "depth")


def test_breakpoints_quick(studies, tmp_path):
    studies.main(["breakpoints", "--quick", "--out", str(tmp_path)])
    png_size(tmp_path / "figures" / "breakpoints.png")
    sec = section((tmp_path / "studies.md").read_text(), "breakpoints")
    cfg = studies.BREAKPOINTS["quick"]
    regions_t, ratio_t = tables(sec)
    assert [r[0] for r in regions_t] == [str(L) for L in cfg["depths"]]
    assert [r[0] for r in ratio_t] == [str(L) for L in cfg["depths"]]
    assert all(len(r) == 1 + len(cfg["widths"]) for r in regions_t)
    # one hidden layer: exactly n + 1 regions on R
    assert ratio_t[0][1:] == ["1.000"] * len(cfg["widths"])


def test_depth_quick(studies, tmp_path):
    studies.main(["depth", "--quick", "--out", str(tmp_path)])
    png_size(tmp_path / "figures" / "depth.png")
    sec = section((tmp_path / "studies.md").read_text(), "depth")
    cfg = studies.DEPTH["quick"]
    ts = tables(sec)
    assert len(ts) == 3
    for t in ts:
        assert [r[0] for r in t] == [str(L) for L in cfg["table_depths"]]
    # fractions are fractions
    for r in ts[1]:
        assert all(c == "–" or 0.0 <= float(c) <= 1.0 for c in r[1:])


def test_sections_rewritten_in_place(studies, tmp_path):
    studies.update_doc(tmp_path, "breakpoints", "first")
    studies.update_doc(tmp_path, "depth", "second")
    studies.update_doc(tmp_path, "breakpoints", "third")
    text = (tmp_path / "studies.md").read_text()
    assert section(text, "breakpoints").strip() == "third"
    assert section(text, "depth").strip() == "second"
    assert "not generated yet" in section(text, "facets")
    assert text.index("study:facets") < text.index("study:breakpoints") < text.index("study:depth")
    assert text.count("<!-- study:breakpoints -->") == 1
    assert text.count("# Geometry studies") == 1 and text.startswith(studies.INTRO)


@pytest.mark.parametrize("width,depth,seed", [(4, 3, 0), (4, 12, 1), (8, 6, 2), (16, 4, 0)])
def test_grid_statistics_match_library(studies, width, depth, seed):
    """The script's GEMM version of the zero-Jacobian test agrees with the library's."""
    import numpy as np

    from verishallow.domain import Box
    from verishallow.studies.depth import fixed_pairs, sampled_statistics

    box = Box([-1.0, -1.0], [1.0, 1.0])
    pairs = fixed_pairs(box, 16)
    samples = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(400, 2))
    net = studies._depth_net(width, depth, seed)
    assert studies.grid_statistics(net, samples, pairs) == sampled_statistics(net, samples, pairs)
