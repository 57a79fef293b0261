"""``verishallow equiv A B [DOMAIN]``: are two networks (deep or shallow) the same function?"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from .common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    EXIT_UNKNOWN,
    domain_argument,
    emit_json,
    handle_errors,
    json_option,
    load_model_and_domain,
    parse_domain,
    quiet_option,
)


def is_shallow_file(path: str) -> bool:
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


def _fmt(v: Any) -> str:
    return "[" + ", ".join(repr(float(t)) for t in v) + "]"


@click.command()
@click.argument("model_a", type=click.Path())
@click.argument("model_b", type=click.Path())
@domain_argument
@click.option("--epsilon", type=float, default=0.0, show_default=True,
              help="Tolerance: equivalent iff max |f_A - f_B|_inf <= E (0: exact equality); "
                   "with --top1, the margin a disagreement must exceed.")
@click.option("--top1", is_flag=True,
              help="Compare only the top-ranked output (ties never count as disagreement).")
@click.option("--time-limit", type=float, default=None,
              help="Seconds for the SCIP search (MILP method); unknown (exit 3) when reached.")
@click.option("--method", type=click.Choice(["auto", "milp", "regions"]), default="auto",
              show_default=True,
              help="regions: overlay of both partitions (equal depths); milp: SCIP over both "
                   "networks; auto: regions for <= 2 free inputs, else milp.")
@json_option
@quiet_option
@handle_errors
def command(model_a: str, model_b: str, domain: str | None, epsilon: float, top1: bool,
            time_limit: float | None, method: str, as_json: bool, quiet: bool) -> None:
    """Decide whether MODEL_A and MODEL_B agree on DOMAIN: max |f_A(x) - f_B(x)| <= E.

    Models are .onnx, .nnet or .npz networks; either side may be a shallow network file from
    'verishallow convert' (.json or .npz), which is then checked region by region against the
    deep side. DOMAIN defaults to MODEL_A's bundled domain (a shallow network's own domain
    when one side is shallow). Exit 0 equivalent, 1 not equivalent (the counterexample and
    both outputs are printed), 3 unknown, 2 bad input.
    """
    from ..equiv import check_equivalence, check_shallow_equivalence, onnxruntime_check
    from ..io import load
    from ..shallow import load_shallow

    sh_a, sh_b = is_shallow_file(model_a), is_shallow_file(model_b)
    if sh_a and sh_b:
        raise InputError("both sides are shallow networks; give at least one deep network")
    if sh_a or sh_b:
        if top1:
            raise InputError("--top1 is not supported against a shallow network")
        deep_path, sh_path = (model_b, model_a) if sh_a else (model_a, model_b)
        shallow = load_shallow(sh_path)
        net = load(deep_path)
        dom = None if domain is None else parse_domain(domain, deep_path, net.input_dim)
        res = check_shallow_equivalence(net, shallow, dom, epsilon)
        dom_text = (dom or shallow.domain).describe()
    else:
        net_a, dom = load_model_and_domain(model_a, domain)
        net_b = load(model_b)
        res = check_equivalence(net_a, net_b, dom, epsilon=epsilon, top1=top1,
                                time_limit=time_limit, method=method)
        dom_text = dom.describe()
        if res.counterexample is not None and all(
                Path(p).suffix.lower() == ".onnx" for p in (model_a, model_b)):
            ort = onnxruntime_check(model_a, model_b, net_a, net_b, res.counterexample,
                                    epsilon, top1)
            res.details["onnxruntime"] = ort if ort is not None else "unavailable"
            if ort is not None and not ort["agrees_with_float64"]:
                res.equivalent, res.counterexample = None, None
                res.details["reason"] = ("onnxruntime's outputs at the counterexample disagree "
                                         "with the loaded networks")
    code = {True: EXIT_OK, False: EXIT_NEGATIVE, None: EXIT_UNKNOWN}[res.equivalent]
    if as_json:
        emit_json({"model_a": model_a, "model_b": model_b, "domain": dom_text,
                   **res.to_dict()})
        sys.exit(code)
    what = "top-1 disagreement" if top1 else "max |f_A - f_B|"
    if res.exact is not None:
        value = f"{res.max_difference!r} (exactly {res.exact})"
    else:
        value = f"in [{res.lower!r}, {res.upper!r}]"
    sep = " =" if res.exact is not None else ""
    if res.equivalent:
        click.echo(f"equivalent: {what}{sep} {value} <= {epsilon!r} on {dom_text} "
                   f"({res.seconds:.2f} s)")
    elif res.equivalent is False:
        click.echo(f"NOT equivalent: {what}{sep} {value} > {epsilon!r} on {dom_text} "
                   f"({res.seconds:.2f} s)")
        rep = res.details.get("replay", {})
        click.echo(f"counterexample x = {_fmt(res.counterexample)}")
        if "output_deep" in rep:
            outs = [("deep", rep["output_deep"]), ("shallow", rep["output_shallow"])]
        else:
            outs = [("A", rep.get("output_a")), ("B", rep.get("output_b"))]
        if outs[0][1] is not None:
            for name, out in outs:
                click.echo(f"  {name}(x) = {_fmt(out)}")
            click.echo(f"  replayed: float64 {rep['float64_value']!r}, exact "
                       f"{rep['exact_value_float']!r}")
        ort = res.details.get("onnxruntime")
        if isinstance(ort, dict):
            click.echo(f"  onnxruntime: {ort['value']!r}")
    else:
        click.echo(f"unknown: {what} {value} ({res.details.get('reason', 'undecided')}; "
                   f"{res.seconds:.2f} s)")
    sys.exit(code)
