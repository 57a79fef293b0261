"""Certificates: everything an auditor needs to re-prove a partition without our solvers.

:func:`certify` turns a :class:`~verishallow.regions.Partition` into a versioned JSON document
that :mod:`verishallow.proofs.partition_checker` verifies in exact arithmetic (see that module for
the theorem and
the checks). Floating point is used here only to *find* evidence: the basis of the region's
extreme vertex in the needed direction (qhull on the polar dual of the facets), else HiGHS's
support of a Farkas combination; the multipliers are then solved exactly on that support and
verified (an exact simplex takes over when the float support is degenerate). Nothing computed
in floating point is written as a fact; what cannot be proved exactly is reported and makes the
certificate ``complete: false``. Regions are certified in pattern order (shared layer prefixes,
see :class:`~verishallow.proofs.partition_checker.ExactRows`), on forked workers when asked.

Per region the certificate holds the pattern, an exact interior witness, the exact affine model,
the facets (exact groups of rows on one hyperplane, with the neighbour across each), coordinate
bounds implied by the facets (``box``; most far-away rows are implied by them, which saves one
LP and one Farkas check per row) and explicit Farkas multipliers for the other rows.
"""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import __version__, forkpool
from ..atomic import write_bytes
from ..domain import Domain
from ..exact.maps import ExactDomain, ExactNet, ExactRows, PatternRows
from ..exact.numbers import rational_str
from ..jsonable import jsonable
from ..network import ReLUNetwork, pattern_key
from ..regions import tolerances as G
from ..regions.builder import thin_regions
from ..regions.region import Partition, Region
from ..solvers import lp, solver_versions
from .document import FORMAT, VERSION
from .farkas import SUPPORT_TOL, FarkasFinder, unit_rows
from .partition_checker import box_failures, strict_sign_failures

#: At most this many rounds of adding missed facets / dropping redundant ones per region.
MAX_ROUNDS = 4
#: The bound a coordinate-bound search accepts: any (the box records the implied one).
NO_BOUND = 10 ** 300
#: At most this many rounds of adding thin regions (a thin region's facets can lead to more).
MAX_THIN_ROUNDS = 8

Progress = Callable[[int, int], None]


def _round_bound(v: Fraction, up: bool) -> Fraction:
    """A dyadic (float) bound at least as weak as ``v``: keeps the checker's integers small."""
    return _round_ratio(v.numerator, v.denominator, up)


def _round_ratio(p: int, q: int, up: bool) -> Fraction:
    """:func:`_round_bound` of ``p / q`` (``q != 0``), in integers."""
    if q < 0:
        p, q = -p, -q
    f = p / q  # correctly rounded
    a, b = f.as_integer_ratio()
    if up and a * q < p * b:
        f = math.nextafter(f, math.inf)
    elif not up and a * q > p * b:
        f = math.nextafter(f, -math.inf)
    return Fraction(f)


# ----- certificate construction -----------------------------------------------------------
def _exact_domain(domain: Domain) -> tuple[dict, ExactDomain]:
    def fr(v: float) -> Fraction | None:
        return Fraction(float(v)) if np.isfinite(v) else None

    lo = [fr(v) for v in domain.lower]
    up = [fr(v) for v in domain.upper]
    A = [[Fraction(float(v)) for v in row] for row in domain.A]
    b = [Fraction(float(v)) for v in domain.b]
    d = domain.to_dict()
    d["exact"] = {
        "lower": [None if v is None else rational_str(v) for v in lo],
        "upper": [None if v is None else rational_str(v) for v in up],
    }
    if len(A):
        d["exact"]["A"] = [[rational_str(v) for v in row] for row in A]
        d["exact"]["b"] = [rational_str(v) for v in b]
    return d, ExactDomain(lo, up, A, b)


