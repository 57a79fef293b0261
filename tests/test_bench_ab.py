"""scripts/bench_ab.py reads bench.py's log and compares like with like (no timing runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

LOG = """\
[bench 10:41:29] section brute ...
[bench 10:41:29] brute N=8: 20 regions, brute 0.14 s, graph 0.03 s, subdivision 0.008 s
[bench 10:41:33] section brute done in 4.5 s
[bench 10:41:34] case he2d subdivision w1: 556 regions, 0.15 s [0.7 s incl. start-up]
[bench 10:41:36] case he2d graph w1: 556 regions, 1.38 s [2.4 s incl. start-up]
"""


def _module():
    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_ab.py"
    spec = importlib.util.spec_from_file_location("bench_ab", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_timings_reads_cases_engines_and_sections():
    t = _module().timings(LOG)
    assert t == {"brute N=8 graph": 0.03, "brute N=8 subdivision": 0.008,
                 "section brute": 4.5, "case he2d subdivision w1": 0.15,
                 "case he2d graph w1": 1.38}


def test_table_compares_minima_and_marks_one_sided_figures():
    mod = _module()
    base = [{"a": 2.0, "b": 1.0}, {"a": 1.0, "b": 3.0}]
    new = [{"a": 1.5, "c": 4.0}, {"a": 0.5}]
    text = mod.table(base, new, "abc123")
    assert "| a | 1 | 0.5 | 0.50 |" in text
    assert "| b | 1.0 | - | base only |" in text
    assert "| c | - | 4.0 | new only |" in text
