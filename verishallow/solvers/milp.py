"""The network as a mixed-integer program: Pyomo model, SCIP enumeration and coverage queries.

Encoding (per hidden neuron ``k``, flat index; ``z`` pre-activation, ``a = ReLU(z)``):

* stable active (``lower_k > 0`` on the domain): ``a = z``, no binary;
* stable inactive (``upper_k <= 0``): ``a = 0``, no binary;
* unstable: binary ``s_k`` (1 = active) with big-M from the bounds ``L < 0 < U``::

      a >= 0, a >= z, a <= z - L (1 - s), a <= U s                     (a = ReLU(z))
      z >= margin s + L (1 - s),  z <= -margin (1 - s) + U s           (interior margin)

  so an active neuron has ``z >= margin`` and an inactive one ``z <= -margin``: every solution
  is a point strictly inside an activation region, at least ``margin`` (pre-activation units)
  from every unstable neuron's zero set, and its pattern can be read without ambiguity.
  Where a bound is infinite (``Whole(d)``) big-M does not exist; the SCIP path then states the
  same implications as SCIP indicator constraints (the Pyomo form refuses such domains).

* "silent" neurons: a neuron of layer >= 2 with bias exactly 0 is *identically* 0 on every
  region where all its inputs are inactive (a zero row of the H-representation, not a facet,
  read as inactive by ReLU(0) = 0). The margin ``z <= -margin`` would wrongly exclude such
  regions, so these neurons get one more binary ``q_k`` ("all my inputs are off", ``q_k <= 1 -
  s_j`` for each unstable input ``j``) that waives the margin. This matters for bias-free
  networks; with non-zero biases no ``q`` exists. (A row that is zero by exact cancellation of
  active inputs is non-generic and not handled: such a region is invisible to the MILP.)

What the margin means for the queries: a region is *visible* iff it has a point whose unstable
pre-activations all have ``|z| >= margin``. Regions thinner than that (in pre-activation
units, roughly Chebyshev radius ``< margin / ||row||``) are neither enumerated nor reported as
uncovered. ``margin=0`` removes that blind spot but then solutions may lie on boundaries and the
returned pattern can be a lower-dimensional one; callers must then verify it (Chebyshev LP).

Enumeration strategy: no-good cuts inside ONE branch-and-bound tree (see
:func:`enumerate_patterns`). A constraint handler placed after all others records every
solution's pattern and point, then rejects it by adding the pattern's no-good cut; SCIP's final
"infeasible" proves that nothing else exists. That is what SCIP's own solution counter does, but
PySCIPOpt exposes only ``count()``/``getNCountedSols()``, not the collected sparse solutions
(``SCIPgetCountedSparseSols``), so counting could say how many patterns exist but not which,
and gives no witness points. The textbook loop (solve, cut, ``freeTransform()``, resolve) is
kept as ``strategy="loop"``: same answers, 15-40x slower on the test networks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyscipopt
from pyscipopt import SCIP_PARAMEMPHASIS, SCIP_RESULT, quicksum

from ..bounds import Bounds, preactivation_bounds
from ..domain import Domain
from ..errors import InputError, VerishallowError
from ..network import ReLUNetwork, pattern_key
from .native_output import native_output_to_stderr
from .tolerances import MILP_MARGIN, SCIP_FEASTOL

if TYPE_CHECKING:
    import pyomo.environ as pyo

#: Big-M bounds are widened by this (absolute + relative) so float rounding in the bound
#: computation can never cut off a true point of the domain.
BOUND_PAD = 1e-7
#: Pattern read-out compares the binaries with the float forward pass wherever
#: ``|z| >= READ_FACTOR * margin`` (half the margin: unambiguous, yet tolerant of feastol).
READ_FACTOR = 0.5
#: ... and at least this, so ``margin=0`` does not compare pre-activations that are 0 up to noise.
READ_FLOOR = 1e-7


class MilpReadoutError(VerishallowError, RuntimeError):
    """The solver's binaries disagree with the float forward pass at its own point: a bug or
    numerical trouble (bounds not sound, or big-M so large that feastol swallows the margin)."""


def _check_dims(net: ReLUNetwork, domain: Domain) -> None:
    if domain.dim != net.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the model has "
                         f"{net.input_dim} inputs")


def _padded(lo: float, hi: float) -> tuple[float, float]:
    """Bounds widened by :data:`BOUND_PAD` (infinite stays infinite)."""
    return (lo - BOUND_PAD * (1.0 + abs(lo)) if math.isfinite(lo) else -math.inf,
            hi + BOUND_PAD * (1.0 + abs(hi)) if math.isfinite(hi) else math.inf)


def _silent_inputs(net: ReLUNetwork, bounds: Bounds) -> dict[int, list[int]]:
    """Neurons that can be identically 0 on a region: ``{k: unstable inputs of k}``.

    Layer >= 2, bias exactly 0, unstable, and no stable-active input with non-zero weight
    (those keep it alive everywhere).
    """
    offs = net.layer_offsets
    unstable, active = bounds.unstable, bounds.stable_active
    out: dict[int, list[int]] = {}
    for layer in range(1, len(net.hidden_widths)):
        W, b = net.weights[layer], net.biases[layer]
        for j in range(W.shape[0]):
            k = offs[layer] + j
            if b[j] != 0.0 or not unstable[k]:
                continue
            fed = offs[layer - 1] + np.flatnonzero(W[j] != 0.0)
            if np.any(active[fed]):
                continue
            out[k] = [int(i) for i in fed if unstable[i]]
    return out


# ----------------------------------------------------------------------------------------------
# Pyomo model
# ----------------------------------------------------------------------------------------------
def pyomo_model(net: ReLUNetwork, domain: Domain, bounds: Bounds | None = None,
                margin: float = MILP_MARGIN) -> pyo.ConcreteModel:
    """The network on ``domain`` as a solver-neutral Pyomo MILP (big-M form, zero objective).

    Components (flat hidden-neuron index ``k``, layer order as in ``net.pattern``):
    ``x[i]`` inputs (domain bounds; fixed coordinates fixed), ``domain_rows[r]`` (``A x <= b``),
    ``z[k]``/``a[k]`` pre-/post-activations, ``s[k]`` binaries for the unstable neurons
    ``U`` only, ``q[k]`` silent-neuron binaries (see module doc), ``y[o]`` outputs, and
    constraints ``preact``, ``stable_active``/``stable_inactive``, ``relu_ge_z``, ``relu_le_z``,
    ``relu_le_on``, ``margin_on``, ``margin_off``, ``silent_*``, ``output``. Raises
    :class:`InputError` when an unstable neuron has an infinite bound (big-M needs a bounded
    domain); the SCIP path (:func:`build_scip_model`) handles those with indicator constraints.
    """
    import pyomo.environ as pyo

    _check_dims(net, domain)
    bounds = preactivation_bounds(net, domain) if bounds is None else bounds
    lo_all, hi_all = bounds.flat_lower, bounds.flat_upper
    unstable = np.flatnonzero(bounds.unstable)
    if np.any(~np.isfinite(lo_all[unstable])) or np.any(~np.isfinite(hi_all[unstable])):
        raise InputError(
            f"the domain {domain.describe()} gives unbounded pre-activations: a bounded domain "
            "is needed for the Pyomo/big-M form (use the SCIP path, which uses indicator "
            "constraints, or bound the domain)"
        )
    silent = _silent_inputs(net, bounds)
    N, d = net.n_hidden, net.input_dim
    offs = net.layer_offsets

    m = pyo.ConcreteModel(name=f"verishallow {net!r}")
    m.I = pyo.RangeSet(0, d - 1)
    m.H = pyo.RangeSet(0, N - 1) if N else pyo.Set(initialize=[])
    m.U = pyo.Set(initialize=[int(k) for k in unstable], ordered=True)
    m.Q = pyo.Set(initialize=sorted(silent), ordered=True)
    m.O = pyo.RangeSet(0, net.output_dim - 1)
    m.R = pyo.RangeSet(0, domain.A.shape[0] - 1) if domain.A.shape[0] else pyo.Set(initialize=[])

    def fin(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    m.x = pyo.Var(m.I, bounds=lambda _, i: (fin(domain.lower[i]), fin(domain.upper[i])))
    for i in range(d):
        if domain.lower[i] == domain.upper[i]:
            m.x[i].fix(float(domain.lower[i]))
    pad = [_padded(float(lo), float(hi)) for lo, hi in zip(lo_all, hi_all, strict=True)]
    m.z = pyo.Var(m.H, bounds=lambda _, k: (fin(pad[k][0]), fin(pad[k][1])))
    m.a = pyo.Var(m.H, within=pyo.NonNegativeReals)
    m.s = pyo.Var(m.U, within=pyo.Binary)
    m.q = pyo.Var(m.Q, within=pyo.Binary)
    m.y = pyo.Var(m.O)
    for k in np.flatnonzero(bounds.stable_inactive):
        m.a[int(k)].fix(0.0)

    m.domain_rows = pyo.Constraint(
        m.R, rule=lambda mm, r: sum(float(domain.A[r, i]) * mm.x[i] for i in range(d)
                                    if domain.A[r, i] != 0) <= float(domain.b[r]))

    def prev(mm: Any, layer: int) -> list:
        if layer == 0:
            return [mm.x[i] for i in range(d)]
        return [mm.a[k] for k in range(offs[layer - 1], offs[layer])]

    def preact_rule(mm: Any, k: int) -> Any:
        layer = int(np.searchsorted(offs, k, side="right")) - 1
        j = k - offs[layer]
        W, b = net.weights[layer], net.biases[layer]
        inp = prev(mm, layer)
        return mm.z[k] == sum(float(W[j, i]) * inp[i] for i in range(W.shape[1])
                              if W[j, i] != 0) + float(b[j])

    m.preact = pyo.Constraint(m.H, rule=preact_rule)
    m.stable_active = pyo.Constraint(
        [int(k) for k in np.flatnonzero(bounds.stable_active)],
        rule=lambda mm, k: mm.a[k] == mm.z[k])
    L = {int(k): pad[k][0] for k in unstable}
    U = {int(k): pad[k][1] for k in unstable}
    m.relu_ge_z = pyo.Constraint(m.U, rule=lambda mm, k: mm.a[k] >= mm.z[k])
    m.relu_le_z = pyo.Constraint(m.U, rule=lambda mm, k: mm.a[k] <= mm.z[k] - L[k] * (1 - mm.s[k]))
    m.relu_le_on = pyo.Constraint(m.U, rule=lambda mm, k: mm.a[k] <= U[k] * mm.s[k])
    m.margin_on = pyo.Constraint(
        m.U, rule=lambda mm, k: mm.z[k] >= margin * mm.s[k] + L[k] * (1 - mm.s[k]))

    def margin_off_rule(mm: Any, k: int) -> Any:
        waiver = margin * mm.q[k] if k in silent else 0.0
        return mm.z[k] <= -margin * (1 - mm.s[k]) + U[k] * mm.s[k] + waiver

    m.margin_off = pyo.Constraint(m.U, rule=margin_off_rule)
    m.silent_off = pyo.Constraint(m.Q, rule=lambda mm, k: mm.q[k] + mm.s[k] <= 1)
    pairs = [(k, j) for k, js in silent.items() for j in js]
    m.silent_inputs = pyo.Constraint(pairs, rule=lambda mm, k, j: mm.q[k] + mm.s[j] <= 1)

    def output_rule(mm: Any, o: int) -> Any:
        W, b = net.weights[-1], net.biases[-1]
        inp = prev(mm, len(net.hidden_widths))
        return mm.y[o] == sum(float(W[o, i]) * inp[i] for i in range(W.shape[1])
                              if W[o, i] != 0) + float(b[o])

    m.output = pyo.Constraint(m.O, rule=output_rule)
    m.obj = pyo.Objective(expr=0.0)
    return m


# ----------------------------------------------------------------------------------------------
# Direct PySCIPOpt encoding
# ----------------------------------------------------------------------------------------------
@dataclass
class NetworkEncoding:
    """Handles of one network inside a ``pyscipopt.Model`` (see :func:`encode_network`).

    ``z``, ``a`` are lists over flat hidden neurons; ``s`` maps each unstable neuron's flat
    index to its binary; ``q`` the silent-neuron binaries; ``y`` the outputs.
    """

    net: ReLUNetwork
    bounds: Bounds
    margin: float
    prefix: str
    z: list
    a: list
    s: dict[int, Any]
    q: dict[int, Any]
    y: list
    unstable: np.ndarray = field(init=False)
    forced: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.unstable = np.array(sorted(self.s), dtype=np.int64)
        self.forced = np.asarray(self.bounds.stable_active, dtype=bool).copy()

    def pattern(self, model: pyscipopt.Model, sol: Any) -> np.ndarray:
        """Full pattern of a solution: binaries for unstable neurons, forced bits elsewhere."""
        p = self.forced.copy()
        for k, var in self.s.items():
            p[k] = model.getSolVal(sol, var) > 0.5
        return p

    def compatible(self, pattern: np.ndarray) -> bool:
        """Can ``pattern`` occur at all (stable neurons carry their forced bits)?"""
        pattern = np.asarray(pattern, dtype=bool).reshape(-1)
        if pattern.shape[0] != self.net.n_hidden:
            raise InputError(f"pattern has {pattern.shape[0]} bits, network has "
                             f"{self.net.n_hidden} neurons")
        stable = ~self.bounds.unstable
        return bool(np.all(pattern[stable] == self.forced[stable]))

    def add_no_good(self, model: pyscipopt.Model, pattern: np.ndarray, name: str = "") -> None:
        """Exclude ``pattern`` (its unstable bits): ``sum_{s=1}(1 - s) + sum_{s=0} s >= 1``."""
        lits = [(1 - var) if pattern[k] else var for k, var in self.s.items()]
        model.addCons(quicksum(lits) >= 1, name=name)


def add_input_vars(model: pyscipopt.Model, domain: Domain, prefix: str = "x") -> list:
    """Continuous inputs with the domain's bounds and rows ``A x <= b``; fixed coordinates
    (``lower == upper``) become fixed variables."""
    xs = []
    for i in range(domain.dim):
        lo, hi = float(domain.lower[i]), float(domain.upper[i])
        xs.append(model.addVar(name=f"{prefix}{i}", vtype="C",
                               lb=lo if math.isfinite(lo) else None,
                               ub=hi if math.isfinite(hi) else None))
    for r in range(domain.A.shape[0]):
        row = domain.A[r]
        nz = np.flatnonzero(row)
        model.addCons(quicksum(float(row[i]) * xs[i] for i in nz) <= float(domain.b[r]),
                      name=f"{prefix}_row{r}")
    return xs


def encode_network(model: pyscipopt.Model, net: ReLUNetwork, x_vars: Sequence, bounds: Bounds,
                   margin: float = MILP_MARGIN, prefix: str = "") -> NetworkEncoding:
    """Add one network's constraints to ``model`` over the given input variables.

    Reusable for several networks over shared inputs (equivalence checking): every name is
    prefixed with ``prefix``. ``bounds`` must be valid on the set the inputs range over. Uses
    big-M where both bounds are finite, SCIP indicator constraints otherwise. Returns the
    handles, including outputs ``y = W_last a_L + b_last``.
    """
    if len(x_vars) != net.input_dim:
        raise InputError(f"{len(x_vars)} input variables for a network with {net.input_dim} "
                         "inputs")
    lo_all, hi_all = bounds.flat_lower, bounds.flat_upper
    unstable, active = bounds.unstable, bounds.stable_active
    silent = _silent_inputs(net, bounds)
    offs = net.layer_offsets
    zs: list = []
    acts: list = []
    ss: dict[int, Any] = {}
    qs: dict[int, Any] = {}
    inp = list(x_vars)
    for layer, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1], strict=True)):
        layer_a = []
        for j in range(W.shape[0]):
            k = offs[layer] + j
            tag = f"{prefix}{net.neuron_name(k)}"
            lo, hi = _padded(float(lo_all[k]), float(hi_all[k]))
            z = model.addVar(name=f"{tag}_z", vtype="C",
                             lb=lo if math.isfinite(lo) else None,
                             ub=hi if math.isfinite(hi) else None)
            nz = np.flatnonzero(W[j])
            model.addCons(z == quicksum(float(W[j, i]) * inp[i] for i in nz) + float(b[j]),
                          name=f"{tag}_pre")
            if active[k]:
                a = model.addVar(name=f"{tag}_a", vtype="C", lb=max(lo, 0.0),
                                 ub=hi if math.isfinite(hi) else None)
                model.addCons(a == z, name=f"{tag}_on")
            elif not unstable[k]:
                a = model.addVar(name=f"{tag}_a", vtype="C", lb=0.0, ub=0.0)
            else:
                a = model.addVar(name=f"{tag}_a", vtype="C", lb=0.0,
                                 ub=hi if math.isfinite(hi) else None)
                s = model.addVar(name=f"{tag}_s", vtype="B")
                ss[k] = s
                q = None
                if k in silent:
                    q = model.addVar(name=f"{tag}_q", vtype="B")
                    qs[k] = q
                    model.addCons(q + s <= 1, name=f"{tag}_q_off")
                    for i in silent[k]:
                        model.addCons(q + ss[i] <= 1, name=f"{tag}_q_in{i}")
                waiver = margin * q if q is not None else 0.0
                model.addCons(a >= z, name=f"{tag}_a_ge_z")
                if math.isfinite(lo) and math.isfinite(hi):
                    model.addCons(a <= z - lo * (1 - s), name=f"{tag}_a_le_z")
                    model.addCons(a <= hi * s, name=f"{tag}_a_le_on")
                    model.addCons(z >= margin * s + lo * (1 - s), name=f"{tag}_margin_on")
                    model.addCons(z <= -margin * (1 - s) + hi * s + waiver,
                                  name=f"{tag}_margin_off")
                else:
                    model.addConsIndicator(a - z <= 0, s, activeone=True, name=f"{tag}_ind_a")
                    model.addConsIndicator(-z <= -margin, s, activeone=True,
                                           name=f"{tag}_ind_margin_on")
                    model.addConsIndicator(a <= 0, s, activeone=False, name=f"{tag}_ind_off")
                    model.addConsIndicator(z - waiver <= -margin, s, activeone=False,
                                           name=f"{tag}_ind_margin_off")
            zs.append(z)
            layer_a.append(a)
        acts.extend(layer_a)
        inp = layer_a
    W, b = net.weights[-1], net.biases[-1]
    ys = []
    for o in range(W.shape[0]):
        y = model.addVar(name=f"{prefix}y{o}", vtype="C", lb=None, ub=None)
        nz = np.flatnonzero(W[o])
        model.addCons(y == quicksum(float(W[o, i]) * inp[i] for i in nz) + float(b[o]),
                      name=f"{prefix}y{o}_out")
        ys.append(y)
    return NetworkEncoding(net, bounds, float(margin), prefix, zs, acts, ss, qs, ys)


def configure_scip(model: pyscipopt.Model,
                   emphasis: SCIP_PARAMEMPHASIS = SCIP_PARAMEMPHASIS.COUNTER) -> None:
    """Silent SCIP with this module's tolerances and a pure-feasibility emphasis.

    ``COUNTER`` emphasis (no primal heuristics, no cutting planes, no restarts) was the fastest
    on the test networks both for enumeration and for the coverage proof, where the answer is
    usually "infeasible" and heuristics only cost time; ``FEASIBILITY`` was 2-3x slower.
    """
    model.setEmphasis(emphasis, quiet=True)
    model.hideOutput()
    model.setParam("numerics/feastol", SCIP_FEASTOL)


def build_scip_model(net: ReLUNetwork, domain: Domain, bounds: Bounds | None = None,
                     margin: float = MILP_MARGIN
                     ) -> tuple[pyscipopt.Model, list, NetworkEncoding]:
    """A configured SCIP model of ``net`` on ``domain``: ``(model, x vars, encoding)``.

    Zero objective: every query here is a feasibility question.
    """
    _check_dims(net, domain)
    if margin < 0 or not math.isfinite(margin):
        raise InputError(f"the MILP margin must be finite and >= 0, got {margin}")
    bounds = preactivation_bounds(net, domain) if bounds is None else bounds
    model = pyscipopt.Model("verishallow")
    configure_scip(model)
    xs = add_input_vars(model, domain)
    enc = encode_network(model, net, xs, bounds, margin)
    model.setObjective(0.0)
    return model, xs, enc


def check_pattern(net: ReLUNetwork, x: np.ndarray, pattern: np.ndarray, margin: float) -> None:
    """Raise :class:`MilpReadoutError` unless ``pattern`` is ``net``'s float pattern at ``x``
    wherever the pre-activation is clearly non-zero (``|z| >= max(READ_FACTOR margin,
    READ_FLOOR)``; stable neurons included, which also catches unsound bounds)."""
    if net.n_hidden == 0:
        return
    z = np.concatenate(net.preactivations(x), axis=1)[0]
    tol = max(READ_FACTOR * margin, READ_FLOOR)
    bad = np.flatnonzero((np.abs(z) >= tol) & ((z > 0) != pattern))
    if bad.size:
        details = ", ".join(f"{net.neuron_name(int(k))}: z={z[k]:.3g} but bit {int(pattern[k])}"
                            for k in bad[:5])
        raise MilpReadoutError(
            f"SCIP's solution disagrees with the float forward pass at its own point ({details}; "
            f"margin {margin:g}, feastol {SCIP_FEASTOL:g}): the pre-activation bounds may be "
            "unsound, or so large that the tolerance swallows the margin (try a larger margin)"
        )


def read_solution(model: pyscipopt.Model, sol: Any, x_vars: Sequence, enc: NetworkEncoding,
                  domain: Domain) -> tuple[np.ndarray, np.ndarray]:
    """``(pattern, witness)`` of ``sol`` (``None``: the current LP/pseudo solution), checked
    with :func:`check_pattern`. The witness is SCIP's ``x`` clipped into the domain's box, so
    fixed coordinates are exact; polytope rows hold up to SCIP's feasibility tolerance."""
    x = np.array([model.getSolVal(sol, v) for v in x_vars], dtype=np.float64)
    x = np.clip(x, domain.lower, domain.upper)
    pattern = enc.pattern(model, sol)
    check_pattern(enc.net, x, pattern, enc.margin)
    return pattern, x


