"""``verishallow plot MODEL [DOMAIN] -o FILE.png``: picture of the activation regions."""

from __future__ import annotations

import click

from ..errors import InputError
from .common import (
    domain_argument,
    emit_json,
    ensure_writable,
    handle_errors,
    json_option,
    plural,
    quiet_option,
)


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@click.option("-o", "--out", "out", required=True, type=click.Path(),
              help="PNG file to write (atomically).")
@click.option("--slice", "slice_", default=None,
              help="i,j: the two free inputs of a slice through a higher-dimensional domain.")
@click.option("--at", default=None,
              help="Where the slice passes: a full point a,b,c,... or the fixed inputs' "
                   "values [default: the domain's centre].")
@click.option("--color", type=click.Choice(["output", "model"]), default="output",
              show_default=True,
              help="Fill regions by the output value, or by affine model (one colour per "
                   "distinct alpha, beta).")
@click.option("--output", "output_index", type=int, default=0, show_default=True,
              help="Output shown by --color output.")
@click.option("--decision-boundary", is_flag=True,
              help="Overlay where the argmax of the outputs changes (one output: its zero "
                   "level).")
@click.option("--width", type=int, default=800, show_default=True, help="Width in pixels.")
@click.option("--height", type=int, default=600, show_default=True, help="Height in pixels.")
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, out: str, slice_: str | None, at: str | None,
            color: str, output_index: int, decision_boundary: bool, width: int, height: int,
            as_json: bool, quiet: bool) -> None:
    """Draw MODEL's activation regions on a 2-D DOMAIN (or a 2-D slice) into a PNG."""
    from ..plot import plot_partition
    from .common import load_model_and_domain
    from .explain import parse_vector

    ensure_writable(out)
    net, dom = load_model_and_domain(model, domain)
    if net.input_dim < 2:
        raise InputError(f"plot draws 2-D partitions; {model} has "
                         f"{plural(net.input_dim, 'input')}")
    dims = None
    if slice_ is not None:
        try:
            dims = tuple(int(t) for t in slice_.split(","))
        except ValueError:
            raise InputError(f"cannot read --slice {slice_!r}: expected i,j") from None
        if len(dims) != 2:
            raise InputError(f"--slice takes two input indices i,j; got {slice_!r}")
    at_v = parse_vector(at, "--at") if at is not None else None
    res = plot_partition(net, dom, out, dims=dims, at=at_v, color=color, output=output_index,
                         decision_boundary=decision_boundary, width=width, height=height)
    if as_json:
        emit_json(res.to_dict())
        return
    click.echo(f"wrote {res.path}: {res.regions} regions, {res.width}x{res.height} px "
               f"({res.seconds:.2f} s)")
