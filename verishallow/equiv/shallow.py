"""Deep network versus a shallow network (``verishallow convert`` output): the same function?

Why a separate decision: a shallow network carries its regions' activation patterns, so the
answer rests on a per-region exact comparison of affine pieces (an exact rounding bound) plus an
evaluation check, not on SCIP; see :func:`check_shallow_equivalence`.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from ..domain import Domain
from ..errors import InputError
from ..exact.maps import ExactPiece, exact_piece
from ..network import ReLUNetwork
from ..solvers import lp
from .replay import sample_domain
from .result import EquivalenceResult
from .tolerances import ROUNDING_SAFETY

#: Random points on which a shallow network is compared with its deep network.
SHALLOW_SAMPLES = 4096
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


def rounding_budget(net: ReLUNetwork, pattern: np.ndarray, xmax: np.ndarray) -> np.ndarray:
    """Per output, how far (over the box ``|x_i| <= xmax_i``) a float64 computation of the
    pattern-fixed map ``alpha x + beta`` may land from the exact one, whatever the summation
    order: ``gamma_k (|W_L| D |W_{L-1}| ... D |W_1| xmax + the same with the |biases|)`` with
    ``k`` the number of products along a path (inputs plus every layer width), ``gamma_k =
    k u / (1 - k u)`` and ``u = 2^-53``, times
    :data:`~verishallow.equiv.tolerances.ROUNDING_SAFETY`."""
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
      bound of computing ``P_r`` (:func:`rounding_budget`), the stored model is ``P_r``
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
            budget = rounding_budget(net, p, xmax_f)
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
    X = sample_domain(dom, samples, seed)
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