def _set_time_limit(model: pyscipopt.Model, t0: float, time_limit: float | None) -> bool:
    """Give SCIP what is left of ``time_limit``; False if nothing is left."""
    if time_limit is None:
        return True
    left = time_limit - (time.perf_counter() - t0)
    if left <= 0:
        return False
    model.setParam("limits/time", max(left, 1e-3))
    return True


# ----------------------------------------------------------------------------------------------
# Enumeration
# ----------------------------------------------------------------------------------------------
@dataclass
class MilpEnumeration:
    """Patterns SCIP found (full length, stable bits included) with one witness point each.

    ``complete`` is True iff SCIP proved that no further pattern exists; ``status`` is
    ``"complete"``, ``"time_limit"``, ``"pattern_limit"`` or ``"scip:<SCIP status>"``;
    ``solves`` counts SCIP runs (1 for the single-tree strategy).
    """

    patterns: list[np.ndarray]
    witnesses: list[np.ndarray]
    complete: bool
    status: str
    seconds: float
    solves: int


class _PatternCollector(pyscipopt.Conshdlr):
    """Constraint handler that rejects every solution, remembering its pattern and point.

    Enforcement (after every other handler, so the LP/pseudo solution is feasible and its
    binaries are integral) records the pattern and adds its no-good as a global constraint
    (``CONSADDED``). Solutions offered by heuristics reach :meth:`conscheck` last among the
    handlers too: their pattern is recorded and its no-good is added at the next enforcement.
    SCIP's final "infeasible" then proves that no unrecorded pattern exists, exactly like
    SCIP's own solution counter.
    """

    def __init__(self, enc: NetworkEncoding, x_vars: Sequence, domain: Domain,
                 limit: int | None):
        self.enc, self.x_vars, self.domain, self.limit = enc, list(x_vars), domain, limit
        self.patterns: list[np.ndarray] = []
        self.witnesses: list[np.ndarray] = []
        self.known: set[bytes] = set()
        self.cut: set[bytes] = set()
        self.pending: list[tuple[bytes, np.ndarray]] = []
        self.error: BaseException | None = None
        self.hit_limit = False

    def _record(self, sol: Any) -> tuple[bytes, np.ndarray]:
        pattern, x = read_solution(self.model, sol, self.x_vars, self.enc, self.domain)
        key = pattern_key(pattern)
        if key not in self.known:
            self.known.add(key)
            self.patterns.append(pattern)
            self.witnesses.append(x)
            if self.limit is not None and len(self.patterns) >= self.limit:
                self.hit_limit = True
                self.model.interruptSolve()
        return key, pattern

    def _add_cut(self, key: bytes, pattern: np.ndarray) -> bool:
        if key in self.cut:
            return False
        self.cut.add(key)
        self.enc.add_no_good(self.model, pattern, name=f"nogood{len(self.cut)}")
        return True

    def _enforce(self, solinfeasible: bool) -> dict:
        if solinfeasible or self.error is not None:
            # a handler with higher priority already rejected this solution (SCIP goes on
            # enforcing after an INFEASIBLE answer): it is not a point of the MILP
            return {"result": SCIP_RESULT.INFEASIBLE}
        try:
            key, pattern = self._record(None)
            added = self._add_cut(key, pattern)
            for k, p in self.pending:
                added |= self._add_cut(k, p)
            self.pending.clear()
        except BaseException as exc:  # noqa: BLE001 - re-raised after the solve
            self.error = exc
            self.model.interruptSolve()
            return {"result": SCIP_RESULT.INFEASIBLE}
        # INFEASIBLE (not CUTOFF) if the no-good already exists: SCIP then branches on, which
        # stays correct; cutting the node off could lose other patterns below it.
        return {"result": SCIP_RESULT.CONSADDED if added else SCIP_RESULT.INFEASIBLE}

    def consenfolp(self, constraints: list, nusefulconss: int, solinfeasible: bool) -> dict:
        return self._enforce(solinfeasible)

    def consenfops(self, constraints: list, nusefulconss: int, solinfeasible: bool,
                   objinfeasible: bool) -> dict:
        return self._enforce(solinfeasible)

    def conscheck(self, constraints: list, solution: Any, checkintegrality: bool,
                  checklprows: bool, printreason: bool, completely: bool) -> dict:
        # with completely=False SCIP stops at the first violated handler, and this one checks
        # last: the solution satisfies everything else. Otherwise just reject it.
        if not completely and self.error is None:
            try:
                key, pattern = self._record(solution)
                if key not in self.cut:
                    self.pending.append((key, pattern))
            except BaseException as exc:  # noqa: BLE001 - re-raised after the solve
                self.error = exc
                self.model.interruptSolve()
        return {"result": SCIP_RESULT.INFEASIBLE}

    def conslock(self, constraint: Any, locktype: Any, nlockspos: int, nlocksneg: int) -> None:
        # every binary may need to move both ways to leave a recorded pattern
        n = nlockspos + nlocksneg
        original = constraint is None or constraint.isOriginal()
        for var in self.enc.s.values():
            v = var if original else self.model.getTransformedVar(var)
            self.model.addVarLocksType(v, locktype, n, n)


