"""``verishallow check CERT.json MODEL [DOMAIN]``: verify a certificate in exact arithmetic.

``verishallow check CERT.json MODEL_A MODEL_B [DOMAIN]`` verifies an equivalence certificate
(written by ``verishallow equiv A B --certificate CERT.json``). Proof trees
(``docs/proof-search.md``) dispatch on their kind: ``check PROOF.json MODEL PROP.vnnlib``
(property) and ``check EQ.json A B [DOMAIN]`` (equivalence). This command is part of the
trusted base of an audit: it imports the independent checkers
(:mod:`verishallow.proofs.partition_checker`,
:mod:`verishallow.proofs.equivalence_checker`, :mod:`verishallow.proofs.tree_checker`), the model
loaders
and the VNN-LIB parser only, never the enumeration code or a solver. Exit codes: 0 valid,
1 invalid (the first failed check on one line), 2 bad input
(missing, unreadable, truncated or garbled file, not a certificate, unknown version).
"""

from __future__ import annotations

import sys

import click

from ..errors import InputError
from .common import (
    EXIT_NEGATIVE,
    domain_argument,
    emit_json,
    handle_errors,
    json_option,
    quiet_option,
)


@click.command()
@click.argument("certificate", type=click.Path())
@click.argument("model", type=click.Path())
@click.argument("model_b", required=False, metavar="[MODEL_B]")
@domain_argument
@click.option("--all-failures", is_flag=True, help="Print every failed check (up to 20), not "
                                                   "only the first.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes checking regions (default: all cores); the verdict is the same.")
@json_option
@quiet_option
@handle_errors
def command(certificate: str, model: str, model_b: str | None, domain: str | None,
            all_failures: bool, workers: int | None, as_json: bool, quiet: bool) -> None:
    """Check CERTIFICATE (.json or .json.gz) against MODEL, exactly and without solvers.

    An equivalence certificate ('verishallow equiv A B --certificate CERT') is checked against
    both models: check CERT MODEL_A MODEL_B [DOMAIN]. With a domain (DOMAIN: a .vnnlib or
    domain .json file, 'whole', or lo:hi,lo:hi,...; or --lower/--upper, --vnnlib,
    --whole-space) the certificate must also be about exactly that domain; without one, the
    certificate's own domain is checked. A proof tree ('verify/equiv --certificate') is
    checked with check PROOF MODEL PROP.vnnlib (property) or check PROOF MODEL_A MODEL_B
    [DOMAIN] (equivalence). Exit 0 valid, 1 invalid, 2 bad input.
    """
    from ..io import load
    from ..proofs.equivalence_checker import (
        check_equivalence_certificate,
        is_equivalence_certificate,
    )
    from ..proofs.partition_checker import check_certificate
    from ..proofs.tree_checker import is_proof_tree, load_any_certificate
    from .common import parse_domain

    cert = load_any_certificate(certificate)
    if is_proof_tree(cert):
        _check_tree(cert, certificate, model, model_b, domain, all_failures, workers, as_json)
        return
    if is_equivalence_certificate(cert):
        if model_b is None:
            raise InputError(f"{certificate} is an equivalence certificate: give both models "
                             "(verishallow check CERT MODEL_A MODEL_B [DOMAIN])")
        net_a, net_b = load(model), load(model_b)
        dom = None if domain is None else parse_domain(domain, model, net_a.input_dim)
        result = check_equivalence_certificate(cert, net_a, net_b, domain=dom)
        _report(result, all_failures, as_json, equivalence=True)
        return
    if model_b is not None:
        if _looks_like_model(model_b):
            raise InputError(f"{certificate} is a partition certificate of one model: give one "
                             "model (verishallow check CERT MODEL [DOMAIN])")
        if domain is not None:
            raise InputError("give the domain once: DOMAIN, --lower/--upper, --vnnlib or "
                             "--whole-space")
        domain = model_b  # check CERT MODEL DOMAIN
    net = load(model)
    dom = None if domain is None else parse_domain(domain, model, net.input_dim)
    result = check_certificate(cert, net, domain=dom, workers=workers)
    _report(result, all_failures, as_json, equivalence=False)


