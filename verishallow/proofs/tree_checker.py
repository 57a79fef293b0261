"""Independent exact checker of proof trees (``docs/proof-search.md``): no solver, no search.

A proof tree proves a goal (:mod:`verishallow.proofs.goals`) by splitting each case's box (input
splits ``["x", i, "v"]``, phase splits ``["n", j]``) until every leaf refutes every disjunct
of the case (``["l", level, [[k, i], ...]]``), is empty (``["e", level]``) or lies outside an
input row (``["o", r]``). This module rebuilds the goal from the user's files (the caller
passes it), compares the certificate's goal digest and network fingerprints, walks every tree
in preorder (every split strictly inside its box, every neuron valid and not fixed twice on a
path, nothing left over) and recomputes every leaf's bound exactly with
:mod:`verishallow.exact.leaf_bounds`. Each failure names the case, the leaf's index in the
preorder node list and its path of splits.

Trusted base: imports the standard library, numpy, the network class, the goals,
:mod:`verishallow.exact`, :mod:`verishallow.product`, :mod:`verishallow.forkpool` and the
certificate reader of :mod:`verishallow.proofs.partition_checker`; never a solver or the search.

A leaf whose node turns out empty while computing its bound refutes every disjunct (the node
holds no input), so an ``"l"`` leaf on an empty node is accepted.

Level ``"differential"`` (``"l"`` and ``"e"`` leaves) is valid only in an equivalence proof
whose networks A and B have equal hidden widths layer by layer
(:mod:`verishallow.exact.differential`); its emptiness test is the symbolic one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .. import forkpool
from ..errors import InputError
from ..exact.differential import (
    LEVELS,
    DifferentialNetwork,
    differential_bounds,
    differential_mismatch,
    differential_row_lower_bounds,
)
from ..exact.leaf_bounds import ExactNetwork, layer_bounds_many, row_lower_bounds_many
from ..exact.numbers import parse_rational
from ..network import ReLUNetwork, network_fingerprint
from ..product import product_network
from . import goals as goals_mod
from .document import FORMAT as PARTITION_FORMAT
from .document import (
    INVALID,
    CertificateError,
    CheckResult,
    Invalid,
    check_header,
    read_document,
    run_guarded,
)
from .goals import Goal

FORMAT = "verishallow.proof-tree"
#: Leaves checked together (their bounds computed in lock-step): enough to fill the batches of
#: :func:`~verishallow.exact.leaf_bounds.drive_many`, few enough that their prepared limbs
#: (~1 MB per ACAS Xu leaf) stay bounded whatever the size of the tree.
LEAF_BATCH = 128
VERSION = 1
KINDS = ("property", "equivalence")


# ----- reading -------------------------------------------------------------------------------
def load_document(path: str | Path) -> dict:
    """A certificate document of any format (gzip detected by its magic bytes); an unreadable
    file raises :class:`CertificateError`. One reader for every certificate kind."""
    return read_document(path)


def is_proof_tree(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def check_tree_header(doc: Any, where: str) -> None:
    """A proof tree of this version, else :class:`CertificateError`."""
    if not is_proof_tree(doc):
        raise CertificateError(f"{where} is not a verishallow proof tree (no \"format\": "
                               f"\"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise CertificateError(f"{where}: unsupported proof-tree version {doc.get('version')!r} "
                               f"(this checker reads {VERSION})")


def load_any_certificate(path: str | Path) -> dict:
    """A proof tree or a partition/equivalence certificate (their headers checked)."""
    doc = load_document(path)
    if is_proof_tree(doc):
        check_tree_header(doc, str(path))
    else:
        check_header(doc, str(path))
    return doc


def _load_tree(cert_or_path: dict | str | Path) -> dict:
    if isinstance(cert_or_path, dict):
        check_tree_header(cert_or_path, "the given object")
        return cert_or_path
    doc = load_document(cert_or_path)
    if doc.get("format") == PARTITION_FORMAT:
        raise CertificateError(f"{cert_or_path} is a partition certificate, not a proof tree")
    check_tree_header(doc, str(cert_or_path))
    return doc


# ----- the walk --------------------------------------------------------------------------------
@dataclass
class _Leaf:
    case: int
    index: int  # preorder index in the case's node list
    lo: list[Fraction]
    hi: list[Fraction]
    fix: dict[int, bool]
    path: str
    node: list


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_part(chk: _TreeChecker, ids: list[int]) -> tuple[list, dict]:
    return chk.leaves_part(ids)


class _TreeChecker:
    def __init__(self, cert: dict, net: ReLUNetwork, goal: Goal, fingerprints: list[str] | None,
                 max_failures: int, workers: int,
                 pair: tuple[ReLUNetwork, ReLUNetwork] | None = None):
        self.cert = cert
        self.net = net
        self.pair = pair
        self.dnet: DifferentialNetwork | None = None
        self.no_differential = "level differential is only for equivalence proofs"
        self.goal = goal
        self.fingerprints = fingerprints
        self.max_failures = max_failures
        self.workers = workers
        self._failures: list[tuple[tuple[int, int], str]] = []
        self.counts = {k: 0 for k in ("cases", "nodes", "input_splits", "phase_splits",
                                      "leaves", "bound_computations", "rows", "empty_leaves",
                                      "input_row_leaves")}
        self.leaves: list[_Leaf] = []

    # ---------------------------------------------------------------------------------------
    def fail(self, msg: str, key: tuple[int, int] = (-1, -1)) -> None:
        self._failures.append((key, msg))

    @property
    def failures(self) -> list[str]:
        return [m for _, m in sorted(self._failures, key=lambda t: t[0])]

    @property
    def full(self) -> bool:
        return len(self._failures) >= self.max_failures

    def run(self) -> None:
        cert, goal = self.cert, self.goal
        if cert.get("kind") != goal.kind:
            self.fail(f"certificate is a {cert.get('kind')!r} proof, but the question is a "
                      f"{goal.kind} one")
            return
        if self.fingerprints is not None:
            nets = cert.get("networks")
            if nets != self.fingerprints:
                self.fail(f"certificate is for another model (network fingerprints "
                          f"{_short(nets)}, given {_short(self.fingerprints)})")
                return
        if cert.get("goal_digest") != goal.digest():
            what = "property" if goal.kind == "property" else "question"
            self.fail(f"certificate is for another {what} (goal digest differs)")
            return
        trees = cert.get("trees")
        if not isinstance(trees, list):
            self.fail("certificate has no list of trees")
            return
        if len(trees) != len(goal.cases):
            self.fail(f"certificate has {len(trees)} trees but the goal has {len(goal.cases)} "
                      "cases (one tree per case, in order)")
            return
        self.enet = ExactNetwork(self.net)
        if goal.kind == "equivalence" and self.pair is not None:
            why = differential_mismatch(*self.pair)
            if why is None:
                self.dnet = DifferentialNetwork(*self.pair)
            else:
                self.no_differential = why
        elif goal.kind == "equivalence":
            self.no_differential = ("level differential needs the two networks A and B (check "
                                    "the proof with check_equivalence_proof)")
        for k, tree in enumerate(trees):
            if not isinstance(tree, dict) or tree.get("case") != k \
                    or not isinstance(tree.get("nodes"), list):
                self.fail(f"tree {k}: expected {{\"case\": {k}, \"nodes\": [...]}}", (k, -1))
                continue
            self.counts["cases"] += 1
            self._walk(k, tree["nodes"])
            if self.full:
                return
        parts = forkpool.chunks(list(range(len(self.leaves))), self.workers)
        for failures, counts in forkpool.fork_map(_check_part, self, parts, self.workers):
            self._failures += failures
            for key, v in counts.items():
                self.counts[key] += v
            if self.full:
                return

    def _walk(self, k: int, nodes: list) -> None:
        """Preorder structure of case ``k``'s tree; collects its leaves (checked later)."""
        case = self.goal.cases[k]
        N = self.enet.n_hidden
        rlo, rhi = goals_mod.float_box(case)
        root = ([Fraction(float(v)) for v in rlo], [Fraction(float(v)) for v in rhi], {}, [],
                True)
        stack = [root]
        pos = 0
        while stack:
            lo, hi, fix, path, ok = stack.pop()
            where = ", ".join(path) if path else "root"
            if pos >= len(nodes):
                self.fail(f"case {k}: the tree ends early: the subtree at ({where}) is missing "
                          f"(after node {pos - 1})", (k, pos))
                return
            node = nodes[pos]
            idx = pos
            pos += 1
            self.counts["nodes"] += 1
            tag = node[0] if isinstance(node, list) and node else None
            if tag == "x":
                if ok:
                    ok = self._input_split(k, idx, where, node, lo, hi)
                if ok:
                    i, v = node[1], parse_rational(node[2])
                    hi1 = list(hi)
                    hi1[i] = v
                    lo2 = list(lo)
                    lo2[i] = v
                    s = repr(float(v))
                    stack.append((lo2, hi, fix, [*path, f"x{i}>={s}"], True))
                    stack.append((lo, hi1, fix, [*path, f"x{i}<={s}"], True))
                else:
                    stack.append((lo, hi, fix, path, False))
                    stack.append((lo, hi, fix, path, False))
                self.counts["input_splits"] += 1
            elif tag == "n":
                if ok:
                    j = node[1] if len(node) == 2 else None
                    if not (_is_int(j) and 0 <= j < N):
                        self.fail(f"case {k}, node {idx} ({where}): phase split of neuron {j!r}, "
                                  f"which does not exist ({N} hidden neurons)", (k, idx))
                        ok = False
                    elif j in fix:
                        self.fail(f"case {k}, node {idx} ({where}): neuron "
                                  f"{self.net.neuron_name(j)} is already fixed on this path",
                                  (k, idx))
                        ok = False
                if ok:
                    name = self.net.neuron_name(j)
                    stack.append((lo, hi, {**fix, j: True}, [*path, f"{name}>=0"], True))
                    stack.append((lo, hi, {**fix, j: False}, [*path, f"{name}<=0"], True))
                else:
                    stack.append((lo, hi, fix, path, False))
                    stack.append((lo, hi, fix, path, False))
                self.counts["phase_splits"] += 1
            elif tag in ("l", "e", "o"):
                if ok:
                    self.leaves.append(_Leaf(k, idx, lo, hi, fix, where, node))
            else:
                self.fail(f"case {k}, node {idx} ({where}): unknown node {_short(node)} (expected "
                          "an \"x\", \"n\", \"l\", \"e\" or \"o\" node); the rest of the tree "
                          "is not read", (k, idx))
                return
            if self.full:
                return
        if pos < len(nodes):
            self.fail(f"case {k}: {len(nodes) - pos} node(s) after the end of the tree "
                      f"(from node {pos})", (k, pos))

    def _input_split(self, k: int, idx: int, where: str, node: list, lo: list[Fraction],
                     hi: list[Fraction]) -> bool:
        head = f"case {k}, node {idx} ({where})"
        if len(node) != 3 or not _is_int(node[1]) or not 0 <= node[1] < self.goal.n_inputs:
            self.fail(f"{head}: malformed input split {_short(node)} (coordinate out of range?)",
                      (k, idx))
            return False
        i = node[1]
        try:
            v = parse_rational(node[2])
        except Exception as exc:  # the strict parser's message
            self.fail(f"{head}: split value: {exc}", (k, idx))
            return False
        if Fraction(float(v)) != v:
            self.fail(f"{head}: split value {node[2]} of x{i} is not a float64 value", (k, idx))
            return False
        if not lo[i] < v < hi[i]:
            self.fail(f"{head}: split value {float(v)!r} of x{i} is not strictly inside the "
                      f"box [{float(lo[i])!r}, {float(hi[i])!r}]", (k, idx))
            return False
        return True

    # ---------------------------------------------------------------------------------------
    def leaves_part(self, ids: list[int]) -> tuple[list, dict]:
        """Check leaves ``ids``; returns their failures and counts (the same in a forked worker
        and in this process). Each leaf's check (:meth:`_leaf`) asks for its layer and row
        bounds; the part's requests are computed together, a round at a time
        (:func:`layer_bounds_many`, :func:`row_lower_bounds_many`: the same numbers, with the
        back-substitutions of many leaves batched)."""
        saved = self._failures, self.counts
        self._failures = []
        self.counts = dict.fromkeys(saved[1], 0)
        try:
            gens: dict[int, Any] = {}
            pending: dict[int, tuple] = {}

            def step(t: int, value: Any = None, exc: BaseException | None = None) -> None:
                leaf = self.leaves[t]
                head = f"case {leaf.case}, leaf at node {leaf.index} ({leaf.path})"
                try:
                    if t not in gens:
                        gens[t] = self._leaf(leaf, head)
                        req = next(gens[t])
                    elif exc is not None:
                        req = gens[t].throw(exc)
                    else:
                        req = gens[t].send(value)
                except StopIteration:
                    return
                except INVALID as err:
                    self.fail(f"{head}: {err}", (leaf.case, leaf.index))
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
                    self.fail(f"{head}: malformed leaf ({type(err).__name__}: {err})",
                              (leaf.case, leaf.index))
                else:
                    pending[t] = req

            def answer(ts: list[int], results: list) -> None:
                for t, r in zip(ts, results, strict=True):
                    if isinstance(r, Exception):
                        step(t, exc=r)
                    else:
                        step(t, r)

            for a in range(0, len(ids), LEAF_BATCH):
                for t in ids[a:a + LEAF_BATCH]:
                    step(t)
                    if self.full:
                        break
                while pending and not self.full:
                    reqs = dict(pending)
                    pending.clear()
                    by_level: dict[tuple[str, bool], list[int]] = {}
                    for t, r in reqs.items():
                        if r[0] == "layers":
                            by_level.setdefault((r[4], r[5]), []).append(t)
                    for (level, forms), ts in by_level.items():
                        answer(ts, layer_bounds_many(self.enet, [reqs[t][1:4] for t in ts],
                                                     level, keep_forms=forms))
                    ts = [t for t, r in reqs.items() if r[0] == "rows"]
                    answer(ts, row_lower_bounds_many(self.enet, [reqs[t][1:4] for t in ts]))
                gens.clear()  # the finished leaves' bounds (their limbs) go
                if self.full:
                    break
            failures = sorted(self._failures, key=lambda f: f[0])[:self.max_failures]
            return failures, self.counts
        finally:
            self._failures, self.counts = saved

    def _leaf(self, leaf: _Leaf, head: str) -> Generator[tuple, Any, None]:
        """Check one leaf; a generator that yields ``("layers", lo, hi, fixings, level,
        keep_forms)`` and ``("rows", lb, C, d)`` for the bounds it needs and is sent them (or
        thrown the error computing them raised)."""
        node = leaf.node
        case = self.goal.cases[leaf.case]
        self.counts["leaves"] += 1
        tag = node[0]
        if tag == "o":
            r = node[1] if len(node) == 2 else None
            if not (_is_int(r) and 0 <= r < len(case.A)):
                raise Invalid(f"input row {r!r} does not exist (the case has {len(case.A)})")
            row = case.A[r]
            low = sum((a * (lo if a > 0 else hi) for a, lo, hi in
                       zip(row, leaf.lo, leaf.hi, strict=True)), Fraction(0))
            if not low > case.b[r]:
                raise Invalid(f"input row {r} does not exclude the box: its minimum over the "
                               f"box is {low}, not > {case.b[r]}")
            self.counts["input_row_leaves"] += 1
            return
        level = node[1] if len(node) >= 2 else None
        if level not in LEVELS:
            raise Invalid(f"unknown level {level!r} (expected {', '.join(LEVELS)})")
        differential = level == "differential"
        if differential and self.dnet is None:
            raise Invalid(self.no_differential)
        base = "backward" if differential else level
        if tag == "e":
            if len(node) != 2:
                raise Invalid(f"malformed empty leaf {_short(node)}")
            lb = yield ("layers", leaf.lo, leaf.hi, leaf.fix, base, False)
            self.counts["bound_computations"] += 1
            if not lb.empty:
                raise Invalid(f"the node is not empty at level {level}: no phase fixing is "
                               "contradicted")
            self.counts["empty_leaves"] += 1
            return
        # "l"
        if len(node) != 3 or not isinstance(node[2], list):
            raise Invalid(f"malformed leaf {_short(node)}")
        nd = len(case.disjuncts)
        chosen: dict[int, tuple[int, ...]] = {}
        for pair in node[2]:
            rows_of = pair[1] if isinstance(pair, list) and len(pair) == 2 else None
            if isinstance(rows_of, list):
                ok = len(rows_of) >= 2 and all(_is_int(i) for i in rows_of) and all(
                    a < b for a, b in zip(rows_of, rows_of[1:], strict=False))
            else:
                ok = _is_int(rows_of)
            if not (ok and _is_int(pair[0])):
                raise Invalid(f"malformed refutation {_short(pair)} (expected [disjunct, row] "
                               "or [disjunct, [row, row, ...]] with increasing rows)")
            q = pair[0]
            S = tuple(rows_of) if isinstance(rows_of, list) else (rows_of,)
            if not 0 <= q < nd:
                raise Invalid(f"disjunct {q} does not exist (the case has {nd})")
            if q in chosen:
                raise Invalid(f"disjunct {q} is listed twice")
            for i in S:
                if not 0 <= i < len(case.disjuncts[q].C):
                    raise Invalid(f"row {i} of disjunct {q} does not exist (it has "
                                   f"{len(case.disjuncts[q].C)})")
            chosen[q] = S
        missing = [q for q in range(nd) if q not in chosen]
        if missing:
            raise Invalid(f"disjunct {missing[0]} is not refuted (missing from the leaf)")
        if differential:
            lb = yield ("layers", leaf.lo, leaf.hi, leaf.fix, "backward", True)
            db = differential_bounds(self.enet, self.dnet, leaf.lo, leaf.hi, leaf.fix, lb)
        else:
            lb = yield ("layers", leaf.lo, leaf.hi, leaf.fix, level, False)
        self.counts["bound_computations"] += 1
        if lb.empty:
            return  # no input reaches the node: every disjunct is refuted
        keys = sorted(set(chosen.items()))
        sums = [case.disjuncts[q].row_sum(S) for q, S in keys]
        C = [row for row, _ in sums]
        d = [di for _, di in sums]
        if differential:
            lows_ = differential_row_lower_bounds(self.enet, db, C, d)
        else:
            lows_ = yield ("rows", lb, C, d)
        lows = dict(zip(keys, lows_, strict=True))
        self.counts["rows"] += len(keys)
        for q in range(nd):
            S = chosen[q]
            v = lows[(q, S)]
            closed = case.disjuncts[q].closed
            if not (v > 0 if closed else v >= 0):
                what = f"row {S[0]}" if len(S) == 1 else "the sum of rows " + "+".join(
                    str(i) for i in S)
                raise Invalid(f"{what} of disjunct {q} has exact lower bound {_fmt(v)}, "
                               f"not {'>' if closed else '>='} 0")