def _enumerate_tree(net: ReLUNetwork, domain: Domain, margin: float, time_limit: float | None,
                    limit: int | None, bounds: Bounds | None) -> MilpEnumeration:
    t0 = time.perf_counter()
    model, xs, enc = build_scip_model(net, domain, bounds, margin)
    # no reduction may remove a feasible pattern: the rejecting handler hides all solutions
    model.setParam("misc/allowstrongdualreds", False)
    model.setParam("misc/allowweakdualreds", False)
    model.setParam("presolving/maxrestarts", 0)
    model.setParam("misc/usesymmetry", 0)
    hdlr = _PatternCollector(enc, xs, domain, limit)
    model.includeConshdlr(hdlr, "vs_patterns", "records and rejects every activation pattern",
                          enfopriority=-9_999_999, chckpriority=-9_999_999, sepafreq=-1,
                          propfreq=-1, eagerfreq=-1, maxprerounds=0, needscons=True)
    cons = model.createCons(hdlr, "vs_collect", initial=False, separate=False, enforce=True,
                            check=True, propagate=False)
    model.addPyCons(cons)
    if limit is not None and limit <= 0:
        return MilpEnumeration([], [], False, "pattern_limit", time.perf_counter() - t0, 0)
    if not _set_time_limit(model, t0, time_limit):
        return MilpEnumeration([], [], False, "time_limit", time.perf_counter() - t0, 0)
    with native_output_to_stderr():
        model.optimize()
    if hdlr.error is not None:
        raise hdlr.error
    scip_status = str(model.getStatus())
    complete = scip_status == "infeasible" and not hdlr.hit_limit
    if model.getNSols() > 0:  # a solution slipped past the handler: do not claim anything
        complete = False
    if complete:
        status = "complete"
    elif hdlr.hit_limit:
        status = "pattern_limit"
    elif scip_status == "timelimit":
        status = "time_limit"
    else:
        status = f"scip:{scip_status}"
    n = len(hdlr.patterns) if limit is None else min(limit, len(hdlr.patterns))
    return MilpEnumeration(hdlr.patterns[:n], hdlr.witnesses[:n], complete, status,
                           time.perf_counter() - t0, 1)


