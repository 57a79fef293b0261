"""Decide a VNN-LIB property on a ReLU network from its activation regions.

A VNN-LIB file describes an *unsafe set* (see :mod:`verishallow.vnnlib`): the property is
violated ("sat") iff some input ``x`` of an input case ``R_k`` gives an output ``y = f(x)`` with
``C y <= d`` for one of that case's output disjuncts. On an activation region the network is one
affine map ``y = alpha x + beta``, so "this region meets the unsafe set" is one LP per disjunct:

    minimise t  s.t.  H x <= c (region),  x in R_k (input case),  C (alpha x + beta) - d <= t 1

with ``t >= -MARGIN_CAP``. The optimum ``t*`` is the smallest worst-row *margin* of the
disjunct over the region's closure (``f`` is continuous, so the closure carries the same affine
model). ``t* <= 0`` means the region holds a counterexample; ``t* > 0`` means it does not.

Method, cheapest first:

1. **Sampling** (`SAMPLES` random points, the box corners when there are at most
   `MAX_CORNER_DIM` free inputs, and the input case's Chebyshev centre). The samples with the
   smallest margin seed a short *region walk*: the LP above over the sample's own activation
   pattern (all ``N`` closed pattern inequalities), then over the pattern just beyond the LP
   optimum, for at most `WALK_STEPS` steps while the margin drops. A replayed counterexample
   ends the run with ``sat``.
2. **Proof search** (``method`` ``"auto"`` or ``"search"``, bounded input boxes): branch and
   bound over the input box (:mod:`verishallow.proofsearch`), which ends with a replayed
   counterexample (``sat``), a proof tree whose every leaf an exact bound refutes (``unsat``;
   ``certificate=True`` keeps it as the certificate of ``docs/proof-search.md``), or
   ``unknown`` (time limit). With ``"auto"`` an undecided search that left time falls through
   to the stages below.
3. **Bounds**: each disjunct's rows are folded into the last layer (``C W``, ``C b - d``) and
   CROWN-style symbolic bounds (:func:`verishallow.bounds.symbolic_bounds`) bound ``C y - d``
   from below over the input case; a row whose lower bound exceeds its rounding margin makes
   the disjunct impossible. All disjuncts of all cases impossible: ``unsat``.
4. **Regions**: :func:`verishallow.regions.enumerate_regions` per input case; each region is
   checked as soon as it is found (``on_region``) and the search stops at the first replayed
   counterexample. ``unsat`` needs every case's partition to be proved complete by the one
   coverage proof (:func:`verishallow.proofs.coverage.prove_coverage`: the exact certificate
   of the partition, adjacency closure with complete facet lists re-checked in rational
   arithmetic by the independent checker, then SCIP's query if that fails), within what is
   left of ``time_limit`` (else its budget rule); otherwise the answer is ``unknown`` with the
   reason.

**Exactness.** A counterexample is reported only after *replay*: the float64 forward pass and
the exact rational forward pass (:meth:`ReLUNetwork.exact_forward`) must both satisfy the
property (:meth:`VnnlibProperty.is_counterexample` with no tolerance), and the exact output
must satisfy the exact rational constraints of the file (input bounds and rows too, with the
point read as the rational its double denotes). An LP point that fails replay (typically an
optimum on the boundary of the unsafe set, or a coordinate one ulp outside a decimal bound) is
snapped into the exact input box and nudged towards the region's Chebyshev centre
(`NUDGES`); if nothing replays, the region is recorded as *touching* and the final answer can
be at best ``unknown``, never an un-replayable ``sat``.

**Tolerances.** `TOUCH_TOL` (relative to the output scale): an LP margin ``t*`` in
``(0, TOUCH_TOL * scale]`` is too close to call in floating point, so such a region makes a
would-be ``unsat`` ``unknown`` (``scale = 1 + max|C| |y| + max|d|`` at the LP point); so does
an LP that fails (it is feasible by construction). A ``sat`` answer is exact (replayed); an
``unsat`` from the region stage is exact up to these float LP margins and the region engine's
tolerances; an ``unsat`` from bounds is sound by construction of the bounds.
`BOUND_MARGIN_ULPS` sizes the extra rounding margin of the bound shortcut. Coverage inherits
the region engine's tolerances (``REGION_RADIUS_TOL``, the SCIP coverage margin
``MILP_MARGIN``): regions thinner than those are treated as absent, which the closure of their
neighbours covers because ``f`` is continuous.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .domain import Domain
from .errors import InputError
from .network import ReLUNetwork
from .solvers import lp
from .vnnlib import InputRegion, LinearConstraints, VnnlibProperty

#: Random points sampled per input case before anything else.
SAMPLES = 2000
#: Box corners are sampled too when there are at most this many free inputs (2^d corners).
MAX_CORNER_DIM = 10
#: Samples (smallest margin first) that seed a region walk.
WALK_SEEDS = 8
#: Longest region walk (LPs) from one seed.
WALK_STEPS = 12
#: Step beyond an LP optimum, relative to the input case's size, to read the next pattern.
WALK_STEP = 1e-6
#: Lower bound on the LP variable ``t``: a counterexample deeper than this is deep enough.
MARGIN_CAP = 1.0
#: Relative margin below which an LP optimum is too close to the unsafe set to call.
TOUCH_TOL = 1e-9
#: Fractions of the way towards the region's Chebyshev centre tried when replay fails.
NUDGES = (1e-12, 1e-9, 1e-6, 1e-3)
#: Extra rounding margin of the bound shortcut, in ulps of the magnitudes involved per term.
BOUND_MARGIN_ULPS = 8.0
#: Seed of the sampling stage (results are reproducible).
SEED = 0

_EPS = float(np.finfo(np.float64).eps)
STATUSES = ("unsat", "sat", "unknown")

Progress = Callable[[int, int], None]


@dataclass
class VerifyResult:
    """The answer for one property: ``"unsat"`` (holds), ``"sat"`` (violated) or ``"unknown"``.

    ``counterexample`` is ``(x, y)`` (float64 input and its float64 output) for ``sat``, replayed
    in float64 and exact rational arithmetic. ``method`` says which stage decided
    (``"sampling"``, ``"bounds"``, ``"regions"``, ``"exact"`` for a single point), ``reason``
    explains an ``unknown``.
    """

    status: str
    counterexample: tuple[np.ndarray, np.ndarray] | None
    regions_checked: int
    seconds: float
    method: str = ""
    reason: str = ""
    lps: int = 0
    complete: bool = False
    stats: dict = field(default_factory=dict)
    certificate: dict | None = None

    @property
    def holds(self) -> bool | None:
        """True if the property holds (unsat), False if violated (sat), None if unknown."""
        return {"unsat": True, "sat": False}.get(self.status)

    def to_dict(self) -> dict:
        """The ``verify --json`` report."""
        cex = None
        if self.counterexample is not None:
            x, y = self.counterexample
            cex = {"x": [float(v) for v in x], "y": [float(v) for v in y]}
        return {"status": self.status, "counterexample": cex,
                "regions_checked": self.regions_checked, "seconds": self.seconds,
                "method": self.method, "reason": self.reason, "lps": self.lps,
                "search": self.stats}


def format_counterexample(x: np.ndarray, y: np.ndarray) -> str:
    """VNN-COMP's counterexample form ``((X_0 v)\\n (X_1 v)\\n ... (Y_0 v))``.

    Values are printed with ``repr`` (shortest string that reads back as the same double), so
    the printed point replays exactly.
    """
    items = [f"(X_{i} {float(v)!r})" for i, v in enumerate(x)]
    items += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(y)]
    return "(" + "\n ".join(items) + ")"


# ----- internal signals ------------------------------------------------------------------

class _Found(Exception):  # noqa: N818 - a signal, not an error
    """Raised from the region callback to stop enumeration at a replayed counterexample."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        super().__init__("counterexample")
        self.x, self.y = x, y