def _fmt(v: Fraction) -> str:
    """An exact value for a message: the fraction when short, else its float and its size."""
    text = str(v)
    if len(text) <= 40:
        return text
    return f"{float(v):.10g} (rounded; exactly a fraction of {len(text)} digits)"


def _short(v: Any, n: int = 80) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= n else text[:n - 3] + "..."


# ----- entry points ---------------------------------------------------------------------------
def check_proof_tree(cert: dict, net_F: ReLUNetwork, goal: Goal, workers: int | None = 1,
                     fingerprints: list[str] | None = None, max_failures: int = 20,
                     pair: tuple[ReLUNetwork, ReLUNetwork] | None = None) -> CheckResult:
    """Check a proof tree of ``goal`` on the network ``net_F`` exactly.

    ``fingerprints``: the certificate's ``"networks"`` must equal it (default, for a property:
    ``[net_F's fingerprint]``; for an equivalence the wrapper passes ``[A's, B's]``).
    ``workers`` (``None``: every core) checks the leaves on that many forked processes; the
    verdict is the same. Checking stops after ``max_failures`` failures. ``pair``: the
    equivalence's networks ``(A, B)`` with ``net_F = product_network(A, B)``, needed by
    leaves at level ``"differential"``.
    """
    t0 = time.perf_counter()
    check_tree_header(cert, "the given object")
    if fingerprints is None and goal.kind == "property":
        fingerprints = [network_fingerprint(net_F.weights, net_F.biases)]
    nw = forkpool.default_workers() if workers is None else max(1, int(workers))
    if pair is not None:
        prod = product_network(*pair)
        same = len(prod.weights) == len(net_F.weights) and all(
            np.array_equal(x, y) for x, y in zip((*prod.weights, *prod.biases),
                                                 (*net_F.weights, *net_F.biases), strict=True))
        if not same:
            raise InputError("net_F is not the product network of the given pair")
    chk = _TreeChecker(cert, net_F, goal, fingerprints, max_failures, nw, pair)
    run_guarded(chk.run, chk.fail, invalid=INVALID)
    failures = chk.failures[:max_failures]
    return CheckResult(not failures, failures, chk.counts, time.perf_counter() - t0)


