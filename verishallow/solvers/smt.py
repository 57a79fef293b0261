"""z3 double-checks over the reals: exact re-decisions of what the LP and MILP engines found.

Every weight, bound and coefficient reaches z3 as an exact rational (``RealVal("p/q")`` of
``Fraction(float)``), so z3 decides in exact linear real arithmetic. These checks are
independent of the region engine *and* of the certificate's integer kernel: they build the
network in z3 (or, for single points, in ``fractions.Fraction``) from the weights directly.

Conventions: a neuron is active iff ``z > 0`` (ReLU(0) = 0). A pattern's region is
*full-dimensional* iff some point of the domain's relative interior gives every neuron the strict
sign of the pattern, except neurons that are identically zero under the pattern (zero gradient
and zero value), which must be inactive. That is exactly the open interior of ``{x : pattern
x = s}``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import z3

from ..domain import Domain
from ..exact.maps import exact_layers
from ..network import ReLUNetwork, pattern_key

#: Coverage is attempted by z3 only for networks with at most this many unstable neurons.
COVERAGE_MAX_UNSTABLE = 40


def _frac(v: Any) -> Fraction:
    if isinstance(v, str):
        return Fraction(v)
    if isinstance(v, Fraction | int):
        return Fraction(v)
    return Fraction(float(v))


def _rv(v: Any) -> z3.ArithRef:
    f = _frac(v)
    return z3.RealVal(f"{f.numerator}/{f.denominator}")


def _solver(timeout: float | None) -> z3.Solver:
    s = z3.Solver()
    if timeout is not None:
        s.set("timeout", max(1, int(timeout * 1000)))
    return s


def _answer(res: z3.CheckSatResult) -> str:
    if res == z3.sat:
        return "sat"
    return "unsat" if res == z3.unsat else "unknown"


# ----- exact evaluation ------------------------------------------------------------------
def _fixed_affine_at(net: ReLUNetwork, pattern: np.ndarray, x: Sequence[Fraction]
                     ) -> list[Fraction]:
    """Pre-activations of the pattern-fixed (affine) network at ``x``, in Fractions."""
    a = [Fraction(v) for v in x]
    out: list[Fraction] = []
    layers = exact_layers(net)
    offs = net.layer_offsets
    for k, (W, b) in enumerate(layers[:-1]):
        z = [sum((wi * ai for wi, ai in zip(row, a, strict=True)), bj)
             for row, bj in zip(W, b, strict=True)]
        out += z
        bits = pattern[offs[k]:offs[k + 1]]
        a = [v if s else Fraction(0) for v, s in zip(z, bits, strict=True)]
    return out


def check_witness(net: ReLUNetwork, pattern: np.ndarray, witness: Sequence[Any],
                  domain: Domain | None = None) -> bool:
    """Exactly: does ``witness`` give every neuron its pattern's strict sign?

    A zero pre-activation is accepted only for an inactive neuron that is identically zero
    under the pattern (its value at ``witness + e_j`` is zero too for every free coordinate j).
    With a ``domain`` the witness must also lie in its relative interior (fixed inputs equal,
    every other bound and row strict) and only the free coordinates are perturbed. Plain
    rational arithmetic decides this exactly; no solver is needed.
    """
    s = np.asarray(pattern, dtype=bool)
    w = [_frac(v) for v in witness]
    if len(w) != net.input_dim or len(s) != net.n_hidden:
        return False
    free = list(range(len(w)))
    if domain is not None:
        if not _in_relative_interior(domain, w):
            return False
        free = [i for i in range(domain.dim) if not domain.fixed[i]]
    z = _fixed_affine_at(net, s, w)
    zeros = []
    for i, v in enumerate(z):
        if s[i] and v <= 0:
            return False
        if not s[i] and v > 0:
            return False
        if not s[i] and v == 0:
            zeros.append(i)
    for j in free if zeros else ():
        wj = list(w)
        wj[j] += 1
        zj = _fixed_affine_at(net, s, wj)
        if any(zj[i] != 0 for i in zeros):
            return False
    return True


def _in_relative_interior(domain: Domain, w: Sequence[Fraction]) -> bool:
    """Exactly: fixed inputs equal their value, other bounds and rows hold strictly (rows that
    involve only fixed inputs hold non-strictly)."""
    fixed = domain.fixed
    for i, v in enumerate(w):
        lo, up = float(domain.lower[i]), float(domain.upper[i])
        if fixed[i]:
            if v != Fraction(lo):
                return False
            continue
        if np.isfinite(lo) and not v > Fraction(lo):
            return False
        if np.isfinite(up) and not v < Fraction(up):
            return False
    for row, b in zip(domain.A, domain.b, strict=True):
        lhs = sum((Fraction(float(a)) * v for a, v in zip(row, w, strict=True)), Fraction(0))
        strict = any(row[i] != 0 for i in range(domain.dim) if not fixed[i])
        if (lhs >= Fraction(float(b))) if strict else (lhs > Fraction(float(b))):
            return False
    return True


def exact_model(net: ReLUNetwork, pattern: np.ndarray
                ) -> tuple[list[list[Fraction]], list[Fraction]]:
    """The pattern-fixed output map ``alpha x + beta`` in Fractions, from the weights: the map
    is affine, so its values at 0 and at the unit vectors determine it."""
    s = np.asarray(pattern, dtype=bool)
    d = net.input_dim
    layers = exact_layers(net)
    offs = net.layer_offsets

    def f(x: list[Fraction]) -> list[Fraction]:
        a = x
        for k, (W, b) in enumerate(layers):
            z = [sum((wi * ai for wi, ai in zip(row, a, strict=True)), bj)
                 for row, bj in zip(W, b, strict=True)]
            if k == len(layers) - 1:
                return z
            a = [v if bit else Fraction(0) for v, bit in zip(z, s[offs[k]:offs[k + 1]],
                                                             strict=True)]
        raise AssertionError("unreachable")

    beta = f([Fraction(0)] * d)
    cols = [f([Fraction(int(i == j)) for i in range(d)]) for j in range(d)]
    alpha = [[cols[j][o] - beta[o] for j in range(d)] for o in range(len(beta))]
    return alpha, beta


# ----- z3 encodings ------------------------------------------------------------------------
def _domain_vars(domain: Domain, solver: z3.Solver, prefix: str = "x"
                 ) -> tuple[list[z3.ArithRef], list[int]]:
    """Input variables constrained to the domain's relative interior; returns (x, free)."""
    d = domain.dim
    xs = [z3.Real(f"{prefix}{i}") for i in range(d)]
    fixed = domain.fixed
    for i in range(d):
        if fixed[i]:
            solver.add(xs[i] == _rv(domain.lower[i]))
            continue
        if np.isfinite(domain.lower[i]):
            solver.add(xs[i] > _rv(domain.lower[i]))
        if np.isfinite(domain.upper[i]):
            solver.add(xs[i] < _rv(domain.upper[i]))
    for row, b in zip(domain.A, domain.b, strict=True):
        lhs = z3.Sum([_rv(a) * xs[i] for i, a in enumerate(row) if a != 0] or [_rv(0)])
        if any(row[i] != 0 for i in range(d) if not fixed[i]):
            solver.add(lhs < _rv(b))
        else:
            solver.add(lhs <= _rv(b))
    return xs, [i for i in range(d) if not fixed[i]]