def _enumerate_loop(net: ReLUNetwork, domain: Domain, margin: float, time_limit: float | None,
                    limit: int | None, bounds: Bounds | None) -> MilpEnumeration:
    t0 = time.perf_counter()
    model, xs, enc = build_scip_model(net, domain, bounds, margin)
    patterns: list[np.ndarray] = []
    witnesses: list[np.ndarray] = []
    seen: set[bytes] = set()
    solves = 0
    complete = False
    status = "complete"
    while True:
        if limit is not None and len(patterns) >= limit:
            status = "pattern_limit"
            break
        if not _set_time_limit(model, t0, time_limit):
            status = "time_limit"
            break
        with native_output_to_stderr():
            model.optimize()
        solves += 1
        scip_status = str(model.getStatus())
        if scip_status == "infeasible":
            complete = True
            break
        if model.getNSols() == 0:
            status = "time_limit" if scip_status == "timelimit" else f"scip:{scip_status}"
            break
        pattern, x = read_solution(model, model.getBestSol(), xs, enc, domain)
        key = pattern_key(pattern)
        if key in seen:
            raise MilpReadoutError("SCIP returned a pattern that its own no-good cut excludes")
        seen.add(key)
        patterns.append(pattern)
        witnesses.append(x)
        model.freeTransform()
        if enc.unstable.size == 0:
            complete = True  # no binary: the one pattern there is
            break
        enc.add_no_good(model, pattern, name=f"nogood{len(patterns)}")
    return MilpEnumeration(patterns, witnesses, complete, status, time.perf_counter() - t0,
                           solves)


