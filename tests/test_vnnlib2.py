"""VNN-LIB 2.0: tensor indices, one network into VnnlibProperty, several into NetworkQuery."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import SHARED, VNNCOMP

from verishallow.domain import Box
from verishallow.errors import InputError
from verishallow.vnnlib import is_vnnlib2, parse_vnnlib, parse_vnnlib_text
from verishallow.vnnlib2 import (
    NetworkQuery,
    equivalence_form,
    parse_query,
    parse_query_text,
    query_declarations,
    query_network_names,
    vnnlib1_to_2,
)

V1_FILES = sorted(VNNCOMP.glob("acasxu/prop_*.vnnlib")) + sorted(VNNCOMP.glob("test/*.vnnlib")) \
    + sorted((SHARED / "benchmarks" / "verydiff").glob("*.vnnlib"))

SINGLE = """; a comment before the version line
(vnnlib-version <2.0>)
(declare-network acc
    (declare-input  X float32 [2,3] "input")
    (declare-output Y Real [1,2])
)
(assert (and (>= X[0,0] 0.0) (<= X[0,0] 1.0)))
(assert (<= X [1,2] 0.5))
(assert (== X[0,1] (- 0.25)))
(assert (<= (+ (* -1.5 X[1,0]) X[0,2]) -15.0))
(assert (or (<= Y[0,0] -3.0) (> Y[0,1] Y[0,0])))
"""


def two_networks(relation: str, outputs: str, ties: bool = True) -> str:
    text = f"""(vnnlib-version <2.0>)
(declare-network N1
    (declare-input  X1 Real [1,3])
    (declare-output Y1 Real [3]))
(declare-network N2
    {relation}
    (declare-input  X2 Real [1,3])
    (declare-output Y2 Real [3]))
"""
    if ties:
        text += "".join(f"(assert (== X1[0,{i}] X2[0,{i}]))\n" for i in range(3))
    text += """(assert (and (>= X1[0,0] 0.0) (<= X1[0,0] 1.0) (>= X1[0,1] -0.5) (<= X1[0,1] 0.5)))