def _fixed_network(net: ReLUNetwork, pattern: np.ndarray, inputs: Sequence[Any],
                   solver: z3.Solver, tag: str, bias: bool = True) -> list[list[z3.ArithRef]]:
    """Pattern-fixed network in z3 (auxiliary variables per neuron); returns each layer's
    pre-activation variables and, last, the output terms."""
    layers = exact_layers(net)
    offs = net.layer_offsets
    a: list[Any] = list(inputs)
    out = []
    for k, (W, b) in enumerate(layers):
        zs = []
        for i, (row, bi) in enumerate(zip(W, b, strict=True)):
            terms = [_rv(w) * ai for w, ai in zip(row, a, strict=True)
                     if w != 0 and not (isinstance(ai, int) and ai == 0)]
            expr = z3.Sum(terms + ([_rv(bi)] if bias else [])) if terms or bias else _rv(0)
            if k == len(layers) - 1:
                zs.append(expr)
            else:
                v = z3.Real(f"{tag}_z{k}_{i}")
                solver.add(v == expr)
                zs.append(v)
        out.append(zs)
        if k < len(layers) - 1:
            bits = pattern[offs[k]:offs[k + 1]]
            a = [v if s else 0 for v, s in zip(zs, bits, strict=True)]
    return out


def _region_solver(net: ReLUNetwork, domain: Domain, pattern: np.ndarray,
                   timeout: float | None) -> tuple[z3.Solver, list[z3.ArithRef]]:
    s = np.asarray(pattern, dtype=bool)
    solver = _solver(timeout)
    xs, free = _domain_vars(domain, solver)
    z = [v for layer in _fixed_network(net, s, xs, solver, "p")[:-1] for v in layer]
    # gradient of every neuron along each free coordinate (constants z3 propagates)
    grads = []
    for j in free:
        e = [1 if i == j else 0 for i in range(domain.dim)]
        grads.append([v for layer in _fixed_network(net, s, e, solver, f"g{j}", bias=False)[:-1]
                      for v in layer])
    for i, zi in enumerate(z):
        if s[i]:
            solver.add(zi > 0)
        else:
            solver.add(z3.Or(zi < 0, z3.And([zi == 0] + [g[i] == 0 for g in grads])))
    return solver, xs


