"""VNN-LIB 2.0 queries: typed network declarations, tensor indices, several networks.

A 2.0 query (see docs/vnnlib.md for the grammar we follow and its sources) reads

    (vnnlib-version <2.0>)
    (declare-network N
        (declare-input  X Real [1,5])
        (declare-output Y Real [1,5]))
    (assert (<= X[0,0] 0.5))
    (assert (or (>= Y[0,0] Y[0,1]) ...))

A query over **one network** (with one input and one output tensor) means the same as a
1.0 file and is read into the same :class:`~verishallow.vnnlib.VnnlibProperty`: tensor
elements are flattened row-major (``X[i,j]`` of a ``[r,c]`` tensor is input ``i*c + j``),
indices are checked against the declared shapes. ``parse_vnnlib`` reads such files too.

A query over **several networks** (``(declare-network N2 (equal-to N1) ...)``,
``isomorphic-to`` or unrelated networks, each with its own input and output tensor) is read
into a :class:`NetworkQuery`: the declared networks, their relations, and the disjunctive
normal form of the assertions over every network's inputs and outputs.
:func:`equivalence_form` maps the usual equivalence query of two networks (tied inputs in
a box; an output difference above epsilon, or a top-1 disagreement) to what the
equivalence checker takes.

Numbers are exact (``Fraction``); strict comparisons are read as their closure, ``!=`` as
``<`` or ``>``, like the 1.0 reader.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from .domain import Box
from .errors import InputError
from .vnnlib1 import (
    IGNORED_COMMANDS,
    MAX_DNF_TERMS,
    VAR,
    Atom,
    Atomic,
    Lin,
    Parser,
    SList,
    VnnlibProperty,
    build_property,
    is_vnnlib2,
    number,
    parse_vnnlib1_text,
    sexprs,
)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_VERSION = re.compile(r"^<(\d+)\.(\d+)>$")
#: ONNX's floating-point element types (and the aliases float, double); case is ignored.
#: The parser reads them as reals; whether a solver may answer such a query is the caller's
#: decision (``verishallow verify`` refuses them unless told --float-as-real, see
#: docs/vnnlib.md, "Element types").
FLOATING_TYPES = frozenset({
    "float", "double", "float16", "float32", "float64", "bfloat16", "float8e4m3fn",
    "float8e5m2", "float8e4m3fnuz", "float8e5m2fnuz", "float4e2m1",
})
#: Element types a tensor may have: the standard's ``real`` and the floating-point types.
FLOAT_TYPES = frozenset({"real"}) | FLOATING_TYPES
#: Integer element types, accepted for outputs (and hidden tensors) only: a network output of
#: such a type is an exact integer, and comparisons over it are read exactly (``Y < 4`` as
#: ``Y <= 3``). An integer *input* ranges over integers, which the real analysis ignores.
INTEGER_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                           "uint64"})
_RELATIONS = ("equal-to", "isomorphic-to")
_COMPARISONS = {"<=", ">=", "<", ">", "=", "==", "!="}

#: A variable of a multi-network query: (network name, "X" input or "Y" output, flat index).
Var2 = tuple[str, str, int]


# ----- public data ------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorDecl:
    """One ``(declare-input|hidden|output NAME TYPE [SHAPE] ["onnx-name"])``."""

    name: str
    kind: str  # "input", "hidden" or "output"
    element_type: str
    shape: tuple[int, ...]
    onnx_name: str | None = None
    line: int = field(default=0, compare=False)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class NetworkDecl:
    """One ``(declare-network NAME [(equal-to M) | (isomorphic-to M)] inputs hidden outputs)``.

    ``relation`` is ``("equal-to", M)`` (this network *is* M: same structure and weights),
    ``("isomorphic-to", M)`` (same structure, possibly other weights) or ``None``.
    """

    name: str
    inputs: tuple[TensorDecl, ...]
    outputs: tuple[TensorDecl, ...]
    hidden: tuple[TensorDecl, ...] = ()
    relation: tuple[str, str] | None = None
    line: int = field(default=0, compare=False)

    @property
    def input(self) -> TensorDecl:
        return self.inputs[0]

    @property
    def output(self) -> TensorDecl:
        return self.outputs[0]

    @property
    def n_inputs(self) -> int:
        return self.inputs[0].size

    @property
    def n_outputs(self) -> int:
        return self.outputs[0].size


@dataclass(frozen=True)
class LinearAtom:
    """``sum coef * v <= rhs`` over variables ``(network, "X" | "Y", flat index)``."""

    coef: tuple[tuple[Var2, Fraction], ...]
    rhs: Fraction
    line: int = field(default=0, compare=False)

    def __hash__(self) -> int:  # cached: atoms are hashed often, and Fractions hash slowly
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.coef, self.rhs))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict:  # str hashes differ between processes: never pickle one
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def normalized(self) -> LinearAtom:
        """The same half-space scaled so that its largest coefficient magnitude is 1."""
        if not self.coef:
            return self
        k = max(abs(c) for _, c in self.coef)
        return LinearAtom(tuple((v, c / k) for v, c in self.coef), self.rhs / k, self.line)


@dataclass(frozen=True)
class NetworkQuery:
    """A query over several networks: the unsafe set ``OR_k AND_i atom_ki`` of its cases."""

    path: str
    networks: tuple[NetworkDecl, ...]
    cases: tuple[tuple[LinearAtom, ...], ...] = field(repr=False)

    @property
    def network_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.networks)

    @property
    def relations(self) -> tuple[tuple[str, str, str], ...]:
        """``(network, "equal-to" | "isomorphic-to", other network)`` for each relation."""
        return tuple((n.name, *n.relation) for n in self.networks if n.relation)

    def network(self, name: str) -> NetworkDecl:
        for n in self.networks:
            if n.name == name:
                return n
        raise KeyError(name)


@dataclass(frozen=True)
class EquivalenceForm:
    """An equivalence query of two networks on one input box (exact bounds).

    ``mode == "epsilon"``: violated iff some x in the box has ``|f1(x)_j - f2(x)_j| >= epsilon``
    for some j; ``mode == "top1"``: iff the two networks' top-1 classes differ somewhere.
    """

    networks: tuple[str, str]
    relation: str | None
    lower: tuple[Fraction, ...]
    upper: tuple[Fraction, ...]
    mode: str
    epsilon: Fraction | None = None

    @property
    def box(self) -> Box:
        return Box([float(v) for v in self.lower], [float(v) for v in self.upper])


# ----- tokens: s-expressions with [i,j] indices and "strings" -------------------------------

@dataclass
class _Ref(Atom):
    """An atom followed by ``[i, j, ...]``: a tensor element, or an element type and shape."""

    index: tuple[int, ...] | None = None


_DELIMS = set("();[],\"")


def _sexprs2(text: str, path: str) -> list:
    stack: list[SList] = []
    top: list = []
    i, line, n = 0, 1, len(text)

    def here() -> list:
        return stack[-1].items if stack else top

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
            here().append(done)
            i += 1
        elif ch == "[":
            j = text.find("]", i)
            if j < 0 or "\n" in text[i:j] or "(" in text[i:j] or ")" in text[i:j]:
                raise InputError(f"{path}:{line}: '[' without a closing ']' on the same line")
            body = text[i + 1:j].strip()
            parts = [s.strip() for s in body.split(",")] if body else []
            if not all(re.fullmatch(r"[0-9]+", s) for s in parts):
                raise InputError(f"{path}:{line}: [{body}] must list non-negative integers "
                                 "separated by commas")
            items = here()
            if not items or type(items[-1]) is not Atom or items[-1].text.startswith('"'):
                raise InputError(f"{path}:{line}: [{body}] must follow a tensor name (X[0,1]) "
                                 "or an element type (Real [1,5])")
            prev = items[-1]
            items[-1] = _Ref(prev.text, prev.line, tuple(int(s) for s in parts))
            i = j + 1
        elif ch in "],":
            raise InputError(f"{path}:{line}: unexpected {ch!r} outside [...]")
        elif ch == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            if j >= n or text[j] != '"':
                raise InputError(f"{path}:{line}: unterminated string")
            here().append(Atom(text[i:j + 1], line))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _DELIMS:
                j += 1
            here().append(Atom(text[i:j], line))
            i = j
    if stack:
        raise InputError(f"{path}:{stack[-1].line}: unclosed '(' (file ends inside it)")
    return top


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


# ----- declarations and terms -------------------------------------------------------------

class _Parser2(Parser):
    def __init__(self, path: str):
        super().__init__(path)
        self.networks: list[NetworkDecl] = []
        self.tensors: dict[str, tuple[str, TensorDecl]] = {}
        self.single = False  # key variables ("X", i) as 1.0 does, not (network, "X", i)
        self.int_vars: set = set()  # variables of integer-typed tensors

    # terms: numbers and tensor elements
    def term(self, node) -> Lin:
        if not isinstance(node, Atom):
            return super().term(node)
        index = getattr(node, "index", None)
        if index is None:
            num = number(node.text)
            if num is not None:
                return Lin({}, num)
        found = self.tensors.get(node.text)
        shown = node.text + ("" if index is None else _shape_text(index))
        if found is None:
            hint = ""
            m = VAR.match(node.text)
            if m:
                hint = f" (VNN-LIB 2.0 names tensor elements like {m.group(1)}[{m.group(2)}])"
            raise self.err(node, f"unknown variable {shown!r}: not declared by any "
                           f"declare-network{hint}")
        net, decl = found
        idx = () if index is None else index
        if len(idx) != len(decl.shape):
            raise self.err(node, f"{shown} has {len(idx)} indices but {decl.name} has shape "
                           f"{_shape_text(decl.shape)} ({len(decl.shape)} indices)")
        flat = 0
        for k, (i, dim) in enumerate(zip(idx, decl.shape, strict=True)):
            if i >= dim:
                raise self.err(node, f"{shown}: index {i} is out of bounds for dimension {k} "
                               f"of {decl.name}, which has size {dim}")
            flat = flat * dim + i
        if decl.kind == "hidden":
            raise self.err(node, f"{shown} is a hidden tensor; constraints on hidden tensors "
                           "are not supported")
        kind = "X" if decl.kind == "input" else "Y"
        var = (kind, flat) if self.single else (net, kind, flat)
        if decl.element_type.lower() in INTEGER_TYPES:
            self.int_vars.add(var)
        return Lin({var: Fraction(1)}, Fraction(0))

    def atoms(self, node, op: str, args: list) -> list[Atomic]:
        """As in 1.0 (strict comparisons read as their closure), except over integer tensors:
        an atom ``sum c v <= r`` whose variables are all integer-typed, with integer
        coefficients, says ``sum c v <= floor(r)``, and ``<= ceil(r) - 1`` when strict."""
        out = super().atoms(node, op, args)
        res = []
        for a in out:
            if a.coef and all(v in self.int_vars and c.denominator == 1 for v, c in a.coef):
                rhs = math.ceil(a.rhs) - 1 if op in ("<", ">") else math.floor(a.rhs)
                a = Atomic(a.coef, Fraction(rhs), a.line)
            res.append(a)
        return res

    def dnf(self, node) -> list[list[Atomic]]:
        if isinstance(node, SList) and node.items and isinstance(node.items[0], Atom):
            op, args = node.items[0].text, node.items[1:]
            if op == "==":
                return [self.atoms(node, "=", args)]
            if op == "!=":
                if len(args) != 2:
                    raise self.err(node, "(!= a b) takes two arguments")
                return [self.atoms(node, "<", args), self.atoms(node, ">", args)]
            if op not in _COMPARISONS and op not in ("and", "or"):
                raise self.err(node, f"unsupported constraint operator {op!r} (expected <=, >=, "
                               "<, >, ==, !=, and, or)")
        return super().dnf(node)

    # declarations
    def tensor(self, node: SList, kind: str, net: str) -> TensorDecl:
        args = node.items[1:]
        usage = f"(declare-{kind} NAME TYPE [SHAPE]" + (' "onnx-name")' if kind == "hidden"
                                                       else ' ["onnx-name"])')
        if len(args) not in (2, 3) or not all(isinstance(a, Atom) for a in args):
            raise self.err(node, f"expected {usage}")
        name_atom, type_atom = args[0], args[1]
        name = name_atom.text
        if getattr(name_atom, "index", None) is not None or not _NAME.match(name):
            raise self.err(node, f"tensor name {name!r} must be a letter followed by letters, "
                           "digits or '_'")
        shape = getattr(type_atom, "index", None)
        if shape is None:
            raise self.err(node, f"{name} has no shape: expected {usage}")
        if any(d == 0 for d in shape):
            raise self.err(node, f"{name} has shape {_shape_text(shape)} with an empty "
                           "dimension")
        etype = type_atom.text
        if etype.lower() in INTEGER_TYPES and kind == "input":
            raise self.err(node, f"{name} has element type {etype}: integer inputs are not "
                           "supported (inputs are analysed as reals)")
        if etype.lower() not in FLOAT_TYPES | INTEGER_TYPES:
            raise self.err(node, f"{name} has element type {etype}; supported: real, the "
                           "floating-point types, and integer types for outputs")
        onnx = None
        if len(args) == 3:
            if not args[2].text.startswith('"'):
                raise self.err(node, f"expected {usage}")
            onnx = args[2].text[1:-1]
        elif kind == "hidden":
            raise self.err(node, f"hidden tensor {name} needs its ONNX node name: {usage}")
        if name in self.tensors or any(n.name == name for n in self.networks):
            raise self.err(node, f"name {name} is declared twice (names are unique in a query)")
        decl = TensorDecl(name, kind, etype, tuple(shape), onnx, node.line)
        self.tensors[name] = (net, decl)
        return decl

    def network(self, node: SList) -> NetworkDecl:
        items = node.items
        if len(items) < 2 or type(items[1]) is not Atom or not _NAME.match(items[1].text):
            raise self.err(node, "expected (declare-network NAME (declare-input ...) "
                           "(declare-output ...))")
        name = items[1].text
        if name in self.tensors or any(n.name == name for n in self.networks):
            raise self.err(node, f"name {name} is declared twice (names are unique in a query)")
        relation = None
        decls: dict[str, list[TensorDecl]] = {"input": [], "hidden": [], "output": []}
        order = {"input": 1, "hidden": 2, "output": 3}
        stage = 0
        for item in items[2:]:
            if not isinstance(item, SList) or not item.items or \
                    not isinstance(item.items[0], Atom):
                raise self.err(item, f"in network {name}: expected (declare-input ...), "
                               "(declare-hidden ...), (declare-output ...), (equal-to N) or "
                               "(isomorphic-to N)")
            head = item.items[0].text
            if head in _RELATIONS:
                if stage:
                    raise self.err(item, f"in network {name}: ({head} ...) must come before "
                                   "its tensor declarations")
                if relation:
                    raise self.err(item, f"network {name} has more than one equal-to / "
                                   "isomorphic-to")
                if len(item.items) != 2 or type(item.items[1]) is not Atom:
                    raise self.err(item, f"expected ({head} NETWORK)")
                ref = item.items[1].text
                other = next((n for n in self.networks if n.name == ref), None)
                if other is None:
                    raise self.err(item, f"network {name}: ({head} {ref}) refers to no network "
                                   "declared before it")
                if other.relation:
                    raise self.err(item, f"network {name}: ({head} {ref}) is a chain, but {ref} "
                                   f"is itself ({other.relation[0]} {other.relation[1]})")
                relation = (head, ref)
            elif head.startswith("declare-") and head[8:] in order:
                kind = head[8:]
                if order[kind] < stage:
                    raise self.err(item, f"in network {name}: declare-{kind} after a later "
                                   "kind (declare inputs, then hidden, then outputs)")
                stage = order[kind]
                decls[kind].append(self.tensor(item, kind, name))
            else:
                raise self.err(item, f"in network {name}: unexpected ({head} ...)")
        if not decls["input"] or not decls["output"]:
            raise self.err(node, f"network {name} must declare at least one input and one "
                           "output")
        net = NetworkDecl(name, tuple(decls["input"]), tuple(decls["output"]),
                          tuple(decls["hidden"]), relation, node.line)
        if relation:
            self.check_congruent(node, net, next(n for n in self.networks
                                                 if n.name == relation[1]))
        return net

    def check_congruent(self, node, net: NetworkDecl, other: NetworkDecl) -> None:
        head = net.relation[0]
        for kind in ("inputs", "outputs"):
            mine, theirs = getattr(net, kind), getattr(other, kind)
            if len(mine) != len(theirs):
                raise self.err(node, f"network {net.name} ({head} {other.name}) declares "
                               f"{len(mine)} {kind} but {other.name} declares {len(theirs)}")
            for a, b in zip(mine, theirs, strict=True):
                if a.shape != b.shape or a.element_type.lower() != b.element_type.lower():
                    raise self.err(node, f"network {net.name} ({head} {other.name}): {a.name} "
                                   f"is {a.element_type} {_shape_text(a.shape)} but {b.name} "
                                   f"is {b.element_type} {_shape_text(b.shape)}")


def _read(text: str, path: str) -> tuple[_Parser2, list]:
    """Declarations (into the parser) and the list of assertion bodies of a 2.0 query."""
    p = _Parser2(path)
    asserts: list = []
    for k, node in enumerate(_sexprs2(text, path)):
        if not isinstance(node, SList) or not node.items or type(node.items[0]) is not Atom:
            raise p.err(node, "expected a command like (vnnlib-version <2.0>), "
                        "(declare-network ...) or (assert ...)")
        cmd = node.items[0].text
        if cmd == "vnnlib-version":
            if k:
                raise p.err(node, "(vnnlib-version ...) must be the first command")
            if len(node.items) != 2 or type(node.items[1]) is not Atom or \
                    not _VERSION.match(node.items[1].text):
                raise p.err(node, "expected (vnnlib-version <2.0>)")
            if _VERSION.match(node.items[1].text).group(1) != "2":
                raise p.err(node, f"VNN-LIB version {node.items[1].text} is not supported "
                            "(read: 2.x with a version line, 1.0 without)")
        elif cmd == "declare-network":
            if asserts:
                raise p.err(node, "declare-network after an assert (a query declares all its "
                            "networks first)")
            p.networks.append(p.network(node))
        elif cmd == "assert":
            if len(node.items) != 2:
                raise p.err(node, "expected (assert CONSTRAINT) with one constraint")
            asserts.append(node.items[1])
        elif cmd == "declare-const":
            raise p.err(node, "declare-const is VNN-LIB 1.0; a 2.0 query declares tensors in "
                        "(declare-network N (declare-input X Real [n]) (declare-output Y ...))")
        elif cmd in IGNORED_COMMANDS:
            continue
        else:
            raise p.err(node, f"unsupported command {cmd!r} (expected declare-network or "
                        "assert)")
    if not p.networks:
        raise InputError(f"{path}: declares no network (expected (declare-network ...))")
    return p, asserts


def _one_io(path: str, net: NetworkDecl) -> None:
    for kind, decls in (("inputs", net.inputs), ("outputs", net.outputs)):
        if len(decls) != 1:
            raise InputError(f"{path}:{net.line}: network {net.name} declares {len(decls)} "
                             f"{kind} ({', '.join(d.name for d in decls)}); only networks with "
                             "one input and one output tensor are supported")


def _single(p: _Parser2, path: str, asserts: list, n_inputs: int | None,
            n_outputs: int | None) -> VnnlibProperty:
    (net,) = p.networks
    _one_io(path, net)
    d, m = net.n_inputs, net.n_outputs
    for count, given, label in ((d, n_inputs, "inputs"), (m, n_outputs, "outputs")):
        if given is not None and count != given:
            raise InputError(f"{path}: declares {count} {label} but the model has {given}")
    p.single = True
    return build_property(p, path, asserts, d, m)


def _multi(p: _Parser2, path: str, asserts: list) -> NetworkQuery:
    for net in p.networks:
        _one_io(path, net)
    conj: list[list[Atomic]] = [[]]
    for node in asserts:
        sub = p.dnf(node)
        if len(conj) * len(sub) > MAX_DNF_TERMS:
            raise p.err(node, f"the query expands to more than {MAX_DNF_TERMS} cases")
        conj = [c + s for c in conj for s in sub]
    cases: dict[tuple[LinearAtom, ...], None] = {}  # ordered, without repeats
    made: dict[int, LinearAtom] = {}  # one LinearAtom per parsed atom, shared between cases
    for atoms in conj:
        if any(not a.coef and a.rhs < 0 for a in atoms):
            continue  # a false constant comparison: this case is empty
        for a in atoms:
            if id(a) not in made:
                made[id(a)] = LinearAtom(a.coef, a.rhs, a.line)
        case = dict.fromkeys(made[id(a)] for a in atoms if a.coef)
        cases.setdefault(tuple(case), None)
    if not cases:
        raise InputError(f"{path}: every case of the query contains a false constant "
                         "comparison")
    return NetworkQuery(path, tuple(p.networks), tuple(cases))


# ----- public entry points ----------------------------------------------------------------

def parse_vnnlib2_text(text: str, path: str = "<vnnlib>", n_inputs: int | None = None,
                       n_outputs: int | None = None) -> VnnlibProperty:
    """A single-network VNN-LIB 2.0 query as a :class:`VnnlibProperty`."""
    p, asserts = _read(text, path)
    if len(p.networks) != 1:
        names = ", ".join(n.name for n in p.networks)
        raise InputError(f"{path}: declares {len(p.networks)} networks ({names}); a property "
                         "of one network was expected (read it with vnnlib2.parse_query)")
    return _single(p, path, asserts, n_inputs, n_outputs)


def parse_query_text(text: str, path: str = "<vnnlib>", n_inputs: int | None = None,
                     n_outputs: int | None = None) -> VnnlibProperty | NetworkQuery:
    """A 1.0 file or a one-network 2.0 query as a :class:`VnnlibProperty`; a 2.0 query over
    several networks as a :class:`NetworkQuery`. ``n_inputs``/``n_outputs`` check a
    one-network query against its model."""
    if not is_vnnlib2(text):
        return parse_vnnlib1_text(text, path, n_inputs, n_outputs)
    p, asserts = _read(text, path)
    if len(p.networks) == 1:
        return _single(p, path, asserts, n_inputs, n_outputs)
    return _multi(p, path, asserts)


def _read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise InputError(f"VNN-LIB file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read VNN-LIB file {path}: {exc}") from None


def parse_query(path: str | Path, n_inputs: int | None = None,
                n_outputs: int | None = None) -> VnnlibProperty | NetworkQuery:
    """Parse a ``.vnnlib`` file of either version; see :func:`parse_query_text`."""
    return parse_query_text(_read_text(path), str(path), n_inputs, n_outputs)


def query_declarations(path: str | Path) -> tuple[NetworkDecl, ...]:
    """The network declarations of a 2.0 query, in order (``()`` for a 1.0 file, whose
    tensors are all ``Real``). Assertions are not read."""
    text = _read_text(path)
    if not is_vnnlib2(text):
        return ()
    p, _ = _read(text, str(path))
    return tuple(p.networks)


def query_network_names(path: str | Path) -> tuple[str, ...]:
    """The network names a query declares, in order (what ``--network NAME=MODEL.onnx``
    binds); ``()`` for a 1.0 file, whose one network is unnamed. Assertions are not read."""
    text = _read_text(path)
    if not is_vnnlib2(text):
        return ()
    p, _ = _read(text, str(path))
    return tuple(n.name for n in p.networks)


# ----- the equivalence form of a two-network query ----------------------------------------

def _fail(q: NetworkQuery, msg: str) -> InputError:
    return InputError(f"{q.path}: {msg}; this two-network query cannot be mapped to an "
                      "equivalence check (input box + epsilon or top-1 disagreement)")


def equivalence_form(q: NetworkQuery) -> EquivalenceForm:
    """Recognise the usual equivalence query of two networks ``A``, ``B``:

    * inputs tied element-wise (``(== XA[i] XB[i])`` for every i) and bounded by a box
      (bounds may be put on either network's input), the same in every case; and
    * outputs: ``|YA[j] - YB[j]| > eps`` for some j (every j, both signs, one eps:
      mode ``"epsilon"``), or a top-1 disagreement (mode ``"top1"``): for every class i,
      ``A`` ranks i top (``YA[k] <= YA[i]`` for all k) and ``B`` ranks some j != i top or
      at least as high as i (``YB[j] >= YB[i]``); or the same with ``A`` and ``B`` swapped.

    Raises ``InputError`` naming what does not fit, for any other query.
    """
    if len(q.networks) != 2:
        raise _fail(q, f"it declares {len(q.networks)} networks, not 2")
    A, B = q.networks
    if A.n_inputs != B.n_inputs or A.n_outputs != B.n_outputs:
        raise _fail(q, f"{A.name} and {B.name} have different input or output sizes")
    d, m = A.n_inputs, A.n_outputs
    inputs, outputs = [], []
    seen: dict[int, tuple[bool, LinearAtom]] = {}  # atoms are shared between cases
    for case in q.cases:
        xs, ys = set(), set()
        for atom in case:
            if id(atom) not in seen:
                kinds = {k for (_, k, _), _ in atom.coef}
                if kinds == {"X", "Y"}:
                    raise _fail(q, f"line {atom.line} mixes inputs and outputs")
                seen[id(atom)] = (kinds == {"X"}, atom.normalized())
            is_input, norm = seen[id(atom)]
            (xs if is_input else ys).add(norm)
        inputs.append(frozenset(xs))
        outputs.append(frozenset(ys))
    if len(set(inputs)) != 1:
        raise _fail(q, "the input constraints differ between cases")
    lower, upper = _tied_box(q, inputs[0], A.name, B.name, d)
    relation = B.relation[0] if B.relation else None
    eps = _epsilon(outputs, A.name, B.name, m)
    if eps is not None:
        if eps < 0:
            raise _fail(q, f"epsilon is {eps}, negative")
        return EquivalenceForm((A.name, B.name), relation, lower, upper, "epsilon", eps)
    if m >= 2 and (_top1(outputs, A.name, B.name, m) or _top1(outputs, B.name, A.name, m)):
        return EquivalenceForm((A.name, B.name), relation, lower, upper, "top1")
    raise _fail(q, f"the output condition is neither |{A.output.name}[j] - {B.output.name}[j]| "
                "> eps for every j nor a top-1 disagreement")


def _tied_box(q: NetworkQuery, atoms, a: str, b: str, d: int):
    tied: set[tuple[int, int]] = set()
    lo: list[Fraction | None] = [None] * d
    hi: list[Fraction | None] = [None] * d
    for atom in atoms:
        coef = dict(atom.coef)
        if len(coef) == 1:
            ((_, _, i), c), = coef.items()
            bound = atom.rhs / c
            if c > 0:
                hi[i] = bound if hi[i] is None else min(hi[i], bound)
            else:
                lo[i] = bound if lo[i] is None else max(lo[i], bound)
            continue
        if len(coef) == 2 and atom.rhs == 0:
            (va, ca), (vb, cb) = sorted(coef.items())
            if va[0] != vb[0] and va[2] == vb[2] and ca == -cb:
                sign = ca if va[0] == a else cb  # +1: XA[i] <= XB[i]; -1: XA[i] >= XB[i]
                tied.add((va[2], int(sign)))
                continue
        raise _fail(q, f"the input constraint on line {atom.line} is neither a bound nor a tie "
                    f"XA[i] == XB[i]")
    for i in range(d):
        if (i, 1) not in tied or (i, -1) not in tied:
            raise _fail(q, f"the inputs of {a} and {b} are not tied at element {i} (expected "
                        "(== XA[i] XB[i]) for every i)")
        if lo[i] is None or hi[i] is None:
            raise _fail(q, f"input element {i} is not bounded on both sides")
        if lo[i] > hi[i]:
            raise _fail(q, f"input element {i} has lower bound {lo[i]} above upper bound "
                        f"{hi[i]}")
    return tuple(lo), tuple(hi)


def _epsilon(outputs, a: str, b: str, m: int) -> Fraction | None:
    """``eps`` if the cases are exactly ``+-(YA[j] - YB[j]) >= eps`` for every j, else None."""
    seen, eps = set(), set()
    for ys in outputs:
        if len(ys) != 1:
            return None
        (atom,) = ys
        coef = dict(atom.coef)
        if len(coef) != 2:
            return None
        keys = sorted(coef)
        if {k[0] for k in keys} != {a, b} or keys[0][2] != keys[1][2]:
            return None
        j = keys[0][2]
        ca, cb = coef[(a, "Y", j)], coef[(b, "Y", j)]
        if ca != -cb:
            return None
        # ca * (YA - YB) <= rhs with ca = +-1:  -+(YA - YB) >= -rhs
        seen.add((j, int(ca)))
        eps.add(-atom.rhs)
    if len(eps) != 1 or seen != {(j, s) for j in range(m) for s in (1, -1)}:
        return None
    return eps.pop()


def _top_of(atoms, net: str, m: int) -> int | None:
    """i if ``atoms`` are exactly ``Y[k] - Y[i] <= 0`` for every k != i, else None."""
    tops = set()
    for atom in atoms:
        coef = dict(atom.coef)
        if atom.rhs != 0 or len(coef) != 2 or sorted(coef.values()) != [-1, 1]:
            return None
        (i,) = [v[2] for v, c in coef.items() if c == -1]
        tops.add(i)
    if len(tops) != 1:
        return None
    (i,) = tops
    want = {LinearAtom((((net, "Y", min(i, k)), Fraction(1 if k < i else -1)),
                        ((net, "Y", max(i, k)), Fraction(-1 if k < i else 1))), Fraction(0))
            for k in range(m) if k != i}
    return i if set(atoms) == want else None


def _top1(outputs, a: str, b: str, m: int) -> bool:
    beaten: dict[int, set[int]] = {i: set() for i in range(m)}
    for ys in outputs:
        on_a = {t for t in ys if {v[0] for v, _ in t.coef} == {a}}
        on_b = {t for t in ys if {v[0] for v, _ in t.coef} == {b}}
        if on_a | on_b != set(ys):
            return False
        i = _top_of(on_a, a, m)
        if i is None:
            return False
        j = _top_of(on_b, b, m)
        if j is None and len(on_b) == 1:  # YB[i] - YB[j] <= 0: j ranks at least as high as i
            (t,) = on_b
            coef = dict(t.coef)
            if t.rhs == 0 and coef.get((b, "Y", i)) == 1 and len(coef) == 2:
                (j,) = [v[2] for v in coef if v[2] != i]
                if coef[(b, "Y", j)] != -1:
                    j = None
        if j is None or j == i:
            return False
        beaten[i].add(j)
    return all(beaten[i] == set(range(m)) - {i} for i in range(m))


# ----- 1.0 -> 2.0 -------------------------------------------------------------------------

def _decimal(text: str) -> str:
    """A 1.0 number in the 2.0 form ``-?digits.digits`` (exact: no rounding)."""
    s = format(Decimal(text), "f")
    return s if "." in s else s + ".0"


def vnnlib1_to_2(text: str, input_shape: tuple[int, ...], output_shape: tuple[int, ...],
                 path: str = "<vnnlib>", network: str = "N", element_type: str = "real") -> str:
    """Translate VNN-LIB 1.0 text into a 2.0 query of one network with the given shapes.

    ``X_i`` becomes the row-major element ``X[...]`` of ``input_shape`` (likewise ``Y_j``),
    ``=`` becomes ``==``, numbers are written as exact plain decimals (``1e-3`` -> ``0.001``,
    ``2`` -> ``2.0``). The translation is syntactic; :func:`parse_query` of the result gives
    exactly the cases of the 1.0 file.
    """
    shapes = {"X": tuple(input_shape), "Y": tuple(output_shape)}

    def element(kind: str, flat: int, node) -> str:
        shape = shapes[kind]
        size = math.prod(shape)
        if flat >= size:
            raise InputError(f"{path}:{node.line}: {node.text} is outside the declared shape "
                             f"{_shape_text(shape)} ({size} elements)")
        if not shape:
            return kind
        idx = []
        for dim in reversed(shape):
            idx.append(flat % dim)
            flat //= dim
        return kind + _shape_text(tuple(reversed(idx)))

    def expr(node) -> str:
        if isinstance(node, SList):
            parts = [expr(t) for t in node.items]
            if parts and parts[0] == "=":
                parts[0] = "=="
            return "(" + " ".join(parts) + ")"
        m = VAR.match(node.text)
        if m:
            return element(m.group(1), int(m.group(2)), node)
        if number(node.text) is not None:
            return _decimal(node.text)
        return node.text

    out = ["(vnnlib-version <2.0>)",
           f"(declare-network {network}",
           f"    (declare-input X {element_type} {_shape_text(shapes['X'])})",
           f"    (declare-output Y {element_type} {_shape_text(shapes['Y'])})",
           ")"]
    for node in sexprs(text, path):
        if not isinstance(node, SList) or not node.items or not isinstance(node.items[0], Atom):
            raise InputError(f"{path}:{node.line}: expected a command")
        cmd = node.items[0].text
        if cmd == "assert":
            out.append(expr(node))
        elif cmd != "declare-const" and cmd not in IGNORED_COMMANDS:
            raise InputError(f"{path}:{node.line}: unsupported command {cmd!r}")
    return "\n".join(out) + "\n"
