"""VNN-LIB properties in one normal form, the s-expression reader both VNN-LIB versions share,
and the VNN-LIB 1.0 reader.

A VNN-LIB file declares inputs ``X_i`` and outputs ``Y_j`` and asserts linear constraints on
them, combined with ``and``/``or``. Its meaning is an *unsafe set*: the property is violated
("sat") iff some input satisfying the input constraints produces an output satisfying the
output constraints. We bring every file to the normal form

    OR over cases (x in input region R_k  AND  OR over j (C_kj y <= d_kj))

which covers both the standard VNN-COMP shapes (a list of asserts; an ``(or (and ...))`` of
input boxes; an ``(or (and ...))`` over outputs; inputs and outputs mixed in one conjunction).

Numbers are parsed exactly (``Fraction`` of the decimal string), and the exact rationals stay
available next to their float copies: certificates need the exact domain, not its rounding.
Strict comparisons ``<``/``>`` are read as ``<=``/``>=`` (the closure of the set), which is what
every verifier in practice does for continuous properties.

VNN-LIB 2.0 (:mod:`verishallow.vnnlib2`) builds on this module's reader and normal form;
:mod:`verishallow.vnnlib` reads files of either version. See docs/vnnlib.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np

from .domain import Box, Domain, Polytope
from .errors import InputError

#: Largest disjunctive normal form we are willing to build (cases x output disjuncts).
MAX_DNF_TERMS = 100_000

VAR = re.compile(r"^([XY])_(\d+)$")
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
IGNORED_COMMANDS = {"set-logic", "set-info", "set-option", "check-sat", "get-model", "exit"}
_VNNLIB2_HEAD = re.compile(r"\(\s*(?:vnnlib-version|declare-network)(?![^\s()])")

Var = tuple[str, int]


# ----- public data ------------------------------------------------------------------------

@dataclass(frozen=True)
class LinearConstraints:
    """A conjunction ``C v <= d`` over one side (inputs or outputs), exact and as floats."""

    C_exact: tuple[tuple[Fraction, ...], ...]
    d_exact: tuple[Fraction, ...]
    n: int

    @cached_property
    def C(self) -> np.ndarray:
        if not self.C_exact:
            return np.zeros((0, self.n))
        return np.array([[float(v) for v in row] for row in self.C_exact], dtype=np.float64)

    @cached_property
    def d(self) -> np.ndarray:
        return np.array([float(v) for v in self.d_exact], dtype=np.float64)

    def holds(self, v: np.ndarray, tol: float = 0.0) -> np.ndarray:
        """Which rows of ``v`` (shape (k, n) or (n,)) satisfy every constraint up to ``tol``."""
        V = np.atleast_2d(np.asarray(v, dtype=np.float64))
        return np.all(V @ self.C.T <= self.d + tol, axis=1)

    def __len__(self) -> int:
        return len(self.d_exact)


@dataclass(frozen=True)
class InputRegion:
    """One input disjunct: exact bounds (``None`` = unbounded) and extra rows ``A x <= b``."""

    lower_exact: tuple[Fraction | None, ...]
    upper_exact: tuple[Fraction | None, ...]
    A_exact: tuple[tuple[Fraction, ...], ...] = ()
    b_exact: tuple[Fraction, ...] = ()

    @cached_property
    def domain(self) -> Domain:
        """The float domain: a ``Box`` when there are only bounds, else a ``Polytope``."""
        lo = [-np.inf if v is None else float(v) for v in self.lower_exact]
        hi = [np.inf if v is None else float(v) for v in self.upper_exact]
        if not self.A_exact:
            return Box(lo, hi)
        A = [[float(v) for v in row] for row in self.A_exact]
        return Polytope(A, [float(v) for v in self.b_exact], lo, hi)


@dataclass(frozen=True)
class VnnlibProperty:
    """The unsafe set ``OR_k (x in region_k AND OR_j C_kj f(x) <= d_kj)`` of one file."""

    path: str
    n_inputs: int
    n_outputs: int
    cases: tuple[tuple[InputRegion, tuple[LinearConstraints, ...]], ...] = field(repr=False)

    @property
    def input_regions(self) -> tuple[InputRegion, ...]:
        return tuple(region for region, _ in self.cases)

    @property
    def inputs(self) -> tuple[Domain, ...]:
        """The input disjuncts as float domains."""
        return tuple(region.domain for region, _ in self.cases)

    @property
    def output(self) -> tuple[LinearConstraints, ...]:
        """The output condition (a disjunction of ``C y <= d``), shared by every input region.

        Raises ``InputError`` for the rare files whose output condition differs between
        input regions; use :attr:`cases` for those.
        """
        first = self.cases[0][1]
        if any(outs != first for _, outs in self.cases[1:]):
            raise InputError(f"{self.path}: the output condition differs between input regions; "
                             "use the per-region cases")
        return first

    def input_bounds(self) -> tuple[tuple[Fraction | None, ...], tuple[Fraction | None, ...]]:
        """Exact ``(lower, upper)`` of the box around every input region (``None`` =
        unbounded): per coordinate the least lower and the largest upper bound of the cases.
        Rows ``A x <= b`` are ignored, so the box may be larger than the regions."""
        lo: list[Fraction | None] = list(self.cases[0][0].lower_exact)
        hi: list[Fraction | None] = list(self.cases[0][0].upper_exact)
        for region, _ in self.cases[1:]:
            for i, (a, b) in enumerate(zip(region.lower_exact, region.upper_exact,
                                           strict=True)):
                lo[i] = None if lo[i] is None or a is None else min(lo[i], a)
                hi[i] = None if hi[i] is None or b is None else max(hi[i], b)
        return tuple(lo), tuple(hi)

    def is_counterexample(self, x: np.ndarray, y: np.ndarray, tol: float = 0.0) -> bool:
        """Does the pair (input ``x``, output ``y``) lie in the unsafe set (up to ``tol``)?"""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        for region, outs in self.cases:
            if region.domain.contains(x, tol)[0] and any(c.holds(y, tol)[0] for c in outs):
                return True
        return False


# ----- s-expressions ----------------------------------------------------------------------

@dataclass
class Atom:
    text: str
    line: int


@dataclass
class SList:
    items: list
    line: int


def sexprs(text: str, path: str) -> list[SList | Atom]:
    stack: list[SList] = []
    top: list = []
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == ";":
            while i < n and text[i] != "\n":
                i += 1
        elif ch == "(":
            stack.append(SList([], line))
            i += 1
        elif ch == ")":
            if not stack:
                raise InputError(f"{path}:{line}: unbalanced ')'")
            done = stack.pop()
            (stack[-1].items if stack else top).append(done)
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "();":
                j += 1
            atom = Atom(text[i:j], line)
            (stack[-1].items if stack else top).append(atom)
            i = j
    if stack:
        raise InputError(f"{path}:{stack[-1].line}: unclosed '(' (file ends inside it)")
    return top


# ----- linear terms and constraints -------------------------------------------------------

@dataclass
class Lin:
    coef: dict
    const: Fraction

    def scale(self, k: Fraction) -> Lin:
        return Lin({v: c * k for v, c in self.coef.items() if c * k != 0}, self.const * k)

    def add(self, other: Lin) -> Lin:
        coef = dict(self.coef)
        for v, c in other.coef.items():
            s = coef.get(v, Fraction(0)) + c
            if s:
                coef[v] = s
            else:
                coef.pop(v, None)
        return Lin(coef, self.const + other.const)


@dataclass(frozen=True)
class Atomic:
    """``sum coef_v v <= rhs``, one literal of the DNF."""

    coef: tuple[tuple[Var, Fraction], ...]
    rhs: Fraction
    line: int


def number(text: str) -> Fraction | None:
    """Exact value of a decimal or scientific literal (``-0.5``, ``1e-3``), else ``None``."""
    if not _NUMBER.match(text):
        return None
    return Fraction(text)


class Parser:
    def __init__(self, path: str):
        self.path = path
        self.declared: dict[Var, int] = {}

    def err(self, node, msg: str) -> InputError:
        return InputError(f"{self.path}:{node.line}: {msg}")

    def term(self, node) -> Lin:
        if isinstance(node, Atom):
            num = number(node.text)
            if num is not None:
                return Lin({}, num)
            m = VAR.match(node.text)
            if m:
                var = (m.group(1), int(m.group(2)))
                if var not in self.declared:
                    raise self.err(node, f"variable {node.text} is used before its declare-const")
                return Lin({var: Fraction(1)}, Fraction(0))
            raise self.err(node, f"cannot read term {node.text!r} (expected a number or X_i/Y_i)")
        if not node.items or not isinstance(node.items[0], Atom):
            raise self.err(node, "empty or malformed term")
        op, args = node.items[0].text, node.items[1:]
        if not args:
            raise self.err(node, f"({op}) needs arguments")
        terms = [self.term(a) for a in args]
        if op == "+":
            out = terms[0]
            for t in terms[1:]:
                out = out.add(t)
            return out
        if op == "-":
            if len(terms) == 1:
                return terms[0].scale(Fraction(-1))
            out = terms[0]
            for t in terms[1:]:
                out = out.add(t.scale(Fraction(-1)))
            return out
        if op == "*":
            out = Lin({}, Fraction(1))
            for t in terms:
                if out.coef and t.coef:
                    raise self.err(node, "product of two variables is not linear")
                out = t.scale(out.const) if not out.coef else out.scale(t.const)
            return out
        if op == "/":
            out = terms[0]
            for t in terms[1:]:
                if t.coef or t.const == 0:
                    raise self.err(node, "division must be by a non-zero constant")
                out = out.scale(1 / t.const)
            return out
        raise self.err(node, f"unsupported term operator {op!r} (expected +, -, * or /)")

    def atoms(self, node, op: str, args: list) -> list[Atomic]:
        if len(args) < 2:
            raise self.err(node, f"({op} ...) needs at least two arguments")
        terms = [self.term(a) for a in args]
        out = []
        for a, b in zip(terms, terms[1:], strict=False):
            if op in ("<=", "<"):
                diffs = [a.add(b.scale(Fraction(-1)))]
            elif op in (">=", ">"):
                diffs = [b.add(a.scale(Fraction(-1)))]
            else:  # "="
                diffs = [a.add(b.scale(Fraction(-1))), b.add(a.scale(Fraction(-1)))]
            for e in diffs:  # e <= 0  <=>  sum coef v <= -const
                out.append(Atomic(tuple(sorted(e.coef.items())), -e.const, node.line))
        return out

    def dnf(self, node) -> list[list[Atomic]]:
        """Disjunctive normal form: a list of conjunctions of atomic constraints."""
        if not isinstance(node, SList) or not node.items or not isinstance(node.items[0], Atom):
            raise self.err(node, "expected a constraint like (<= X_0 1), (and ...) or (or ...)")
        op, args = node.items[0].text, node.items[1:]
        if op == "and":
            result: list[list[Atomic]] = [[]]
            for a in args:
                sub = self.dnf(a)
                if len(result) * len(sub) > MAX_DNF_TERMS:
                    raise self.err(node, f"the property expands to more than {MAX_DNF_TERMS} "
                                   "cases")
                result = [r + s for r in result for s in sub]
            return result
        if op == "or":
            if not args:
                raise self.err(node, "(or) with no arguments is always false")
            result = []
            for a in args:
                result.extend(self.dnf(a))
                if len(result) > MAX_DNF_TERMS:
                    raise self.err(node, f"the property expands to more than {MAX_DNF_TERMS} "
                                   "cases")
            return result
        if op in ("<=", ">=", "<", ">", "="):
            return [self.atoms(node, op, args)]
        raise self.err(node, f"unsupported constraint operator {op!r} (expected <=, >=, <, >, "
                       "=, and, or)")


def _region(atoms: list[Atomic], n: int) -> InputRegion | None:
    """Exact input region of a conjunction; ``None`` if its bounds are contradictory."""
    lo: list[Fraction | None] = [None] * n
    hi: list[Fraction | None] = [None] * n
    rows, rhs = [], []
    for a in atoms:
        if len(a.coef) == 1:
            (_, i), c = a.coef[0]
            bound = a.rhs / c
            if c > 0:
                hi[i] = bound if hi[i] is None else min(hi[i], bound)
            else:
                lo[i] = bound if lo[i] is None else max(lo[i], bound)
        else:
            row = [Fraction(0)] * n
            for (_, i), c in a.coef:
                row[i] = c
            rows.append(tuple(row))
            rhs.append(a.rhs)
    if any(lo[i] is not None and hi[i] is not None and lo[i] > hi[i] for i in range(n)):
        return None
    return InputRegion(tuple(lo), tuple(hi), tuple(rows), tuple(rhs))


def _outputs(atoms: list[Atomic], m: int) -> LinearConstraints:
    rows, rhs = [], []
    for a in atoms:
        row = [Fraction(0)] * m
        for (_, j), c in a.coef:
            row[j] = c
        key = (tuple(row), a.rhs)
        if key not in zip(rows, rhs, strict=True):
            rows.append(tuple(row))
            rhs.append(a.rhs)
    if not rows and m:
        # No output constraint: every output is unsafe. Kept as the always-true row 0 y <= 1
        # (a margin of -1 everywhere, clear of any tolerance), so that every consumer sees an
        # (r, m) matrix with r >= 1 (a (0, 0) one broke the float rows of the proof search).
        rows.append((Fraction(0),) * m)
        rhs.append(Fraction(1))
    return LinearConstraints(tuple(rows), tuple(rhs), m)


def build_property(p: Parser, path: str, asserts: list, d: int, m: int) -> VnnlibProperty:
    """The normal form of the conjunction of ``asserts`` over inputs ``X_0..X_{d-1}`` and
    outputs ``Y_0..Y_{m-1}`` (variables keyed ``("X", i)`` / ``("Y", j)`` by ``p.term``)."""
    conj: list[list[Atomic]] = [[]]
    for node in asserts:
        sub = p.dnf(node)
        if len(conj) * len(sub) > MAX_DNF_TERMS:
            raise p.err(node, f"the property expands to more than {MAX_DNF_TERMS} cases")
        conj = [c + s for c in conj for s in sub]

    cases: dict = {}
    for atoms in conj:
        xs, ys, false = [], [], False
        for a in atoms:
            kinds = {k for (k, _), _ in a.coef}
            if kinds == {"X", "Y"}:
                raise InputError(f"{path}:{a.line}: a constraint mixing inputs and outputs is "
                                 "not supported (constrain X and Y separately)")
            if not kinds:  # constant comparison
                false |= not (0 <= a.rhs)
            elif kinds == {"X"}:
                xs.append(a)
            else:
                ys.append(a)
        if false:
            continue
        region = _region(xs, d)
        if region is None:
            continue  # contradictory bounds: this case contributes nothing
        outs = _outputs(ys, m)
        bucket = cases.setdefault(region, [])
        if outs not in bucket:
            bucket.append(outs)
    if not cases:
        raise InputError(f"{path}: the input constraints are unsatisfiable (every case has a "
                         "lower bound above its upper bound)")
    try:
        result = tuple((region, tuple(outs)) for region, outs in cases.items())
        for region, _ in result:
            region.domain  # noqa: B018 - build the float domain now, so errors surface here
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return VnnlibProperty(path, d, m, result)


def is_vnnlib2(text: str) -> bool:
    """Is this VNN-LIB 2.0 text? Its first command is ``(vnnlib-version ...)`` (or, read
    leniently, ``(declare-network ...)``); comments and white space before it are skipped."""
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text[i] == ";":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        else:
            break
    return _VNNLIB2_HEAD.match(text, i) is not None


def parse_vnnlib1_text(text: str, path: str = "<vnnlib>", n_inputs: int | None = None,
                       n_outputs: int | None = None) -> VnnlibProperty:
    """Parse VNN-LIB 1.0 source text (``declare-const X_i Real``, ``assert``)."""
    p = Parser(path)
    asserts = []
    for node in sexprs(text, path):
        if not isinstance(node, SList) or not node.items or not isinstance(node.items[0], Atom):
            raise p.err(node, "expected a command like (declare-const X_0 Real) or (assert ...)")
        cmd = node.items[0].text
        if cmd == "declare-const":
            if len(node.items) != 3 or not all(isinstance(t, Atom) for t in node.items[1:]):
                raise p.err(node, "expected (declare-const NAME Real)")
            name, sort = node.items[1].text, node.items[2].text
            m = VAR.match(name)
            if not m:
                raise p.err(node, f"variable {name!r} must be named X_i (input) or Y_i (output)")
            if sort != "Real":
                raise p.err(node, f"variable {name} has sort {sort}; only Real is supported")
            var = (m.group(1), int(m.group(2)))
            if var in p.declared:
                raise p.err(node, f"variable {name} is declared twice")
            p.declared[var] = node.line
        elif cmd == "assert":
            if len(node.items) != 2:
                raise p.err(node, "expected (assert CONSTRAINT) with one constraint")
            asserts.append(node.items[1])
        elif cmd in IGNORED_COMMANDS:
            continue
        else:
            raise p.err(node, f"unsupported command {cmd!r} (expected declare-const or assert)")

    counts = {}
    for kind, given, label in (("X", n_inputs, "inputs"), ("Y", n_outputs, "outputs")):
        idx = sorted(i for k, i in p.declared if k == kind)
        if idx != list(range(len(idx))):
            missing = min(set(range(max(idx) + 1)) - set(idx))
            raise InputError(f"{path}: {kind}_{missing} is not declared but {kind}_{max(idx)} is "
                             f"({label} must be numbered from 0 without gaps)")
        if given is not None and len(idx) != given:
            raise InputError(f"{path}: declares {len(idx)} {label} but the model has {given}")
        counts[kind] = len(idx)
    d, m = counts["X"], counts["Y"]
    if d == 0:
        raise InputError(f"{path}: declares no input variables X_0, X_1, ...")

    return build_property(p, path, asserts, d, m)
