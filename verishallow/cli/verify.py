"""``verishallow verify MODEL PROP.vnnlib``: decide a VNN-LIB property from the region partition."""

from __future__ import annotations

import sys

import click

from .common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    EXIT_UNKNOWN,
    ProgressBar,
    emit_json,
    handle_errors,
    json_option,
    quiet_option,
    workers_option,
)

_EXIT = {"unsat": EXIT_OK, "sat": EXIT_NEGATIVE, "unknown": EXIT_UNKNOWN}


@click.command()
@click.argument("model", type=click.Path())
@click.argument("prop", metavar="PROP.vnnlib", type=click.Path())
@click.option("--time-limit", type=click.FloatRange(min=0), default=None,
              help="Give up after this many seconds (answer: unknown).")
@workers_option
@json_option
@quiet_option
@handle_errors
def command(model: str, prop: str, time_limit: float | None, workers: int | None,
            as_json: bool, quiet: bool) -> None:
    """Check the VNN-LIB property PROP on MODEL.

    Prints 'unsat' (the property holds: no input in the input set reaches the unsafe outputs),
    'sat' and a replayed counterexample in VNN-COMP's ((X_0 v) ... (Y_0 v)) form, or 'unknown'.
    Exit code 0 holds, 1 violated, 3 unknown, 2 bad input.
    """
    from ..io import load
    from ..verify import format_counterexample, verify_property
    from ..vnnlib import parse_vnnlib

    net = load(model)
    vnn = parse_vnnlib(prop, n_inputs=net.input_dim, n_outputs=net.output_dim)
    bar = ProgressBar(enabled=not (quiet or as_json), desc="regions checked")
    try:
        res = verify_property(net, vnn, time_limit=time_limit, workers=workers, progress=bar)
    finally:
        bar.close()
    if as_json:
        emit_json(res.to_dict())
    else:
        click.echo(res.status)
        if res.counterexample is not None:
            click.echo(format_counterexample(*res.counterexample))
        if not quiet:
            how = f"{res.method}, {res.regions_checked} regions, {res.seconds:.2f} s"
            extra = f": {res.reason}" if res.reason else ""
            click.echo(f"{res.status} ({how}){extra}", err=True)
    sys.exit(_EXIT[res.status])
