"""Independent exact checker of equivalence certificates: no solver, no enumeration code.

An equivalence certificate (written by :mod:`verishallow.proofs.equivalence`) claims
``max_{x in domain} |f_A(x) - f_B(x)|_inf <= epsilon`` for two ReLU networks A and B. Like
:mod:`verishallow.proofs.partition_checker`, this module is part of the trusted base of an audit:
it imports the
standard library, numpy, the network class, :mod:`verishallow.product` (the product network)
and :mod:`verishallow.proofs.partition_checker` (the partition checker and its exact helpers),
never a solver.

What a valid equivalence certificate proves
-------------------------------------------
1. The checker builds the product network ``P(x) = [f_A(x); f_B(x)]`` itself from the two given
   models (:func:`~verishallow.product.product_network`; exact in rational arithmetic), and the
   certificate names both models by fingerprint.
2. The embedded partition certificate is checked against ``P`` with
   :func:`~verishallow.proofs.partition_checker.check_certificate`: its closed regions ``P_s``
   cover the domain,
   each is exactly the polyhedron of its listed facets, and on each ``P`` is the exact affine
   map ``alpha_s x + beta_s``. So on ``P_s`` the difference ``g_j = (f_A - f_B)_j`` is the
   affine map ``(alpha_A - alpha_B)_j x + (beta_A - beta_B)_j``, which the checker recomputes
   from the network's weights (never from the certificate's numbers).
3. For every region, output ``j`` and side ``s = +1`` ("upper") or ``-1`` ("lower"): either
   ``s g_j`` is constant on the region (zero coefficients in the free coordinates) and that
   constant is ``<= epsilon``, or the certificate gives multipliers ``mu_k >= 0`` over the
   region's facets (primitive integer inequalities ``h_k x <= c_k``) with
   ``sum mu_k h_k = s a_j`` exactly, and then ``s g_j(x) <= sum mu_k c_k + s b_j`` on the region
   (Farkas / weak LP duality); that bound must be ``<= epsilon``.

Since the regions cover the domain, ``|f_A(x) - f_B(x)|_inf <= epsilon`` for every ``x`` in it.
The largest bound of step 3 is recorded (``max_difference_bound``) and recomputed; when the
certificate also gives an exact point of the domain where ``|f_A - f_B|_inf`` (exact forward
passes of A and B) equals that bound, ``max_difference`` is the exact maximum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..exact.linalg import FarkasError, implied_bound
from ..exact.maps import ExactDomain, ExactNet, ExactRows, PatternRows
from ..exact.numbers import parse_rational, rational_str
from ..network import ReLUNetwork, network_fingerprint
from ..product import product_network
from .document import (
    FORMAT,
    INVALID,
    VERSION,
    CertificateError,
    CheckResult,
    Invalid,
    load_certificate,
    run_guarded,
)
from .partition_checker import check_certificate

#: ``kind`` of an equivalence certificate (a partition certificate has no ``kind``).
KIND = "equivalence"
SIDES = {"upper": 1, "lower": -1}


@dataclass
class EquivalenceCheckResult(CheckResult):
    """Verdict of :func:`check_equivalence_certificate`: the partition checker's fields plus
    what the certificate proves (exact rational strings; None when not valid/not recorded)."""

    epsilon: str | None = None
    max_difference: str | None = None
    max_difference_bound: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready verdict: ``check``'s keys plus ``kind``, ``epsilon`` and the maxima."""
        return {**super().to_dict(), "kind": KIND, "epsilon": self.epsilon,
                "max_difference": self.max_difference,
                "max_difference_bound": self.max_difference_bound}


# ----- exact helpers shared with the builder --------------------------------------------------
def is_equivalence_certificate(cert: Any) -> bool:
    """Whether a loaded certificate document is an equivalence certificate (two models)."""
    return isinstance(cert, dict) and cert.get("kind") == KIND