def _check_tree(cert: dict, certificate: str, model: str, second: str | None,
                domain: str | None, all_failures: bool, workers: int | None,
                as_json: bool) -> None:
    """A proof tree: ``CERT MODEL PROP.vnnlib`` (property) or ``CERT A B [DOMAIN]``."""
    from ..io import load
    from ..proofs.tree_checker import check_equivalence_proof, check_property_proof
    from .common import parse_domain

    kind = cert.get("kind")
    if kind == "property":
        if second is None and domain is not None and domain.lower().endswith(".vnnlib"):
            second, domain = domain, None  # check PROOF MODEL --vnnlib PROP.vnnlib
        if second is None or domain is not None:
            raise InputError(f"{certificate} is a property proof: give the model and the "
                             "property (verishallow check PROOF MODEL PROP.vnnlib)")
        from ..vnnlib import parse_vnnlib

        net = load(model)
        prop = parse_vnnlib(second, n_inputs=net.input_dim, n_outputs=net.output_dim)
        result = check_property_proof(cert, net, prop, workers=workers)
    elif kind == "equivalence":
        if second is None:
            raise InputError(f"{certificate} is an equivalence proof: give both models "
                             "(verishallow check PROOF MODEL_A MODEL_B [DOMAIN])")
        net_a, net_b = load(model), load(second)
        dom = None if domain is None else parse_domain(domain, model, net_a.input_dim)
        result = check_equivalence_proof(cert, net_a, net_b, domain=dom, workers=workers)
    else:
        raise InputError(f"{certificate}: unknown proof-tree kind {kind!r} (expected "
                         "'property' or 'equivalence')")
    if as_json:
        emit_json(result.to_dict())
    elif result.valid:
        c = result.checked
        click.echo(f"valid: {kind} proof, {c.get('leaves', 0)} leaves, "
                   f"{c.get('input_splits', 0) + c.get('phase_splits', 0)} splits, "
                   f"{c.get('bound_computations', 0)} bounds checked exactly "
                   f"({result.seconds:.2f} s)")
    else:
        _print_failures(result, all_failures)
    if not result.valid:
        sys.exit(EXIT_NEGATIVE)


def _print_failures(result, all_failures: bool) -> None:
    """The first failed check (or up to 20 with --all-failures), one line each."""
    shown = result.failures if all_failures else result.failures[:1]
    for msg in shown:
        click.echo("invalid: " + " ".join(msg.split()))


def _looks_like_model(path: str) -> bool:
    return path.lower().endswith((".onnx", ".nnet", ".npz"))


def _num(text: str | None) -> str:
    """A rational string as its float, plus the exact value when the float is not exact."""
    from fractions import Fraction

    if text is None:
        return "?"
    v = Fraction(text)
    return repr(float(v)) if Fraction(float(v)) == v else f"{float(v)!r} (exactly {text})"


def _report(result, all_failures: bool, as_json: bool, equivalence: bool) -> None:
    """Print the verdict (one JSON document, or one line when valid / per failure) and exit 1
    when the certificate is invalid."""
    if as_json:
        emit_json(result.to_dict())
    elif result.valid and equivalence:
        c = result.checked
        if result.max_difference is not None:
            claim = f"max |f_A - f_B| = {_num(result.max_difference)}"
        else:
            claim = f"max |f_A - f_B| <= {_num(result.max_difference_bound)}"
        click.echo(f"valid: {claim} <= epsilon {_num(result.epsilon)}, checked exactly on "
                   f"{c.get('regions', 0)} regions of the product network "
                   f"({c.get('difference_bounds', 0)} Farkas bounds, {result.seconds:.2f} s)")
    elif result.valid:
        c = result.checked
        click.echo(f"valid: {c.get('regions', 0)} regions, {c.get('facets', 0)} facets, "
                   f"{c.get('neighbours', 0)} neighbours checked exactly "
                   f"({result.seconds:.2f} s)")
    else:
        _print_failures(result, all_failures)
    if not result.valid:
        sys.exit(EXIT_NEGATIVE)
