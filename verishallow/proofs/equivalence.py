"""Equivalence certificates: a proof that ``max |f_A - f_B|_inf <= epsilon`` anyone can re-check.

:func:`certify_equivalence` builds the product network ``P = [f_A; f_B]``
(:mod:`verishallow.product`), certifies its partition with
:func:`verishallow.proofs.partition.certify` (on each region both networks are affine), and bounds
every output's difference ``g_j = (f_A - f_B)_j`` on every region from both sides:

* when ``g_j`` is constant on the region (zero coefficients in the free coordinates; always the
  case for ``epsilon = 0`` between equal functions) nothing else is needed: the checker sees the
  constant itself;
* otherwise exact Farkas multipliers over the region's facet inequalities prove
  ``+-g_j <= bound <= epsilon``. HiGHS proposes the support and the multipliers are solved
  exactly on it (:class:`verishallow.proofs.farkas.FarkasFinder`, the partition certificate's own
  evidence finder), so the bound is the region's maximum whenever the float support is optimal.

The largest bound is recorded, and an exact point attaining it (the optimal vertex of that
region's LP, or a witness where the difference is constant): then the certificate also states
the exact maximum. A region whose exact maximum exceeds epsilon (or is unbounded) means the
networks are *not* equivalent: :class:`NotEquivalentError`, and no certificate. The
independent, solver-free checker is :mod:`verishallow.proofs.equivalence_checker`; the format is
documented
in ``docs/certificates.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from .. import __version__
from ..domain import Domain
from ..errors import InputError, VerishallowError
from ..exact.linalg import ExactLP, simplex
from ..exact.maps import ExactNet, ExactRows
from ..exact.numbers import rational_str
from ..network import ReLUNetwork
from ..product import product_description, product_network
from ..regions import enumerate_regions
from ..solvers.exact_lp import exact_lp_max
from .document import FORMAT, VERSION
from .equivalence_checker import (
    KIND,
    difference_map,
    exact_domain,
    facet_keys,
    max_abs_difference,
    model_entry,
)
from .farkas import FarkasFinder
from .partition import certify

#: At most this many region/direction bounds are re-solved exactly while looking for a point
#: that attains the largest bound (one is enough unless a float LP support was suboptimal).
MAX_TIGHTEN = 8


class NotEquivalentError(VerishallowError):
    """Proved: ``|f_A - f_B|_inf`` exceeds epsilon on the domain (or is unbounded there).

    ``value`` is the exact maximum found on the offending region (None when unbounded) and
    ``point`` an exact point of the domain where it is attained, when one was computed.
    """

    def __init__(self, message: str, value: Fraction | None = None,
                 point: list[Fraction] | None = None):
        super().__init__(message)
        self.value = value
        self.point = point


def _epsilon(epsilon: float | Fraction | int | str) -> Fraction:
    try:
        eps = Fraction(float(epsilon)) if isinstance(epsilon, float) else Fraction(epsilon)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        raise InputError(f"epsilon must be a finite number >= 0, got {epsilon!r}") from None
    if eps < 0:
        raise InputError(f"epsilon must be >= 0, got {epsilon!r}")
    return eps


def _show(v: Fraction) -> str:
    """``float (exactly p/q)`` for messages; just ``p`` for an integer."""
    return rational_str(v) if v.denominator == 1 else f"{float(v)!r} (exactly {v})"


def _full_point(edom: Any, v: list[Fraction]) -> list[Fraction]:
    x = list(edom.x0)
    for t, i in enumerate(edom.free):
        x[i] = v[t]
    return x


def _exact_vertex(fkeys: list[tuple[int, ...]], c: list[Fraction], n: int
                  ) -> tuple[Fraction, list[Fraction]] | None:
    """Exact maximum of ``c . x`` over ``{h_k x <= c_k}`` and a vertex attaining it (free
    coordinates), by the exact LP of :mod:`verishallow.equiv`; None if it finds none."""
    lp_ = ExactLP(n)
    for k in fkeys:
        lp_.add(list(k[:n]), k[n])
    lp_.col_lower = np.full(n, -np.inf)
    lp_.col_upper = np.full(n, np.inf)
    got = exact_lp_max(lp_, c)
    return None if got is None else (got[0], got[1])


def _optimal_multipliers(fkeys: list[tuple[int, ...]], target: list[Fraction], n: int
                         ) -> dict[int, Fraction] | None:
    """Exact optimal multipliers (minimal bound) by the exact simplex; None when ``target`` is
    not a non-negative combination of the facet normals (the maximum is unbounded)."""
    M = [[Fraction(k[t]) for k in fkeys] for t in range(n)]
    cost = [Fraction(k[n]) for k in fkeys]
    lam = simplex(M, list(target), cost)
    if lam is None:
        return None
    return {k: v for k, v in enumerate(lam) if v != 0}


class _Bound:
    """One region / output / side: ``s g_j <= value`` (multipliers None: constant)."""

    def __init__(self, r: int, j: int, s: int, a: list[Fraction], b: Fraction,
                 mu: dict[int, Fraction] | None, value: Fraction,
                 fkeys: list[tuple[int, ...]]):
        self.r, self.j, self.s, self.a, self.b, self.mu, self.value = r, j, s, a, b, mu, value
        self.fkeys = fkeys  # the region's facet inequalities (shared by its bounds)

    def entry(self) -> dict:
        ks = sorted(self.mu or {})
        return {"output": self.j, "side": "upper" if self.s > 0 else "lower",
                "facets": ks, "multipliers": [rational_str(self.mu[k]) for k in ks],
                "bound": rational_str(self.value)}


def certify_equivalence(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain | None = None,
                        epsilon: float | Fraction | int | str = 0.0, *, z3: bool = False,
                        progress: Callable[[int, int], None] | None = None,
                        **certify_kw: Any) -> dict:
    """Certificate (a JSON-ready dict) that ``max_{x in domain} |f_A(x) - f_B(x)|_inf <=
    epsilon``, re-checkable without solvers by
    :func:`verishallow.proofs.equivalence_checker.check_equivalence_certificate`.

    Why: ``verishallow equiv`` trusts SCIP's or the overlay's float bounds; this proof rests
    on exact arithmetic only. ``epsilon`` is taken exactly (a float is its exact binary
    value; a string may be ``"p/q"``). ``z3``, ``progress`` and ``certify_kw`` (``method``,
    ``workers``, ``scheduler``, ``time_limit``, ...) go to
    :func:`~verishallow.proofs.partition.certify` for the product network's partition; SCIP's
    coverage query is off unless ``prove_coverage=True`` (the certificate proves coverage
    itself). Raises :class:`NotEquivalentError` when some region's difference provably exceeds
    epsilon; a certificate whose evidence is incomplete has ``complete: false`` and
    ``problems`` (the checker will reject it).
    """
    t0 = time.perf_counter()
    eps = _epsilon(epsilon)
    if net_a.output_dim != net_b.output_dim:
        raise InputError(f"the networks have {net_a.output_dim} and {net_b.output_dim} outputs")
    prod = product_network(net_a, net_b)
    if domain is not None and domain.dim != net_a.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the networks have "
                         f"{net_a.input_dim} inputs")
    partition = certify_kw.pop("partition", None)
    workers = certify_kw.pop("workers", 1)
    if partition is None:  # the product's regions; this certificate proves their coverage
        partition = enumerate_regions(prod, domain, prove_coverage=False, workers=workers,
                                      **certify_kw)
    elif certify_kw:
        raise TypeError(f"enumeration options {sorted(certify_kw)} given with a partition")
    part = certify(prod, domain, partition=partition, z3=z3, progress=progress,
                   workers=workers)
    t1 = time.perf_counter()
    enet = ExactNet(prod)
    edom = exact_domain(part["domain"])
    xrows = ExactRows(enet, edom)
    n, N, m = len(edom.free), enet.n_hidden, net_a.output_dim
    problems: list[str] = []
    per_region: list[list[_Bound]] = []
    for r, reg in enumerate(part["regions"]):
        bits = np.array([ch == "1" for ch in reg["pattern"]], dtype=bool)
        rows = xrows.rows(bits)
        fkeys = facet_keys(rows, reg["facets"], N)
        fk = FarkasFinder(fkeys, n)
        found: list[_Bound] = []
        for j in range(m):
            a, b = difference_map(rows, edom, j, m)
            for s in (1, -1):
                if not any(a):
                    if s * b > eps:
                        raise NotEquivalentError(
                            f"|f_A - f_B|_{j} = {_show(abs(b))} > epsilon {_show(eps)} on "
                            f"region {r} (constant there)", abs(b),
                            [Fraction(v) for v in reg["witness"]])
                    found.append(_Bound(r, j, s, a, b, None, s * b, fkeys))
                    continue
                D = math.lcm(*(v.denominator for v in a))
                target = [int(s * v * D) for v in a]
                lam = fk.prove(target, (eps - s * b) * D)
                if lam is None:
                    mu = _optimal_multipliers(fkeys, [s * v for v in a], n)
                    if mu is None:
                        raise NotEquivalentError(f"(f_A - f_B)_{j} is unbounded on region {r} "
                                                 "(an unbounded domain?)")
                    value = sum((v * fkeys[k][n] for k, v in mu.items()), Fraction(0)) + s * b
                    if value > eps:
                        got = _exact_vertex(fkeys, [s * v for v in a], n)
                        point = _full_point(edom, got[1]) if got is not None else None
                        raise NotEquivalentError(
                            f"{'' if s > 0 else '-'}(f_A - f_B)_{j} reaches {_show(value)} > "
                            f"epsilon {_show(eps)} on region {r}", value, point)
                    problems.append(f"region {r}: no Farkas bound found for output {j}")
                    continue
                mu = {k: v / D for k, v in lam.items()}
                value = sum((v * fkeys[k][n] for k, v in mu.items()), Fraction(0)) + s * b
                found.append(_Bound(r, j, s, a, b, mu, value, fkeys))
        per_region.append(found)
    best_value, point = _maximum(per_region, part, edom, n, net_a, net_b)
    t2 = time.perf_counter()
    problems = list(part["problems"]) + problems
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": KIND,
        "complete": bool(part["complete"]) and not problems,
        "problems": problems[:200],
        "problem_count": len(problems),
        "epsilon": rational_str(eps),
        "max_difference": None if point is None else rational_str(best_value),
        "max_difference_bound": rational_str(best_value),
        "max_point": None if point is None else [rational_str(v) for v in point],
        "models": {"a": model_entry(net_a), "b": model_entry(net_b)},
        "product": {**product_description(net_a, net_b), **model_entry(prod)},
        "conventions": {
            "differences": "per region and output j, side upper proves (f_A - f_B)_j <= bound "
                           "and side lower -(f_A - f_B)_j <= bound on the region: multipliers "
                           ">= 0 over the region's facets (their primitive integer "
                           "inequalities h x <= c, free coordinates) reproduce the side's "
                           "coefficients exactly, bound = sum mu c + the side's constant; "
                           "an output/side not listed has a constant difference there",
        },
        "tool": {"name": "verishallow", "version": __version__},
        "seconds": {"partition": t1 - t0, "differences": t2 - t1, "total": t2 - t0},
        "differences": [{"region": r, "bounds": [bd.entry() for bd in found if bd.mu]}
                        for r, found in enumerate(per_region)],
        "partition": part,
    }


def _maximum(per_region: list[list[_Bound]], part: dict, edom: Any, n: int,
             net_a: ReLUNetwork, net_b: ReLUNetwork
             ) -> tuple[Fraction, list[Fraction] | None]:
    """The largest proved bound and, if found, an exact point of the domain attaining it
    (re-solving a region's multipliers exactly when its float support was not optimal)."""
    bounds = [bd for found in per_region for bd in found]
    for _ in range(MAX_TIGHTEN):
        top = max(bounds, key=lambda bd: bd.value)
        reg = part["regions"][top.r]
        if top.mu is None:
            x = [Fraction(v) for v in reg["witness"]]
        else:
            fkeys = top.fkeys
            c = [top.s * v for v in top.a]
            got = _exact_vertex(fkeys, c, n)
            if got is None:
                break
            if got[0] + top.s * top.b < top.value:
                mu = _optimal_multipliers(fkeys, c, n)
                if mu is None:
                    break
                top.mu = mu
                top.value = sum((v * fkeys[k][n] for k, v in mu.items()),
                                Fraction(0)) + top.s * top.b
                continue
            x = _full_point(edom, got[1])
        if max_abs_difference(net_a, net_b, x) == top.value:
            return top.value, x
        break
    return max(bd.value for bd in bounds), None