def exact_domain(dom: dict) -> ExactDomain:
    """The exact domain of a certificate's ``domain`` entry (its rational strings).

    Why: the difference bounds live in the same free coordinates as the partition's rows;
    call only after the partition check accepted the domain.
    """
    ex = dom["exact"]

    def opt(v: Any) -> Fraction | None:
        return None if v is None else parse_rational(v)

    lower = [opt(v) for v in ex["lower"]]
    upper = [opt(v) for v in ex["upper"]]
    A = [[parse_rational(v) for v in row] for row in ex.get("A", [])]
    b = [parse_rational(v) for v in ex.get("b", [])]
    return ExactDomain(lower, upper, A, b)


def difference_map(rows: PatternRows, edom: ExactDomain, j: int, m: int
                   ) -> tuple[list[Fraction], Fraction]:
    """``(f_A - f_B)_j = a . x_free + b`` on a region of the product network, exactly.

    Why: the bound evidence refers to the region's facet inequalities, which live in the free
    coordinates (fixed inputs substituted). ``m`` is the number of outputs of each network.
    """
    scale = Fraction(2) ** rows.out_exp
    al, be = rows.alpha, rows.beta
    da = [int(al[j, i]) - int(al[m + j, i]) for i in range(edom.dim)]
    db = Fraction(int(be[j]) - int(be[m + j]))
    for i in range(edom.dim):
        if edom.fixed[i]:
            db += da[i] * edom.x0[i]
    return [da[i] * scale for i in edom.free], db * scale


def facet_keys(rows: PatternRows, facets: list[dict], n_hidden: int) -> list[tuple[int, ...]]:
    """Each listed facet's primitive integer inequality ``(h..., c)``, in list order (what
    multipliers refer to); the partition check has verified that they are well formed."""
    out = []
    for f in facets:
        ids = list(f["neurons"]) + [n_hidden + i for i in f["domain"]]
        key = rows.keys[ids[0]]
        if key is None:
            raise Invalid("a facet row is constant")
        out.append(key)
    return out


def farkas_value(fkeys: list[tuple[int, ...]], fidx: Any, mults: Any,
                 target: list[Fraction]) -> Fraction:
    """``sum mu_k c_k`` after verifying ``mu >= 0`` and ``sum mu_k h_k = target`` exactly.

    Why: then ``target . x <= sum mu_k c_k`` on the region (every ``h_k x <= c_k`` holds there).
    """
    if not isinstance(fidx, list) or not isinstance(mults, list) or len(fidx) != len(mults) \
            or not fidx:
        raise Invalid("malformed multipliers")
    if len(set(map(repr, fidx))) != len(fidx):
        raise Invalid("a facet is used twice")
    mu = [parse_rational(v) for v in mults]
    ks = []
    for k in fidx:
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(fkeys):
            raise Invalid(f"refers to facet {k!r}, which does not exist")
        ks.append(fkeys[k])
    try:
        return implied_bound(ks, mu, target)
    except FarkasError as exc:
        raise Invalid(str(exc).replace("inequality", "difference")) from None


def max_abs_difference(net_a: ReLUNetwork, net_b: ReLUNetwork, x: list[Fraction]) -> Fraction:
    """``|f_A(x) - f_B(x)|_inf`` in exact rational arithmetic (exact forward passes)."""
    ya, yb = net_a.exact_forward(x), net_b.exact_forward(x)
    return max(abs(u - v) for u, v in zip(ya, yb, strict=True))


def model_entry(net: ReLUNetwork) -> dict:
    """How a certificate names a model: fingerprint (SHA-256 of the float64 weights), shape."""
    return {"fingerprint": network_fingerprint(net.weights, net.biases),
            "inputs": net.input_dim, "outputs": net.output_dim,
            "hidden_widths": list(net.hidden_widths)}