class _Certifier:
    def __init__(self, part: Partition):
        self.part = part
        self.net = part.net
        self.enet = ExactNet(part.net)
        self.domain_dict, self.edom = _exact_domain(part.domain)
        self.xrows = ExactRows(self.enet, self.edom)
        self.N = self.enet.n_hidden
        self.M = len(self.edom.rows)
        self.n = len(self.edom.free)
        self.index = {r.key: r.id for r in part.regions}
        #: the partition's regions, then thin regions found beyond facets (see certify)
        self.regions: list[Region] = list(part.regions)
        self.problems: list[str] = []
        #: patterns beyond a facet that are not in the partition (by key): thin regions?
        self.unresolved: dict[bytes, np.ndarray] = {}
        self.lps = 0
        #: a check run beside the certifier (see certify), or None
        self.alongside: AlongsideCheck | None = None
        self.counts = {"box_bounds": 0, "box_implied": 0, "farkas": 0, "added_facets": 0,
                       "dropped_facets": 0, "ambiguous_facets": 0}

    # ---------------------------------------------------------------------------------------
    def witness(self, reg: Region, bits: np.ndarray, rows: PatternRows) -> list[Fraction] | None:
        """The region's centre if it is exactly strictly inside, else a recomputed centre."""
        for attempt in range(2):
            x = np.asarray(reg.center, dtype=np.float64) if attempt == 0 else \
                self._recentre(rows)
            if x is None:
                return None
            w = [Fraction(float(v)) for v in x]
            for i in range(self.edom.dim):
                if self.edom.fixed[i]:
                    w[i] = self.edom.x0[i]
            if _strictly_inside(self.edom, bits, rows, w):
                return w
        return None

    def _recentre(self, rows: PatternRows) -> np.ndarray | None:
        keys = [k for k in rows.keys if k is not None]
        if not keys:
            return None
        H, c = unit_rows(keys, self.n)
        self.lps += 1
        res = lp.chebyshev_center(H, c)
        if res is None:
            return None
        x = np.array([float(v) for v in self.edom.x0])
        x[self.edom.free] = res[0]
        return x

    # ---------------------------------------------------------------------------------------
    def far_pattern(self, bits: np.ndarray, rows: PatternRows, J: list[int],
                    key: tuple[int, ...]) -> np.ndarray | None:
        """Pattern of the points just beyond the facet ``key`` whose neurons are ``J``."""
        layer_of = self.enet.layer_of
        first = min(layer_of[i] for i in J)
        far = bits.copy()
        flip = [i for i in J if layer_of[i] == first]
        far[flip] = ~far[flip]
        amb = {i for i in J if layer_of[i] > first}
        amb |= {i for i in rows.zero_neurons if layer_of[i] > first}
        if not amb:
            return far
        self.counts["ambiguous_facets"] += 1
        n = self.n
        ref = list(key[:n]) + [-key[n]]  # z = kappa * (h_F x - c_F)
        j0 = next(j for j in range(n) if ref[j] != 0)
        for layer in sorted({layer_of[i] for i in amb}):
            r2 = self.xrows.rows(far)
            for i in sorted(i for i in amb if layer_of[i] == layer):
                a, d = r2.raw[i]
                vec = list(a) + [d]
                if not any(vec):
                    far[i] = False
                    continue
                if any(vec[j] * ref[j0] != ref[j] * vec[j0] for j in range(n + 1)):
                    return None  # cannot happen for an exact facet; give up honestly
                far[i] = (vec[j0] > 0) == (ref[j0] > 0)
        return far

    def _flipped_key(self, bits_key: bytes, rows: PatternRows, J: list[int]) -> bytes | None:
        """:func:`pattern_key` of :meth:`far_pattern` when that is ``bits`` with the one facet
        neuron flipped (no neuron of a later layer vanishes on the region), else None."""
        if len(J) != 1:
            return None
        (i,) = J
        layer_of = self.enet.layer_of
        if any(layer_of[z] > layer_of[i] for z in rows.zero_neurons):
            return None
        key = bytearray(bits_key)
        key[i >> 3] ^= 0x80 >> (i & 7)  # packbits: most significant bit first
        return bytes(key)

    # ---------------------------------------------------------------------------------------
    def region(self, reg: Region) -> tuple[dict, list[str]]:
        bits = np.asarray(reg.pattern, dtype=bool)
        rows = self.xrows.rows(bits)
        problems: list[str] = []
        entry: dict[str, Any] = {"id": reg.id, "pattern": pattern_text(bits)}
        w = self.witness(reg, bits, rows)
        if w is None:
            problems.append(f"region {reg.id}: no exact interior witness found")
            w = [Fraction(float(v)) for v in reg.center]
        entry["witness"] = [rational_str(v) for v in w]
        alpha_text, beta_text = rows.model_text
        entry["alpha"] = [list(row) for row in alpha_text]
        entry["beta"] = list(beta_text)

        # exact facet groups: every row on the hyperplane of an engine facet (equal primitive
        # keys), found by comparison for the few facet keys only (hashing every key costs more)
        by_key: dict[tuple[int, ...], list[int]] = {}

        def members_of(k: tuple[int, ...]) -> list[int]:
            got = by_key.get(k)
            if got is None:
                got = by_key[k] = [i for i, kk in enumerate(rows.keys) if kk == k]
            return got
        fkeys: list[tuple[int, ...]] = []
        for f in reg.facets:
            ids = list(f.ids) if f.kind == "neuron" else [self.N + i for i in f.ids]
            for i in ids:
                k = rows.keys[i] if 0 <= i < self.N + self.M else None
                if k is not None and k not in fkeys:
                    fkeys.append(k)
        neighbours: dict[tuple[int, ...], int | None] = {}
        bits_key = reg.key
        for _round in range(MAX_ROUNDS):
            inner = np.array([float(w[i]) for i in self.edom.free])
            box, implied, missing = self._evidence(rows, fkeys, inner)
            if missing:
                self.counts["added_facets"] += len(missing)
                fkeys += missing
                continue
            # neighbours; a facet without one is dropped if it is redundant after all
            drop = []
            for k in fkeys:
                if k in neighbours:
                    continue
                members = members_of(k)
                if any(i >= self.N for i in members):
                    neighbours[k] = None
                    continue
                far, far_key = None, self._flipped_key(bits_key, rows, members)
                if far_key is None:
                    far = self.far_pattern(bits, rows, members, k)
                    far_key = pattern_key(far) if far is not None else None
                rid = self.index.get(far_key) if far_key is not None else None
                neighbours[k] = rid
                if rid is None:
                    if far is None and far_key is not None:  # the shortcut's pattern, in full
                        far = self.far_pattern(bits, rows, members, k)
                    others = [g for g in fkeys if g != k]
                    lam = FarkasFinder(others, self.n).prove(list(k[:self.n]), Fraction(k[self.n]))
                    if lam is not None:
                        drop.append(k)
                    elif far is not None:
                        self.unresolved[pattern_key(far)] = far
            if not drop:
                break
            self.counts["dropped_facets"] += len(drop)
            fkeys = [k for k in fkeys if k not in drop]
            for k in drop:
                neighbours.pop(k, None)
        else:
            problems.append(f"region {reg.id}: facet list did not settle")
        facets = []
        for k in fkeys:
            members = members_of(k)
            nb = neighbours.get(k)
            neurons = [i for i in members if i < self.N]
            drows = [i - self.N for i in members if i >= self.N]
            if not drows and nb is None:
                names = ", ".join(self.net.neuron_name(i) for i in neurons)
                problems.append(f"region {reg.id}: no region beyond facet {names}")
            facets.append({"neurons": neurons, "domain": drows, "neighbour": nb})
        entry["facets"] = facets
        entry["box"] = box
        entry["implied"] = implied
        if missing:
            problems.append(f"region {reg.id}: {len(missing)} rows are not implied by the facets")
        return entry, problems

    def _evidence(self, rows: PatternRows, fkeys: list[tuple[int, ...]],
                  inner: np.ndarray) -> tuple[list[dict], list[dict], list[tuple[int, ...]]]:
        """Box bounds and Farkas evidence (multipliers, or in the plane a vertex's basis) for
        every non-facet row; rows not implied. ``inner`` is a point inside the region (free
        coordinates)."""
        n = self.n
        fk = FarkasFinder(fkeys, n)
        fk.use_vertices(inner)
        fset = set(fkeys)
        box: list[dict] = []
        upper: list[Fraction | None] = [None] * n
        lower: list[Fraction | None] = [None] * n
        # prove coordinate bounds only when enough rows could use them
        todo = [i for i, k in enumerate(rows.keys) if k is not None and k not in fset]
        if len(todo) > 2 * n:
            axis = fk.axis_pairs(NO_BOUND) if n == 2 else {}
            for t in range(n):
                for sgn in (1, -1):
                    target = [sgn * int(u == t) for u in range(n)]
                    if n == 2:
                        pair = axis[(t, sgn)]
                        if pair is not None:
                            # a basis: the checker solves its multipliers itself
                            i, j, (ni, nj), det = pair
                            bound = _round_ratio(sgn * (ni * fkeys[i][n] + nj * fkeys[j][n]),
                                                 det, up=sgn > 0)
                            (upper if sgn > 0 else lower)[t] = bound
                            box.append({"coord": self.edom.free[t], "side": "upper" if sgn > 0
                                        else "lower", "bound": rational_str(bound),
                                        "facets": [i, j]})
                            self.counts["box_bounds"] += 1
                            continue
                    lam = fk.prove_at_vertex(target, NO_BOUND)
                    if lam is None and not fk.has_vertices():
                        # with vertices, a direction none of them bounds is unbounded (or
                        # degenerate): the side stays open, its rows get their own evidence
                        lam = fk.prove(target, NO_BOUND, exact_fallback=False)
                    if lam is None:
                        continue
                    val = sum(v * Fraction(fkeys[k][n]) for k, v in lam.items())
                    bound = _round_bound(sgn * val, up=sgn > 0)
                    if sgn > 0:
                        upper[t] = bound
                    else:
                        lower[t] = bound
                    ks = sorted(lam)
                    box.append({"coord": self.edom.free[t], "side": "upper" if sgn > 0
                                else "lower", "bound": rational_str(bound), "facets": ks,
                                "multipliers": [rational_str(lam[k]) for k in ks]})
                    self.counts["box_bounds"] += 1
        implied: list[dict] = []
        missing: list[tuple[int, ...]] = []
        done: dict[tuple[int, ...], dict | None] = {}
        unboxed = box_failures([rows.keys[i] for i in todo], upper, lower)
        self.counts["box_implied"] += len(todo) - len(unboxed)
        for i in (todo[int(t)] for t in unboxed):
            key = rows.keys[i]
            if key not in done and n == 2:
                pair = fk.vertex_pair(list(key[:n]), key[n])
                if pair is not None:
                    done[key] = {"facets": [pair[0], pair[1]]}  # a basis (see the box)
            if key not in done:
                lam = fk.prove_at_vertex(list(key[:n]), Fraction(key[n])) or \
                    fk.prove(list(key[:n]), Fraction(key[n]))
                if lam is None:
                    done[key] = None
                    missing.append(key)
                else:
                    ks = sorted(lam)
                    done[key] = {"facets": ks, "multipliers": [rational_str(lam[k]) for k in ks]}
            if done[key] is not None:
                implied.append({"row": i, **done[key]})
                self.counts["farkas"] += 1
        self.lps += fk.lps
        return box, _group_bases(implied), missing


