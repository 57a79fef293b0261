"""Decisions by proof search: a VNN-LIB property on one network, equivalence of two.

Each builds its goal (:mod:`verishallow.proofs.goals`), runs the branch and bound
(:mod:`verishallow.proofsearch.bab`) and, when asked, turns the search tree into the proof-tree
certificate that :mod:`verishallow.proofs.tree_checker` re-derives exactly
(``docs/proof-search.md``).
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes
from ..domain import Domain
from ..errors import InputError
from ..network import ReLUNetwork
from ..product import check_pair, product_network
from ..proofs.goals import Goal, equivalence_goal, property_goal
from .bab import Progress, SearchResult, search
from .bounds import diff_spec

FORMAT = "verishallow.proof-tree"
VERSION = 1


@dataclass
class Decision:
    """The answer of a proof search, with the certificate when one was asked for."""

    status: str  # "holds", "violated", "unknown"
    counterexample: tuple[np.ndarray, np.ndarray] | None
    seconds: float
    reason: str = ""
    certificate: dict | None = None
    stats: dict = field(default_factory=dict)
    best_bound: float | None = None


def proof_certificate(kind: str, goal: Goal, res: SearchResult, fingerprints: list[str],
                      equivalence: dict | None = None) -> dict:
    """The proof-tree certificate of a search that proved ``goal``."""
    if res.status != "holds" or res.trees is None:
        raise ValueError("only a completed proof has a certificate")
    cert = {"format": FORMAT, "version": VERSION, "kind": kind, "goal_digest": goal.digest(),
            "networks": list(fingerprints),
            "trees": [{"case": k, "nodes": nodes} for k, nodes in enumerate(res.trees)],
            "stats": {k: v for k, v in res.stats.items()}}
    if equivalence is not None:
        cert["equivalence"] = equivalence
    return cert


def write_proof(cert: dict, path: str | Path) -> None:
    """Write atomically; gzip when the name ends with ``.gz``."""
    data = json.dumps(cert, separators=(",", ":")).encode()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes(path, data)


def _decision(res: SearchResult, t0: float) -> Decision:
    cex = None
    if res.counterexample is not None:
        _case, _dis, x, y = res.counterexample
        cex = (x, y)
    return Decision(res.status, cex, time.perf_counter() - t0, res.reason, None,
                    dict(res.stats), res.best_bound)


def prove_property(net: ReLUNetwork, prop, time_limit: float | None = None,
                   workers: int | None = 1,
                   certificate: bool = False, progress: Progress | None = None,
                   scheduler: Any = None) -> Decision:
    """Decide a VNN-LIB property (:class:`verishallow.vnnlib.VnnlibProperty`) on ``net``:
    ``holds`` (unsat), ``violated`` (sat, with a replayed counterexample) or ``unknown``.
    ``scheduler``: bound the nodes on a Dask cluster (:func:`~.bab.search`)."""
    t0 = time.perf_counter()
    goal = property_goal(prop, net.input_dim, net.output_dim)
    res = search(net, goal, time_limit, workers, record=certificate, progress=progress,
                 scheduler=scheduler)
    dec = _decision(res, t0)
    if certificate and res.status == "holds":
        dec.certificate = proof_certificate("property", goal, res, [net.fingerprint])
    return dec


def equivalence_box(domain: Domain) -> tuple[list[Fraction], list[Fraction]]:
    """The exact box of a box domain (the proof search splits boxes)."""
    if domain.A.shape[0]:
        raise InputError("the proof search needs a box domain (no linear rows); use "
                         "--method milp for polytopes")
    lo, hi = domain.lower, domain.upper
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError(f"equivalence needs a bounded domain, got {domain.describe()}")
    return [Fraction(float(v)) for v in lo], [Fraction(float(v)) for v in hi]


def prove_equivalence(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                      epsilon: float = 0.0, top1: bool = False, time_limit: float | None = None,
                      workers: int | None = 1, certificate: bool = False,
                      progress: Progress | None = None, differential: bool = True,
                      scheduler: Any = None) -> Decision:
    """Decide ``max |f_A - f_B|_inf <= epsilon`` (or top-1 agreement) on a box by proof search
    over the product network ``[f_A; f_B]``; ``holds`` means equivalent. ``differential``:
    use the differential bounds when A and B share an architecture; ``scheduler``: bound the
    nodes on a Dask cluster."""
    t0 = time.perf_counter()
    check_pair(net_a, net_b, domain, epsilon)
    lower, upper = equivalence_box(domain)
    eps = Fraction(float(epsilon))
    goal = equivalence_goal(lower, upper, net_a.output_dim, eps, top1)
    prod = product_network(net_a, net_b)
    diff = diff_spec(net_a, net_b) if differential else None
    res = search(prod, goal, time_limit, workers, record=certificate, progress=progress,
                 diff=diff, scheduler=scheduler)
    dec = _decision(res, t0)
    if certificate and res.status == "holds":
        dec.certificate = proof_certificate(
            "equivalence", goal, res, [net_a.fingerprint, net_b.fingerprint],
            {"mode": "top1" if top1 else "epsilon", "epsilon": str(eps),
             "lower": [str(v) for v in lower], "upper": [str(v) for v in upper]})
    return dec