# ----- the check ------------------------------------------------------------------------------
class _EquivChecker:
    def __init__(self, cert: dict, net_a: ReLUNetwork, net_b: ReLUNetwork, max_failures: int):
        self.cert = cert
        self.net_a, self.net_b = net_a, net_b
        self.max_failures = max_failures
        self.failures: list[str] = []
        self.checked: dict[str, int] = {}
        self.epsilon: Fraction | None = None
        self.max_bound: Fraction | None = None
        self.max_exact: Fraction | None = None

    def fail(self, msg: str) -> None:
        self.failures.append(msg)

    @property
    def full(self) -> bool:
        return len(self.failures) >= self.max_failures

    def run(self, domain: Any | None) -> None:
        cert = self.cert
        models = cert.get("models")
        if not isinstance(models, dict):
            raise Invalid("certificate names no models")
        for side, net in (("a", self.net_a), ("b", self.net_b)):
            entry = models.get(side)
            fp = network_fingerprint(net.weights, net.biases)
            if not isinstance(entry, dict) or entry.get("fingerprint") != fp:
                got = entry.get("fingerprint") if isinstance(entry, dict) else None
                raise Invalid(f"model {side.upper()} fingerprint differs: certificate "
                               f"{str(got)[:16]}..., model {fp[:16]}... (a different network, "
                               "or A and B swapped)")
        if self.net_a.output_dim != self.net_b.output_dim:
            raise Invalid("the models have different numbers of outputs")
        eps = parse_rational(cert.get("epsilon"))
        if eps < 0:
            raise Invalid("epsilon is negative")
        self.epsilon = eps
        prod = product_network(self.net_a, self.net_b)
        part = cert.get("partition")
        if not isinstance(part, dict) or part.get("format") != FORMAT \
                or part.get("version") != VERSION:
            raise Invalid("no embedded partition certificate (version "
                           f"{VERSION}) of the product network")
        res = check_certificate(part, prod, domain=domain, max_failures=self.max_failures)
        self.checked.update(res.checked)
        if not res.valid:
            for msg in res.failures:
                self.fail(f"partition of the product network: {msg}")
            return
        self._differences(part, prod)

    def _differences(self, part: dict, prod: ReLUNetwork) -> None:
        eps = self.epsilon
        assert eps is not None
        regions = part["regions"]
        diffs = self.cert.get("differences")
        if not isinstance(diffs, list) or len(diffs) != len(regions):
            raise Invalid(f"differences must list every region of the partition "
                           f"({len(regions)}), in order")
        enet = ExactNet(prod)
        edom = exact_domain(part["domain"])
        xrows = ExactRows(enet, edom)
        N = enet.n_hidden
        m = self.net_a.output_dim
        counts = {"difference_regions": 0, "difference_bounds": 0, "constant_differences": 0}
        best: Fraction | None = None
        for r, (reg, dif) in enumerate(zip(regions, diffs, strict=True)):
            try:
                if not isinstance(dif, dict) or dif.get("region") != r:
                    raise Invalid("entries must have region ids 0, 1, 2, ... in order")
                bits = np.array([ch == "1" for ch in reg["pattern"]], dtype=bool)
                rows = xrows.rows(bits)
                fkeys = facet_keys(rows, reg["facets"], N)
                given: dict[tuple[int, int], dict] = {}
                bounds = dif.get("bounds")
                if not isinstance(bounds, list):
                    raise Invalid("bounds must be a list")
                for e in bounds:
                    if not isinstance(e, dict):
                        raise Invalid("malformed bound entry")
                    j, side = e.get("output"), e.get("side")
                    if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < m \
                            or side not in SIDES:
                        raise Invalid(f"bound for output {j!r} side {side!r}: no such output "
                                       "or side")
                    if (j, SIDES[side]) in given:
                        raise Invalid(f"two bounds for output {j} side {side}")
                    given[(j, SIDES[side])] = e
                for j in range(m):
                    a, b = difference_map(rows, edom, j, m)
                    for s, side in ((1, "upper"), (-1, "lower")):
                        what = f"(f_A - f_B)_{j} {side} bound"
                        e = given.get((j, s))
                        if e is None:
                            if any(a):
                                raise Invalid(f"{what}: the difference is not constant on the "
                                               "region and no multipliers are given")
                            value = s * b
                            counts["constant_differences"] += 1
                        else:
                            try:
                                value = farkas_value(fkeys, e.get("facets"), e.get("multipliers"),
                                                     [s * v for v in a]) + s * b
                            except INVALID as exc:
                                raise Invalid(f"{what}: {exc}") from None
                            if e.get("bound") != rational_str(value):
                                raise Invalid(f"{what}: the recorded bound {e.get('bound')!r} "
                                               f"is not what the multipliers give "
                                               f"({rational_str(value)})")
                            counts["difference_bounds"] += 1
                        if value > eps:
                            raise Invalid(f"{what}: {'' if s > 0 else '-'}(f_A - f_B)_{j} <= "
                                           f"{rational_str(value)} exceeds epsilon "
                                           f"{rational_str(eps)}")
                        best = value if best is None else max(best, value)
                counts["difference_regions"] += 1
            except INVALID as exc:
                self.fail(f"region {r}: {exc}")
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                self.fail(f"region {r}: malformed difference entry ({type(exc).__name__}: "
                          f"{exc})")
            if self.full:
                break
        self.checked.update(counts)
        if self.failures:
            return
        assert best is not None
        rec = self.cert.get("max_difference_bound")
        if rec != rational_str(best):
            raise Invalid(f"max_difference_bound {rec!r} is not the largest proved bound "
                           f"({rational_str(best)})")
        self.max_bound = best
        self._max_point(edom, best)

    def _max_point(self, edom: ExactDomain, best: Fraction) -> None:
        """An exact point where ``|f_A - f_B|_inf`` equals the proved bound: the exact max."""
        point, claimed = self.cert.get("max_point"), self.cert.get("max_difference")
        if point is None:
            if claimed is not None:
                raise Invalid("max_difference is claimed without a max_point")
            return
        if not isinstance(point, list) or len(point) != edom.dim:
            raise Invalid(f"max_point must have {edom.dim} coordinates")
        x = [parse_rational(v) for v in point]
        for i in range(edom.dim):
            if edom.fixed[i] and x[i] != edom.x0[i]:
                raise Invalid(f"max_point coordinate {i} differs from the fixed input value")
        for k, (h, c) in enumerate(edom.rows):
            if sum((u * v for u, v in zip(h, x, strict=True)), Fraction(0)) > c:
                raise Invalid(f"max_point is outside the domain (row {k})")
        val = max_abs_difference(self.net_a, self.net_b, x)
        if val != best:
            raise Invalid(f"|f_A - f_B| at max_point is {rational_str(val)}, not the proved "
                           f"bound {rational_str(best)}")
        if claimed != rational_str(val):
            raise Invalid(f"max_difference {claimed!r} differs from its value at max_point "
                           f"({rational_str(val)})")
        self.max_exact = val