def check_property_proof(cert_or_path: dict | str | Path, net: ReLUNetwork, prop: Any,
                         workers: int | None = 1, max_failures: int = 20) -> CheckResult:
    """A proof tree that ``net`` satisfies the VNN-LIB property ``prop`` (its unsafe set is
    empty); the goal is rebuilt from ``prop`` (:func:`goals.property_goal`)."""
    cert = _load_tree(cert_or_path)
    goal = goals_mod.property_goal(prop, net.input_dim, net.output_dim)
    return check_proof_tree(cert, net, goal, workers=workers, max_failures=max_failures)


def check_equivalence_proof(cert_or_path: dict | str | Path, net_a: ReLUNetwork,
                            net_b: ReLUNetwork, domain: Any | None = None,
                            workers: int | None = 1, max_failures: int = 20) -> CheckResult:
    """A proof tree that ``net_a`` and ``net_b`` are equivalent (the certificate's
    ``"equivalence"`` block: mode, epsilon, box) on the product network; ``domain`` (a box
    Domain) additionally requires the certificate's box to be exactly that domain."""
    t0 = time.perf_counter()
    cert = _load_tree(cert_or_path)
    if net_a.output_dim != net_b.output_dim:
        raise InputError(f"the models have {net_a.output_dim} and {net_b.output_dim} outputs")
    if net_a.input_dim != net_b.input_dim:
        raise InputError(f"the models have {net_a.input_dim} and {net_b.input_dim} inputs")
    fps = [network_fingerprint(n.weights, n.biases) for n in (net_a, net_b)]

    def bad(msg: str) -> CheckResult:
        return CheckResult(False, [msg], {}, time.perf_counter() - t0)

    if cert.get("kind") != "equivalence":
        return bad(f"certificate is a {cert.get('kind')!r} proof, not an equivalence proof")
    if cert.get("networks") != fps:
        return bad(f"certificate is for another model (network fingerprints "
                   f"{_short(cert.get('networks'))}, given {_short(fps)})")
    try:
        eq = cert["equivalence"]
        mode = eq["mode"]
        if mode not in ("epsilon", "top1"):
            raise Invalid(f"unknown equivalence mode {mode!r}")
        eps = parse_rational(eq["epsilon"])
        lower = [parse_rational(v) for v in eq["lower"]]
        upper = [parse_rational(v) for v in eq["upper"]]
        if len(lower) != net_a.input_dim or len(upper) != net_a.input_dim:
            raise Invalid(f"the box has {len(lower)}/{len(upper)} coordinates, the models "
                           f"{net_a.input_dim} inputs")
        goal = goals_mod.equivalence_goal(lower, upper, m=net_a.output_dim, epsilon=eps,
                                          top1=mode == "top1")
    except (*INVALID, InputError, KeyError, TypeError, ValueError) as exc:
        msg = str(exc) if isinstance(exc, (*INVALID, InputError)) else \
            f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (*INVALID, InputError)):
            msg = f"malformed equivalence block ({msg})"
        elif "equivalence" not in msg:
            msg = f"equivalence block: {msg}"
        return bad(msg)
    if domain is not None:
        if len(getattr(domain, "A", ())) or not hasattr(domain, "lower"):
            raise InputError("a proof tree is about a box: the given domain has linear rows")
        try:
            given_lo = [Fraction(float(v)) for v in domain.lower]
            given_hi = [Fraction(float(v)) for v in domain.upper]
        except (OverflowError, ValueError):
            return bad("the given domain is unbounded, the certificate's box is not")
        if given_lo != lower or given_hi != upper:
            return bad("the certificate's box differs from the given domain")
    prod = product_network(net_a, net_b)
    res = check_proof_tree(cert, prod, goal, workers=workers, fingerprints=fps,
                           max_failures=max_failures, pair=(net_a, net_b))
    res.seconds = time.perf_counter() - t0
    return res
