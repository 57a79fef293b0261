"""Independent exact checker of verishallow certificates: no solver, no enumeration code.

This module is the trusted base of an audit. It imports only the standard library, numpy,
the network class (``verishallow.network``; models reach it through ``verishallow.io``) and
``verishallow.forkpool`` (a standard-library process pool that shares regions among workers), and
recomputes every fact it relies on in exact rational arithmetic from the model's weights. Every
float is a dyadic rational ``m * 2**e``, so weights, domain bounds and pattern-fixed affine maps
are held as Python integers with one power-of-two exponent per layer, and only the
certificate's multipliers bring in other denominators.

What a valid certificate proves
-------------------------------
For a pattern ``s`` let ``P_s`` be the closed polyhedron of the domain where every neuron's
pattern-fixed pre-activation ``z_i(x; s)`` has the sign ``s`` says (``>= 0`` active, ``<= 0``
inactive). On ``P_s`` the network *is* the affine map ``alpha_s x + beta_s``. The checker
verifies, per listed region (in the domain's free coordinates, fixed inputs substituted):

1. the witness ``w`` is in the domain and strictly inside: ``z_i(w; s) > 0`` for active and
   ``< 0`` for inactive neurons (``= 0`` only for a neuron identically zero on the region, which
   then must be inactive: ReLU(0) = 0), strictly inside every non-degenerate domain row;
2. ``alpha``/``beta`` equal the exact pattern-fixed output map;
3. the listed facets: each is a set of rows (neurons and/or domain rows) that are positive
   multiples of one inequality, and contains *every* row that is (the checker compares primitive
   integer vectors, so no row on a facet's hyperplane can hide);
4. every other row is implied by the facets: an explicit Farkas combination (``lambda >= 0``,
   ``sum lambda_k h_k = h_i``, ``sum lambda_k c_k <= c_i``), or the box test against coordinate
   bounds that are themselves Farkas-implied by the facets, or it is a zero row with a constant of
   the right sign. Hence ``P_s = {x : facet rows}`` exactly;
5. across every facet not on the domain boundary, the region listed as neighbour has exactly the
   pattern of the points just beyond it: ``s`` with the facet's first-layer neurons flipped, all
   other bits equal, except neurons that vanish on the facet from a later layer ("ambiguous":
   later neurons of the facet, neurons identically zero on ``P_s``); each of those must, in the
   neighbour, be identically zero and inactive or have the facet's hyperplane with the opposite
   orientation, which fixes its bit to the true one.

Coverage then follows without solvers: let ``U`` be the union of the listed ``P_s``. If a point
of the domain were not in ``U``, walk from a witness to a generic such point; where the segment
leaves ``U`` for good it crosses the relative interior of one facet of one ``P_s`` inside the
domain's interior, and by 5 the points just beyond lie in the neighbour's ``P_s'`` -- a
contradiction. So the listed regions cover the domain, and on each the network equals the listed
affine model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .. import forkpool
from ..exact.linalg import (
    FarkasError,
    basis_multipliers,
    implied_numerator,
    plane_basis,
    plane_multipliers,
)
from ..exact.maps import ExactDomain, ExactNet, ExactRows, PatternRows
from ..exact.numbers import parse_ratio, parse_rational
from ..network import ReLUNetwork, network_fingerprint
from .document import INVALID, CheckResult, Invalid, check_header, load_certificate, run_guarded


def _index_list(v: Any, limit: int) -> bool:
    """A list of distinct-or-not ints in ``range(limit)`` (bools and floats are not ints)."""
    return isinstance(v, list) and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < limit for i in v)


def _parse_domain(dom: Any, dim: int) -> ExactDomain:
    """The certificate's domain; the exact strings must equal the float form exactly."""
    if not isinstance(dom, dict) or "exact" not in dom:
        raise Invalid("domain: missing or without an exact form")
    kind = dom.get("kind")
    if kind not in ("box", "polytope", "whole"):
        raise Invalid(f"domain: unknown kind {kind!r}")
    ex = dom["exact"]

    def bound(fl: Any, st: Any, what: str) -> Fraction | None:
        if fl is None or st is None:
            if fl is not None or st is not None:
                raise Invalid(f"domain: {what} is infinite in one form and finite in the other")
            return None
        if not isinstance(fl, int | float) or isinstance(fl, bool) or not math.isfinite(fl):
            raise Invalid(f"domain: {what} float form {fl!r} is not a finite number")
        v = parse_rational(st)
        if v != Fraction(float(fl)):
            raise Invalid(f"domain: {what} exact {st} differs from its float form {fl!r}")
        return v

    try:
        lo = [bound(f, s, f"lower[{i}]") for i, (f, s) in
              enumerate(zip(dom["lower"], ex["lower"], strict=True))]
        up = [bound(f, s, f"upper[{i}]") for i, (f, s) in
              enumerate(zip(dom["upper"], ex["upper"], strict=True))]
        Af = dom.get("A", [])
        bf = dom.get("b", [])
        Ae = ex.get("A", [])
        be = ex.get("b", [])
        if not (len(Af) == len(Ae) == len(bf) == len(be)):
            raise Invalid("domain: A and b have inconsistent lengths")
        A = [[bound(f, s, f"A[{k}][{j}]") for j, (f, s) in enumerate(zip(rf, re_, strict=True))]
             for k, (rf, re_) in enumerate(zip(Af, Ae, strict=True))]
        b = [bound(f, s, f"b[{k}]") for k, (f, s) in enumerate(zip(bf, be, strict=True))]
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"domain: malformed ({type(exc).__name__}: {exc})") from None
    if len(lo) != dim or any(len(r) != dim for r in A):
        raise Invalid(f"domain has {len(lo)} coordinates but the model has {dim} inputs")
    if any(v is None for r in A for v in r) or any(v is None for v in b):
        raise Invalid("domain: polytope rows must be finite")
    for i in range(dim):
        if lo[i] is not None and up[i] is not None and lo[i] > up[i]:
            raise Invalid(f"domain: lower > upper in coordinate {i}")
    if kind == "whole" and (any(v is not None for v in lo + up) or A):
        raise Invalid("domain: kind 'whole' with finite bounds or rows")
    return ExactDomain(lo, up, A, b)  # type: ignore[arg-type]


