"""``verishallow explain MODEL [DOMAIN] --point ...``: exact Shapley values at a point."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..errors import InputError
from .common import domain_argument, emit_json, handle_errors, json_option, quiet_option


def parse_vector(text: str, what: str, dim: int | None = None) -> np.ndarray:
    """``a,b,c`` -> float array (clear error on junk or a wrong length)."""
    try:
        v = np.array([float(t) for t in text.split(",")], dtype=np.float64)
    except ValueError:
        raise InputError(f"cannot read {what} {text!r}: expected numbers a,b,...") from None
    if not np.all(np.isfinite(v)):
        raise InputError(f"{what} contains NaN or infinity")
    if dim is not None and v.size != dim:
        raise InputError(f"{what} has {v.size} values but the model has {dim} inputs")
    return v


def load_background(path: str, dim: int) -> np.ndarray:
    """An ``(n, d)`` array from a ``.npy`` file."""
    p = Path(path)
    try:
        arr = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"background file not found: {p}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read background {p} (expected a .npy array): {exc}") from None
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1 and arr.size == dim:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] == 0:
        raise InputError(f"background {p} has shape {arr.shape}; expected (n, {dim})")
    return arr


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@click.option("--point", required=True, help="The point to explain: a,b,... (one per input).")
@click.option("--baseline", default=None,
              help="Baseline point a,b,... [default: the domain's centre].")
@click.option("--background", type=click.Path(), default=None,
              help="Background set (.npy, shape (n, d)): interventional SHAP, the mean of "
                   "baseline Shapley values over its rows.")
@click.option("--output", "output_index", type=int, default=None,
              help="Explain only output K [default: every output].")
@click.option("--via", type=click.Choice(["network", "regions"]), default="network",
              show_default=True,
              help="Evaluate coalition points with the network, or with the exact affine "
                   "models of the enumerated regions (same function; slower, shows the "
                   "region id).")
@click.option("--exact", is_flag=True,
              help="Rational arithmetic (Fractions): efficiency holds exactly. Small d only.")
@click.option("--local-only", is_flag=True,
              help="Only the region-local attribution (any number of inputs).")
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, point: str, baseline: str | None,
            background: str | None, output_index: int | None, via: str, exact: bool,
            local_only: bool, as_json: bool, quiet: bool) -> None:
    """Shapley values of MODEL's output at --point: exact (all 2^d coalitions) for up to 16
    inputs, with the region-local attribution alpha_i (x_i - E[x_i]) alongside.

    The game is v(S) = f(x_S, b_notS) for a baseline b (default: the domain's centre), or its
    mean over the rows of --background. The point must lie in DOMAIN (default: the model's
    bundled domain).
    """
    from ..explain import domain_centre, local_attribution, shapley_values
    from .common import load_model_and_domain

    if baseline is not None and background is not None:
        raise click.UsageError("give --baseline or --background, not both")
    if exact and local_only:
        raise click.UsageError("--exact and --local-only exclude each other")
    net, dom = load_model_and_domain(model, domain)
    d = net.input_dim
    x = parse_vector(point, "--point", d)
    if not dom.contains(x, tol=0.0)[0]:
        raise InputError(f"the point {point} lies outside the domain {dom.describe()}")
    baseline_source = None
    ref_kw: dict = {}
    if background is not None:
        ref_kw["background"] = load_background(background, d)
    elif baseline is not None:
        ref_kw["baseline"] = parse_vector(baseline, "--baseline", d)
        baseline_source = "given"
    else:
        ref_kw["baseline"] = domain_centre(dom)
        baseline_source = "domain centre"
    partition = None
    if via == "regions":
        from ..regions import enumerate_regions

        partition = enumerate_regions(net, dom, prove_coverage=False)
    if local_only:
        e = local_attribution(net, x, output=output_index, partition=partition, **ref_kw)
    else:
        e = shapley_values(net, x, output=output_index, partition=partition, exact=exact,
                           **ref_kw)
    report = e.to_dict()
    report["model"] = model
    report["domain"] = dom.to_dict()
    if baseline_source is not None:
        report["baseline_source"] = baseline_source
    if background is not None:
        report["background"] = background
    if as_json:
        emit_json(report)
        return
    _print_text(e, baseline_source, background)


def _print_text(e, baseline_source: str | None, background: str | None) -> None:
    d = e.point.shape[0]
    if e.mode == "baseline":
        click.echo(f"baseline ({baseline_source}): "
                   + ", ".join(f"{v:.6g}" for v in e.reference[0]))
    else:
        click.echo(f"background: {background} ({e.reference.shape[0]} rows)")
    where = f"region {e.region}" if e.region is not None else "activation pattern"
    click.echo(f"x lies in {where} with {int(e.pattern.sum())} active neurons"
               + (" (on a region boundary)" if e.on_boundary else ""))
    if e.coalition_regions is not None:
        click.echo(f"coalition points meet {e.coalition_regions} activation pattern(s); "
                   f"evaluated by {e.evaluator}")
    for row, o in enumerate(e.outputs):
        click.echo(f"output {o}: f(x) = {e.prediction[row]:.10g}, "
                   f"E f(reference) = {e.base_value[row]:.10g}")
        click.echo(f"  {'feature':>8} {'x':>12} {'shapley':>14} {'local_linear':>14}")
        for i in range(d):
            s = "-" if e.shapley is None else f"{e.shapley[row, i]:.8g}"
            flag = ""
            if e.agrees is not None and not e.agrees[row, i]:
                flag = "  differs"
            click.echo(f"  {i:>8} {e.point[i]:>12.6g} {s:>14} "
                       f"{e.local_linear[row, i]:>14.8g}{flag}")
    if e.exact_agrees_local is not None:
        click.echo("local-linear attribution " + ("equals the exact Shapley values"
                                                  if e.exact_agrees_local else
                                                  "differs from the exact Shapley values"))