def region_nonempty(net: ReLUNetwork, domain: Domain, pattern: np.ndarray,
                    timeout: float | None = 10.0) -> str:
    """Is ``pattern`` a full-dimensional region of ``net`` on ``domain``? "yes", "no" or
    "unknown" (timeout)."""
    solver, _ = _region_solver(net, domain, pattern, timeout)
    return {"sat": "yes", "unsat": "no"}.get(_answer(solver.check()), "unknown")


def region_empty(net: ReLUNetwork, domain: Domain, pattern: np.ndarray,
                 timeout: float | None = 10.0) -> str:
    """Has ``pattern`` no full-dimensional region? "yes", "no" or "unknown"."""
    return {"yes": "no", "no": "yes"}.get(region_nonempty(net, domain, pattern, timeout),
                                          "unknown")


def affine_equal(net: ReLUNetwork, pattern: np.ndarray, alpha: Any, beta: Any,
                 timeout: float | None = 10.0) -> bool | None:
    """Is the pattern-fixed network exactly the map ``alpha x + beta`` on all of R^d?

    Asks z3 for an ``x`` where some output differs (unsat: equal). ``alpha``/``beta`` may be
    floats, Fractions or rational strings. None on timeout.
    """
    s = np.asarray(pattern, dtype=bool)
    solver = _solver(timeout)
    xs = [z3.Real(f"x{i}") for i in range(net.input_dim)]
    outs = _fixed_network(net, s, xs, solver, "a")[-1]
    alpha = [list(r) for r in alpha]
    beta = list(beta)
    if len(alpha) != len(outs) or any(len(r) != net.input_dim for r in alpha) \
            or len(beta) != len(outs):
        return False
    diffs = []
    for o, expr in enumerate(outs):
        model = z3.Sum([_rv(c) * x for c, x in zip(alpha[o], xs, strict=True)] + [_rv(beta[o])])
        diffs.append(expr != model)
    solver.add(z3.Or(diffs))
    ans = _answer(solver.check())
    return None if ans == "unknown" else ans == "unsat"


@dataclass
class CoverageProof:
    """Answer of :func:`prove_coverage`; ``witness``/``pattern`` describe an uncovered point."""

    status: str  # "covered" | "uncovered" | "unknown"
    seconds: float
    witness: list[Fraction] | None = None
    pattern: np.ndarray | None = None
    question: str = field(default="", repr=False)