class _OutOfTime(Exception):  # noqa: N818 - a signal, not an error
    pass


# ----- exact replay ----------------------------------------------------------------------

def _in_region_exact(region: InputRegion, xq: list[Fraction]) -> bool:
    for v, lo, hi in zip(xq, region.lower_exact, region.upper_exact, strict=True):
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    for row, b in zip(region.A_exact, region.b_exact, strict=True):
        if sum((a * v for a, v in zip(row, xq, strict=True)), Fraction(0)) > b:
            return False
    return True


def _holds_exact(cons: LinearConstraints, yq: list[Fraction]) -> bool:
    for row, d in zip(cons.C_exact, cons.d_exact, strict=True):
        if sum((c * v for c, v in zip(row, yq, strict=True)), Fraction(0)) > d:
            return False
    return True


def exact_counterexample(prop: VnnlibProperty, x: Iterable[float | Fraction],
                         y: Iterable[Fraction]) -> bool:
    """Is ``(x, y)`` in the unsafe set, in exact rational arithmetic (no tolerance)?"""
    xq = [Fraction(v) for v in x]
    yq = [Fraction(v) for v in y]
    return any(_in_region_exact(region, xq) and any(_holds_exact(c, yq) for c in outs)
               for region, outs in prop.cases)


def replay(net: ReLUNetwork, prop: VnnlibProperty, x: np.ndarray) -> np.ndarray | None:
    """The float64 output at ``x`` if ``x`` is a counterexample in float64 *and* exactly.

    Three checks, all without tolerance: ``is_counterexample`` on the float64 forward pass, on
    the exact forward pass rounded to float64, and the exact rational property on the exact
    forward pass.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)):
        return None
    y = net.forward(x)
    if not prop.is_counterexample(x, y):
        return None
    yq = net.exact_forward(x)
    if not prop.is_counterexample(x, np.array([float(v) for v in yq])):
        return None
    if not exact_counterexample(prop, x, yq):
        return None
    return y


def _snap(x: np.ndarray, region: InputRegion) -> np.ndarray:
    """Move coordinates that lie outside the exact decimal bounds to the nearest double inside.

    ``float(Fraction("0.1"))`` may exceed 0.1, so an LP point sitting on a bound can be one ulp
    outside the exact box.
    """
    x = x.copy()
    for i, (lo, hi) in enumerate(zip(region.lower_exact, region.upper_exact, strict=True)):
        if hi is not None and Fraction(float(x[i])) > hi:
            x[i] = float(hi)
            if Fraction(x[i]) > hi:
                x[i] = np.nextafter(x[i], -np.inf)
        if lo is not None and Fraction(float(x[i])) < lo:
            x[i] = float(lo)
            if Fraction(x[i]) < lo:
                x[i] = np.nextafter(x[i], np.inf)
    return x


# ----- the per-region LP -----------------------------------------------------------------

@dataclass
class _Case:
    """One input case of the property, prepared for LPs."""

    region: InputRegion
    outs: tuple[LinearConstraints, ...]
    domain: Domain

    def __post_init__(self) -> None:
        dom = self.domain
        self.G = dom.A
        self.h = dom.b
        self.lower = dom.lower
        self.upper = dom.upper
        lo, hi = dom.bounding_box()
        self.box_lo, self.box_hi = lo, hi
        width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        self.size = float(np.max(width)) if width.size else 1.0
        self.free = dom.lower != dom.upper


@dataclass
class _Probe:
    """Outcome of one region LP for one disjunct."""

    margin: float  # t*, +inf when infeasible
    x: np.ndarray | None
    status: str


class _Checker:
    """Runs region LPs, replays their optima and keeps the counters."""

    def __init__(self, net: ReLUNetwork, prop: VnnlibProperty):
        self.net = net
        self.prop = prop
        self.lps = 0
        self.touching: list[str] = []
        self.errors = 0

    def lp(self, case: _Case, cons: LinearConstraints, H: np.ndarray, c: np.ndarray,
           alpha: np.ndarray, beta: np.ndarray) -> _Probe:
        """``min t`` over ``H x <= c``, the input case and ``C (alpha x + beta) - d <= t``."""
        d = self.net.input_dim
        k = len(cons)
        if k == 0:  # no output constraint: every point of the region is unsafe
            return _Probe(-MARGIN_CAP, None, "trivial")
        Ca = cons.C @ alpha
        rows = [np.hstack([Ca, -np.ones((k, 1))])]
        rhs = [cons.d - cons.C @ beta]
        if len(H):
            rows.append(np.hstack([H, np.zeros((len(H), 1))]))
            rhs.append(c)
        if len(case.G):
            rows.append(np.hstack([case.G, np.zeros((len(case.G), 1))]))
            rhs.append(case.h)
        A = np.vstack(rows)
        ub = np.concatenate(rhs)
        cost = np.zeros(d + 1)
        cost[-1] = 1.0
        col_lo = np.concatenate([np.where(np.isfinite(case.lower), case.lower, -lp.INF),
                                 [-MARGIN_CAP]])
        col_hi = np.concatenate([np.where(np.isfinite(case.upper), case.upper, lp.INF),
                                 [lp.INF]])
        sol = lp.solve_lp(cost, A, np.full(len(ub), -lp.INF), ub, col_lo, col_hi)
        self.lps += 1
        if sol.status == "infeasible":
            return _Probe(math.inf, None, "infeasible")
        if not sol.ok or sol.x is None:
            self.errors += 1
            return _Probe(math.nan, None, sol.status)
        x = sol.x[:d]
        # the margin of the affine model at the LP point (not the LP's t, which may sit on
        # its cap or carry solver slack)
        margin = float(np.max(Ca @ x + cons.C @ beta - cons.d))
        return _Probe(margin, x, "optimal")

    def scale(self, cons: LinearConstraints, y: np.ndarray) -> float:
        if len(cons) == 0:
            return 1.0
        return 1.0 + float(np.max(np.abs(cons.C) @ np.abs(y))) + float(np.max(np.abs(cons.d)))

    def confirm(self, case: _Case, x: np.ndarray, centre: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray] | None:
        """A replayed counterexample at or near ``x`` (snapped, then nudged), else None."""
        tries = [x, _snap(x, case.region)]
        if centre is not None:
            for lam in NUDGES:
                tries.append(_snap(x + lam * (centre - x), case.region))
        for p in tries:
            y = replay(self.net, self.prop, p)
            if y is not None:
                return p, y
        return None


def _margins(cons: LinearConstraints, Y: np.ndarray) -> np.ndarray:
    """Worst-row margin ``max_i (C_i y - d_i)`` per row of ``Y`` (<= 0 means unsafe)."""
    if len(cons) == 0:
        return np.full(Y.shape[0], -np.inf)
    return np.max(Y @ cons.C.T - cons.d, axis=1)


def _pattern_rows(net: ReLUNetwork, pattern: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Closed H-representation ``sigma (A x + d) <= 0`` of a pattern and its affine model.

    On this closed set the pattern-fixed network equals ``f`` exactly (active neurons have
    ``z >= 0``, inactive ones ``z <= 0``), whatever the set's dimension.
    """
    A, dv, alpha, beta = net.local_affine(pattern)
    sigma = 1.0 - 2.0 * np.asarray(pattern, dtype=np.float64)
    H = sigma[:, None] * A
    c = -sigma * dv
    keep = np.any(H != 0, axis=1)
    return H[keep], c[keep], alpha, beta


