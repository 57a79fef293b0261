"""``verishallow supports --CAPABILITY``: the VNN-LIB 2.0 solver CLI's capability query.

The VNN-LIB 2.0 standard (chapter "Solver Command-line Interface", section "The supports
Command") has a solver answer ``<solver> supports <capability>`` on stdout, one value per line
(a list, a min/max pair, or ``true``/``false``). Each capability below is one flag; ``--json``
prints the answers as one JSON object instead (every capability when no flag is given).
"""

from __future__ import annotations

import click

from .common import emit_json, handle_errors, json_option, quiet_option


def _onnx_operators() -> list[str]:
    from ..io.onnx import CONSTANT_ONLY_OPS, SUPPORTED_OPS

    return sorted({*SUPPORTED_OPS, *CONSTANT_ONLY_OPS})


def _element_types() -> list[str]:
    from ..vnnlib2 import INTEGER_TYPES

    def order(t: str) -> tuple[bool, int]:
        return t.startswith("u"), int(t.lstrip("uint"))

    from ..vnnlib2 import FLOATING_TYPES

    note = "outputs only (exact integers, e.g. Shape or Cast results)"
    fnote = "read as real: exact over the reals, no float rounding modelled (--strict-float)"
    return ["real", *(f"{t} * {fnote}" for t in sorted(FLOATING_TYPES)),
            *(f"{t} * {note}" for t in sorted(INTEGER_TYPES, key=order))]


def _opsets() -> list[str]:
    from ..io.onnx import OPSET_RANGE

    return [str(v) for v in OPSET_RANGE]


#: (flag, help, answer) in the standard's order. Lists print one entry a line, booleans as
#: true/false. The VNN-LIB answers describe what ``verishallow verify`` reads.
CAPABILITIES: list[tuple[str, str, object]] = [
    ("onnx-opset-versions",
     "Lowest and highest ONNX opset whose operator semantics the loader implements (two lines).",
     _opsets),
    ("onnx-element-types",
     "Element types: 'real' (weights and inputs are read as exact rationals and analysed over "
     "the reals); the float types, read as real with no rounding modelled (each with that "
     "note; 'verify --strict-float' refuses them); and the integer types for network "
     "outputs, which are exact.",
     _element_types),
    ("onnx-operators",
     "Supported ONNX operators, one a line, for every element type listed above: affine and "
     "piecewise-linear operators fold exactly into the ReLU network (Shape and ConstantOfShape "
     "only as shape arithmetic; Mul, Div and MatMul with one constant operand; Cast to an "
     "integer or bool type only where it is constant on the query's input box).",
     _onnx_operators),
    ("onnx-operators-unsat-proofs",
     "Operators supported when producing VNN-LIB UNSAT proofs: none (empty output; see "
     "--unsat-proofs).",
     []),
    ("vnnlib-versions",
     "Lowest and highest VNN-LIB version read (two lines): 1.0 files and one-network 2.0 "
     "queries.",
     ["1.0", "2.0"]),
    ("hidden-node-theories",
     "Hidden-node theories: NH (constraints on hidden tensors are refused).",
     ["NH"]),
    ("multiple-input-output-theories",
     "Multiple input/output theories: SIO (one input and one output tensor per network).",
     ["SIO"]),
    ("multiple-network-theories",
     "Multiple-network theories of 'verify': SNET (one network per query).",
     ["SNET"]),
    ("multiple-node-comparison-theories",
     "Multi-node comparison theories: SNC (a constraint may not mix inputs and outputs).",
     ["SNC"]),
    ("arithmetic-complexity-theories",
     "Arithmetic complexity theories: BND (bounds), OUTC (comparisons of outputs) and LIN "
     "(linear constraints), each one listed: LIN contains the other two, but a tool may test "
     "for each name (vnnlib-satisfactory does).",
     ["BND", "OUTC", "LIN"]),
    ("optimised-disjunctive-reasoning",
     "false: the query is brought to disjunctive normal form (input cases x output disjuncts).",
     False),
    ("serialise-assignments",
     "false: counterexamples are printed on stdout, never serialised as TensorProto files.",
     False),
    ("unsat-proofs",
     "false: no VNN-LIB UNSAT proofs (verishallow's own certificates are a separate format).",
     False),
]


def _answer(value) -> object:
    return value() if callable(value) else value


def _lines(value) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(v) for v in value]


def _param(flag: str) -> str:
    return flag.replace("-", "_")


def _command(as_json: bool, quiet: bool, **flags: bool) -> None:
    """Answer a VNN-LIB 2.0 capability query: one --CAPABILITY flag, printed one value a line.

    With --json the answers are one JSON object keyed by capability name: the flags given, or
    every capability when none is. Lists are JSON arrays, true/false JSON booleans.
    """
    chosen = [flag for flag, _, _ in CAPABILITIES if flags[_param(flag)]]
    if as_json:
        emit_json({flag: _answer(value) for flag, _, value in CAPABILITIES
                   if not chosen or flag in chosen})
        return
    if len(chosen) != 1:
        names = ", ".join(f"--{flag}" for flag, _, _ in CAPABILITIES)
        raise click.UsageError(f"give exactly one capability ({names}), or --json for all")
    value = dict((flag, value) for flag, _, value in CAPABILITIES)[chosen[0]]
    for line in _lines(_answer(value)):
        click.echo(line)


def _build() -> click.Command:
    fn = handle_errors(_command)
    for deco in [quiet_option, json_option, *(
            click.option(f"--{flag}", _param(flag), is_flag=True, help=text)
            for flag, text, _ in reversed(CAPABILITIES))]:
        fn = deco(fn)
    return click.command(name="supports")(fn)


command = _build()