def enumerate_patterns(net: ReLUNetwork, domain: Domain, margin: float = MILP_MARGIN,
                       time_limit: float | None = None, limit: int | None = None,
                       bounds: Bounds | None = None, strategy: str = "tree"
                       ) -> MilpEnumeration:
    """Every activation pattern with an interior point (visible at ``margin``, module doc).

    ``strategy="tree"`` (default): one SCIP solve whose last constraint handler records each
    pattern SCIP reaches and rejects it with its no-good cut, so a single branch-and-bound tree
    enumerates everything and its final infeasibility proves completeness.
    ``strategy="loop"``: solve, read the pattern, add the no-good, ``freeTransform()``, resolve
    (the textbook loop; every pattern pays a full presolve + root LP + tree).
    Measured on random nets with the box [-1, 1]^d (symbolic bounds, 2 seeds each): 2-10-10-1
    (59-69 patterns) loop 4-8 s vs tree 0.2-0.9 s; 2-16-16-1 (157/200 patterns) loop 37-42 s
    vs tree 0.8-2.5 s; 3-8-8-8-1 (140/163) loop 25-32 s vs tree 0.5-1.4 s: the tree is 15-40x
    faster. SCIP's own counter (``count()`` with ``constraints/countsols/collect``) works the
    same way but PySCIPOpt cannot read the collected solutions back, and has no witnesses.

    ``time_limit`` (seconds) bounds the whole run, ``limit`` the number of patterns.
    """
    if strategy == "tree":
        return _enumerate_tree(net, domain, margin, time_limit, limit, bounds)
    if strategy == "loop":
        return _enumerate_loop(net, domain, margin, time_limit, limit, bounds)
    raise InputError(f"unknown enumeration strategy {strategy!r} (expected 'tree' or 'loop')")