COVERAGE_QUESTION = (
    "Is there x in the relative interior of the domain at which every pre-activation is either "
    "non-zero or identically zero near x (zero value and zero gradient under x's own pattern), "
    "and whose activation pattern (z > 0 active) is none of the listed ones? Such x are exactly "
    "the interior points of full-dimensional activation regions, so 'no' (unsat) means every "
    "full-dimensional region is listed and the listed regions' closures cover the domain."
)


def prove_coverage(net: ReLUNetwork, domain: Domain, patterns: Sequence[np.ndarray],
                   timeout: float | None = 60.0) -> CoverageProof:
    """Do the given patterns' regions cover the domain? Asks :data:`COVERAGE_QUESTION`.

    The network is encoded with if-then-else ReLUs; no pre-activation bounds are used, so
    nothing computed by the LP/MILP engines is trusted.
    """
    t0 = time.perf_counter()
    solver = _solver(timeout)
    xs, free = _domain_vars(domain, solver)
    layers = exact_layers(net)
    a: list[Any] = list(xs)
    grads: list[list[Any]] = [[1 if i == j else 0 for i in range(domain.dim)] for j in free]
    P: list[z3.BoolRef] = []
    for k, (W, b) in enumerate(layers[:-1]):
        new_a, new_g = [], [[] for _ in free]
        for i, (row, bi) in enumerate(zip(W, b, strict=True)):
            z = z3.Real(f"z{k}_{i}")
            solver.add(z == z3.Sum([_rv(w) * ai for w, ai in zip(row, a, strict=True)
                                    if w != 0] + [_rv(bi)]))
            p = z3.Bool(f"p{k}_{i}")
            solver.add(p == (z > 0))
            P.append(p)
            gs = []
            for t, g in enumerate(grads):
                gv = z3.Real(f"g{t}_{k}_{i}")
                solver.add(gv == z3.Sum([_rv(w) * gi for w, gi in zip(row, g, strict=True)
                                         if w != 0] or [_rv(0)]))
                gs.append(gv)
                new_g[t].append(z3.If(p, gv, _rv(0)))
            solver.add(z3.Or(z != 0, z3.And([gv == 0 for gv in gs])))
            new_a.append(z3.If(p, z, _rv(0)))
        a, grads = new_a, new_g
    for s in patterns:
        s = np.asarray(s, dtype=bool)
        solver.add(z3.Or([z3.Not(p) if bit else p for p, bit in zip(P, s, strict=True)]))
    ans = _answer(solver.check())
    if ans == "unsat":
        return CoverageProof("covered", time.perf_counter() - t0, question=COVERAGE_QUESTION)
    if ans == "sat":
        m = solver.model()
        w = [_model_value(m, x) for x in xs]
        pat = np.array([z3.is_true(m.eval(p, model_completion=True)) for p in P], dtype=bool)
        return CoverageProof("uncovered", time.perf_counter() - t0, w, pat, COVERAGE_QUESTION)
    return CoverageProof("unknown", time.perf_counter() - t0, question=COVERAGE_QUESTION)


def _model_value(m: z3.ModelRef, x: z3.ArithRef) -> Fraction:
    v = m.eval(x, model_completion=True)
    if z3.is_rational_value(v):
        return Fraction(v.numerator_as_long(), v.denominator_as_long())
    return Fraction(v.approx(30).as_fraction())  # algebraic: never for linear problems


