"""Smoke test of scripts/bench_decisions.py's pure helpers (no Marabou, no solver runs)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_decisions.py"


@pytest.fixture(scope="module")
def bd():
    spec = importlib.util.spec_from_file_location("bench_decisions", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def _all_vnncomp_instances(bd, base=Path("/x")):
    rows = [f"ACASXU_run2a_{i}_{j}_batch_2000.onnx,prop_{p}.vnnlib,116"
            for p in range(1, 5) for i in range(1, 6) for j in range(1, 10)]
    rows += [f"ACASXU_run2a_{n}_batch_2000.onnx,prop_{p}.vnnlib,116"
             for n, p in (("1_1", 5), ("1_1", 6), ("1_9", 7), ("2_9", 8), ("3_3", 9),
                          ("4_5", 10))]
    return bd.parse_instances_csv("\n".join(rows) + "\n\n", base)


def test_ids_and_csv(bd):
    assert bd.net_id("onnx/ACASXU_run2a_4_2_batch_2000.onnx") == "4_2"
    assert bd.net_id("other.onnx") == "other"
    assert bd.prop_id("vnnlib/prop_10.vnnlib") == "prop_10"
    rows = _all_vnncomp_instances(bd)
    assert len(rows) == 186
    first = rows[0]
    assert (first.net, first.prop, first.timeout) == ("1_1", "prop_1", 116.0)
    assert first.onnx == Path("/x/ACASXU_run2a_1_1_batch_2000.onnx")
    assert first.name == "1_1 prop_1"


def test_expected_answers(bd):
    rows = _all_vnncomp_instances(bd)
    answers = {(r.net, r.prop): bd.expected_answer(r.net, r.prop) for r in rows}
    assert sum(a == "sat" for a in answers.values()) == 47
    assert set(answers.values()) == {"sat", "unsat"}
    for sat in [("1_2", "prop_2"), ("2_1", "prop_2"), ("5_9", "prop_2"), ("1_7", "prop_3"),
                ("1_9", "prop_4"), ("1_9", "prop_7"), ("2_9", "prop_8")]:
        assert answers[sat] == "sat", sat
    for unsat in [("1_1", "prop_1"), ("1_1", "prop_2"), ("3_3", "prop_2"), ("4_2", "prop_2"),
                  ("1_1", "prop_4"), ("1_1", "prop_5"), ("3_3", "prop_9"), ("4_5", "prop_10")]:
        assert answers[unsat] == "unsat", unsat
    assert bd.expected_answer("mnist", "prop_1") == "unknown"
    # the 150 instances whose networks are in ../shared (1_1 .. 4_9): 38 of them sat
    in_shared = [k for k in answers if not k[0].startswith("5_")]
    assert len(in_shared) == 150
    assert sum(answers[k] == "sat" for k in in_shared) == 38


def test_classify(bd):
    assert bd.classify("sat", "sat") == "correct"
    assert bd.classify("unsat", "sat") == "wrong"
    assert bd.classify("timeout", "unsat") == "unknown"
    assert bd.classify("error", "unsat") == "unknown"
    assert bd.classify("sat", "unknown") == "unchecked"


def test_select_instances(bd):
    rows = _all_vnncomp_instances(bd)
    assert bd.select_instances(rows, "all") == rows
    assert bd.select_instances(rows, "3") == rows[:3]
    quick = bd.select_instances(rows, "quick")
    assert [(r.net, r.prop) for r in quick] == list(bd.QUICK_INSTANCES)
    picked = bd.select_instances(rows, "1_9:prop_7, 2_1:2")
    assert [r.name for r in picked] == ["1_9 prop_7", "2_1 prop_2"]
    with pytest.raises(ValueError):
        bd.select_instances(rows, "1_9")
    with pytest.raises(ValueError):
        bd.select_instances(rows[:3], "1_9:prop_7")


def test_quick_instances_have_both_answers(bd):
    answers = {bd.expected_answer(n, p) for n, p in bd.QUICK_INSTANCES}
    assert answers == {"sat", "unsat"}


def test_parse_marabou_output(bd):
    head = "Network: a.onnx\nProperty: p.vnnlib\n\n"
    assert bd.parse_marabou_output(head + "unsat\n") == "unsat"
    assert bd.parse_marabou_output(head + "sat\nInput assignment:\n\tx0 = 0.1\n") == "sat"
    assert bd.parse_marabou_output(head + "Timeout\n") == "unknown"
    proof = "Proof production is not yet supported with DEEPSOI search, turning search off.\n"
    assert bd.parse_marabou_output(proof + head + "unsat\n") == "unsat"
    assert bd.parse_marabou_output("") == "unknown"
    assert bd.parse_marabou_output("Network: unsat.onnx\nerror\n") == "unknown"


def test_parse_verishallow_json(bd):
    doc = {"status": "sat", "seconds": 0.7, "method": "sampling", "reason": ""}
    assert bd.parse_verishallow_json(json.dumps(doc)) == doc
    assert bd.parse_verishallow_json("warning: x\n" + json.dumps({"status": "unknown",
                                                                "seconds": 3})) == {
        "status": "unknown", "seconds": 3.0}
    assert bd.parse_verishallow_json("not json")["status"] == "error"
    assert bd.parse_verishallow_json(json.dumps({"status": "weird"}))["status"] == "error"
    assert bd.parse_verishallow_json("[1, 2]")["status"] == "error"


def test_parse_equiv_json(bd):
    base = {"seconds": 2.5, "reason": "time limit", "sampled_max": 0.004}
    assert bd.parse_equiv_json(json.dumps({**base, "equivalent": None}))["status"] == "unknown"
    assert bd.parse_equiv_json(json.dumps({**base, "equivalent": True}))["status"] == \
        "equivalent"
    out = bd.parse_equiv_json(json.dumps({**base, "equivalent": False}))
    assert out == {"status": "different", "seconds": 2.5, "reason": "time limit",
                   "sampled_max": 0.004}
    assert bd.parse_equiv_json("{}")["status"] == "error"


def test_commands(bd):
    inst = bd.Instance("1_1", "prop_1", Path("/n.onnx"), Path("/p.vnnlib"), 116.0)
    assert bd.marabou_command("M", inst, 116.0, 2, False) == [
        "M", "/n.onnx", "/p.vnnlib", "--timeout", "116", "--num-workers", "2",
        "--verbosity", "0"]
    assert bd.marabou_command("M", inst, 0.2, 2, True)[3:] == [
        "--timeout", "1", "--num-workers", "1", "--verbosity", "0", "--prove-unsat"]
    assert bd.verishallow_verify_command(["vs"], inst, 58.0, 2) == [
        "vs", "verify", "/n.onnx", "/p.vnnlib", "--time-limit", "58", "--workers", "2",
        "--json"]
    assert bd.verishallow_verify_command(["vs"], inst, 1.5, 2, Path("/c.json.gz"))[-2:] == [
        "--certificate", "/c.json.gz"]
    assert bd.verishallow_check_command(["vs"], Path("/c.json.gz"), inst, 2) == [
        "vs", "check", "/c.json.gz", "/n.onnx", "/p.vnnlib", "--workers", "2", "--json"]
    assert bd.find_verishallow("python -m verishallow") == ["python", "-m", "verishallow"]
    assert bd.find_marabou("/opt/Marabou") == "/opt/Marabou"


def test_tools_and_rotation(bd):
    assert bd.parse_tools("verishallow, marabou") == ["verishallow", "marabou"]
    assert bd.parse_tools("marabou", check_certificates=True) == ["marabou", "verishallow-cert"]
    with pytest.raises(ValueError):
        bd.parse_tools("z3")
    assert bd.rotated(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert bd.rotated(["a", "b", "c"], 4) == ["b", "c", "a"]
    assert bd.rotated([], 3) == []


def test_select_pairs(bd):
    assert bd.select_pairs(None) == list(bd.EQUIV_PAIRS)
    name = bd.EQUIV_PAIRS[1][0]
    assert bd.select_pairs(name) == [bd.EQUIV_PAIRS[1]]
    with pytest.raises(ValueError):
        bd.select_pairs("nope")


def _result(bd, tool, answer, expected, seconds, **kw):
    return bd.Result("1_1 prop_1", "1_1", "prop_1", tool, expected, answer, seconds,
                     bd.classify(answer, expected), **kw)


def test_summary_and_markdown(bd):
    results = [
        _result(bd, "verishallow", "unsat", "unsat", 10.0),
        _result(bd, "marabou", "sat", "unsat", 2.0),
        _result(bd, "verishallow-cert", "unsat", "unsat", 12.0, check_answer="valid",
                check_seconds=3.0),
    ]
    results.append(bd.Result("1_7 prop_3", "1_7", "prop_3", "verishallow", "sat", "timeout",
                             126.0, "unknown"))
    tools = ["verishallow", "marabou", "verishallow-cert"]
    s = bd.summarize(results, tools)
    assert s["verishallow"] == {"runs": 2, "total_seconds": 136.0, "solved": 1,
                                "solved_seconds": 10.0, "correct": 1, "wrong": 0,
                                "unknown": 1, "unchecked": 0}
    assert s["marabou"]["wrong"] == 1
    assert s["verishallow-cert"]["check_total_seconds"] == 3.0
    assert s["verishallow-cert"]["checks_valid"] == 1
    md = bd.render_markdown(results, tools, {"date": "today", "expected_source": "src"})
    assert md.startswith("# Decision benchmark")
    assert "- expected source: src" in md
    assert "| instance | expected | verishallow | marabou | verishallow-cert |" in md
    assert "| 1_1 prop_1 | unsat | unsat 10.0 | **sat 2.0 WRONG** | " \
           "unsat 12.0 (check valid 3.0) |" in md
    assert "| 1_7 prop_3 | sat | timeout 126.0 | - | - |" in md
    assert "| marabou | 1 | 2.0 | 1 | 2.0 | 0 | **1** | 0 | 0 | - |" in md


def test_equivalence_markdown(bd):
    rows = [{"name": "p", "a": "a.onnx", "b": "b.onnx", "domain": "d.vnnlib", "epsilon": 0.05,
             "top1": False, "answer": "unknown", "reason": "time limit", "seconds": 7.8,
             "tool_seconds": 6.0, "sampled_max": 0.004},
            {"name": "q", "a": "a.onnx", "b": "float16(a.onnx)", "domain": "d.vnnlib",
             "epsilon": 0.0, "top1": True, "answer": "skipped", "seconds": 0.0,
             "tool_seconds": None}]
    md = bd.render_equivalence_markdown(rows, {"date": "today"})
    assert "| p | a.onnx | b.onnx | d.vnnlib | 0.05 | no | unknown (time limit) | 7.8 | 6.0 | " \
           "0.004 |" in md
    assert "| q | a.onnx | float16(a.onnx) | d.vnnlib | 0 | yes | skipped | 0.0 | - | - |" in md


def test_real_csv_when_present(bd):
    if not bd.ACAS_CSV.is_file():
        pytest.skip("no ../shared ACAS Xu benchmark")
    rows = bd.load_instances()
    assert rows and all(r.onnx.is_file() and r.timeout > 0 for r in rows)
    assert all(bd.expected_answer(r.net, r.prop) in ("sat", "unsat") for r in rows)