def check_equivalence_certificate(cert_or_path: dict | str | Path, net_a: ReLUNetwork,
                                  net_b: ReLUNetwork, domain: Any | None = None,
                                  max_failures: int = 20) -> EquivalenceCheckResult:
    """Check an equivalence certificate of ``net_a`` and ``net_b`` exactly, without solvers.

    Why: it re-proves ``max |f_A - f_B|_inf <= epsilon`` on the certificate's domain from the
    two models' weights alone (see the module doc). ``domain`` (a Domain or its ``to_dict()``)
    additionally requires the certificate to be about exactly that domain. An unreadable file,
    or a partition certificate (one model), raises :class:`CertificateError`; every failed
    check is a message in ``failures``.
    """
    t0 = time.perf_counter()
    if isinstance(cert_or_path, dict):
        cert = cert_or_path
        if cert.get("format") != FORMAT or cert.get("version") != VERSION:
            raise CertificateError(f"the given object is not a version {VERSION} verishallow "
                                   "certificate")
    else:
        cert = load_certificate(cert_or_path)
    if not is_equivalence_certificate(cert):
        raise CertificateError("this is a partition certificate of one model, not an "
                               "equivalence certificate: check it with one model")
    chk = _EquivChecker(cert, net_a, net_b, max_failures)
    run_guarded(chk.run, chk.fail, domain, invalid=INVALID)
    valid = not chk.failures
    return EquivalenceCheckResult(
        valid, chk.failures, chk.checked, time.perf_counter() - t0,
        epsilon=None if chk.epsilon is None else rational_str(chk.epsilon),
        max_difference=rational_str(chk.max_exact) if valid and chk.max_exact is not None
        else None,
        max_difference_bound=rational_str(chk.max_bound) if valid and chk.max_bound is not None
        else None)