def pattern_text(bits: np.ndarray) -> str:
    """A pattern as the certificate writes it: one ``0``/``1`` character per hidden neuron."""
    return (np.asarray(bits, dtype=bool).astype(np.uint8) + 48).tobytes().decode()


class AlongsideCheck(Protocol):
    """A check run beside the certifier (:class:`~verishallow.proofs.partition_checker.
    StagedCheck`): ``run`` sees each part's certified ``(id, entry)`` pairs where they were
    certified (a forked worker, or here), ``merge`` gets its result back here; ``xrows``, when
    set, are the exact rows the certifier uses too."""

    xrows: ExactRows | None

    def run(self, pairs: list[tuple[int, dict]]) -> Any: ...

    def merge(self, result: Any, pairs: list[tuple[int, dict]]) -> None: ...


def _group_bases(implied: list[dict]) -> list[dict]:
    """Rows implied by one basis (no multipliers) as one ``{rows, facets}`` entry, in order of
    their first row; rows with explicit multipliers stay ``{row, facets, multipliers}``."""
    out: list[dict] = []
    shared: dict[tuple[int, ...], dict] = {}
    for e in implied:
        if "multipliers" in e:
            out.append(e)
            continue
        basis = tuple(e["facets"])
        g = shared.get(basis)
        if g is None:
            g = shared[basis] = {"rows": [], "facets": list(basis)}
            out.append(g)
        g["rows"].append(e["row"])
    return out