# ----------------------------------------------------------------------------------------------
# Coverage
# ----------------------------------------------------------------------------------------------
@dataclass
class CoverageResult:
    """Answer of :func:`find_uncovered`: ``status`` is ``"covered"`` (SCIP proved that no
    pattern outside the known set has an interior point), ``"uncovered"`` (``pattern`` and
    ``witness`` show one), or ``"unknown"`` (time limit or solver trouble, see ``scip_status``).
    """

    status: str
    pattern: np.ndarray | None
    witness: np.ndarray | None
    seconds: float
    scip_status: str
    #: SCIP solves spent (several when the query was sharded by layers)
    solves: int = 1


#: Known-pattern groups larger than this are split further by the next layer's bits (see
#: :func:`find_uncovered`); smaller groups get their no-good cuts in one query.
SHARD_GROUP = 24


def _truncated(net: ReLUNetwork, bounds: Bounds, layers: int) -> tuple[ReLUNetwork, Bounds]:
    """The first ``layers`` hidden layers of ``net`` (a zero output) and their bounds."""
    W = [*net.weights[:layers], np.zeros((1, net.hidden_widths[layers - 1]))]
    b = [*net.biases[:layers], np.zeros(1)]
    return ReLUNetwork(W, b), Bounds(bounds.lower[:layers], bounds.upper[:layers], bounds.method)


