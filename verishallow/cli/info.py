"""``verishallow info MODEL``: what the loader made of a model file."""

from __future__ import annotations

import click

from .common import domain_argument, emit_json, handle_errors, json_option, quiet_option


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, as_json: bool, quiet: bool) -> None:
    """Layer widths, fingerprint, default domain and stable neurons of MODEL."""
    from ..bounds import preactivation_bounds
    from ..io import load, load_with_domain
    from .common import parse_domain

    net = load(model)
    dom = parse_domain(domain, model, net.input_dim) if domain else load_with_domain(model)[1]
    report = {
        "model": model,
        "inputs": net.input_dim,
        "outputs": net.output_dim,
        "hidden_widths": list(net.hidden_widths),
        "neurons": net.n_hidden,
        "fingerprint": net.fingerprint,
        "domain": dom.to_dict() if dom is not None else None,
        "stable_active": None,
        "stable_inactive": None,
        "unstable": None,
    }
    if dom is not None:
        dom.validate_for(net.input_dim)
        b = preactivation_bounds(net, dom)
        report["stable_active"] = int(b.stable_active.sum())
        report["stable_inactive"] = int(b.stable_inactive.sum())
        report["unstable"] = int(b.unstable.sum())
    if as_json:
        emit_json(report)
        return
    widths = "-".join(str(v) for v in (net.input_dim, *net.hidden_widths, net.output_dim))
    click.echo(f"{model}: ReLU network {widths} ({net.n_hidden} hidden neurons)")
    click.echo(f"fingerprint: {net.fingerprint}")
    if dom is None:
        click.echo("domain: none bundled")
    else:
        click.echo(f"domain: {dom.describe()}")
        click.echo(f"neurons on the domain: {report['unstable']} unstable, "
                   f"{report['stable_active']} always active, "
                   f"{report['stable_inactive']} always inactive")