(assert (and (>= X2[0,2] 0.125) (<= X2[0,2] 0.25)))
""" + outputs
    return text


EPS = "(assert (or " + " ".join(f"(> (- Y1[{j}] Y2[{j}]) 0.01) (< (- Y1[{j}] Y2[{j}]) -0.01)"
                                for j in range(3)) + "))\n"
TOP1_PAIRS = "(assert (or " + " ".join(
    "(and " + " ".join(f"(>= Y1[{i}] Y1[{k}])" for k in range(3) if k != i)
    + " " + " ".join(f"(>= Y2[{j}] Y2[{k}])" for k in range(3) if k != j) + ")"
    for i in range(3) for j in range(3) if i != j) + "))\n"
TOP1_BEATS = "(assert (or " + " ".join(
    "(and " + " ".join(f"(> Y2[{i}] Y2[{k}])" for k in range(3) if k != i)
    + f" (>= Y1[{j}] Y1[{i}]))" for i in range(3) for j in range(3) if i != j) + "))\n"


def test_single_network_flattens_row_major():
    prop = parse_vnnlib_text(SINGLE, "acc.vnnlib")
    assert (prop.n_inputs, prop.n_outputs) == (6, 2)
    (region, outs), = prop.cases
    # X[i,j] of a [2,3] tensor is input 3*i + j
    assert region.lower_exact == (0, Fraction(-1, 4), None, None, None, None)
    assert region.upper_exact == (1, Fraction(-1, 4), None, None, None, Fraction(1, 2))
    assert region.A_exact == ((0, 0, 1, Fraction(-3, 2), 0, 0),) and region.b_exact == (-15,)
    assert [(c.C_exact, c.d_exact) for c in outs] == [(((1, 0),), (-3,)), (((1, -1),), (0,))]
    assert parse_query_text(SINGLE, "acc.vnnlib").cases == prop.cases
    assert is_vnnlib2(SINGLE) and is_vnnlib2("( declare-network N)")
    assert not is_vnnlib2("; (vnnlib-version <2.0>)\n(declare-const X_0 Real)")
    assert not is_vnnlib2("(declare-networks N)")


def test_parse_vnnlib_and_parse_query_read_2_0_files(tmp_path: Path):
    path = tmp_path / "acc.vnnlib"
    path.write_text(SINGLE)
    assert parse_vnnlib(path, n_inputs=6, n_outputs=2).cases == parse_query(path).cases
    assert query_network_names(path) == ("acc",)
    with pytest.raises(InputError, match="declares 6 inputs but the model has 5"):
        parse_vnnlib(path, n_inputs=5)


def test_scalar_tensors_and_not_equal():
    prop = parse_query_text("""(vnnlib-version <2.0>)
        (declare-network f (declare-input x Real []) (declare-output y Real []))
        (assert (<= -1.0 x)) (assert (<= x 1.0)) (assert (!= y 2.0))""")
    (region, outs), = prop.cases
    assert region.lower_exact == (-1,) and region.upper_exact == (1,)
    assert [(c.C_exact, c.d_exact) for c in outs] == [(((1,),), (2,)), (((-1,),), (-2,))]


@pytest.mark.parametrize("path", V1_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_1_0_file_and_its_2_0_translation_agree_exactly(path: Path):
    v1 = parse_vnnlib(path)
    n, m = v1.n_inputs, v1.n_outputs
    text = vnnlib1_to_2(path.read_text(), (1, n), (1, m or 10), str(path))
    assert "declare-const" not in text and "X_" not in text
    assert not re.search(r"[0-9][eE][-+]?[0-9]", text)  # plain decimals only
    v2 = parse_query_text(text, "t.vnnlib")
    if m:
        assert v2.cases == v1.cases
    else:  # a domain-only file: 2.0 needs an output declaration, which stays unconstrained
        assert [r for r, _ in v2.cases] == [r for r, _ in v1.cases]
        assert all(c.C_exact == ((0,) * 10,) and c.d_exact == (1,)  # always true: 0 y <= 1
                   for _, outs in v2.cases for c in outs)


def test_translation_reshapes_and_writes_exact_decimals():
    text = vnnlib1_to_2("(declare-const X_0 Real)(declare-const X_5 Real)(declare-const Y_0 Real)"
                        "(assert (<= X_5 1e-3)) (assert (= X_0 2)) (assert (>= Y_0 -.5))",
                        (2, 3), ())
    assert "(<= X[1,2] 0.001)" in text and "(== X[0,0] 2.0)" in text
    assert "(>= Y -0.5)" in text and "(declare-output Y real [])" in text
    with pytest.raises(InputError, match="outside the declared shape"):
        vnnlib1_to_2("(assert (<= X_6 1))", (2, 3), (1,))


def test_equivalence_query_with_equal_to_epsilon(tmp_path: Path):
    path = tmp_path / "eq.vnnlib"
    path.write_text(two_networks("(equal-to N1)", EPS))
    q = parse_query(path)
    assert isinstance(q, NetworkQuery)
    assert q.network_names == ("N1", "N2") == query_network_names(path)
    assert q.relations == (("N2", "equal-to", "N1"),)
    assert q.network("N2").input.shape == (1, 3) and q.network("N1").n_outputs == 3
    assert len(q.cases) == 6  # one per output disjunct; the input part is shared
    form = equivalence_form(q)
    assert form.networks == ("N1", "N2") and form.relation == "equal-to"
    assert form.lower == (0, Fraction(-1, 2), Fraction(1, 8))
    assert form.upper == (1, Fraction(1, 2), Fraction(1, 4))
    assert (form.mode, form.epsilon) == ("epsilon", Fraction(1, 100))
    assert form.box == Box([0, -0.5, 0.125], [1, 0.5, 0.25])
    with pytest.raises(InputError, match="declares 2 networks"):
        parse_vnnlib(path)


@pytest.mark.parametrize("outputs", [TOP1_PAIRS, TOP1_BEATS], ids=["pairs", "beats"])
def test_top1_disagreement(outputs: str):
    form = equivalence_form(parse_query_text(two_networks("(isomorphic-to N1)", outputs)))
    assert (form.mode, form.epsilon, form.relation) == ("top1", None, "isomorphic-to")
    assert form.lower[2] == Fraction(1, 8)


@pytest.mark.parametrize("outputs, ties, drop, message", [
    (EPS.replace("(< (- Y1[2] Y2[2]) -0.01)", ""), True, "", "neither"),
    (EPS.replace("-0.01)", "-0.02)", 1), True, "", "neither"),
    (TOP1_PAIRS.replace("(and (>= Y1[0] Y1[1]) (>= Y1[0] Y1[2]) (>= Y2[1] Y2[0]) "
                        "(>= Y2[1] Y2[2]))", ""), True, "", "neither"),
    ("(assert (<= Y1[0] 1.0))", True, "", "neither"),
    (EPS, False, "", "not tied at element 0"),
    (EPS, True, "(>= X1[0,1] -0.5) ", "element 1 is not bounded on both sides"),
    ("(assert (<= X1[0,2] 0.0))" + EPS, True, "", "lower bound 1/8 above upper bound 0"),
    ("(assert (<= (+ X1[0,0] X1[0,1]) 1.0))" + EPS, True, "", "neither a bound nor a tie"),
    ("(assert (or (<= X1[0,2] 0.2) (<= Y1[0] 1.0)))" + EPS, True, "", "differ between cases"),
    ("(assert (<= X1[0,2] Y1[0]))" + EPS, True, "", "mixes inputs and outputs"),
])
def test_unmappable_two_network_queries(outputs, ties, drop, message):
    text = two_networks("", outputs, ties).replace(drop, "") if drop else \
        two_networks("", outputs, ties)
    q = parse_query_text(text, "q.vnnlib")
    with pytest.raises(InputError, match=message) as info:
        equivalence_form(q)
    assert str(info.value).startswith("q.vnnlib: ") and "cannot be mapped" in str(info.value)


def test_three_networks_are_read_but_not_an_equivalence():
    text = two_networks("(isomorphic-to N1)", EPS).replace(
        "(assert", "(declare-network N3 (equal-to N1) (declare-input X3 Real [1,3]) "
        "(declare-output Y3 Real [3]))\n(assert", 1)
    q = parse_query_text(text, "q.vnnlib")
    assert q.relations == (("N2", "isomorphic-to", "N1"), ("N3", "equal-to", "N1"))
    with pytest.raises(InputError, match="declares 3 networks, not 2"):
        equivalence_form(q)


def test_verydiff_box_as_a_2_0_equivalence_query():
    path = SHARED / "benchmarks" / "verydiff" / "mnist_0_local_15.vnnlib"
    if not path.exists():
        pytest.skip("verydiff benchmarks not present")
    (region, _), = parse_vnnlib(path).cases
    n = len(region.lower_exact)
    body = vnnlib1_to_2(path.read_text(), (1, n), (10,)).split("\n)\n", 1)[1]
    text = ("(vnnlib-version <2.0>)\n(declare-network A (declare-input X Real [1,784]) "
            "(declare-output Y Real [10]))\n(declare-network B (isomorphic-to A) "
            "(declare-input X2 Real [1,784]) (declare-output Y2 Real [10]))\n" + body
            + "".join(f"(assert (== X[0,{i}] X2[0,{i}]))\n" for i in range(n))
            + "(assert (or " + " ".join(f"(>= (- Y[{j}] Y2[{j}]) 0.05) (>= (- Y2[{j}] Y[{j}]) 0.05)"
                                        for j in range(10)) + "))\n")
    form = equivalence_form(parse_query_text(text))
    assert form.lower == region.lower_exact and form.upper == region.upper_exact
    assert form.epsilon == Fraction(1, 20)


H = "(vnnlib-version <2.0>)\n(declare-network N\n (declare-input X Real [1,2])\n" \
    " (declare-output Y Real [2]))\n"


@pytest.mark.parametrize("text, message", [
    (H + "(assert (<= X[0,2] 1.0))", r"t\.vnnlib:5: X\[0,2\]: index 2 is out of bounds for "
     "dimension 1 of X, which has size 2"),
    (H + "(assert (<= X[0] 1.0))", r"t\.vnnlib:5: X\[0\] has 1 indices but X has shape \[1,2\]"),
    (H + "\n(assert (<= Z[0] 1.0))", r"t\.vnnlib:6: unknown variable 'Z\[0\]'"),
    (H + "(assert (<= X_0 1.0))", r"like X\[0\]"),
    (H + "(assert (<= X[0,0] 1.0)", r"t\.vnnlib:5: unclosed '\('"),
    (H + "(assert (<= X[0,-1] 1.0))", "must list non-negative integers"),
    (H + "(assert (<= X[0,0 1.0))", "without a closing"),
    (H + "(assert (<= (X)[0] 1.0))", "must follow a tensor name"),
    (H + "(assert (<= X[0,0] Y[0]))", "mixing inputs and outputs"),
    (H + "(assert (not (<= X[0,0] 1.0)))", "unsupported constraint operator 'not'"),
    (H + "(declare-const X_0 Real)", "declare-const is VNN-LIB 1.0"),
    (H + "(assert (<= X[0,0] 1.0))\n(declare-network M (declare-input A Real [1]) "
     "(declare-output B Real [1]))", r"t\.vnnlib:6: declare-network after an assert"),
    ("(vnnlib-version <3.0>)\n" + H.split("\n", 1)[1], r"t\.vnnlib:1: VNN-LIB version <3\.0>"),
    (H + "(vnnlib-version <2.0>)", "must be the first command"),
    ("(vnnlib-version <2.0>)", "declares no network"),
    (H.replace("Real [1,2]", "int8 [1,2]"), "element type int8"),
    (H.replace("Real [1,2]", "Real"), "X has no shape"),
    (H.replace("Real [1,2]", "Real [1,0]"), "empty dimension"),
    (H.replace(" (declare-output Y Real [2])", ""), "at least one input and one output"),
    (H.replace("(declare-output Y", "(declare-output X"), "name X is declared twice"),
    (H.replace("(declare-input X Real [1,2])", "(declare-input X Real [1,2]) "
               "(declare-input X2 Real [1])"), "declares 2 inputs"),
    (H.replace(" (declare-output", " (declare-hidden Z Real [4])\n (declare-output"),
     "needs its ONNX node name"),
    (H.replace(" (declare-output", ' (declare-hidden Z Real [4] "h")\n (declare-output')
     + "(assert (<= Z[0] 1.0))", "Z\\[0\\] is a hidden tensor"),
    (H.replace(" (declare-output", " (declare-output Y0 Real [1])\n (declare-input W Real [1])"
               "\n (declare-output"), "declare-input after a later kind"),
    (H + "(declare-network M (equal-to Q) (declare-input A Real [1,2]) "
     "(declare-output B Real [2]))", "refers to no network declared before it"),
    (H + "(declare-network M (isomorphic-to N) (declare-input A Real [1,3]) "
     "(declare-output B Real [2]))", r"A is Real \[1,3\] but X is Real \[1,2\]"),
    (H + "(declare-network M (equal-to N) (declare-input A Real [1,2]) "
     "(declare-output B Real [2]))\n(declare-network K (equal-to M) (declare-input C Real [1,2]) "
     "(declare-output D Real [2]))", "is a chain"),
    (H + "(declare-network M (declare-input A Real [1,2]) (equal-to N) "
     "(declare-output B Real [2]))", "must come before its tensor declarations"),
    (H + '(assert (<= X[0,0] "1"))', "unknown variable"),
    (H + '(declare-network M (declare-input A Real [1] "a) (declare-output B Real [1]))',
     "unterminated string"),
])
def test_malformed_2_0_queries_give_located_one_line_errors(text: str, message: str):
    with pytest.raises(InputError, match=message) as info:
        parse_query_text(text, "t.vnnlib")
    assert "\n" not in str(info.value) and str(info.value).startswith("t.vnnlib")


def test_1_0_files_through_parse_query(tmp_path: Path):
    path = tmp_path / "p.vnnlib"
    path.write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
                    "(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (>= Y_0 3))\n")
    assert parse_query(path).cases == parse_vnnlib(path).cases
    assert query_network_names(path) == ()
    with pytest.raises(InputError, match="not found"):
        parse_query(tmp_path / "missing.vnnlib")


# ----- integer outputs, element types, queries without an output constraint ---------------

INT_OUT = ("(vnnlib-version <2.0>)\n(declare-network N\n (declare-input X float32 [2])\n"
           " (declare-output Y int64 [2]))\n(assert (>= X[0] 0.0))\n(assert (<= X[0] 1.0))\n")


@pytest.mark.parametrize("constraint, rows", [
    # over integer outputs a strict comparison is exact (Y < 4 is Y <= 3), not its closure
    ("(< Y[0] 4)", [((1, 0), 3)]),
    ("(> Y[0] 3)", [((-1, 0), -4)]),
    ("(<= Y[0] 3.5)", [((1, 0), 3)]),
    ("(>= (- Y[0] Y[1]) 1)", [((-1, 1), -1)]),
    ("(< (- Y[0] Y[1]) 0)", [((1, -1), -1)]),
])
def test_integer_outputs_compare_exactly(constraint: str, rows):
    prop = parse_query_text(INT_OUT + f"(assert {constraint})\n")
    (_, (outs,)), = prop.cases
    assert [(tuple(int(c) for c in r), int(d)) for r, d in zip(outs.C_exact, outs.d_exact,
                                                               strict=True)] == rows


def test_not_equal_over_integer_outputs_splits_exactly():
    prop = parse_query_text(INT_OUT + "(assert (!= Y[0] 3))\n")
    (_, outs), = prop.cases
    assert sorted((tuple(o.C_exact), tuple(o.d_exact)) for o in outs) == sorted([
        (((1, 0),), (2,)), (((-1, 0),), (-4,))])


def test_real_outputs_keep_the_closure_and_integer_inputs_are_refused():
    text = INT_OUT.replace("int64", "real") + "(assert (< Y[0] 4))\n"
    (_, (outs,)), = parse_query_text(text).cases
    assert outs.d_exact == (4,)
    with pytest.raises(InputError, match="X has element type int64: integer inputs"):
        parse_query_text(INT_OUT.replace("X float32", "X int64"), "t.vnnlib")


def test_query_declarations_give_the_element_types(tmp_path: Path):
    path = tmp_path / "q.vnnlib"
    path.write_text(INT_OUT)
    (net,) = query_declarations(path)
    assert [(t.name, t.element_type, t.line) for t in (*net.inputs, *net.outputs)] == [
        ("X", "float32", 3), ("Y", "int64", 4)]
    one = tmp_path / "one.vnnlib"
    one.write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
                   "(assert (<= X_0 1.0))\n")
    assert query_declarations(one) == ()


def test_a_query_with_only_input_constraints_has_an_always_true_output_row():
    # no output constraint: every output is unsafe; kept as the row 0 y <= 1 of the right
    # width (an empty (0, 0) matrix crashed the proof search: vnnlib-satisfactory
    # arithmetic_lin01)
    text = INT_OUT.replace("int64", "real") + "(assert (>= (+ (* 0.5 X[0]) X[1]) 3.0))\n"
    (region, (outs,)), = parse_query_text(text).cases
    assert outs.C_exact == ((0, 0),) and outs.d_exact == (1,) and outs.C.shape == (1, 2)
    assert region.A_exact == ((Fraction(-1, 2), -1),)


def test_input_bounds_are_the_box_around_every_case():
    text = INT_OUT.replace("int64", "real").replace(
        "(assert (>= X[0] 0.0))\n(assert (<= X[0] 1.0))\n",
        "(assert (or (and (>= X[0] 0.0) (<= X[0] 1.0) (<= X[1] 2.0))"
        " (and (>= X[0] -0.5) (<= X[0] 0.25) (>= X[1] 1.0) (<= X[1] 3.0))))\n")
    lo, hi = parse_query_text(text + "(assert (<= Y[0] 0.0))\n").input_bounds()
    assert lo == (Fraction(-1, 2), None) and hi == (Fraction(1), Fraction(3))