def find_uncovered(net: ReLUNetwork, domain: Domain, known_patterns: Iterable[np.ndarray],
                   margin: float = MILP_MARGIN, time_limit: float | None = None,
                   bounds: Bounds | None = None, sharded: bool = True) -> CoverageResult:
    """Is there a point of ``domain`` whose pattern is not among ``known_patterns``?

    The question is one MILP with a no-good cut per known pattern (only unstable bits matter;
    patterns that contradict a stable neuron's forced bit cannot occur and are ignored).
    "covered" iff SCIP proves infeasibility: then every point whose unstable pre-activations all
    have ``|z| >= margin`` lies in a known region (``margin=0``: every point, up to SCIP's
    tolerance; an "uncovered" answer may then be a lower-dimensional pattern on a boundary).

    ``sharded=True`` (default) asks the same question layer by layer, because one MILP with
    thousands of no-good cuts does not scale (ACAS Xu, 1,248 regions: no answer within 600 s).
    The known patterns are grouped by their bits in layer 1, and one query over the first
    layer alone (no-good cuts on the layer-1 bits of each group) proves that no other layer-1
    prefix occurs; then, per group, the layer-1 binaries are fixed to its prefix and the group
    is split again by layer 2 (a query over layers 1-2), and so on, until a group has at most
    ``SHARD_GROUP`` patterns or reaches the last layer, which gets the full network and the
    group's own no-good cuts. Why this is the same proof: every visible point has some layer-1
    prefix; a prefix query drops the later layers' constraints, so it only admits more points,
    and its infeasibility implies the full model's; a point with a known prefix is caught by
    its group's query. One SCIP model per depth is built and reused (cuts deleted, binaries
    unfixed between solves).
    """
    t0 = time.perf_counter()
    bounds = preactivation_bounds(net, domain) if bounds is None else bounds
    model, xs, enc = build_scip_model(net, domain, bounds, margin)
    excluded: dict[bytes, np.ndarray] = {}
    for p in known_patterns:
        p = np.asarray(p, dtype=bool).reshape(-1)
        if enc.compatible(p):
            excluded.setdefault(pattern_key(p), p)
    known = list(excluded.values())
    if enc.unstable.size == 0 and known:
        return CoverageResult("covered", None, None, time.perf_counter() - t0,
                              "trivial: no unstable neuron, and the one pattern is known")
    offs = net.layer_offsets
    layers = [(j, u) for j, u in (
        (j, enc.unstable[(enc.unstable >= offs[j]) & (enc.unstable < offs[j + 1])])
        for j in range(len(offs) - 1)) if u.size]
    if not sharded or len(layers) < 2:
        layers = [(len(offs) - 2, enc.unstable)]
    models: dict[int, tuple[pyscipopt.Model, list, NetworkEncoding]] = {len(offs) - 2:
                                                                          (model, xs, enc)}

    def model_for(depth: int) -> tuple[pyscipopt.Model, list, NetworkEncoding]:
        """SCIP model of the first ``depth + 1`` hidden layers (the full one for the last)."""
        if depth not in models:
            tnet, tb = _truncated(net, bounds, depth + 1)
            models[depth] = build_scip_model(tnet, domain, tb, margin)
        return models[depth]

    solves = [0]

    def query(depth: int, bits: np.ndarray, group: list[np.ndarray], fixed: dict[int, bool]
              ) -> CoverageResult | None:
        """Over the first ``depth + 1`` layers: no point with the ``fixed`` bits has ``bits``
        outside the group's. None if SCIP proves it, else the answer to return."""
        m, mx, me = model_for(depth)
        if not _set_time_limit(m, t0, time_limit):
            return CoverageResult("unknown", None, None, time.perf_counter() - t0, "timelimit",
                                  solves[0])
        conss = []
        for i, p in enumerate({pattern_key(p[bits]): p for p in group}.values()):
            lits = [(1 - me.s[int(k)]) if p[k] else me.s[int(k)] for k in bits]
            conss.append(m.addCons(quicksum(lits) >= 1, name=f"known{i}"))
        for k, v in fixed.items():
            m.chgVarLb(me.s[k], 1.0 if v else 0.0)
            m.chgVarUb(me.s[k], 1.0 if v else 0.0)
        solves[0] += 1
        with native_output_to_stderr():
            m.optimize()
        status = str(m.getStatus())
        answer = None
        if status != "infeasible":
            if m.getNSols() > 0:
                x = np.array([m.getSolVal(m.getBestSol(), v) for v in mx], dtype=np.float64)
                x = np.clip(x, domain.lower, domain.upper)
                # a point whose first depth+1 layers have a pattern no known region has: the
                # full pattern is then unknown too (checked against the float forward pass)
                pattern = net.pattern(x)
                check_pattern(me.net, x, me.pattern(m, m.getBestSol()), margin)
                answer = CoverageResult("uncovered", pattern, x, time.perf_counter() - t0,
                                        status, solves[0])
            else:
                answer = CoverageResult("unknown", None, None, time.perf_counter() - t0, status,
                                        solves[0])
        m.freeTransform()
        for c in conss:
            m.delCons(c)
        for k in fixed:
            m.chgVarLb(me.s[k], 0.0)
            m.chgVarUb(me.s[k], 1.0)
        return answer

    def shard(level: int, group: list[np.ndarray], fixed: dict[int, bool]
              ) -> CoverageResult | None:
        if level == len(layers) - 1 or len(group) <= SHARD_GROUP:
            rest = np.concatenate([u for _, u in layers[level:]])
            return query(len(offs) - 2, rest, group, fixed)
        depth, bits = layers[level]
        answer = query(depth, bits, group, fixed)
        if answer is not None:
            return answer
        groups: dict[bytes, list[np.ndarray]] = {}
        for p in group:
            groups.setdefault(pattern_key(p[bits]), []).append(p)
        for members in groups.values():
            sub = dict(fixed)
            sub.update({int(k): bool(members[0][k]) for k in bits})
            answer = shard(level + 1, members, sub)
            if answer is not None:
                return answer
        return None

    answer = shard(0, known, {})
    if answer is not None:
        return answer
    return CoverageResult("covered", None, None, time.perf_counter() - t0, "infeasible",
                          solves[0])
