"""VNN-LIB parsing: every benchmark file, exact numbers, normal form, and clear errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import VNNCOMP, shared_file

from verishallow.domain import Box, Polytope
from verishallow.errors import InputError
from verishallow.vnnlib import (
    MAX_DNF_TERMS,
    domain_from_vnnlib,
    parse_vnnlib,
    parse_vnnlib_text,
)

VNNLIB_FILES = sorted(VNNCOMP.glob("**/*.vnnlib"))

HEADER = "".join(f"(declare-const X_{i} Real)\n" for i in range(2)) + \
    "".join(f"(declare-const Y_{j} Real)\n" for j in range(2))


def parse(body: str, **kw):
    return parse_vnnlib_text(HEADER + body, "t.vnnlib", **kw)


@pytest.mark.parametrize("path", VNNLIB_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_benchmark_file_parses(path: Path):
    prop = parse_vnnlib(path)
    n = 1 if path.parent.name == "test" and "prop" not in path.name else 5
    assert prop.n_inputs == n and prop.n_outputs == n
    assert parse_vnnlib(path, n_inputs=n, n_outputs=n).cases == prop.cases
    for region, outs in prop.cases:
        dom = region.domain
        assert isinstance(dom, Box) and dom.is_bounded_box
        # the float domain is the rounding of the exact one
        assert [float(v) for v in region.lower_exact] == dom.lower.tolist()
        assert [float(v) for v in region.upper_exact] == dom.upper.tolist()
        assert all(isinstance(v, Fraction) for v in region.lower_exact + region.upper_exact)
        assert outs and all(c.C.shape == (len(c), n) for c in outs)


def test_prop_1_exact_values_and_output():
    prop = parse_vnnlib(shared_file("benchmarks", "vnncomp2021", "acasxu", "prop_1.vnnlib"))
    (region, outs), = prop.cases
    assert region.upper_exact[0] == Fraction("0.679857769")
    assert region.lower_exact[4] == Fraction(-1, 2)
    (unsafe,) = prop.output  # Y_0 >= 3.991...  <=>  -Y_0 <= -3.991...
    assert unsafe.C_exact == ((-1, 0, 0, 0, 0),)
    assert unsafe.d_exact == (-Fraction("3.991125645861615"),)
    assert prop.is_counterexample([0.65, 0, 0, 0.47, -0.47], [4, 0, 0, 0, 0])
    assert not prop.is_counterexample([0.65, 0, 0, 0.47, -0.47], [3.9, 0, 0, 0, 0])
    assert not prop.is_counterexample([0.0, 0, 0, 0.47, -0.47], [4, 0, 0, 0, 0])


def test_prop_4_pins_x2():
    path = shared_file("benchmarks", "vnncomp2021", "acasxu", "prop_4.vnnlib")
    dom = domain_from_vnnlib(path)
    assert isinstance(dom, Box)
    assert dom.fixed.tolist() == [False, False, True, False, False]
    assert dom.lower[2] == dom.upper[2] == 0.0
    region = parse_vnnlib(path).input_regions[0]
    assert region.lower_exact[2] == region.upper_exact[2] == 0


def test_prop_6_has_two_input_regions():
    path = shared_file("benchmarks", "vnncomp2021", "acasxu", "prop_6.vnnlib")
    prop = parse_vnnlib(path)
    assert len(prop.inputs) == 2 and len(prop.output) == 4
    assert all(len(c) == 1 for c in prop.output)
    with pytest.raises(InputError, match="2 input regions"):
        domain_from_vnnlib(path)


def test_mixed_input_output_conjunction():
    """test_small/test_tiny: (or (and X-bounds Y-constraint))."""
    prop = parse_vnnlib(shared_file("benchmarks", "vnncomp2021", "test", "test_small.vnnlib"))
    (region, (out,)), = prop.cases
    assert region.domain == Box([-1], [1])
    assert out.C.tolist() == [[-1.0]] and out.d.tolist() == [-100.0]


def test_linear_terms_numbers_and_polytopes():
    prop = parse("""
        ; a comment (with parentheses)
        (assert (<= X_0 1.5e-1))   ; trailing comment
        (assert (>= X_0 -2E+0))
        (assert (<= (+ (* 2 X_0) (- X_1) 0.5) 3))
        (assert (= X_1 (/ 1 4)))
        (assert (< (- Y_0 Y_1 1) (* 3 -0.25 Y_1)))
    """)
    (region, (out,)), = prop.cases
    assert region.lower_exact == (Fraction(-2), Fraction(1, 4))
    assert region.upper_exact == (Fraction(3, 20), Fraction(1, 4))
    assert region.A_exact == ((2, -1),) and region.b_exact == (Fraction(5, 2),)
    dom = region.domain
    assert isinstance(dom, Polytope)
    assert dom.A.tolist() == [[2.0, -1.0]] and dom.b.tolist() == [2.5]
    assert dom.lower.tolist() == [-2.0, 0.25] and dom.upper.tolist() == [0.15, 0.25]
    # Y_0 - Y_1 - 1 <= -0.75 Y_1   <=>   Y_0 - 0.25 Y_1 <= 1
    assert out.C_exact == ((1, Fraction(-1, 4)),) and out.d_exact == (1,)


def test_or_of_inputs_times_or_of_outputs():
    prop = parse("""
        (assert (or (and (<= X_0 1) (>= X_0 0)) (and (<= X_0 3) (>= X_0 2))))
        (assert (<= X_1 1))
        (assert (>= X_1 -1))
        (assert (or (<= Y_0 Y_1) (and (>= Y_0 5) (<= Y_1 0))))
    """)
    assert [d.lower.tolist() for d in prop.inputs] == [[0, -1], [2, -1]]
    assert [len(c) for c in prop.output] == [1, 2]
    assert prop.is_counterexample([2.5, 0], [6, -1])
    assert not prop.is_counterexample([1.5, 0], [6, -1])


def test_output_condition_per_region():
    prop = parse("""
        (assert (or (and (<= X_0 1) (>= X_0 0) (<= Y_0 0))
                    (and (<= X_0 3) (>= X_0 2) (>= Y_1 1))))
        (assert (<= X_1 1))
        (assert (>= X_1 -1))
    """)
    assert len(prop.cases) == 2
    with pytest.raises(InputError, match="differs between input regions"):
        _ = prop.output
    assert prop.is_counterexample([2.5, 0], [0, 2]) and not prop.is_counterexample([0.5, 0],
                                                                                    [1, 2])


def test_contradictory_cases_are_dropped():
    prop = parse("(assert (or (and (<= X_0 0) (>= X_0 1)) (and (<= X_0 3) (>= X_0 2))))"
                 "(assert (<= 1 2))")
    assert len(prop.cases) == 1
    with pytest.raises(InputError, match="unsatisfiable"):
        parse("(assert (<= X_0 0)) (assert (>= X_0 1))")
    with pytest.raises(InputError, match="unsatisfiable"):
        parse("(assert (<= 2 1))")


@pytest.mark.parametrize("body, message", [
    ("(assert (<= X_0 1)", r"t\.vnnlib:5: unclosed '\('"),
    ("(assert (<= X_0 1)))", r"t\.vnnlib:5: unbalanced '\)'"),
    ("\n\n(assert (<= X_2 1))", r"t\.vnnlib:7: variable X_2 is used before its declare-const"),
    ("(assert (<= (* X_0 X_1) 1))", "product of two variables is not linear"),
    ("(assert (<= (/ X_0 X_1) 1))", "division must be by a non-zero constant"),
    ("(assert (<= X_0 Y_0))", r"t\.vnnlib:5: a constraint mixing inputs and outputs"),
    ("(assert (<= X_0 nan))", "cannot read term 'nan'"),
    ("(assert (<= X_0 1/2))", "cannot read term '1/2'"),
    ("(assert (not (<= X_0 1)))", "unsupported constraint operator 'not'"),
    ("(assert (<= (exp X_0) 1))", "unsupported term operator 'exp'"),
    ("(assert (<= X_0))", "needs at least two arguments"),
    ("(assert (or))", "always false"),
    ("(declare-const Z Real)", "must be named X_i"),
    ("(declare-const X_0 Real)", "declared twice"),
    ("(declare-const X_3 Real)", "X_2 is not declared but X_3 is"),
    ("(declare-const X_2 Int)", "only Real"),
    ("(define-fun f () Real 1)", "unsupported command 'define-fun'"),
    ("(assert (<= X_0 1) (<= X_0 2))", "one constraint"),
    ("7", "expected a command"),
])
def test_malformed_files_give_located_errors(body: str, message: str):
    with pytest.raises(InputError, match=message) as info:
        parse(body)
    assert "\n" not in str(info.value)


def test_size_checks_and_missing_file(tmp_path: Path):
    with pytest.raises(InputError, match="declares 2 inputs but the model has 3"):
        parse("(assert (<= X_0 1))", n_inputs=3)
    with pytest.raises(InputError, match="declares 2 outputs but the model has 1"):
        parse("(assert (<= X_0 1))", n_outputs=1)
    with pytest.raises(InputError, match="not found"):
        parse_vnnlib(tmp_path / "nope.vnnlib")
    with pytest.raises(InputError, match="no input variables"):
        parse_vnnlib_text("(declare-const Y_0 Real)", "t.vnnlib")


def test_dnf_blowup_is_refused():
    clause = "(assert (or (<= X_0 1) (<= X_0 2) (<= X_0 3) (<= X_0 4) (<= X_0 5)"\
             " (<= X_0 6) (<= X_0 7) (<= X_0 8) (<= X_0 9) (<= X_0 10)))\n"
    n = int(np.ceil(np.log(MAX_DNF_TERMS) / np.log(10))) + 1
    with pytest.raises(InputError, match="expands to more than"):
        parse(clause * n)


def test_domain_file_without_outputs(tmp_path: Path):
    path = tmp_path / "dom.vnnlib"
    path.write_text("(declare-const X_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 -1))\n")
    assert domain_from_vnnlib(path) == Box([-1], [1])
    prop = parse_vnnlib(path)
    assert prop.n_outputs == 0 and len(prop.output) == 1 and len(prop.output[0]) == 0
