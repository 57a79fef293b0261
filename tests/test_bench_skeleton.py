"""scripts/bench_skeleton.py --quick runs and its engines agree (no timing assertions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_quick_run_reports_every_dimension_and_agreement(tmp_path, capsys):
    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_skeleton.py"
    spec = importlib.util.spec_from_file_location("bench_skeleton", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "section.md"
    assert mod.main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## 9. Region engines per input dimension" in text
    for d in range(2, 9):
        assert f"| {d} | {d}-" in text
    assert "| NO |" not in text and "patterns: yes" in text
    assert "KiB/region held" in text