def _domain_dict_equal(cert_dom: dict, other: dict) -> bool:
    keys = ("kind", "lower", "upper")
    if any(cert_dom.get(k) != other.get(k) for k in keys):
        return False
    return (cert_dom.get("A", []) == other.get("A", [])
            and cert_dom.get("b", []) == other.get("b", []))


def _describe(dom: dict) -> str:
    """``kind lower..upper [+k rows]`` of a domain dict, for messages."""
    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    box = ", ".join(f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(dom.get("lower") or [],
                                                            dom.get("upper") or [],
                                                            strict=False))
    rows = len(dom.get("A") or [])
    return f"{dom.get('kind')} {box}" + (f" + {rows} rows" if rows else "")


# ----- the checks ----------------------------------------------------------------------------
def box_failures(keys: list[tuple[int, ...]], upper: list[Fraction | None],
                 lower: list[Fraction | None]) -> np.ndarray:
    """Indices of the inequalities ``h x <= c`` (primitive integer ``keys``) that the box
    ``lower <= x <= upper`` does not imply: ``max over the box of h x > c``, or unbounded.
    Integers over one common denominator, in plain Python (a region has a few dozen rows)."""
    if not keys:
        return np.zeros(0, dtype=np.int64)
    n = len(upper)
    den = math.lcm(*(v.denominator for v in upper + lower if v is not None))
    U = [None if v is None else v.numerator * (den // v.denominator) for v in upper]
    L = [None if v is None else v.numerator * (den // v.denominator) for v in lower]
    bad: list[int] = []
    if n == 2:  # the plane, unrolled (most rows of a 2-D partition end here)
        (U0, U1), (L0, L1) = U, L
        for r, (h0, h1, c) in enumerate(keys):
            b0 = U0 if h0 > 0 else L0
            b1 = U1 if h1 > 0 else L1
            if (h0 and b0 is None) or (h1 and b1 is None) or \
                    (h0 * b0 if h0 else 0) + (h1 * b1 if h1 else 0) > c * den:
                bad.append(r)
        return np.array(bad, dtype=np.int64)
    for r, k in enumerate(keys):
        acc = 0
        for j in range(n):
            h = k[j]
            if h > 0:
                u = U[j]
                if u is None:
                    break
                acc += h * u
            elif h < 0:
                lo = L[j]
                if lo is None:
                    break
                acc += h * lo
        else:
            if acc <= k[n] * den:
                continue
        bad.append(r)
    return np.array(bad, dtype=np.int64)


def strict_sign_failures(rows: PatternRows, bits: np.ndarray, wn: list[int], q: int
                         ) -> np.ndarray:
    """Neurons whose pattern-fixed pre-activation at ``w = wn / q`` does not have the strict
    sign of ``bits`` (an identically zero neuron passes as inactive: ReLU(0) = 0)."""
    vals, on = rows.neuron_values(wn, q).tolist(), bits.tolist()
    # active: z > 0; inactive: z < 0, or z = 0 for a neuron identically zero on the region
    bad = [i for i in range(len(vals)) if (vals[i] <= 0 if on[i] else vals[i] >= 0)]
    if bad:
        zero = set(rows.zero_neurons)
        bad = [i for i in bad if on[i] or vals[i] != 0 or i not in zero]
    return np.array(bad, dtype=np.int64)


def _plane_implies(pair: tuple[tuple[int, ...], tuple[int, ...], int], key: tuple[int, ...],
                   what: Callable[[], str]) -> None:
    """In the plane, the basis ``pair`` (:func:`~verishallow.exact.linalg.plane_basis`, solved
    once per basis) implies ``key``'s inequality: the multipliers ``(ni, nj) / det`` of
    :func:`~verishallow.exact.linalg.plane_multipliers` (the unique ones) are non-negative and
    give a bound at most ``key``'s. The test of :meth:`_Checker._farkas` for a basis, without
    its general path: it runs for most rows of a 2-D certificate."""
    a, b, _ = pair
    ni, nj, det = plane_multipliers(pair, key[0], key[1])
    tc = key[2]
    if ni < 0 or nj < 0:
        raise Invalid(f"{what()}: a multiplier is negative")
    if ni * a[2] + nj * b[2] > tc * det:
        raise Invalid(f"{what()}: the implied bound is weaker than needed")


def _check_part(chk: _Checker, ids: list[int]) -> tuple[list, dict, dict]:
    return chk.regions_part(ids)


class _Checker:
    def __init__(self, cert: dict, net: ReLUNetwork, max_failures: int, workers: int = 1):
        self.cert = cert
        self.workers = workers
        self.net = net
        self.enet = ExactNet(net)
        self.N = self.enet.n_hidden
        #: (region id or -1, message); reported in region order whatever the visiting order
        self._failures: list[tuple[int, str]] = []
        self.max_failures = max_failures
        self.counts = {k: 0 for k in ("regions", "witnesses", "models", "facets", "neighbours",
                                      "farkas", "box_bounds", "box_implied", "zero_rows",
                                      "ambiguous_bits")}
        # (region id, neuron, key that its row must equal unless identically zero)
        self.deferred: dict[int, list[tuple[int, tuple[int, ...], str]]] = {}

    def fail(self, msg: str, region: int = -1) -> None:
        self._failures.append((region, msg))

    @property
    def failures(self) -> list[str]:
        return [m for _, m in sorted(self._failures, key=lambda t: t[0])]

    @property
    def full(self) -> bool:
        return len(self._failures) >= self.max_failures

    def name(self, row: int) -> str:
        if row < self.N:
            return f"neuron {self.net.neuron_name(row)}"
        return f"domain row {row - self.N}"

    # ---------------------------------------------------------------------------------------
    def run(self, domain: Any | None) -> None:
        order = self.prepare(domain)
        if order is None:
            return
        parts = forkpool.chunks(order, self.workers)
        for result in forkpool.fork_map(_check_part, self, parts, self.workers):
            self.merge(result)
            if self.full:
                return
        self._deferred()

    def merge(self, result: tuple[list, dict, dict]) -> None:
        """Add one part's :meth:`regions_part` result (from a worker or this process)."""
        failures, counts, deferred = result
        self._failures += failures
        for k, v in counts.items():
            self.counts[k] += v
        for nb, reqs in deferred.items():
            self.deferred.setdefault(nb, []).extend(reqs)

    def prepare(self, domain: Any | None) -> list[int] | None:
        """The whole-certificate checks (model, domain, ids, patterns); the regions to check
        in pattern order, or None when the certificate already failed."""
        cert = self.cert
        model = cert.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("fingerprint"), str):
            self.fail("certificate has no model fingerprint")
            return
        fp = network_fingerprint(self.net.weights, self.net.biases)
        if model["fingerprint"] != fp:
            self.fail(f"model fingerprint differs: certificate {model['fingerprint'][:16]}..., "
                      f"model {fp[:16]}... (a different network)")
            return
        try:
            self.edom = _parse_domain(cert.get("domain"), self.net.input_dim)
        except INVALID as exc:
            self.fail(str(exc))
            return
        if domain is not None:
            other = domain.to_dict() if hasattr(domain, "to_dict") else domain
            if not _domain_dict_equal(cert["domain"], other):
                self.fail(f"the certificate's domain differs from the given domain "
                          f"(certificate: {_describe(cert['domain'])}; given: "
                          f"{_describe(other)})")
                return
        regions = cert.get("regions")
        if not isinstance(regions, list) or not regions:
            self.fail("certificate lists no regions")
            return
        self.M = len(self.edom.rows)
        self.patterns: list[np.ndarray | None] = []
        seen: dict[bytes, int] = {}
        for r, reg in enumerate(regions):
            try:
                if not isinstance(reg, dict) or reg.get("id") != r:
                    raise Invalid("ids must be 0, 1, 2, ... in order")
                bits = self._pattern(reg.get("pattern"))
                key = np.packbits(bits).tobytes()
                if key in seen:
                    raise Invalid(f"same pattern as region {seen[key]}")
                seen[key] = r
                self.patterns.append(bits)
            except INVALID as exc:
                self.patterns.append(None)
                self.fail(f"region {r}: {exc}", r)
                if self.full:
                    return
        self.n_regions = len(regions)
        self.xrows = ExactRows(self.enet, self.edom)
        # pattern order: consecutive regions share layer prefixes (see ExactRows)
        return sorted((r for r in range(len(regions)) if self.patterns[r] is not None),
                      key=lambda r: np.packbits(self.patterns[r]).tobytes())

    def regions_part(self, ids: list[int]) -> tuple[list, dict, dict]:
        """Check regions ``ids``; returns their failures, counts and deferred checks instead
        of adding them (the same in a forked worker and in this process)."""
        saved = self._failures, self.counts, self.deferred
        self._failures, self.deferred = [], {}
        self.counts = dict.fromkeys(saved[1], 0)
        try:
            regions = self.cert["regions"]
            for r in ids:
                try:
                    self._region(r, regions[r])
                except INVALID as exc:
                    self.fail(f"region {r}: {exc}", r)
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                    self.fail(f"region {r}: malformed entry ({type(exc).__name__}: {exc})", r)
                if self.full:
                    break
            return self._failures, self.counts, self.deferred
        finally:
            self._failures, self.counts, self.deferred = saved

    def _pattern(self, text: Any) -> np.ndarray:
        if not isinstance(text, str) or len(text) != self.N or set(text) - {"0", "1"}:
            raise Invalid(f"pattern must be a string of {self.N} 0/1 characters")
        return np.frombuffer(text.encode(), dtype=np.uint8) == ord("1")

    # ---------------------------------------------------------------------------------------
    def _region(self, r: int, reg: dict) -> None:
        bits = self.patterns[r]
        rows = self.xrows.rows(bits)
        self.counts["regions"] += 1
        self._model(reg, rows)
        self._witness(reg, bits, rows)
        facets, fkeys, facet_rows = self._facets(reg, rows)
        self._implications(reg, bits, rows, fkeys, facet_rows)
        self._neighbours(r, reg, bits, rows, facets, fkeys)

    def _model(self, reg: dict, rows: PatternRows) -> None:
        alpha, beta = reg["alpha"], reg["beta"]
        m, d = rows.alpha.shape
        if len(alpha) != m or any(len(a) != d for a in alpha) or len(beta) != m:
            raise Invalid("affine model has the wrong shape")
        alpha_text, beta_text = rows.model_text

        def same(text: Any, canon: str, v: Any) -> bool:
            # the canonical string first (what certifiers write), else the value
            return text == canon or \
                parse_rational(text) == int(v) * Fraction(2) ** rows.out_exp

        for o in range(m):
            for j in range(d):
                if not same(alpha[o][j], alpha_text[o][j], rows.alpha[o, j]):
                    raise Invalid(f"affine model differs from the network: alpha[{o}][{j}]")
            if not same(beta[o], beta_text[o], rows.beta[o]):
                raise Invalid(f"affine model differs from the network: beta[{o}]")
        self.counts["models"] += 1

    def _witness(self, reg: dict, bits: np.ndarray, rows: PatternRows) -> None:
        w = [parse_rational(v) for v in reg["witness"]]
        ed = self.edom
        if len(w) != ed.dim:
            raise Invalid(f"witness has {len(w)} coordinates, expected {ed.dim}")
        for i in range(ed.dim):
            if ed.fixed[i] and w[i] != ed.x0[i]:
                raise Invalid(f"witness coordinate {i} differs from the fixed input value")
        wf = [w[i] for i in ed.free]
        q = math.lcm(*(v.denominator for v in wf)) if wf else 1
        wn = [v.numerator * (q // v.denominator) for v in wf]
        bad = strict_sign_failures(rows, bits, wn, q)
        if bad.size:
            raise Invalid(f"witness does not satisfy the pattern strictly at "
                           f"{self.name(int(bad[0]))} (moved or wrong witness)")
        for k, (h, c) in enumerate(ed.red_int):
            v = sum(x * y for x, y in zip(h, wn, strict=True))
            if (v >= q * c) if any(h) else (c < 0):
                raise Invalid(f"witness is not strictly inside domain row {k}")
        self.counts["witnesses"] += 1

    def _facets(self, reg: dict, rows: PatternRows
                ) -> tuple[list[dict], list[tuple[int, ...]], set[int]]:
        facets = reg["facets"]
        if not isinstance(facets, list):
            raise Invalid("facets must be a list")
        fkeys: list[tuple[int, ...]] = []
        members: dict[tuple[int, ...], set[int]] = {}
        used: set[int] = set()
        for k, f in enumerate(facets):
            neurons, drows = f["neurons"], f["domain"]
            if not (_index_list(neurons, self.N) and _index_list(drows, self.M)):
                raise Invalid(f"facet {k} refers to a row that does not exist")
            ids = list(neurons) + [self.N + i for i in drows]
            if not ids:
                raise Invalid(f"facet {k} lists no rows")
            if used & set(ids) or len(set(ids)) != len(ids):
                raise Invalid(f"facet {k} repeats a row")
            used |= set(ids)
            key = rows.keys[ids[0]]
            if key is None:
                raise Invalid(f"facet {k}: {self.name(ids[0])} is constant on the region")
            for i in ids[1:]:
                if rows.keys[i] != key:
                    raise Invalid(f"facet {k}: {self.name(i)} is not on the same hyperplane as "
                                   f"{self.name(ids[0])}")
            if key in members:
                raise Invalid(f"facets {fkeys.index(key)} and {k} are the same hyperplane")
            members[key] = set(ids)
            fkeys.append(key)
        for i, key in enumerate(rows.keys):
            if key is not None and key in members and i not in members[key]:
                raise Invalid(f"{self.name(i)} lies on facet {fkeys.index(key)}'s hyperplane "
                               "but is not listed in it")
        self.counts["facets"] += len(facets)
        return facets, fkeys, used  # used: every row whose key is a facet's (checked above)

    def _farkas(self, fkeys: list[tuple[int, ...]], fidx: list[Any], mults: list[Any] | None,
                target: list[Fraction] | list[int], tc: Fraction | int,
                what: Callable[[], str]) -> None:
        """``sum m_k key_k[:n] == target`` and ``sum m_k key_k[n] <= tc`` with ``m >= 0``, in
        integers over the multipliers' common denominator. Without ``mults`` the facets are a
        basis (``n`` of them, a vertex's) and the multipliers are solved here exactly
        (:func:`~verishallow.exact.linalg.basis_multipliers`). ``what()`` names the evidence
        (only built for a failure)."""
        if not isinstance(fidx, list) or not fidx or \
                (mults is not None and (not isinstance(mults, list) or len(fidx) != len(mults))):
            raise Invalid(f"{what()}: malformed multipliers")
        ks = []
        for k in fidx:
            if not isinstance(k, int) or not 0 <= k < len(fkeys):
                raise Invalid(f"{what()}: refers to facet {k!r}, which does not exist")
            ks.append(fkeys[k])
        try:
            if mults is None:
                nums, den = basis_multipliers(ks, target)
            else:
                ratios = [parse_ratio(m) for m in mults]
                if any(p < 0 for p, _ in ratios):
                    raise Invalid(f"{what()}: a multiplier is negative")
                den = math.lcm(*(q for _, q in ratios))
                nums = [p * (den // q) for p, q in ratios]
            bound = implied_numerator(ks, nums, den, target)
        except FarkasError as exc:
            raise Invalid(f"{what()}: {exc}") from None
        weaker = bound > tc * den if isinstance(tc, int) else \
            bound * Fraction(tc).denominator > Fraction(tc).numerator * den
        if weaker:
            raise Invalid(f"{what()}: the implied bound is weaker than needed")

    def _basis_pair(self, fkeys: list[tuple[int, ...]], fidx: Any, row: int | None
                    ) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """The two facets of a plane basis and their determinant (``row`` names the
        implication in a failure; None: a box bound)."""
        def what() -> str:  # only built for a failure
            return "a box bound" if row is None else f"implication of {self.name(row)}"
        if not isinstance(fidx, list) or len(fidx) != 2:
            raise Invalid(f"{what()}: a basis names two existing facets")
        i, j = fidx
        if type(i) is not int or type(j) is not int or not (0 <= i < len(fkeys)
                                                            and 0 <= j < len(fkeys)):
            raise Invalid(f"{what()}: a basis names two existing facets")
        try:
            return plane_basis(fkeys[i], fkeys[j])
        except FarkasError as exc:
            raise Invalid(f"{what()}: {exc}") from None

    def _implications(self, reg: dict, bits: np.ndarray, rows: PatternRows,
                      fkeys: list[tuple[int, ...]], facet_rows: set[int]) -> None:
        """Every row not on a facet (``facet_rows``, from :meth:`_facets`) is implied."""
        n = len(self.edom.free)
        # coordinate bounds proved from the facets
        upper: list[Fraction | None] = [None] * n
        lower: list[Fraction | None] = [None] * n
        pos = {j: t for t, j in enumerate(self.edom.free)}
        for e in reg.get("box", []):
            j = e["coord"]
            if j not in pos:
                raise Invalid(f"box bound on coordinate {j!r}, which is not a free input")
            t = pos[j]
            bound = parse_rational(e["bound"])
            side = e["side"]
            if side not in ("upper", "lower"):
                raise Invalid(f"box bound side {side!r}")
            sgn = 1 if side == "upper" else -1
            target = [sgn * int(t == u) for u in range(n)]
            what = lambda side=side, j=j: f"box {side} bound of x{j}"  # noqa: E731
            if n == 2 and "multipliers" not in e:
                # sgn * x_t <= bound as the key (target, bound) over the bound's denominator
                p, q = bound.numerator, bound.denominator
                _plane_implies(self._basis_pair(fkeys, e["facets"], None),
                               (target[0] * q, target[1] * q, sgn * p), what)
            else:
                self._farkas(fkeys, e["facets"], e.get("multipliers"), target, sgn * bound,
                             what)
            if side == "upper":
                upper[t] = bound
            else:
                lower[t] = bound
            self.counts["box_bounds"] += 1
        explicit: dict[int, dict] = {}
        for e in reg.get("implied", []):
            # one row with its multipliers or basis, or several rows sharing one basis
            ids = e["rows"] if "rows" in e else [e["row"]]
            if not isinstance(ids, list) or ("rows" in e and "multipliers" in e):
                raise Invalid("implication: rows sharing a basis take no multipliers")
            for i in ids:
                if not isinstance(i, int) or not 0 <= i < self.N + self.M or i in explicit:
                    raise Invalid(f"implication for row {i!r}: no such row, or given twice")
                explicit[i] = e
        boxed: list[int] = []
        pairs: dict[int, tuple] = {}
        for i, key in enumerate(rows.keys):
            if i in facet_rows:
                if i in explicit:
                    raise Invalid(f"implication given for {self.name(i)}, which is a facet")
                continue
            if key is None:
                c = rows.consts[i]
                ok = c > 0 or (c == 0 and (i >= self.N or not bits[i]))
                if not ok:
                    raise Invalid(f"{self.name(i)} is constant with the wrong sign")
                self.counts["zero_rows"] += 1
                continue
            e = explicit.get(i)
            if e is not None:
                if n == 2 and "multipliers" not in e:
                    pair = pairs.get(id(e))
                    if pair is None:
                        pair = pairs[id(e)] = self._basis_pair(fkeys, e["facets"], i)
                    _plane_implies(pair, key, lambda i=i: f"implication of {self.name(i)}")
                else:
                    self._farkas(fkeys, e["facets"], e.get("multipliers"), list(key[:n]),
                                 key[n], lambda i=i: f"implication of {self.name(i)}")
                self.counts["farkas"] += 1
                continue
            boxed.append(i)
        bad = box_failures([rows.keys[i] for i in boxed], upper, lower)
        if bad.size:
            raise Invalid(f"{self.name(boxed[int(bad[0])])} is not shown implied by the facets "
                           "(missing facet or evidence)")
        self.counts["box_implied"] += len(boxed)

    def _neighbours(self, r: int, reg: dict, bits: np.ndarray, rows: PatternRows,
                    facets: list[dict], fkeys: list[tuple[int, ...]]) -> None:
        layer_of = self.enet.layer_of
        zero_neurons = rows.zero_neurons
        for k, f in enumerate(facets):
            nb = f.get("neighbour")
            if f["domain"]:
                if nb is not None:
                    raise Invalid(f"facet {k} lies on the domain boundary but names a "
                                   "neighbour")
                continue
            if not isinstance(nb, int) or isinstance(nb, bool) or not 0 <= nb < self.n_regions:
                raise Invalid(f"facet {k} ({self._fname(f)}) has no neighbour region (missing "
                               "region or incomplete certificate)")
            other = self.patterns[nb]
            if other is None:
                raise Invalid(f"facet {k}: neighbour {nb} has an unreadable pattern")
            J = [int(i) for i in f["neurons"]]
            first = min(layer_of[i] for i in J)
            flip = {i for i in J if layer_of[i] == first}
            amb = [i for i in J if layer_of[i] > first]
            amb += [i for i in zero_neurons if layer_of[i] > first]
            # beyond the facet: the first layer's facet neurons flip, ambiguous bits aside
            skip = set(amb)
            diff = {i for i in np.nonzero(bits ^ other)[0].tolist() if i not in skip}
            if nb == r or diff != flip:
                bad = sorted(diff ^ flip)
                where = self.name(bad[0]) if bad else "every bit"
                raise Invalid(f"facet {k} ({self._fname(f)}): neighbour {nb} does not have the "
                               f"pattern beyond the facet (differs at {where})")
            neg = tuple([-v for v in fkeys[k]]) if amb else None
            for i in amb:
                self.deferred.setdefault(nb, []).append((i, neg, f"region {r} facet {k}"))
                self.counts["ambiguous_bits"] += 1
            self.counts["neighbours"] += 1

    def _fname(self, f: dict) -> str:
        return ", ".join(self.net.neuron_name(int(i)) for i in f["neurons"])

    def _deferred(self) -> None:
        """Ambiguous bits: in the neighbour, the neuron is identically zero (and inactive) or
        has the facet's hyperplane facing the other way, which makes its bit the true one."""
        for nb, reqs in sorted(self.deferred.items()):
            if self.full:
                return
            bits = self.patterns[nb]
            rows = self.xrows.rows(bits)
            for i, neg, where in reqs:
                key = rows.keys[i]
                if key is None:
                    ok = rows.consts[i] == 0 and not bits[i]
                else:
                    ok = key == neg
                if not ok:
                    self.fail(f"{where}: in neighbour {nb}, {self.name(i)} has the wrong bit for "
                              "the points beyond the facet", nb)
                    break


class StagedCheck:
    """This checker run beside the certifier, region by region as each is certified: the
    coverage proof's way of checking without a second pass over the regions.

    ``skeleton`` is the certificate as far as it is known before any region is certified (its
    header, and each region's ``id`` and ``pattern``); the whole-certificate checks run on it at
    once. :meth:`run` checks certified regions (in the certifier's worker, which forked after
    this object was made) and keeps each region's result apart, :meth:`merge` brings them here,
    and :meth:`finish` checks the finished certificate: the whole-certificate checks again, then
    every region from its kept result if its entry is the very object that was checked and that
    result was clean, else from scratch (regions added or re-certified afterwards, such as thin
    regions and their neighbours), then the neighbour checks deferred across regions. A
    certificate with another header or other patterns is checked by :func:`check_certificate`.
    The checks are this module's, unchanged; ``xrows`` (this checker's exact rows) may serve the
    certifier too, so that each region's exact rows are computed once (they are a function of
    network, domain and pattern alone).
    """

    def __init__(self, skeleton: dict, net: ReLUNetwork, domain: Any | None = None,
                 max_failures: int = 20):
        check_header(skeleton, "the certificate being built")
        self.skeleton, self.net, self.domain = skeleton, net, domain
        self.max_failures = max_failures
        self._chk = _Checker(skeleton, net, max_failures)
        self._order: list[int] | None = None

        def prepare(dom: Any | None) -> None:
            self._order = self._chk.prepare(dom)
        run_guarded(prepare, self._chk.fail, domain)
        self.xrows: ExactRows | None = getattr(self._chk, "xrows", None) \
            if self._order is not None else None
        #: per region id: (the entry object checked, its failures, counts, deferred checks)
        self._kept: dict[int, tuple[dict, list, tuple[int, ...], dict]] = {}
        self._t0 = time.perf_counter()

    def run(self, pairs: list[tuple[int, dict]]
            ) -> list[tuple[int, list, tuple[int, ...], dict]] | None:
        """Check the certified regions ``(id, entry)``, each result apart; None when the
        skeleton failed."""
        if self._order is None:
            return None
        chk = self._chk
        regions = chk.cert["regions"]
        out = []
        for rid, entry in pairs:
            # in place for this check only: a worker that kept every entry it certified would
            # grow a heap that each of its full garbage collections walks again
            skeleton_entry, regions[rid] = regions[rid], entry
            try:
                failures, counts, deferred = chk.regions_part([rid])
            finally:
                regions[rid] = skeleton_entry
            out.append((rid, failures, tuple(counts.values()), deferred))
        return out

    def merge(self, result: list[tuple[int, list, tuple[int, ...], dict]] | None,
              pairs: list[tuple[int, dict]]) -> None:
        """Keep :meth:`run`'s results for ``pairs`` (the parent's copies of the entries)."""
        if result is None:
            return
        entries = dict(pairs)
        for rid, failures, counts, deferred in result:
            self._kept[rid] = (entries[rid], failures, counts, deferred)

    def finish(self, cert: dict, workers: int | None = 1) -> CheckResult:
        """The check of the finished ``cert`` (``workers`` for a check from scratch)."""
        sk, regions = self.skeleton, cert.get("regions")
        n0 = len(sk["regions"])
        if not (self._order is not None and isinstance(regions, list) and len(regions) >= n0
                and all(cert.get(k) == sk.get(k)
                        for k in ("format", "version", "model", "domain"))
                and all(isinstance(e, dict) and e.get("id") == t.get("id")
                        and e.get("pattern") == t.get("pattern")
                        for e, t in zip(regions, sk["regions"], strict=False))):
            return check_certificate(cert, self.net, self.domain, self.max_failures, workers)
        if len(regions) == n0 and len(self._kept) == n0 and \
                all(self._kept[r][0] is regions[r] for r in range(n0)):
            # nothing changed since it was checked: every kept result stands as it is
            chk = self._chk
            chk.cert = cert
            self._merge_kept(chk, range(n0))
            if not chk.full:
                run_guarded(chk._deferred, chk.fail)
        else:
            chk = _Checker(cert, self.net, self.max_failures)

            def run(dom: Any | None) -> None:
                order = chk.prepare(dom)  # the whole-certificate checks, on this certificate
                if order is None:
                    return
                if self.xrows is not None:
                    chk.xrows = self.xrows  # same network and domain (prepare checked it)
                # a kept clean result stands for its unchanged entry; every other region
                # (added or re-certified after it was checked, or failed then) is checked here
                again = {r for r in order if not ((kept := self._kept.get(r)) is not None
                                                  and kept[0] is regions[r] and not kept[1])}
                self._merge_kept(chk, [r for r in order if r not in again])
                for r in order:
                    if r in again:
                        chk.merge(chk.regions_part([r]))
                        if chk.full:
                            return
                chk._deferred()
            run_guarded(run, chk.fail, self.domain)
        return CheckResult(not chk.failures, chk.failures, chk.counts,
                           time.perf_counter() - self._t0)

    def _merge_kept(self, chk: _Checker, ids: Any) -> None:
        """Add the kept results of regions ``ids`` to ``chk`` (counts summed once)."""
        totals = [0] * len(chk.counts)
        for r in ids:
            _, failures, counts, deferred = self._kept[r]
            chk._failures += failures
            for k, v in enumerate(counts):
                totals[k] += v
            for nb, reqs in deferred.items():
                chk.deferred.setdefault(nb, []).extend(reqs)
        for k, v in zip(list(chk.counts), totals, strict=True):
            chk.counts[k] += v


def check_certificate(cert_or_path: dict | str | Path, net: ReLUNetwork,
                      domain: Any | None = None, max_failures: int = 20,
                      workers: int | None = 1) -> CheckResult:
    """Check a certificate against ``net`` exactly; ``domain`` (a Domain or its ``to_dict()``)
    additionally requires the certificate to be about exactly that domain. ``workers``
    (``None``: every core) checks the regions on that many forked processes.

    An unreadable or non-certificate file raises :class:`CertificateError`; every failed check
    is a message in ``failures`` (``valid`` is False), checking stops after ``max_failures``.
    """
    t0 = time.perf_counter()
    if isinstance(cert_or_path, dict):
        cert = cert_or_path
        check_header(cert, "the given object")
    else:
        cert = load_certificate(cert_or_path)
    nw = forkpool.default_workers() if workers is None else max(1, int(workers))
    chk = _Checker(cert, net, max_failures, nw)
    run_guarded(chk.run, chk.fail, domain)
    return CheckResult(not chk.failures, chk.failures, chk.counts, time.perf_counter() - t0)