# ----- the double-check report -----------------------------------------------------------
def double_check(partition: Any, z3_timeout: float = 10.0,
                 models: Sequence[tuple[Any, Any]] | None = None,
                 witnesses: Sequence[Sequence[Any]] | None = None,
                 coverage_timeout: float = 60.0,
                 coverage_max_unstable: int = COVERAGE_MAX_UNSTABLE) -> dict:
    """Re-decide a partition's facts exactly; a JSON-ready report.

    * each region's witness (``witnesses[id]``, exact, e.g. a certificate's rational strings;
      else the region's float centre) is checked exactly (z3 decides non-emptiness when it is
      not one);
    * each region's affine model -- ``models`` (exact, e.g. a certificate's rational strings)
      or else :func:`exact_model` -- is compared with the network by z3 (the engine's float
      ``alpha``/``beta`` are rounded, so they are not compared exactly; their largest deviation
      from the exact model is reported as ``affine.max_float_error``);
    * every pattern the LP engine rejected near its tolerance (``partition.stats["rejected"]``)
      is re-decided by z3; a non-empty one is a missed region;
    * coverage is proved by z3 when the network has at most ``coverage_max_unstable`` unstable
      neurons; otherwise, or on timeout, the SCIP coverage result stands alone.
    """
    t0 = time.perf_counter()
    net, dom = partition.net, partition.domain
    per_region = []
    wit = {"exact": 0, "z3": 0, "failed": [], "unknown": []}
    aff: dict[str, Any] = {"equal": 0, "unequal": [], "unknown": [], "max_float_error": 0.0}
    for r in partition.regions:
        t = time.perf_counter()
        point = witnesses[r.id] if witnesses is not None else r.center
        if check_witness(net, r.pattern, point, dom):
            w_status = "exact"
        else:
            w_status = {"yes": "z3", "no": "failed", "unknown": "unknown"}[
                region_nonempty(net, dom, r.pattern, z3_timeout)]
        if w_status in ("exact", "z3"):
            wit[w_status] += 1
        else:
            wit[w_status].append(r.id)
        if models is not None:
            alpha, beta = models[r.id]
        else:
            alpha, beta = exact_model(net, r.pattern)
            err = max(float(np.max(np.abs(np.asarray(r.alpha, dtype=float)
                                          - np.array(alpha, dtype=float)), initial=0.0)),
                      float(np.max(np.abs(np.asarray(r.beta, dtype=float)
                                          - np.array(beta, dtype=float)), initial=0.0)))
            aff["max_float_error"] = max(aff["max_float_error"], err)
        eq = affine_equal(net, r.pattern, alpha, beta, z3_timeout)
        a_status = {True: "equal", False: "unequal", None: "unknown"}[eq]
        if eq:
            aff["equal"] += 1
        else:
            aff[a_status].append(r.id)
        per_region.append({"nonempty": w_status, "affine": a_status,
                           "seconds": round(time.perf_counter() - t, 6)})
    rejected = partition.stats.get("rejected")
    rej: dict[str, Any] = {"recorded": rejected is not None}
    missed: list[str] = []
    if rejected is not None:
        known = partition.patterns()
        counts = {"yes": 0, "no": 0, "unknown": 0}
        seen: set[bytes] = set()
        for pat, _radius in rejected:
            pat = np.asarray(pat, dtype=bool)
            key = pattern_key(pat)
            if key in known or key in seen:
                continue
            seen.add(key)
            ans = region_empty(net, dom, pat, z3_timeout)
            counts[ans] += 1
            if ans == "no":
                missed.append("".join("1" if b else "0" for b in pat))
        rej.update({"checked": sum(counts.values()), "empty": counts["yes"],
                    "nonempty": counts["no"], "unknown": counts["unknown"]})
    unstable = partition.unstable_neurons
    scip = partition.stats.get("coverage")
    scip_status = scip.get("status") if isinstance(scip, dict) else None
    if unstable <= coverage_max_unstable:
        cov = prove_coverage(net, dom, [r.pattern for r in partition.regions], coverage_timeout)
        coverage: dict[str, Any] = {"status": cov.status, "seconds": cov.seconds,
                                    "question": cov.question}
        if cov.status == "uncovered":
            coverage["witness"] = [str(v) for v in cov.witness]
            found = "".join("1" if b else "0" for b in cov.pattern)
            if found not in missed:
                missed.append(found)
    else:
        coverage = {"status": "skipped", "seconds": 0.0,
                    "reason": f"{unstable} unstable neurons > {coverage_max_unstable}"}
    if coverage["status"] != "covered":
        coverage["note"] = (f"z3 did not decide coverage; the SCIP coverage result "
                            f"({scip_status or 'not run'}) stands alone")
    return {
        "timeout": z3_timeout,
        "witnesses": wit,
        "affine": aff,
        "rejected": rej,
        "coverage": coverage,
        "missed_regions": missed,
        "seconds": time.perf_counter() - t0,
        "per_region": per_region,
    }
