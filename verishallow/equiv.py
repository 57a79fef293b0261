"""Equivalence of two deployed ReLU networks on a domain.

Question (default mode): is ``M = max_{x in domain} |f_A(x) - f_B(x)|_inf <= epsilon``?
(``epsilon = 0``: are they the same function on the domain?) With ``top1=True``: do both
networks always rank the same output first?

Method
------
1. *Same fingerprint* (identical float64 weights, whatever file format they came from): the
   networks are the same function; answer at once, ``M = 0`` exactly.
2. *One SCIP MILP over both networks.* Both networks are encoded over one shared input vector
   (:func:`verishallow.solvers.milp.encode_network` with prefixes ``A_``/``B_``, big-M from
   :func:`~verishallow.bounds.preactivation_bounds`, indicator constraints where a bound is
   infinite) with interior margin **0**: that is the exact MILP model of ``ReLU`` (a neuron with
   ``z = 0`` may take either binary, both give the same value), so no thin region is invisible.
   Then, for every *direction* -- ``(f_A - f_B)_j`` and ``(f_B - f_A)_j`` for each output ``j``
   -- SCIP maximises the direction's value (a fresh model per direction, DEFAULT emphasis).
   Directions are solved in order of their largest value on :data:`N_SAMPLES` random domain
   points; from the second direction on, SCIP's objective limit is the best exact value found
   so far, so a direction that cannot beat it ends as "infeasible" quickly.
3. *Exact re-optimisation.* At SCIP's optimum the binaries give both activation patterns. On
   the closed polyhedron ``P`` where both patterns hold (``z >= 0`` for active, ``z <= 0`` for
   inactive neurons, plus the domain) both networks *are* their pattern-fixed affine maps
   (ReLU is continuous), so the direction's value is one affine function there. Its maximum
   over ``P`` is computed exactly: the pattern-fixed maps are built in exact rational
   (dyadic integer) arithmetic from the float64 weights; a float LP (HiGHS) proposes an optimal
   vertex, the vertex is recomputed exactly from ``n`` linearly independent tight rows and
   verified in rationals -- primal feasibility against every row and non-negative dual
   multipliers (LP duality), which proves optimality over ``P``. If that verification fails
   (degenerate vertex), z3's ``Optimize`` over the reals decides the LP. If SCIP's binaries give
   an (exactly) empty ``P`` -- its tolerance admitted a point a hair outside -- the patterns
   are re-read exactly at SCIP's point instead. The value obtained is attained at an exact
   point of the domain, so it is a *rigorous lower bound* on ``M``.
4. *Upper bound.* SCIP's dual bound per direction (or the objective limit when SCIP proved that
   nothing beats it). SCIP works in floating point with ``numerics/feastol =``
   :data:`~verishallow.solvers.milp.SCIP_FEASTOL`; its bounds are trusted up to
   :data:`UPPER_TOL` (absolute, scaled by ``1 + |value|``). This, and the float cell maxima
   of the overlay method below, are the only non-exact links. A direction SCIP did not finish
   gets ``min(dual bound, interval bound)`` (interval arithmetic on the output layer).

   *Overlay method* (``method="regions"``; ``"auto"`` picks it for at most
   :data:`OVERLAY_MAX_FREE` free inputs and equal depths). The MILP is slow when the two
   networks are nearly identical (a quantised copy): the LP relaxation of ``f_A - f_B`` is
   loose compared with the tiny true difference, and SCIP ends up enumerating (moons vs its
   float16 copy: > 50 s per direction, against 3 s here). Instead, the activation regions of
   :func:`joint_network` (both networks side by side on one input) are enumerated: they are
   the cells of the overlay of both partitions, and on each cell both networks are affine.
   Every direction's float maximum on every cell is read off the cell's vertices (intersections
   of facet pairs; a float LP for top-1 cells or when no vertex is found), and the cells within
   :data:`SCREEN_TOL` of the best get the exact LP of step 3. The upper bound is the largest
   float cell maximum, trusted up to :data:`UPPER_TOL` like SCIP's; the subdivision engine
   covers the domain by construction (its SCIP coverage query is skipped: it is the slow part
   for near-identical networks).
5. *Decision.* If the exact maximum exceeds ``epsilon``: the maximising vertex, rounded to
   float64 (and nudged into the domain when rounding left it), is the counterexample. It is
   replayed on both networks in float64 (``forward``) and in exact arithmetic
   (``exact_forward``); both replays must exceed ``epsilon``, otherwise the answer is
   *unknown* (``equivalent=None``), never a counterexample that does not replay. If every
   direction was solved and every upper bound is ``<= max(lower, epsilon) + tol``, the networks
   are equivalent and ``max_difference`` is the exact maximum (a rational, reported as a string
   and a float). A time limit leaves ``equivalent=None`` with the best ``(lower, upper)``
   bounds, unless a replayed counterexample was already found (then ``False``).

Exactness claims: every reported ``max_difference`` value and every lower bound is an exact
rational that ``|f_A - f_B|_inf`` attains at an exact point of the domain (the optimal vertex);
"proved maximal" means additionally that every direction's upper bound (SCIP's dual bound,
or the float cell maxima of the overlay) is within :data:`PROVED_GAP_TOL` of it (relative to
``1 + |value|``); "equivalent" needs every upper bound within :data:`UPPER_TOL` of
``max(lower, epsilon)``. Domains must be
bounded (an unbounded difference has no maximum).

Top-1 mode (``top1=True``). Tie rule: a network whose largest output is shared by several
outputs accepts any of them, so tie points (a measure-zero set) are never counterexamples by
themselves. The *disagreement* at ``x`` is ``max`` over the two roles ``(P, Q) in {(A, B),
(B, A)}`` of ``min(P_i - max_{j != i} P_j, max_{k != i} Q_k - Q_i)`` with ``i = argmax P``: it is
positive iff ``P``'s top output is unique and ``Q`` ranks another output strictly above it.
The networks are top-1 equivalent iff the maximal disagreement is ``<= epsilon`` (``epsilon``
acts as a required margin; 0 by default). One MILP per ``(P, i)`` maximises it (indicator
constraints choose ``k``), then the same exact LP and replay steps follow. A reported
counterexample therefore has, in float64 and in exact arithmetic, a unique top output of one
network that the other network ranks below another output, both by more than ``epsilon``.

Deep versus shallow (:func:`check_shallow_equivalence`): see its docstring; there the answer
rests on a per-region exact comparison of affine pieces (an exact rounding bound) plus an
evaluation check, not on SCIP.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pyscipopt
from pyscipopt import SCIP_PARAMEMPHASIS, quicksum

from .bounds import Bounds, preactivation_bounds
from .domain import Domain
from .errors import InputError
from .exact.linalg import ExactLP
from .exact.maps import ExactPiece, exact_pattern, exact_piece
from .network import ReLUNetwork
from .product import check_pair, product_network
from .solvers import lp
from .solvers.exact_lp import exact_lp_max
from .solvers.milp import add_input_vars, configure_scip, encode_network

#: Upper bounds (SCIP's dual bounds, float cell maxima) are trusted up to
#: ``UPPER_TOL * (1 + |value|)``: "equivalent" needs
#: every direction's bound ``<= max(exact lower bound, epsilon) + that``.
UPPER_TOL = 1e-9
#: ``max_difference`` is reported as the exact maximum ("proved maximal") when every upper
#: bound is within ``PROVED_GAP_TOL * (1 + |value|)`` of the exact lower bound; SCIP closes its
#: gap only to about 1e-9 (its ``numerics/epsilon``), so this is a little looser than that.
PROVED_GAP_TOL = 1e-8
#: Random domain points used to order the directions (largest sampled value first).
N_SAMPLES = 256
#: onnxruntime replay: its outputs must match the float64 forward pass at the same point within
#: ``ORT_REL_TOL * (1 + max|y|)`` (float32 models compute in float32).
ORT_REL_TOL = 1e-4
#: Random points on which a shallow network is compared with its deep network.
SHALLOW_SAMPLES = 4096


@dataclass
class EquivalenceResult:
    """Answer of :func:`check_equivalence`.

    ``equivalent``: True / False / None (unknown). ``max_difference``: the exact maximum as a
    float when proved (``exact`` holds it as a rational string), else ``(lower, upper)``
    bounds (``lower`` is always attained, ``upper`` may be ``inf``). ``counterexample``: an
    input vector (float64) that replays, when ``equivalent`` is False. ``details``: method,
    per-direction solver log, replays, timings.
    """

    equivalent: bool | None
    max_difference: float | tuple[float, float]
    counterexample: np.ndarray | None
    seconds: float
    details: dict = field(default_factory=dict)
    exact: str | None = None
    lower: float = -math.inf
    upper: float = math.inf

    def to_dict(self) -> dict:
        """JSON-ready summary (the CLI's ``--json`` document)."""
        md: Any = self.max_difference
        if isinstance(md, tuple):
            md = list(md)
        return {
            "equivalent": self.equivalent,
            "max_difference": md,
            "max_difference_exact": self.exact,
            "bounds": [self.lower, self.upper],
            "counterexample": None if self.counterexample is None
            else [float(v) for v in self.counterexample],
            "seconds": self.seconds,
            **self.details,
        }


def _domain_rows(lp_: ExactLP, domain: Domain) -> None:
    d = domain.dim
    for i in range(d):
        lo, hi = float(domain.lower[i]), float(domain.upper[i])
        if lo == hi:
            lp_.fixed[i] = Fraction(lo)
            continue
        e = [0] * lp_.n
        e[i] = 1
        lp_.add(e, Fraction(hi))
        e = [0] * lp_.n
        e[i] = -1
        lp_.add(e, -Fraction(lo))
    for r in range(domain.A.shape[0]):
        row = [Fraction(float(v)) for v in domain.A[r]] + [0] * (lp_.n - d)
        lp_.add(row, Fraction(float(domain.b[r])))
    lp_.col_lower = np.concatenate([domain.lower, np.full(lp_.n - d, -np.inf)])
    lp_.col_upper = np.concatenate([domain.upper, np.full(lp_.n - d, np.inf)])


def _pattern_rows(lp_: ExactLP, piece: ExactPiece, pattern: np.ndarray) -> None:
    """``z_k >= 0`` for active, ``z_k <= 0`` for inactive neurons (closed polyhedron)."""
    pad = [0] * (lp_.n - piece.A.shape[1])
    for k in range(piece.A.shape[0]):
        row = [int(v) for v in piece.A[k]]
        if pattern[k]:
            lp_.add([-v for v in row] + pad, int(piece.d[k]))
        else:
            lp_.add(row + pad, -int(piece.d[k]))


# ----------------------------------------------------------------------------------------------
# Directions: what one MILP maximises, and the matching exact LP
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Direction:
    """``kind="diff"``: maximise ``sign * (f_A - f_B)_j``.
    ``kind="top1"``: ``P`` (0 = A, 1 = B) has top output ``i`` by margin ``t`` and the other
    network ranks some ``k`` above ``i`` by ``t``; maximise ``t``."""

    kind: str
    j: int
    sign: int = 1

    def label(self) -> str:
        if self.kind == "diff":
            return f"{'+' if self.sign > 0 else '-'}(A-B)_{self.j}"
        p, q = ("A", "B") if self.sign > 0 else ("B", "A")
        return f"{p} top {self.j}, {q} not"


def _value(kind: str, ya: np.ndarray, yb: np.ndarray) -> float:
    """The quantity at points (batch): ``|ya - yb|_inf`` or the top-1 disagreement."""
    if kind == "diff":
        return np.max(np.abs(ya - yb), axis=-1)
    return np.maximum(_disagreement(ya, yb), _disagreement(yb, ya))


def _disagreement(yp: np.ndarray, yq: np.ndarray) -> np.ndarray:
    yp, yq = np.atleast_2d(yp), np.atleast_2d(yq)
    if yp.shape[1] < 2:
        return np.full(yp.shape[0], -np.inf)
    i = np.argmax(yp, axis=1)
    rows = np.arange(yp.shape[0])
    top = yp[rows, i]
    others = yp.copy()
    others[rows, i] = -np.inf
    margin = top - others.max(axis=1)
    q_other = yq.copy()
    q_other[rows, i] = -np.inf
    beat = q_other.max(axis=1) - yq[rows, i]
    return np.minimum(margin, beat)


def _exact_value(kind: str, ya: list[Fraction], yb: list[Fraction]) -> Fraction:
    if kind == "diff":
        return max(abs(a - b) for a, b in zip(ya, yb, strict=True))
    if len(ya) < 2:
        return Fraction(-1)  # unreachable in practice: top1 with one output is trivial
    out = None
    for yp, yq in ((ya, yb), (yb, ya)):
        i = max(range(len(yp)), key=lambda t: yp[t])
        margin = yp[i] - max(yp[t] for t in range(len(yp)) if t != i)
        beat = max(yq[t] for t in range(len(yq)) if t != i) - yq[i]
        v = min(margin, beat)
        out = v if out is None else max(out, v)
    return out


def _direction_sample_value(dr: _Direction, ya: np.ndarray, yb: np.ndarray) -> float:
    if dr.kind == "diff":
        return float(np.max(dr.sign * (ya[:, dr.j] - yb[:, dr.j])))
    yp, yq = (ya, yb) if dr.sign > 0 else (yb, ya)
    i = dr.j
    others = np.delete(yp, i, axis=1)
    margin = yp[:, i] - others.max(axis=1)
    beat = np.delete(yq, i, axis=1).max(axis=1) - yq[:, i]
    return float(np.max(np.minimum(margin, beat)))


# ----------------------------------------------------------------------------------------------
# Sampling and replay
# ----------------------------------------------------------------------------------------------
def _sample(domain: Domain, n: int, seed: int = 0) -> np.ndarray:
    lo, hi = domain.bounding_box()
    rng = np.random.default_rng(seed)
    X = lo + (hi - lo) * rng.random((n, domain.dim))
    X = np.vstack([X, (lo + hi) / 2])
    inside = X[domain.contains(X, tol=0.0)]
    if inside.shape[0] == 0:
        inside = domain.chebyshev()[0][None, :]
    return inside


def _in_domain_exact(domain: Domain, x: np.ndarray) -> bool:
    if np.any(x < domain.lower) or np.any(x > domain.upper):
        return False
    xs = [Fraction(float(v)) for v in x]
    for row, b in zip(domain.A, domain.b, strict=True):
        if sum((Fraction(float(a)) * t for a, t in zip(row, xs, strict=True) if a != 0),
               Fraction(0)) > Fraction(float(b)):
            return False
    return True


def _to_float_point(domain: Domain, v: list[Fraction]) -> np.ndarray:
    """The exact vertex rounded to float64, inside the domain exactly (nudged toward the
    domain's Chebyshev centre when rounding put it outside a polytope row)."""
    x = np.clip(np.array([float(t) for t in v[:domain.dim]]), domain.lower, domain.upper)
    if _in_domain_exact(domain, x):
        return x
    centre = domain.chebyshev()[0]
    tau = 1e-15
    while tau < 1.0:
        y = np.clip(x + tau * (centre - x), domain.lower, domain.upper)
        if _in_domain_exact(domain, y):
            return y
        tau *= 4
    return np.clip(centre, domain.lower, domain.upper)


def replay(net_a: ReLUNetwork, net_b: ReLUNetwork, x: np.ndarray, top1: bool = False) -> dict:
    """Both networks at ``x`` in float64 and in exact arithmetic, with the compared quantity
    (``|f_A - f_B|_inf``, or the top-1 disagreement) each way."""
    kind = "top1" if top1 else "diff"
    ya, yb = net_a.forward(x), net_b.forward(x)
    ea, eb = net_a.exact_forward(x), net_b.exact_forward(x)
    ve = _exact_value(kind, ea, eb)
    return {
        "output_a": ya.tolist(), "output_b": yb.tolist(),
        "float64_value": float(_value(kind, ya[None, :], yb[None, :])[0]),
        "exact_value": str(ve), "exact_value_float": float(ve),
        "argmax_a": int(np.argmax(ya)), "argmax_b": int(np.argmax(yb)),
    }


def replay_onnxruntime(path: str, x: np.ndarray) -> np.ndarray | None:
    """``path``'s output at ``x`` through onnxruntime (batch 1, the model's own input shape
    and dtype), or None when onnxruntime is not installed or cannot run the model."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inputs = sess.get_inputs()
        if len(inputs) != 1:
            return None
        inp = inputs[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        dtype = np.float64 if inp.type == "tensor(double)" else np.float32
        out = sess.run(None, {inp.name: np.asarray(x).astype(dtype).reshape(shape)})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)
    except Exception:  # noqa: BLE001 - a replay that cannot run is reported as absent
        return None


def onnxruntime_check(path_a: str, path_b: str, net_a: ReLUNetwork, net_b: ReLUNetwork,
                      x: np.ndarray, epsilon: float, top1: bool = False) -> dict | None:
    """Replay ``x`` on both ONNX files with onnxruntime. ``agrees``: each runtime output
    matches the loaded network's float64 output at the runtime's (possibly float32-rounded)
    input within :data:`ORT_REL_TOL`; ``exceeds``: the runtime's own quantity is > epsilon."""
    ra, rb = replay_onnxruntime(path_a, x), replay_onnxruntime(path_b, x)
    if ra is None or rb is None:
        return None
    agrees = True
    for path, net, r in ((path_a, net_a, ra), (path_b, net_b, rb)):
        try:
            import onnxruntime as ort

            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            f32 = sess.get_inputs()[0].type != "tensor(double)"
        except Exception:  # noqa: BLE001
            f32 = True
        xr = x.astype(np.float32).astype(np.float64) if f32 else x
        ref = net.forward(xr)
        if r.shape != ref.shape or np.max(np.abs(r - ref)) > ORT_REL_TOL * (1 + np.max(
                np.abs(ref))):
            agrees = False
    value = float(_value("top1" if top1 else "diff", ra[None, :], rb[None, :])[0])
    return {"output_a": ra.tolist(), "output_b": rb.tolist(), "value": value,
            "exceeds_epsilon": value > epsilon, "agrees_with_float64": agrees}


# ----------------------------------------------------------------------------------------------
# The MILP
# ----------------------------------------------------------------------------------------------
def _output_box(net: ReLUNetwork, bounds: Bounds, domain: Domain
                ) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds on the outputs from the last hidden layer's pre-activation bounds."""
    if bounds.lower:
        lo, hi = np.maximum(bounds.lower[-1], 0.0), np.maximum(bounds.upper[-1], 0.0)
    else:  # no hidden layer: the outputs are affine in the input
        lo, hi = domain.bounding_box()
    W, b = net.weights[-1], net.biases[-1]
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    return Wp @ lo + Wn @ hi + b, Wp @ hi + Wn @ lo + b


def _interval_upper(dr: _Direction, box_a: tuple, box_b: tuple) -> float:
    """A sound (interval) upper bound on a direction, for directions SCIP did not finish."""
    (la, ua), (lb, ub) = box_a, box_b
    with np.errstate(invalid="ignore"):
        if dr.kind == "diff":
            v = ua[dr.j] - lb[dr.j] if dr.sign > 0 else ub[dr.j] - la[dr.j]
        else:
            (lp_, up), (lq, uq) = ((la, ua), (lb, ub)) if dr.sign > 0 else ((lb, ub), (la, ua))
            i = dr.j
            margin = min(up[i] - lp_[j] for j in range(len(up)) if j != i)
            beat = max(uq[k] for k in range(len(uq)) if k != i) - lq[i]
            v = min(margin, beat)
    v = float(v)
    return v + 1e-9 * (1 + abs(v)) if math.isfinite(v) else math.inf


def _check_inputs(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, epsilon: float
                  ) -> None:
    check_pair(net_a, net_b, domain, epsilon)


def _build(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, bounds: tuple[Bounds, Bounds],
           dr: _Direction) -> tuple[pyscipopt.Model, list, Any, Any, dict]:
    model = pyscipopt.Model("verishallow-equiv")
    configure_scip(model, SCIP_PARAMEMPHASIS.DEFAULT)
    xs = add_input_vars(model, domain)
    enc_a = encode_network(model, net_a, xs, bounds[0], margin=0.0, prefix="A_")
    enc_b = encode_network(model, net_b, xs, bounds[1], margin=0.0, prefix="B_")
    extra: dict = {}
    if dr.kind == "diff":
        model.setObjective(dr.sign * (enc_a.y[dr.j] - enc_b.y[dr.j]), sense="maximize")
        return model, xs, enc_a, enc_b, extra
    yp, yq = (enc_a.y, enc_b.y) if dr.sign > 0 else (enc_b.y, enc_a.y)
    i, m = dr.j, len(yp)
    t = model.addVar(name="t", vtype="C", lb=None, ub=None)
    for j in range(m):
        if j != i:
            model.addCons(t <= yp[i] - yp[j], name=f"top_{j}")
    ks = [k for k in range(m) if k != i]
    if len(ks) == 1:
        model.addCons(t <= yq[ks[0]] - yq[i], name="beat")
        extra["c"] = {}
    else:
        cs = {k: model.addVar(name=f"c{k}", vtype="B") for k in ks}
        model.addCons(quicksum(cs.values()) == 1, name="one_beater")
        for k, ck in cs.items():
            model.addConsIndicator(t - yq[k] + yq[i] <= 0, ck, activeone=True, name=f"beat{k}")
        extra["c"] = cs
    extra["t"] = t
    model.setObjective(t, sense="maximize")
    return model, xs, enc_a, enc_b, extra


def _exact_direction_lp(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                        pat_a: np.ndarray, pat_b: np.ndarray, dr: _Direction, k: int | None
                        ) -> tuple[Fraction, list[Fraction], str] | None:
    """Exact maximum of the direction over the closed cell where both patterns hold."""
    d = domain.dim
    pa, pb = exact_piece(net_a, pat_a), exact_piece(net_b, pat_b)
    n = d if dr.kind == "diff" else d + 1
    lp_ = ExactLP(n)
    _domain_rows(lp_, domain)
    _pattern_rows(lp_, pa, pat_a)
    _pattern_rows(lp_, pb, pat_b)
    if lp_.empty:
        return None
    if dr.kind == "diff":
        aa, ba = pa.output(dr.j)
        ab, bb = pb.output(dr.j)
        c = [dr.sign * (u - w) for u, w in zip(aa, ab, strict=True)]
        c0 = dr.sign * (ba - bb)
        got = exact_lp_max(lp_, c)
        return None if got is None else (got[0] + c0, got[1], got[2])
    P, Q = (pa, pb) if dr.sign > 0 else (pb, pa)
    i = dr.j

    def out_row(piece: ExactPiece, hi_: int, lo_: int) -> list[int]:
        # t - (y_hi - y_lo) <= 0, scaled by 2^T: t*2^T - (alpha_hi - alpha_lo) x <= beta_hi - ..
        r = [-(int(piece.alpha[hi_][col]) - int(piece.alpha[lo_][col])) for col in range(d)]
        return r + [1 << piece.T]

    for j in range(P.alpha.shape[0]):
        if j != i:
            lp_.add(out_row(P, i, j), int(P.beta[i]) - int(P.beta[j]))
    lp_.add(out_row(Q, k, i), int(Q.beta[k]) - int(Q.beta[i]))
    c = [Fraction(0)] * d + [Fraction(1)]
    return exact_lp_max(lp_, c)


def _solve_direction(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                     bounds: tuple[Bounds, Bounds], dr: _Direction, objlimit: float | None,
                     time_left: float | None) -> dict:
    """One MILP: ``{status, upper, lower (Fraction|None), vertex, lp, seconds}``."""
    t0 = time.perf_counter()
    model, xs, enc_a, enc_b, extra = _build(net_a, net_b, domain, bounds, dr)
    if time_left is not None:
        model.setParam("limits/time", max(time_left, 1e-3))
    if objlimit is not None:
        model.setObjlimit(objlimit)
    model.optimize()
    status = str(model.getStatus())
    rec: dict[str, Any] = {"direction": dr.label(), "scip_status": status, "lower": None,
                           "vertex": None, "lp": None}
    if status == "infeasible" and objlimit is not None:
        rec["upper"] = float(objlimit)
    elif status == "infeasible":
        raise InputError("the domain is empty (SCIP found no point)")
    else:
        ub = model.getDualbound()
        rec["upper"] = float(ub) if abs(ub) < model.infinity() else math.inf
    rec["solved"] = status in ("optimal", "infeasible")
    if model.getNSols() > 0:
        sol = model.getBestSol()
        x = np.array([model.getSolVal(sol, v) for v in xs])
        x = np.clip(x, domain.lower, domain.upper)
        pat_a, pat_b = enc_a.pattern(model, sol), enc_b.pattern(model, sol)
        k = None
        if dr.kind == "top1":
            cs = extra["c"]
            if cs:
                k = max(cs, key=lambda kk: model.getSolVal(sol, cs[kk]))
            else:
                k = 1 - dr.j
        got = _exact_direction_lp(net_a, net_b, domain, pat_a, pat_b, dr, k)
        if got is None:  # SCIP's binaries admit no exact point: read the patterns exactly
            xe = [Fraction(float(v)) for v in x]
            pat_a, pat_b = exact_pattern(net_a, xe), exact_pattern(net_b, xe)
            got = _exact_direction_lp(net_a, net_b, domain, pat_a, pat_b, dr, k)
            rec["repattern"] = True
        if got is not None:
            rec["lower"], rec["vertex"], rec["lp"] = got
        rec["scip_primal"] = float(model.getObjVal())
    rec["seconds"] = time.perf_counter() - t0
    return rec


# ----------------------------------------------------------------------------------------------
# Overlay of the two partitions (small input dimension)
# ----------------------------------------------------------------------------------------------
def joint_network(net_a: ReLUNetwork, net_b: ReLUNetwork) -> ReLUNetwork | None:
    """One network whose hidden layers stack both networks' layers side by side (shared input,
    block-diagonal weights) and whose outputs are ``[f_A; f_B]``; its activation regions are
    the cells of the overlay of both partitions. None when the depths differ (padding the
    shallower network, as :func:`verishallow.product.product_network` does, would add cells).
    """
    if len(net_a.weights) != len(net_b.weights):
        return None
    return product_network(net_a, net_b)


def _split_pattern(net_a: ReLUNetwork, net_b: ReLUNetwork, p: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    pa, pb, pos = [], [], 0
    for na, nb in zip(net_a.hidden_widths, net_b.hidden_widths, strict=True):
        pa.append(p[pos:pos + na])
        pb.append(p[pos + na:pos + na + nb])
        pos += na + nb
    empty = np.zeros(0, dtype=bool)
    return (np.concatenate(pa) if pa else empty), (np.concatenate(pb) if pb else empty)


#: Polygon vertices are kept when they violate no facet by more than ``VERTEX_TOL * scale``.
VERTEX_TOL = 1e-9
#: Cells whose float maximum is within ``SCREEN_TOL * (1 + |best|)`` of the best float value
#: get the exact LP (several cells share the maximising vertex).
SCREEN_TOL = 1e-9
#: At most this many cells per direction get the exact LP.
MAX_EXACT_REGIONS = 8


def _polygon_vertices(H: np.ndarray, c: np.ndarray, centre: np.ndarray, free: np.ndarray
                      ) -> np.ndarray | None:
    """Vertices of the cell ``{H x <= c}`` in 1 or 2 free coordinates (the others pinned at
    ``centre``), by intersecting facet pairs (vectorised Cramer's rule) and keeping the
    points that violate no facet by more than :data:`VERTEX_TOL` (relative)."""
    Hf = H[:, free]
    base = c - H @ centre + Hf @ centre[free]
    if free.size == 1:
        nz = np.flatnonzero(Hf[:, 0] != 0)
        Y = (base[nz] / Hf[nz, 0])[:, None]
    else:
        i, j = np.triu_indices(H.shape[0], 1)
        a1, b1, a2, b2 = Hf[i, 0], Hf[i, 1], Hf[j, 0], Hf[j, 1]
        det = a1 * b2 - a2 * b1
        ok = np.abs(det) > 1e-12 * (np.abs(a1) + np.abs(b1)) * (np.abs(a2) + np.abs(b2))
        det, i, j = det[ok], i[ok], j[ok]
        r1, r2 = base[i], base[j]
        Y = np.stack([(r1 * Hf[j, 1] - r2 * Hf[i, 1]) / det,
                      (Hf[i, 0] * r2 - Hf[j, 0] * r1) / det], axis=1)
    if Y.shape[0] == 0:
        return None
    P = np.repeat(centre[None, :], Y.shape[0], axis=0)
    P[:, free] = Y
    tol = VERTEX_TOL * (1.0 + np.abs(c)[None, :] + np.abs(P) @ np.abs(H).T)
    keep = np.all(P @ H.T <= c[None, :] + tol, axis=1)
    return P[keep] if keep.any() else None


def _min_affine_lp(H: np.ndarray, c: np.ndarray, rows: list[tuple[np.ndarray, float]]
                   ) -> tuple[float, np.ndarray | None]:
    """Float LP: max over ``{H x <= c}`` of ``min_r (g_r . x + g0_r)`` (variables ``(x, t)``)."""
    n = H.shape[1]
    if len(rows) == 1:
        g, g0 = rows[0]
        sol = lp.solve_lp(g, H, np.full(H.shape[0], -np.inf), c, np.full(n, -np.inf),
                          np.full(n, np.inf), maximize=True)
        return (math.inf, None) if not sol.ok else (float(sol.objective) + g0, sol.x)
    A = np.vstack([np.hstack([H, np.zeros((H.shape[0], 1))])]
                  + [np.append(-gr, 1.0)[None, :] for gr, _ in rows])
    rhs = np.concatenate([c, [g0 for _, g0 in rows]])
    sol = lp.solve_lp(np.append(np.zeros(n), 1.0), A, np.full(A.shape[0], -np.inf), rhs,
                      np.full(n + 1, -np.inf), np.full(n + 1, np.inf), maximize=True)
    return (math.inf, None) if not sol.ok else (float(sol.objective), sol.x[:n])


def _cell_pieces(dr: _Direction, al: np.ndarray, be: np.ndarray, m: int
                 ) -> list[tuple[int | None, list[tuple[np.ndarray, float]]]]:
    """The direction on one cell as ``[(k, rows)]``: its value is ``max_k min_rows``."""
    if dr.kind == "diff":
        return [(None, [(dr.sign * (al[dr.j] - al[m + dr.j]),
                         float(dr.sign * (be[dr.j] - be[m + dr.j])))])]
    po, qo = (0, m) if dr.sign > 0 else (m, 0)
    i = dr.j
    top = [(al[po + i] - al[po + j], float(be[po + i] - be[po + j])) for j in range(m) if j != i]
    return [(k, top + [(al[qo + k] - al[qo + i], float(be[qo + k] - be[qo + i]))])
            for k in range(m) if k != i]


def _regions_method(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                    dirs: list[_Direction], details: dict) -> tuple[list[dict], list]:
    """Enumerate the overlay, bound every direction on every cell in floats, and run the
    exact LP on the best cells. Returns the per-direction log and ``(value, vertex)`` pairs.

    Per cell, a direction's maximum is ``max_k`` of the maximum of ``min`` of affine functions
    (one function for a difference direction). ``min_rows max_vertices`` bounds it from above
    (and is exact for one function); candidates are visited in decreasing order of that bound
    and an LP is spent only while the bound beats the best LP value so far.
    """
    from .regions import enumerate_regions

    J = joint_network(net_a, net_b)
    t0 = time.perf_counter()
    part = enumerate_regions(J, domain, method="auto", prove_coverage=False)
    details["overlay"] = {"cells": len(part), "engine": part.method,
                          "seconds": time.perf_counter() - t0}
    free = np.flatnonzero(~domain.fixed)
    m = net_a.output_dim
    verts = [_polygon_vertices(r.H, r.c, r.center, free) if free.size <= 2 else None
             for r in part.regions]
    log, found = [], []
    for dr in dirs:
        t1 = time.perf_counter()
        entries = []  # (upper bound, exact?, cell, k, rows)
        for r, region in enumerate(part.regions):
            V = verts[r]
            for k, rows in _cell_pieces(dr, region.alpha, region.beta, m):
                if V is None:
                    entries.append((math.inf, False, r, k, rows))
                    continue
                ubs = [float(np.max(V @ g + g0)) for g, g0 in rows]
                entries.append((min(ubs), len(rows) == 1, r, k, rows))
        entries.sort(key=lambda e: -e[0])
        values: list[tuple[float, int, int | None]] = []
        best_f = -math.inf
        n_lp = 0
        for ub, exact_ub, r, k, rows in entries:
            if ub <= best_f - SCREEN_TOL * (1 + abs(best_f)):
                break
            if exact_ub:
                v = ub
            else:
                reg = part.regions[r]
                v = _min_affine_lp(reg.H, reg.c, rows)[0]
                n_lp += 1
            values.append((v, r, k))
            best_f = max(best_f, v)
        cand = sorted((e for e in values if e[0] >= best_f - SCREEN_TOL * (1 + abs(best_f))),
                      key=lambda e: -e[0])[:MAX_EXACT_REGIONS]
        best = None
        how = None
        for _, r, k in cand:
            pa, pb = _split_pattern(net_a, net_b, part.regions[r].pattern)
            got = _exact_direction_lp(net_a, net_b, domain, pa, pb, dr, k)
            if got is not None and (best is None or got[0] > best[0]):
                best, how = got, got[2]
        if best is not None:
            found.append((best[0], best[1]))
        upper = best_f if best is None else max(best_f, float(best[0]))
        log.append({"direction": dr.label(), "status": "solved",
                    "lower": None if best is None else str(best[0]), "upper": upper,
                    "solved": True, "lp": how, "float_lps": n_lp, "exact_cells": len(cand),
                    "seconds": time.perf_counter() - t1})
    return log, found


METHODS = ("auto", "milp", "regions")
#: ``method="auto"`` uses the overlay of partitions for at most this many free inputs (the
#: subdivision engine), the MILP otherwise.
OVERLAY_MAX_FREE = 2


def check_equivalence(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                      epsilon: float = 0.0, top1: bool = False,
                      time_limit: float | None = None, method: str = "auto"
                      ) -> EquivalenceResult:
    """Decide ``max_{x in domain} |f_A(x) - f_B(x)|_inf <= epsilon`` (or, with ``top1``,
    whether both networks always rank the same output first; see the module doc for the tie
    rule and the role of ``epsilon`` there).

    ``method``: ``"milp"`` (SCIP over both networks), ``"regions"`` (overlay of the two
    partitions; equal depths), ``"auto"`` (regions for at most :data:`OVERLAY_MAX_FREE` free
    inputs and equal depths, else MILP). Returns an :class:`EquivalenceResult`;
    ``equivalent`` is None when ``time_limit`` (seconds, whole run; MILP method) ran out first
    or a found difference failed to replay.
    """
    t0 = time.perf_counter()
    _check_inputs(net_a, net_b, domain, epsilon)
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    kind = "top1" if top1 else "diff"
    details: dict[str, Any] = {"mode": "top1" if top1 else "difference", "epsilon": epsilon,
                               "quantity": "top-1 disagreement margin" if top1
                               else "max_x |f_A(x) - f_B(x)|_inf",
                               "fingerprints": [net_a.fingerprint, net_b.fingerprint]}
    if net_a.fingerprint == net_b.fingerprint or (top1 and net_a.output_dim == 1):
        details["method"] = "fingerprint" if net_a.fingerprint == net_b.fingerprint \
            else "single output"
        if top1:  # identical rankings: the disagreement is never positive
            return EquivalenceResult(True, (-math.inf, 0.0), None, time.perf_counter() - t0,
                                     details, lower=-math.inf, upper=0.0)
        return EquivalenceResult(True, 0.0, None, time.perf_counter() - t0, details, exact="0",
                                 lower=0.0, upper=0.0)
    m = net_a.output_dim
    if top1:
        dirs = [_Direction("top1", i, s) for s in (1, -1) for i in range(m)]
    else:
        dirs = [_Direction("diff", j, s) for j in range(m) for s in (1, -1)]
    X = _sample(domain, N_SAMPLES)
    ya, yb = net_a.forward(X), net_b.forward(X)
    details["sampled_max"] = float(np.max(_value(kind, ya, yb)))
    if method == "auto":
        small = int((~domain.fixed).sum()) <= OVERLAY_MAX_FREE
        method = "regions" if small and len(net_a.weights) == len(net_b.weights) else "milp"
    if method == "regions" and joint_network(net_a, net_b) is None:
        raise InputError("the overlay method needs networks of equal depth (use method='milp')")
    details["method"] = "overlay of partitions + exact lp" if method == "regions" \
        else "scip milp + exact lp"
    best: Fraction | None = None
    best_vertex: list[Fraction] | None = None
    if method == "regions":
        log, found = _regions_method(net_a, net_b, domain, dirs, details)
        for val, vert in found:
            if best is None or val > best:
                best, best_vertex = val, vert
        uppers = [r["upper"] for r in log]
        all_solved = True
    else:
        bounds = (preactivation_bounds(net_a, domain), preactivation_bounds(net_b, domain))
        boxes = (_output_box(net_a, bounds[0], domain), _output_box(net_b, bounds[1], domain))
        score = [_direction_sample_value(dr, ya, yb) for dr in dirs]
        order = sorted(range(len(dirs)), key=lambda q: -score[q])
        uppers = []
        log = []
        all_solved = True
        for q in order:
            dr = dirs[q]
            left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            if left is not None and left <= 0:
                all_solved = False
                ub = _interval_upper(dr, *boxes)
                uppers.append(ub)
                log.append({"direction": dr.label(), "scip_status": "not run (time limit)",
                            "upper": ub, "upper_from": "interval bounds", "lower": None,
                            "solved": False})
                continue
            objlimit = None if best is None else float(best)
            rec = _solve_direction(net_a, net_b, domain, bounds, dr, objlimit, left)
            rec["upper"] = min(rec["upper"], _interval_upper(dr, *boxes))
            if rec["lower"] is not None and (best is None or rec["lower"] > best):
                best, best_vertex = rec["lower"], rec["vertex"]
            uppers.append(rec["upper"])
            all_solved &= rec["solved"]
            log.append({k: (str(v) if isinstance(v, Fraction) else v) for k, v in rec.items()
                        if k != "vertex"})
    details["directions"] = log
    upper = max(uppers) if uppers else -math.inf
    lower = -math.inf if best is None else float(best)
    if best is not None:
        upper = max(upper, lower)
    details["lp_method"] = sorted({r["lp"] for r in log if r.get("lp")})
    counterexample = None
    equivalent: bool | None = None
    if best is not None and best > epsilon:
        x = _to_float_point(domain, best_vertex)
        rep = replay(net_a, net_b, x, top1)
        details["replay"] = rep
        if rep["float64_value"] > epsilon and Fraction(rep["exact_value"]) > epsilon:
            equivalent, counterexample = False, x
        else:
            details["reason"] = ("the maximising vertex exceeds epsilon exactly, but its float64 "
                                 "rounding does not replay above epsilon")
    elif all_solved:
        ref = max(lower, epsilon)
        if all(u <= ref + UPPER_TOL * (1 + abs(ref)) for u in uppers):
            equivalent = True
        else:
            details["reason"] = "the upper bounds do not close the gap"
    else:
        details["reason"] = "time limit"
    proved = all_solved and best is not None and all(
        u <= lower + PROVED_GAP_TOL * (1 + abs(lower)) for u in uppers)
    details["proved_maximal"] = proved
    if proved:
        max_diff: float | tuple[float, float] = lower
        exact = str(best)
    else:
        max_diff, exact = (lower, upper), None
    return EquivalenceResult(equivalent, max_diff, counterexample, time.perf_counter() - t0,
                             details, exact=exact, lower=lower, upper=upper)


# ----------------------------------------------------------------------------------------------
# Deep network versus a shallow network
# ----------------------------------------------------------------------------------------------
#: Regions whose exact bound exceeds epsilon also get their Chebyshev centre evaluated (at most
#: this many), so a wrong model on a small region is found even if no sample lands in it.
MAX_SUSPECTS = 32


def _pattern_centre(net: ReLUNetwork, domain: Domain, pattern: np.ndarray) -> np.ndarray | None:
    """Chebyshev centre of the pattern's region (float LP), or None if it is too thin."""
    A, d, _, _ = net.local_affine(pattern)
    sigma = np.where(np.asarray(pattern, dtype=bool), -1.0, 1.0)
    keep = np.any(A != 0, axis=1)
    G, h, _ = domain.constraints()
    rows = np.vstack([(sigma[:, None] * A)[keep], G])
    rhs = np.concatenate([(-sigma * d)[keep], h])
    res = lp.chebyshev_center(rows, rhs)
    return None if res is None or res[1] <= 0 else res[0]


def _shallow_domain(shallow: Any, domain: Domain | None) -> Domain:
    if domain is None or domain == shallow.domain:
        return shallow.domain
    sd = shallow.domain
    if (domain.A.shape[0] == 0 and sd.A.shape[0] == 0 and np.all(domain.lower >= sd.lower)
            and np.all(domain.upper <= sd.upper)):
        return domain
    raise InputError(f"a shallow network is defined on its own domain {sd.describe()}; the "
                     f"domain {domain.describe()} is not a box inside it")


#: Safety factor on the textbook float64 error bound of a pattern-fixed map (see
#: :func:`_rounding_budget`): a stored model within the bound is a float rounding of the exact
#: map, anything farther is a different model.
ROUNDING_SAFETY = 4.0


def _rounding_budget(net: ReLUNetwork, pattern: np.ndarray, xmax: np.ndarray) -> np.ndarray:
    """Per output, how far (over the box ``|x_i| <= xmax_i``) a float64 computation of the
    pattern-fixed map ``alpha x + beta`` may land from the exact one, whatever the summation
    order: ``gamma_k (|W_L| D |W_{L-1}| ... D |W_1| xmax + the same with the |biases|)`` with
    ``k`` the number of products along a path (inputs plus every layer width), ``gamma_k =
    k u / (1 - k u)`` and ``u = 2^-53``, times :data:`ROUNDING_SAFETY`."""
    offs = net.layer_offsets
    M = np.eye(net.input_dim)
    m = np.zeros(net.input_dim)
    n_layers = len(net.weights)
    for k, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        M = np.abs(W) @ M
        m = np.abs(W) @ m + np.abs(b)
        if k < n_layers - 1:
            on = np.asarray(pattern[offs[k]:offs[k + 1]], dtype=bool)
            M[~on] = 0.0
            m[~on] = 0.0
    steps = net.input_dim + sum(w.shape[0] for w in net.weights) + 2 * n_layers
    u = 2.0 ** -53
    gamma = steps * u / (1 - steps * u)
    return ROUNDING_SAFETY * gamma * (M @ xmax + m) * (1 + 1e-6)


def check_shallow_equivalence(net: ReLUNetwork, shallow: Any, domain: Domain | None = None,
                              epsilon: float = 0.0, samples: int = SHALLOW_SAMPLES,
                              seed: int = 0) -> EquivalenceResult:
    """Is the shallow network (``verishallow convert`` output) equal to ``net`` on the domain?

    Decided in exact arithmetic, region by region, plus an evaluation check.

    * Per region ``r`` of the shallow network (needs its activation patterns): the exact
      rational pattern-fixed map ``P_r`` of ``net`` for the region's pattern is computed; on
      the closed region ``net`` *is* ``P_r``. The stored float64 model ``(alpha_r, beta_r)``
      is compared with ``P_r`` in rationals: ``rho_r = max_j sum_i |dalpha_ji| max|x_i| +
      |dbeta_j|`` over the domain's bounding box. If ``rho_r`` is within the float64 error
      bound of computing ``P_r`` (:func:`_rounding_budget`), the stored model is ``P_r``
      rounded to float64 and the region's exact model is ``P_r`` itself: the region's
      difference is exactly 0. Otherwise the stored model is another map, the region
      contributes ``rho_r`` (an exact bound), and the region is a suspect.
    * With ``shallow.complete`` (its regions provably cover the domain) and every region a
      rounding of its ``P_r``, the networks are the same function: ``equivalent`` True with
      ``max_difference`` exactly 0 (``exact == "0"``). The stored coefficients' distance from
      the exact models is reported as ``details["float_rounding_bound"]`` (a float64
      evaluation of either network rounds by about that much; the functions do not differ).
    * Evaluation: ``samples`` random domain points (and the centres of suspect regions)
      through the shallow network's three-layer evaluation; the point with the largest
      exact difference is replayed (deep network in rationals against the selected region's
      exact model) and is a counterexample when that exceeds ``epsilon``.

    ``equivalent``: True iff proved as above (``upper <= epsilon``); False iff a
    counterexample replays above ``epsilon``; else None. ``max_difference`` is 0.0 when
    proved exactly equal, else ``(lower, upper)``.
    """
    t0 = time.perf_counter()
    if net.input_dim != shallow.input_dim or net.output_dim != shallow.output_dim:
        raise InputError(f"the deep network maps {net.input_dim} -> {net.output_dim} but the "
                         f"shallow network {shallow.input_dim} -> {shallow.output_dim}")
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise InputError(f"epsilon must be finite and >= 0, got {epsilon}")
    dom = _shallow_domain(shallow, domain)
    lo, hi = dom.bounding_box()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError(f"equivalence needs a bounded domain, got {dom.describe()}")
    details: dict[str, Any] = {
        "mode": "deep vs shallow", "epsilon": epsilon,
        "method": "per-region exact comparison of affine pieces + evaluation",
        "complete": shallow.complete, "regions": shallow.n_regions,
        "quantity": "max_x |f_deep(x) - f_shallow(x)|_inf"}
    src = shallow.source
    details["source_fingerprint_matches"] = None if src is None \
        else src.fingerprint == net.fingerprint
    rho = Fraction(0)  # worst deviation of a region that is not a rounding of its piece
    rounding = Fraction(0)  # worst deviation of a stored model that is a rounding
    worst = -1
    identical = 0
    suspects: list[int] = []
    pieces: dict[int, ExactPiece] = {}
    per_region = shallow.patterns is not None and shallow.patterns.shape[1] == net.n_hidden
    details["per_region_check"] = per_region
    if per_region:
        xmax = [max(abs(Fraction(float(a))), abs(Fraction(float(b))))
                for a, b in zip(lo, hi, strict=True)]
        xmax_f = np.maximum(np.abs(lo), np.abs(hi))
        for r in range(shallow.n_regions):
            p = shallow.patterns[r]
            al, be = shallow.alpha[r], shallow.beta[r]
            _, _, al_f, be_f = net.local_affine(p)
            identical += bool(np.array_equal(al, al_f) and np.array_equal(be, be_f))
            piece = exact_piece(net, p)
            budget = _rounding_budget(net, p, xmax_f)
            den = 1 << piece.T
            dev = Fraction(0)
            is_rounding = True
            for j in range(net.output_dim):
                bound = abs(Fraction(int(piece.beta[j]), den) - Fraction(float(be[j])))
                for i in range(net.input_dim):
                    bound += abs(Fraction(int(piece.alpha[j][i]), den)
                                 - Fraction(float(al[j, i]))) * xmax[i]
                dev = max(dev, bound)
                is_rounding = is_rounding and bound <= Fraction(float(budget[j]))
            if is_rounding:
                pieces[r] = piece
                rounding = max(rounding, dev)
                continue
            if dev > rho:
                rho, worst = dev, r
            if dev > epsilon and len(suspects) < MAX_SUSPECTS:
                suspects.append(r)
    details["bit_identical_regions"] = identical
    details["regions_exact"] = len(pieces)
    details["rounding_bound"] = str(rho)
    details["rounding_bound_float"] = float(rho)
    details["float_rounding_bound"] = float(rounding)
    details["worst_region"] = worst
    X = _sample(dom, samples, seed)
    centres = [c for c in (_pattern_centre(net, dom, shallow.patterns[r]) for r in suspects)
               if c is not None]
    details["suspect_regions"] = suspects
    if centres:
        X = np.vstack([np.array(centres), X])
    ys = shallow.evaluate(X, outside="nan", method="faithful")
    yd = net.forward(X)
    diff = np.max(np.abs(ys - yd), axis=1)
    uncovered = int(np.sum(np.isnan(diff)))
    details["samples"] = int(X.shape[0])
    details["uncovered_samples"] = uncovered
    diff = np.where(np.isnan(diff), -np.inf, diff)
    # A sample whose region's exact model is the deep network's piece for the region's
    # pattern, and at which the deep network has that pattern, differs by exactly 0 (only
    # float rounding shows); every other sample's float difference may be real.
    rids = np.asarray(shallow.locate(X, outside="nan", method="faithful"), dtype=np.int64)
    settled = np.zeros(X.shape[0], dtype=bool)
    if pieces and X.shape[0]:
        deep_bits = net.pattern(X)
        for n_, rid in enumerate(rids):
            settled[n_] = int(rid) in pieces and np.array_equal(deep_bits[n_],
                                                                 shallow.patterns[int(rid)])
    details["samples_exactly_equal"] = int(settled.sum())
    ranked = np.where(settled, -np.inf, diff)
    k = int(np.argmax(ranked))
    details["sampled_max"] = float(np.max(diff)) if diff.size else -math.inf
    lower = 0.0 if settled.any() else -math.inf
    counterexample = None
    if np.isfinite(ranked[k]):
        x = X[k]
        rid = int(rids[k])
        xe = [Fraction(float(v)) for v in x]
        ye = net.exact_forward(xe)
        if rid in pieces:
            ys_e = []
            for j in range(net.output_dim):
                a_j, b_j = pieces[rid].output(j)
                ys_e.append(sum((a * t for a, t in zip(a_j, xe, strict=True)), b_j))
        else:
            ys_e = [sum((Fraction(float(a)) * t for a, t in zip(shallow.alpha[rid][j], xe,
                                                               strict=True)),
                        Fraction(float(shallow.beta[rid][j])))
                    for j in range(net.output_dim)]
        ve = max(abs(a - b) for a, b in zip(ye, ys_e, strict=True))
        details["replay"] = {"point": x.tolist(), "region": rid, "output_deep": yd[k].tolist(),
                             "output_shallow": ys[k].tolist(), "float64_value": float(diff[k]),
                             "exact_value": str(ve), "exact_value_float": float(ve),
                             "exact_model": rid in pieces}
        lower = max(lower, float(ve))
        if diff[k] > epsilon and ve > epsilon:
            counterexample = x
    complete_proof = per_region and shallow.complete and uncovered == 0
    upper = float(rho) if complete_proof else math.inf
    exact = None
    if counterexample is not None:
        equivalent: bool | None = False
    elif complete_proof and rho <= epsilon:
        equivalent = True
        if rho == 0:  # every region's exact model is the deep network's own piece
            exact, lower, upper = "0", 0.0, 0.0
            details["method"] = "per-region exact comparison of affine pieces (exact equality)"
            details["note"] = (f"the stored float64 coefficients are the exact models rounded "
                               f"(within {float(rounding):.3g} on the domain); the functions "
                               "are equal")
    else:
        equivalent = None
        details["reason"] = ("a region's stored model differs from the deep network's piece by "
                             "more than epsilon" if complete_proof else
                             "no per-region proof (no activation patterns, uncovered points or "
                             "a shallow network without a coverage proof)")
    max_diff: float | tuple[float, float] = 0.0 if exact == "0" else (lower, upper)
    return EquivalenceResult(equivalent, max_diff, counterexample,
                             time.perf_counter() - t0, details, exact=exact, lower=lower,
                             upper=upper)


def search_result(dec: Any, net_a: ReLUNetwork, net_b: ReLUNetwork, epsilon: float,
                  top1: bool) -> EquivalenceResult:
    """The :class:`EquivalenceResult` (the shape of every ``equiv`` report) of a proof-search
    decision (:func:`verishallow.proofsearch.decide.prove_equivalence`). ``holds``:
    equivalent, the difference proved ``<= epsilon`` (no maximum is computed); ``violated``:
    the counterexample replayed both ways, its value a lower bound on the maximum."""
    details: dict = {"mode": "top1" if top1 else "difference", "epsilon": epsilon,
                     "method": "proof search", "search": dict(dec.stats),
                     "fingerprints": [net_a.fingerprint, net_b.fingerprint]}
    if dec.status == "holds":
        details["reason"] = "every leaf of the proof tree bounds the difference"
        return EquivalenceResult(True, (-math.inf, float(epsilon)), None, dec.seconds, details,
                                 upper=float(epsilon))
    if dec.status == "violated":
        x = dec.counterexample[0]
        rep = replay(net_a, net_b, x, top1)
        details["replay"] = rep
        value = float(rep["exact_value_float"])
        return EquivalenceResult(False, (value, math.inf), x, dec.seconds, details, lower=value)
    details["reason"] = dec.reason
    if dec.best_bound is not None:
        details["open_bound"] = dec.best_bound
    return EquivalenceResult(None, (-math.inf, math.inf), None, dec.seconds, details)