def _strictly_inside(edom: ExactDomain, bits: np.ndarray, rows: PatternRows,
                     w: list[Fraction]) -> bool:
    """Exact: every neuron has its pattern's strict sign at ``w`` (identically zero neurons
    excepted, inactive), and ``w`` is strictly inside every non-degenerate domain row."""
    wf = [w[i] for i in edom.free]
    q = math.lcm(*(v.denominator for v in wf)) if wf else 1
    wn = [v.numerator * (q // v.denominator) for v in wf]
    if strict_sign_failures(rows, bits, wn, q).size:
        return False
    for h, c in edom.red_int:
        if any(h) and sum(x * y for x, y in zip(h, wn, strict=True)) >= q * c:
            return False
    return True


def _certify_part(cf: _Certifier, ids: list[int]
                  ) -> tuple[list[tuple[int, tuple[dict, list[str]]]], dict[str, int], int,
                             dict[bytes, np.ndarray], Any]:
    """Certify regions ``ids`` (in a forked worker or here); also the evidence counts and LPs
    they added, the unresolved patterns beyond their facets, which the caller merges (``cf``'s
    own totals are left as they were), and the alongside check's result for them."""
    counts0, lps0, unresolved0 = dict(cf.counts), cf.lps, cf.unresolved
    cf.unresolved = {}
    out = [(rid, cf.region(cf.regions[rid])) for rid in ids]
    delta = ({k: v - counts0[k] for k, v in cf.counts.items()}, cf.lps - lps0, cf.unresolved)
    cf.counts, cf.lps, cf.unresolved = counts0, lps0, unresolved0
    checked = cf.alongside.run([(rid, res[0]) for rid, res in out]) \
        if cf.alongside is not None else None
    return out, *delta, checked


def _add_thin_regions(cf: _Certifier, by_id: list,
                      on_thin_region: Callable[[Region], None] | None = None) -> int:
    """Close the partition under facet crossing with the regions the enumeration leaves out:
    full-dimensional slivers whose inscribed ball is below its radius tolerance. Each becomes
    a certificate region (``thin: true``, ids after the partition's) with its own exact
    evidence, and the regions that pointed at it are certified again. Returns how many."""
    n0 = len(cf.regions)
    for _round in range(MAX_THIN_ROUNDS):
        wanted = [p for key, p in cf.unresolved.items() if key not in cf.index]
        cf.unresolved = {}
        if not wanted:
            break
        new = thin_regions(cf.net, cf.part.domain, wanted, first_id=len(cf.regions))
        if not new:
            break
        for reg in new:
            cf.index[reg.key] = reg.id
            cf.regions.append(reg)
            by_id.append(None)
            if on_thin_region is not None:
                on_thin_region(reg)
        # certify the new ones, and again every region with a facet whose neighbour was missing
        again = [r for r, res in enumerate(by_id)
                 if res is None or any(p.startswith(f"region {r}: no region beyond")
                                       for p in res[1])]
        for rid in again:
            entry, probs = cf.region(cf.regions[rid])
            if rid >= n0:
                entry["thin"] = True
                entry["radius"] = float(cf.regions[rid].radius)
            by_id[rid] = (entry, probs)
    return len(cf.regions) - n0


def certify(net: ReLUNetwork, domain: Domain | None = None, partition: Partition | None = None,
            *, z3: bool = False, workers: int | None = 1, z3_timeout: float = 10.0,
            z3_coverage_timeout: float = 60.0, progress: Progress | None = None,
            on_thin_region: Callable[[Region], None] | None = None,
            check_alongside: Callable[[dict], AlongsideCheck] | None = None) -> dict:
    """Certificate (a JSON-ready dict) that ``net`` is piecewise affine as ``partition`` says.

    ``partition`` comes from :func:`~verishallow.regions.enumerate_regions` (run it with
    ``prove_coverage=False``: this certificate is the coverage proof); the certifier does not
    enumerate, so that the enumeration driver can use it. With ``z3`` (off by default: it
    usually costs far more than the certificate itself) the regions' emptiness/non-emptiness,
    affine models and (for small networks) coverage are re-decided by z3 and recorded; they
    are independent double-checks, the certificate's proof does not rely on them.
    ``z3_timeout`` bounds each per-region z3 query, ``z3_coverage_timeout`` the one coverage
    query. ``progress(done, total)`` is called as regions are certified. ``workers``
    (``None``: every core) runs the per-region evidence on that many processes; the
    certificate is the same.

    Facets whose neighbour is a *thin* region (full-dimensional, but with an inscribed ball
    below the engines' ``REGION_RADIUS_TOL``, so not in the partition) get that region added
    to the certificate (``thin: true``, ids after the partition's; ``enumeration.thin_regions``
    counts them): without it the regions would not provably cover the domain.
    ``on_thin_region(region)`` sees each (``verify`` checks its property there too).

    ``check_alongside(skeleton)`` (the coverage proof's fused path) makes a check from the
    certificate's header and patterns before any region is certified; it then checks each part
    where it was certified (:class:`AlongsideCheck`). The certificate is the same either way.
    """
    if partition is None:
        raise TypeError("certify needs the partition: enumerate_regions(net, domain, "
                        "prove_coverage=False) first")
    if partition.net is not net and partition.net.fingerprint != net.fingerprint:
        raise ValueError("the partition belongs to a different network")
    if domain is not None and domain != partition.domain:
        raise ValueError("the partition was computed on a different domain")
    t_enum = partition.seconds
    t1 = time.perf_counter()
    cf = _Certifier(partition)
    model = {"fingerprint": net.fingerprint, "inputs": net.input_dim,
             "outputs": net.output_dim, "hidden_widths": list(net.hidden_widths)}
    if check_alongside is not None:
        skeleton = {"format": FORMAT, "version": VERSION, "model": model,
                    "domain": cf.domain_dict,
                    "regions": [{"id": r.id, "pattern": pattern_text(r.pattern)}
                                for r in partition.regions]}
        cf.alongside = check_alongside(skeleton)
        if cf.alongside.xrows is not None:
            cf.xrows = cf.alongside.xrows  # one computation of each region's exact rows
    total = len(partition.regions)
    by_id: list[tuple[dict, list[str]] | None] = [None] * total
    # pattern order: consecutive regions share layer prefixes, which ExactRows memoises
    order = sorted(range(total), key=lambda r: np.packbits(partition.regions[r].pattern).tobytes())
    nw = forkpool.default_workers() if workers is None else max(1, int(workers))
    done = 0
    # one region a part when serial: progress after every region
    parts = forkpool.chunks(order, nw) if nw > 1 else [[r] for r in order]
    for results, counts, lps, unresolved, checked in forkpool.fork_map(_certify_part, cf, parts,
                                                                       nw):
        for rid, res in results:
            by_id[rid] = res
        if cf.alongside is not None:
            cf.alongside.merge(checked, [(rid, res[0]) for rid, res in results])
        for k, v in counts.items():
            cf.counts[k] += v
        cf.lps += lps
        cf.unresolved.update(unresolved)
        done += len(results)
        if progress is not None:
            progress(done, total)
    n_thin = _add_thin_regions(cf, by_id, on_thin_region)
    entries = [e for e, _ in by_id]
    problems = [p for _, probs in by_id for p in probs]
    t_cert = time.perf_counter() - t1
    z3_report = None
    t_z3 = 0.0
    if z3:
        from ..solvers import smt

        t2 = time.perf_counter()
        models = [(e["alpha"], e["beta"]) for e in entries]
        z3_report = smt.double_check(partition, z3_timeout=z3_timeout, models=models,
                                     witnesses=[e["witness"] for e in entries],
                                     coverage_timeout=z3_coverage_timeout)
        t_z3 = time.perf_counter() - t2
        # thin regions (after the partition's) were not in the z3 run
        for e, st in zip(entries[:total], z3_report.pop("per_region"), strict=True):
            e["z3"] = st
        if z3_report["missed_regions"]:
            problems.append(f"z3 found {len(z3_report['missed_regions'])} full-dimensional "
                            "regions that the partition does not list")
        if z3_report["affine"]["unequal"]:
            problems.append(f"z3 disagrees with the exact affine model of regions "
                            f"{z3_report['affine']['unequal'][:10]}")
        if z3_report["witnesses"]["failed"]:
            problems.append(f"z3 finds regions {z3_report['witnesses']['failed'][:10]} empty")
    cov = partition.stats.get("coverage")
    cert = {
        "format": FORMAT,
        "version": VERSION,
        "complete": not problems,
        "problems": problems[:200],
        "problem_count": len(problems),
        "model": model,
        "domain": cf.domain_dict,
        "conventions": {
            "pattern": "one character per hidden neuron in layer order; 1 = active (z > 0), "
                       "0 = inactive (z <= 0, ReLU(0) = 0)",
            "rows": "neurons 0..N-1 (inequality sigma*z <= 0 with sigma = -1 active, +1 "
                    "inactive), then domain rows N.. in the order: per coordinate finite "
                    "upper then finite lower bound, then the rows of A",
            "coordinates": "inequalities live in the free coordinates (fixed inputs, lower == "
                           "upper, substituted); multipliers refer to each facet's primitive "
                           "integer inequality",
        },
        "tolerances": {
            "REGION_RADIUS_TOL": G.REGION_RADIUS_TOL, "FACET_RADIUS_TOL": G.FACET_RADIUS_TOL,
            "ZERO_ROW_TOL": G.ZERO_ROW_TOL, "DUPLICATE_TOL": G.DUPLICATE_TOL,
            "SCREEN_TOL": G.SCREEN_TOL, "NEAR_TOL_BAND": G.NEAR_TOL_BAND,
            "LP_FEASIBILITY_TOL": lp.LP_FEASIBILITY_TOL, "SUPPORT_TOL": SUPPORT_TOL,
        },
        "tool": {"name": "verishallow", "version": __version__},
        "solvers": solver_versions(),
        "enumeration": {"method": partition.method, "regions": len(partition),
                        "thin_regions": n_thin,
                        "complete": partition.complete, "seconds": partition.seconds,
                        "lps": partition.stats.get("lps"),
                        "scip_coverage": jsonable(cov) if cov is not None else None,
                        "unstable_neurons": partition.unstable_neurons},
        "evidence": {**cf.counts, "lps": cf.lps},
        "z3": z3_report,
        "seconds": {"enumerate": t_enum, "certify": t_cert, "z3": t_z3,
                    "total": t_enum + t_cert + t_z3},
        "regions": entries,
    }
    return cert


def certificate_bytes(cert: dict, path: str | Path) -> bytes:
    """The file contents for ``path``: compact JSON, gzipped when the name ends with ``.gz``."""
    data = json.dumps(jsonable(cert), separators=(",", ":")).encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    return data


def write_certificate(cert: dict, path: str | Path) -> None:
    """Write atomically (never a half-written file); gzip when the name ends with ``.gz``."""
    write_bytes(path, certificate_bytes(cert, path))
