"""``decide_equivalence``: the whole ``verishallow equiv`` decision for two deep networks.

Why above :func:`~verishallow.equiv.check_equivalence`: a user's question may go to the proof
search or to the exact methods, and two later checks can still change the verdict --
onnxruntime disagreeing with the loaded networks at the counterexample makes it unknown, and an
exact certificate whose bounds contradict the float decision makes it "not equivalent" (or
unknown when its evidence is incomplete). Doing all of that here keeps the CLI to parsing and
printing, and makes the same answer available from Python.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain import Domain
from ..errors import InputError
from ..network import ReLUNetwork
from .check import check_equivalence
from .proof_search import search_result
from .replay import onnxruntime_check
from .result import EquivalenceResult

#: Methods of :func:`decide_equivalence`: the proof search, or one of
#: :data:`~verishallow.equiv.check.METHODS`.
DECISION_METHODS = ("auto", "search", "milp", "regions")


def is_shallow_file(path: str | Path) -> bool:
    """A ``verishallow convert`` output: ``.json``, or an ``.npz`` holding a ``header``."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return True
    if p.suffix.lower() == ".npz" and p.is_file():
        try:
            with zipfile.ZipFile(p) as z:
                return "header.npy" in z.namelist()
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def check_request(epsilon: float, method: str = "auto", exact_max: bool = False,
                  certificate: bool = False, shallow: tuple[bool, bool] = (False, False),
                  top1: bool = False) -> None:
    """Reject a question that cannot be asked, before any model is loaded (:class:`InputError`
    with the ``equiv`` command's wording). ``shallow``: which sides are shallow networks."""
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise InputError(f"--epsilon must be a finite number >= 0, got {epsilon!r}")
    if method not in DECISION_METHODS:
        raise InputError(f"unknown method {method!r}; choose one of "
                         f"{', '.join(DECISION_METHODS)}")
    if exact_max and method == "search":
        raise InputError("--max needs --method regions, milp or auto (the proof search "
                         "decides without computing the maximum)")
    if certificate and any(shallow):
        raise InputError("--certificate needs two deep networks (.onnx, .nnet or .npz)")
    if all(shallow):
        raise InputError("both sides are shallow networks; give at least one deep network")
    if any(shallow) and top1:
        raise InputError("--top1 is not supported against a shallow network")


def resolve_method(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, method: str,
                   exact_max: bool = False, certificate: bool = False) -> str:
    """``"auto"`` becomes the proof search on a box unless the exact maximum is wanted or the
    weights are identical (the library then answers from the fingerprints, exactly 0) and no
    proof file is wanted; otherwise :func:`check_equivalence` picks (it stays ``"auto"``)."""
    if method != "auto":
        return method
    same = net_a.fingerprint == net_b.fingerprint and not certificate
    box = domain.A.shape[0] == 0
    return "search" if not exact_max and box and not same else "auto"


@dataclass
class EquivalenceDecision:
    """``result``: the verdict; ``certificate``: the report fields of the certificate asked
    for (``{"certificate": path or None, ...}``; empty when none was asked for)."""

    result: EquivalenceResult
    certificate: dict[str, Any] = field(default_factory=dict)


