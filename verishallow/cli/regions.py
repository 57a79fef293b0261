"""``verishallow regions MODEL [DOMAIN]``: enumerate activation regions."""

from __future__ import annotations

import click

from .common import (
    ProgressBar,
    domain_argument,
    emit_json,
    handle_errors,
    json_option,
    load_model_and_domain,
    quiet_option,
    scheduler_option,
    workers_option,
)


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@click.option("--method", type=click.Choice(["auto", "graph", "subdivision", "milp"]),
              default="auto", show_default=True,
              help="auto: subdivision for 1-2 free inputs, else graph; graph: adjacency-graph "
                   "search; subdivision: layer-wise cell splitting (1-D/2-D); milp: SCIP "
                   "enumeration.")
@click.option("--no-coverage-proof", is_flag=True,
              help="Skip the SCIP query that proves no region is missing (graph/subdivision).")
@click.option("--time-limit", type=float, default=None, help="SCIP time limit in seconds.")
@workers_option
@scheduler_option
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, method: str, no_coverage_proof: bool,
            time_limit: float | None, workers: int | None, scheduler: str | None,
            as_json: bool, quiet: bool) -> None:
    """Every full-dimensional activation region of MODEL on DOMAIN.

    DOMAIN is a .vnnlib or domain .json file, 'whole', or lo:hi,lo:hi,...; without it
    the model's bundled domain is used.
    """
    from ..regions import enumerate_regions

    net, dom = load_model_and_domain(model, domain)
    bar = ProgressBar(enabled=not (quiet or as_json))
    try:
        part = enumerate_regions(net, dom, method=method, prove_coverage=not no_coverage_proof,
                                 progress=bar, time_limit=time_limit, workers=workers,
                                 scheduler=scheduler)
    finally:
        bar.close()
    report = part.summary()
    if as_json:
        emit_json(report)
        return
    click.echo(f"{report['regions']} regions ({part.method}, {report['seconds']:.2f} s), "
               f"mean facets {report['mean_facets']:.3f}")
    click.echo(f"neurons: {report['unstable_neurons']} unstable, "
               f"{report['stable_neurons']} stable on {dom.describe()}")
    hist = ", ".join(f"{k}: {v}" for k, v in part.facet_histogram().items())
    click.echo(f"facet histogram (facets: regions): {hist}")
    click.echo("coverage: " + ("proved complete by SCIP" if report["complete"]
                               else "not proved"))