# ----- stage 1: sampling and region walks ------------------------------------------------

def _sample_points(case: _Case, rng: np.random.Generator) -> np.ndarray:
    dom = case.domain
    d = dom.dim
    lo, hi = case.box_lo.copy(), case.box_hi.copy()
    try:
        centre, radius = dom.chebyshev()
    except InputError:
        centre, radius = np.where(np.isfinite(lo), lo, 0.0), 0.0
    span = max(radius, 1.0)
    lo = np.where(np.isfinite(lo), lo, centre - span)
    hi = np.where(np.isfinite(hi), hi, centre + span)
    pts = [centre[None, :], lo + (hi - lo) * rng.random((SAMPLES, d))]
    if int(case.free.sum()) <= MAX_CORNER_DIM:
        free = np.flatnonzero(case.free)
        bits = (np.arange(2 ** free.size)[:, None] >> np.arange(free.size)) & 1
        corners = np.tile(lo, (bits.shape[0], 1))
        corners[:, free] = np.where(bits == 1, hi[free], lo[free])
        pts.append(corners)
    X = np.vstack(pts)
    X = np.clip(X, dom.lower, dom.upper)
    return X[dom.contains(X, tol=0.0)] if dom.A.shape[0] else X


def _walk(chk: _Checker, case: _Case, cons: LinearConstraints, x0: np.ndarray,
          deadline: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Follow LP optima from the region of ``x0`` into neighbouring regions."""
    net = chk.net
    x, prev = x0, math.inf
    seen: set[bytes] = set()
    for _ in range(WALK_STEPS):
        if time.perf_counter() > deadline:
            return None
        p = net.pattern(x)
        key = np.packbits(p).tobytes()
        if key in seen:
            return None
        seen.add(key)
        H, c, alpha, beta = _pattern_rows(net, p)
        probe = chk.lp(case, cons, H, c, alpha, beta)
        if probe.x is None:
            return None
        if probe.margin <= 0:
            found = chk.confirm(case, probe.x, x)
            if found is not None:
                return found
        if not probe.margin < prev:
            return None
        prev = probe.margin
        step = probe.x - x
        norm = float(np.linalg.norm(step))
        if norm == 0:
            return None
        x = probe.x + WALK_STEP * case.size * step / norm
        x = np.clip(x, case.lower, case.upper)
    return None


def _sampling(chk: _Checker, cases: list[_Case], deadline: float
              ) -> tuple[np.ndarray, np.ndarray] | None:
    rng = np.random.default_rng(SEED)
    for case in cases:
        X = _sample_points(case, rng)
        if len(X) == 0:
            continue
        Y = chk.net.forward(X)
        for cons in case.outs:
            m = _margins(cons, Y)
            order = np.argsort(m, kind="stable")
            for i in order[:WALK_SEEDS]:
                if m[i] <= 0:
                    y = replay(chk.net, chk.prop, X[i])
                    if y is not None:
                        return X[i], y
            for i in order[:WALK_SEEDS]:
                found = _walk(chk, case, cons, X[i], deadline)
                if found is not None:
                    return found
    return None


# ----- stage 2: bounds -------------------------------------------------------------------

def disjunct_refuted(net: ReLUNetwork, domain: Domain, cons: LinearConstraints) -> bool:
    """Do symbolic bounds prove ``C f(x) <= d`` impossible on ``domain`` (some row > d)?

    The rows are folded into the last layer and bounded as one more hidden layer; a row counts
    only if its lower bound beats a rounding margin for the fold (``C W`` and ``C b - d`` are
    computed in float64).
    """
    from .bounds import symbolic_bounds

    if len(cons) == 0:
        return False
    W, b = net.weights[-1], net.biases[-1]
    k = len(cons)
    Wc = cons.C @ W
    bc = cons.C @ b - cons.d
    aug = ReLUNetwork((*net.weights[:-1], Wc, np.eye(k)), (*net.biases[:-1], bc, np.zeros(k)))
    bnds = symbolic_bounds(aug, domain)
    low = bnds.lower[-1]
    if len(bnds.upper) > 1:
        a_max = np.maximum(bnds.upper[-2], 0.0)
    else:
        lo, hi = domain.bounding_box()
        a_max = np.maximum(np.abs(lo), np.abs(hi))
    if not np.all(np.isfinite(a_max)):
        return False  # the rounding margin cannot be sized on an unbounded range
    absC = np.abs(cons.C)
    mag = absC @ (np.abs(W) @ a_max + np.abs(b)) + np.abs(cons.d)
    margin = BOUND_MARGIN_ULPS * _EPS * (W.shape[1] + W.shape[0] + 2) * mag
    ok = np.isfinite(low) & (low > margin)
    return bool(np.any(ok))


# ----- the driver ------------------------------------------------------------------------

def _point_case(net: ReLUNetwork, prop: VnnlibProperty, region: InputRegion
                ) -> tuple[str, tuple[np.ndarray, np.ndarray] | None]:
    """A case whose inputs are all fixed: evaluate it exactly."""
    xq = list(region.lower_exact)
    if region.A_exact and not _in_region_exact(region, xq):
        return "unsat", None
    yq = net.exact_forward(xq)
    outs = dict(prop.cases)[region]
    if not any(_holds_exact(c, yq) for c in outs):
        return "unsat", None
    x = np.array([float(v) for v in xq])
    y = replay(net, prop, x)
    return ("sat", (x, y)) if y is not None else ("unknown", None)


#: ``method`` values of :func:`verify_property`: the proof search, the region engines, or
#: ``auto`` (proof search for bounded inputs, then the graph/subdivision regions if it could
#: not decide and time is left).
METHODS = ("auto", "search", "regions", "graph", "subdivision", "milp")


def verify_property(net: ReLUNetwork, prop: VnnlibProperty, time_limit: float | None = None,
                    workers: int | None = 1, progress: Progress | None = None,
                    method: str = "auto", shortcuts: bool = True, certificate: bool = False,
                    search_progress: Callable | None = None) -> VerifyResult:
    """Decide ``prop`` on ``net``: ``"sat"`` (violated, with a replayed counterexample),
    ``"unsat"`` (holds: the proof search or bounds proved it, or every region was checked and
    coverage proved) or ``"unknown"`` (time limit, unproved coverage, or an LP margin too close
    to call).

    ``method``: see :data:`METHODS` (``"regions"`` is the region engines' ``auto``).
    ``time_limit`` (seconds) bounds the whole run; ``workers`` go to the proof search and
    :func:`verishallow.regions.enumerate_regions`; ``progress(found, queued)`` reports the
    region search, ``search_progress(nodes, open, best_bound)`` the proof search.
    ``certificate=True`` (proof search only) puts the proof-tree certificate of an ``unsat``
    answer in ``result.certificate``. ``shortcuts=False`` skips sampling and bounds (tests use
    it to exercise the region stage alone).
    """
    from .regions import enumerate_regions

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if certificate and method not in ("auto", "search"):
        raise InputError("a proof certificate comes from the proof search (method 'search')")
    t0 = time.perf_counter()
    deadline = t0 + time_limit if time_limit is not None else math.inf
    if prop.n_inputs != net.input_dim:
        raise InputError(f"{prop.path}: the property has {prop.n_inputs} inputs but the model "
                         f"has {net.input_dim}")
    if prop.n_outputs != net.output_dim:
        raise InputError(f"{prop.path}: the property has {prop.n_outputs} outputs but the model "
                         f"has {net.output_dim}")
    chk = _Checker(net, prop)

    def result(status: str, cex=None, method_: str = "", reason: str = "", checked: int = 0,
               complete: bool = False) -> VerifyResult:
        return VerifyResult(status, cex, checked, time.perf_counter() - t0, method_, reason,
                            chk.lps, complete)

    cases: list[_Case] = []
    for region, outs in prop.cases:
        dom = region.domain
        if bool(np.all(dom.fixed)):
            status, cex = _point_case(net, prop, region)
            if status == "sat":
                return result("sat", cex, "exact")
            if status == "unknown":
                return result("unknown", None, "exact", "the only violating input is a fixed "
                              "point that no float64 vector represents exactly")
            continue
        cases.append(_Case(region, outs, dom))
    bounded = all(v is not None for region, _ in prop.cases
                  for v in (*region.lower_exact, *region.upper_exact))
    if not cases and not certificate:
        return result("unsat", None, "exact", complete=True)
    if not bounded and (method == "search" or certificate):
        raise InputError(f"{prop.path}: the proof search needs a finite lower and upper bound "
                         "on every input")

    # stage 1: sampling and region walks
    if shortcuts and cases:
        found = _sampling(chk, cases, deadline)
        if found is not None:
            return result("sat", found, "sampling")
        if time.perf_counter() > deadline:
            return result("unknown", None, "sampling", "time limit reached while sampling")

    # stage 2: the proof search (branch and bound with exact certificates)
    if bounded and (method == "search" or (method == "auto" and (shortcuts or certificate))):
        from .proofsearch.decide import prove_property

        left = None if deadline == math.inf else max(deadline - time.perf_counter(), 1e-3)
        dec = prove_property(net, prop, left, workers=workers or 1, certificate=certificate,
                             progress=search_progress)
        if dec.status == "holds":
            res = result("unsat", None, "proof search", complete=True)
            res.stats, res.certificate = dec.stats, dec.certificate
            return res
        if dec.status == "violated":
            res = result("sat", dec.counterexample, "proof search")
            res.stats = dec.stats
            return res
        if method == "search" or time.perf_counter() >= deadline:
            res = result("unknown", None, "proof search", dec.reason)
            res.stats = dec.stats
            return res
    region_method = "auto" if method in ("auto", "regions") else method

    # stage 3: bounds, per case and disjunct; refuted disjuncts are skipped later
    open_outs: list[tuple[LinearConstraints, ...]] = []
    for case in cases:
        if shortcuts:
            open_outs.append(tuple(c for c in case.outs
                                   if not disjunct_refuted(net, case.domain, c)))
        else:
            open_outs.append(case.outs)
    if not any(open_outs):
        return result("unsat", None, "bounds", complete=True)
    if time.perf_counter() > deadline:
        return result("unknown", None, "bounds", "time limit reached while bounding")

    # stage 4: every region of every case that the bounds left open
    checked = 0
    queued_now = 0
    incomplete: list[str] = []
    proofs: list[str] = []  # how each case's coverage was proved

    def on_progress(found: int, queued: int) -> None:
        nonlocal queued_now
        queued_now = queued
        if time.perf_counter() > deadline:
            raise _OutOfTime
        if progress is not None:
            progress(checked, queued)

    for case, outs in zip(cases, open_outs, strict=True):
        if not outs:
            continue

        def on_region(reg, case=case, outs=outs) -> None:
            nonlocal checked
            if time.perf_counter() > deadline:
                raise _OutOfTime
            checked += 1
            if progress is not None:
                progress(checked, queued_now)
            if reg.facets:
                H, c = reg.H, reg.c
            else:  # the whole input case is one region
                H, c = np.zeros((0, net.input_dim)), np.zeros(0)
            for cons in outs:
                probe = chk.lp(case, cons, H, c, reg.alpha, reg.beta)
                if probe.status == "trivial":
                    found = chk.confirm(case, reg.center, None)
                    if found is not None:
                        raise _Found(*found)
                    chk.touching.append(f"region {reg.id}: trivial disjunct not replayable")
                    continue
                if probe.x is None:
                    # the LP is feasible by construction (t is unbounded above and the region
                    # has an interior point): any other status is solver trouble
                    chk.touching.append(f"region {reg.id}: LP {probe.status}")
                    continue
                y = reg.alpha @ probe.x + reg.beta
                tol = TOUCH_TOL * chk.scale(cons, y)
                if probe.margin <= tol:
                    found = chk.confirm(case, probe.x, reg.center)
                    if found is not None:
                        raise _Found(*found)
                    chk.touching.append(f"region {reg.id}: margin {probe.margin:.3g}")

        def left() -> float | None:
            return None if deadline == math.inf else max(deadline - time.perf_counter(), 1e-3)

        # the graph and subdivision engines run without their coverage query, which runs
        # below with what is left of the time limit (the engine would start its own clock)
        own_coverage = region_method != "milp"
        try:
            part = enumerate_regions(net, case.domain, method=region_method,
                                     progress=on_progress,
                                     time_limit=left(), on_region=on_region, workers=workers,
                                     prove_coverage=not own_coverage)
        except _Found as hit:
            return result("sat", (hit.x, hit.y), "regions", checked=checked)
        except _OutOfTime:
            return result("unknown", None, "regions", f"time limit reached after {checked} "
                          "regions", checked)
        if own_coverage:
            try:
                # the exact certificate may add thin regions: the property is checked there too
                why = _prove_coverage(net, case.domain, part, left(), deadline, proofs,
                                      workers, on_region)
            except _Found as hit:
                return result("sat", (hit.x, hit.y), "regions", checked=checked)
            if why is not None:
                incomplete.append(f"coverage of {case.domain.describe()} not proved ({why})")
        elif not part.complete:
            incomplete.append(f"coverage of {case.domain.describe()} not proved (SCIP "
                              "enumeration incomplete)")
    if chk.touching:
        return result("unknown", None, "regions",
                      f"{len(chk.touching)} region(s) come within the tolerance of the unsafe set "
                      f"but gave no replayable counterexample (first: {chk.touching[0]})",
                      checked)
    if incomplete:
        return result("unknown", None, "regions", "; ".join(incomplete), checked)
    how = "coverage proved by " + ", ".join(sorted(set(proofs))) if proofs else ""
    return result("unsat", None, "regions", how, checked=checked, complete=True)


def _prove_coverage(net: ReLUNetwork, domain: Domain, part, left: float | None,
                    deadline: float, proofs: list[str], workers: int | None = 1,
                    on_thin_region: Callable | None = None) -> str | None:
    """Prove that ``part`` covers ``domain`` with the one coverage proof
    (:func:`verishallow.proofs.coverage.prove_coverage`: the exact certificate, re-checked by
    the independent checker, then SCIP if that fails) within what is left of the time limit.
    None when proved (the proof's name goes to ``proofs``), else why not."""
    from .proofs.coverage import prove_coverage

    proof = prove_coverage(part, time_limit=left, workers=workers,
                           on_thin_region=on_thin_region)
    if proof.by == "certificate":
        proofs.append("an exact certificate (adjacency closure, rational arithmetic)")
    elif proof.by == "scip":
        proofs.append("SCIP")
    return proof.reason