def decide_equivalence(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                       epsilon: float = 0.0, *, top1: bool = False,
                       time_limit: float | None = None, method: str = "auto",
                       exact_max: bool = False, certificate: str | Path | None = None,
                       workers: int | None = 1, paths: tuple[str, str] | None = None,
                       search_progress: Callable[[int, int, float], None] | None = None,
                       certify_progress: Callable[[int, int], None] | None = None,
                       scheduler: Any = None) -> EquivalenceDecision:
    """Decide whether two deep networks agree on ``domain`` (``max |f_A - f_B|_inf <=
    epsilon``, or top-1 agreement), as ``verishallow equiv`` does.

    ``method``: one of :data:`DECISION_METHODS` (``"auto"``: see :func:`resolve_method`).
    ``certificate``: when equivalence is proved, write an exact certificate there (the proof
    tree of the search; a partition certificate for the regions/milp methods) -- only when it
    is a complete proof; the certificate's own verdict overrides the float one.
    ``paths``: the model files; when both are ``.onnx``, a counterexample is replayed through
    onnxruntime, and a disagreement with the loaded networks makes the answer unknown.
    ``search_progress(nodes, queued, best)``, ``certify_progress(done, total)``: progress.
    ``scheduler`` (a Dask address or ``distributed.Client``): the proof search bounds its nodes
    on that cluster.
    """
    check_request(epsilon, method, exact_max, certificate is not None, top1=top1)
    want_cert = certificate is not None
    method = resolve_method(net_a, net_b, domain, method, exact_max, want_cert)
    if want_cert and top1 and method != "search":
        raise InputError("a --top1 certificate comes from the proof search (--method search)")
    dec = None
    if method == "search":
        from ..proofsearch.decide import prove_equivalence

        dec = prove_equivalence(net_a, net_b, domain, epsilon, top1, time_limit,
                                workers=workers, certificate=want_cert,
                                progress=search_progress, scheduler=scheduler)
        res = search_result(dec, net_a, net_b, epsilon, top1)
    else:
        res = check_equivalence(net_a, net_b, domain, epsilon=epsilon, top1=top1,
                                time_limit=time_limit, method=method)
    if res.counterexample is not None and paths is not None and all(
            Path(p).suffix.lower() == ".onnx" for p in paths):
        ort = onnxruntime_check(paths[0], paths[1], net_a, net_b, res.counterexample, epsilon,
                                top1)
        res.details["onnxruntime"] = ort if ort is not None else "unavailable"
        if ort is not None and not ort["agrees_with_float64"]:
            res.equivalent, res.counterexample = None, None
            res.details["reason"] = ("onnxruntime's outputs at the counterexample disagree "
                                     "with the loaded networks")
    if certificate is None:
        return EquivalenceDecision(res)
    out = Path(certificate)
    if dec is not None and res.details.get("method") == "proof search":
        report: dict[str, Any] = {"certificate": None}
        if dec.certificate is not None:
            from ..proofsearch.decide import write_proof

            write_proof(dec.certificate, out)
            report = {"certificate": str(out), "certificate_kind": "proof tree",
                      "certificate_leaves": dec.stats.get("leaves", 0)}
        return EquivalenceDecision(res, report)
    if not res.equivalent:
        return EquivalenceDecision(res, {"certificate": None})
    return EquivalenceDecision(res, certify_decision(net_a, net_b, domain, epsilon, out, res,
                                                     certify_progress))


def certify_decision(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, epsilon: float,
                     out: Path, res: EquivalenceResult,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Build the exact equivalence certificate after ``res`` found the networks equivalent,
    and write it atomically only if it is a complete proof.

    Why: the decision trusts SCIP's / the overlay's float bounds, the certificate does not; when
    its exact bounds contradict the decision (``NotEquivalentError``) ``res`` becomes "not
    equivalent", when its evidence is incomplete ``res`` becomes unknown. Returns the report
    fields (``certificate``: the path written, or None).
    """
    from ..proofs.equivalence import NotEquivalentError, certify_equivalence
    from ..proofs.partition import write_certificate

    try:
        cert = certify_equivalence(net_a, net_b, domain, epsilon, progress=progress)
    except NotEquivalentError as exc:
        res.equivalent, res.counterexample = False, None
        res.details["reason"] = f"exact certificate: {exc}"
        return {"certificate": None}
    if not cert["complete"]:
        res.equivalent = None
        first = cert["problems"][0] if cert["problems"] else "evidence incomplete"
        res.details["reason"] = f"the equivalence certificate is incomplete ({first})"
        return {"certificate": None}
    write_certificate(cert, out)
    return {"certificate": str(out), "certificate_regions": len(cert["differences"]),
            "certificate_max_difference": cert["max_difference"],
            "certificate_max_difference_bound": cert["max_difference_bound"]}
