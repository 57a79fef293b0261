"""``verishallow check CERT.json MODEL [DOMAIN]``: verify a certificate in exact arithmetic.

This command is part of the trusted base of an audit: it imports the independent checker
(:mod:`verishallow.checker`) and the model loaders only, never the enumeration code or a
solver. Exit codes: 0 valid, 1 invalid (the first failed check on one line), 2 bad input
(missing, unreadable, truncated or garbled file, not a certificate, unknown version).
"""

from __future__ import annotations

import sys

import click

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
@domain_argument
@click.option("--all-failures", is_flag=True, help="Print every failed check (up to 20), not "
                                                   "only the first.")
@json_option
@quiet_option
@handle_errors
def command(certificate: str, model: str, domain: str | None, all_failures: bool,
            as_json: bool, quiet: bool) -> None:
    """Check CERTIFICATE (.json or .json.gz) against MODEL, exactly and without solvers.

    With a domain (DOMAIN: a .vnnlib or domain .json file, 'whole', or lo:hi,lo:hi,...; or
    --lower/--upper, --vnnlib, --whole-space) the certificate must also be about exactly that
    domain; without one, the certificate's own domain is checked. Exit 0 valid, 1 invalid,
    2 bad input.
    """
    from ..checker import check_certificate, load_certificate
    from ..io import load

    cert = load_certificate(certificate)
    net = load(model)
    dom = None
    if domain is not None:
        from .common import parse_domain

        dom = parse_domain(domain, model, net.input_dim)
    result = check_certificate(cert, net, domain=dom)
    if as_json:
        emit_json(result.to_dict())
    elif result.valid:
        c = result.checked
        click.echo(f"valid: {c.get('regions', 0)} regions, {c.get('facets', 0)} facets, "
                   f"{c.get('neighbours', 0)} neighbours checked exactly "
                   f"({result.seconds:.2f} s)")
    else:
        shown = result.failures if all_failures else result.failures[:1]
        for msg in shown:
            click.echo("invalid: " + " ".join(msg.split()))
    if not result.valid:
        sys.exit(EXIT_NEGATIVE)
