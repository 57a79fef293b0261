"""``verishallow show SHALLOW``: the shallow network in readable form."""

from __future__ import annotations

import click

from .common import emit_json, handle_errors, json_option, plural, quiet_option


def _num(v: float) -> str:
    return f"{v:.6g}"


def linear_text(coefs, names: list[str], const: float | None = None,
                skip_zero: bool = True) -> str:
    """``-0.31*x0 + 0.95*x1 + 0.2``; zero coefficients dropped when ``skip_zero``."""
    terms = [(float(a), name) for a, name in zip(coefs, names, strict=True)
             if not (skip_zero and a == 0)]
    if const is not None:
        terms.append((float(const), None))
    parts: list[str] = []
    for a, name in terms:
        body = _num(abs(a)) + (f"*{name}" if name else "")
        if not parts:
            parts.append(("-" if a < 0 else "") + body)
        else:
            parts.append(("- " if a < 0 else "+ ") + body)
    return " ".join(parts) if parts else "0"


def region_report(net, r: int) -> dict:
    """Inequalities (with their neurons) and affine model of region ``r``."""
    names = [f"x{j}" for j in range(net.input_dim)]
    ineqs = []
    for q in net.region_inequalities(r):
        q = dict(q)
        q["text"] = f"{linear_text(q['normal'], names)} <= {_num(q['bound'])}"
        ineqs.append(q)
    models = [f"y{i} = {linear_text(net.alpha[r, i], names, float(net.beta[r, i]), False)}"
              for i in range(net.output_dim)]
    rep = {"id": r, "facets": len(ineqs), "inequalities": ineqs,
           "alpha": net.alpha[r].tolist(), "beta": net.beta[r].tolist(), "model": models}
    if net.patterns is not None:
        rep["pattern"] = "".join("1" if t else "0" for t in net.patterns[r])
    return rep


@click.command()
@click.argument("shallow", type=click.Path())
@click.option("--region", "-r", "region", type=int, default=None,
              help="Show only region K (0-based id).")
@json_option
@quiet_option
@handle_errors
def command(shallow: str, region: int | None, as_json: bool, quiet: bool) -> None:
    """Summary counts and, per region, its inequalities and affine model.

    SHALLOW is a file written by 'verishallow convert' (.json or .npz). Each inequality names
    the neuron(s) whose bent hyperplane it is; each model lists the weight of every input.
    """
    from ..shallow import load_shallow

    net = load_shallow(shallow)
    if region is not None:
        net._check_region(region)
    ids = range(net.n_regions) if region is None else [region]
    summary = net.summary()
    regions = [region_report(net, r) for r in ids]
    if as_json:
        emit_json({"summary": summary, "domain": net.domain.to_dict(), "regions": regions})
        return
    if region is None:
        cp = summary["connected_pieces"]
        click.echo(f"{shallow}: shallow network {net.input_dim} -> {net.output_dim} on "
                   f"{net.domain.describe()}")
        click.echo(f"regions: {summary['regions']}, hyperplanes: {summary['hyperplanes']}, "
                   f"function pieces: {summary['function_pieces']}"
                   + (f" ({cp} connected)" if cp is not None else "")
                   + f", neuron facets: {summary['facets']} (mean "
                   f"{summary['mean_facets']:.3f} per region; the domain's sides are not "
                   "counted)")
        click.echo("coverage: " + ("proved complete" if net.complete else "not proved"))
    for rep in regions:
        click.echo(f"region {rep['id']} ({plural(rep['facets'], 'neuron facet')}"
                   + (f", pattern {rep['pattern']}" if "pattern" in rep else "") + "):")
        click.echo("  inequalities:" if rep["inequalities"] else
                   "  inequalities: none (the whole domain)")
        width = max((len(q["text"]) for q in rep["inequalities"]), default=0)
        for q in rep["inequalities"]:
            click.echo(f"    {q['text']:<{width}}   [{', '.join(q['neurons'])}]")
        click.echo("  model:")
        for line in rep["model"]:
            click.echo(f"    {line}")
