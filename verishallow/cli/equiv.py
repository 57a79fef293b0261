"""``verishallow equiv A B [DOMAIN]``: are two networks (deep or shallow) the same function?"""

from __future__ import annotations

import sys
from typing import Any

import click

from .common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    EXIT_UNKNOWN,
    ProgressBar,
    domain_argument,
    emit_json,
    ensure_writable,
    handle_errors,
    json_option,
    load_model_and_domain,
    parse_domain,
    quiet_option,
    search_scheduler_option,
    workers_option,
)


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
@click.option("--time-limit", type=click.FloatRange(min=0), default=None,
              help="Seconds for the whole decision; unknown (exit 3) when reached.")
@click.option("--method", type=click.Choice(["auto", "search", "milp", "regions"]),
              default="auto", show_default=True,
              help="search: branch and bound over the box with bounds on f_A - f_B (decides, "
                   "does not compute the maximum); regions: overlay of both partitions (equal "
                   "depths); milp: SCIP over both networks; auto: search on a box, else "
                   "regions for <= 2 free inputs, else milp (with --max: not search).")
@click.option("--max", "exact_max", is_flag=True,
              help="Also compute the exact maximum difference (regions or milp method), "
                   "not only the decision.")
@click.option("--certificate", "certificate", type=click.Path(), default=None,
              metavar="OUT.json",
              help="When equivalence is proved, also write an exact certificate of it (.json, "
                   "or .json.gz for gzip) that 'verishallow check OUT.json A B' re-checks "
                   "without solvers; nothing is written otherwise. The proof search writes its "
                   "proof tree; the regions/milp methods a partition certificate.")
@workers_option
@search_scheduler_option
@json_option
@quiet_option
@handle_errors
def command(model_a: str, model_b: str, domain: str | None, epsilon: float, top1: bool,
            time_limit: float | None, method: str, exact_max: bool, certificate: str | None,
            workers: int | None, scheduler: str | None, as_json: bool, quiet: bool) -> None:
    """Decide whether MODEL_A and MODEL_B agree on DOMAIN: max |f_A(x) - f_B(x)| <= E.

    Models are .onnx, .nnet or .npz networks; either side may be a shallow network file from
    'verishallow convert' (.json or .npz), which is then checked region by region against the
    deep side. DOMAIN defaults to MODEL_A's bundled domain (a shallow network's own domain
    when one side is shallow). Exit 0 equivalent, 1 not equivalent (the counterexample and
    both outputs are printed), 3 unknown, 2 bad input. With --certificate OUT.json an exact
    certificate is written only when equivalence is proved (and the certificate is complete).
    """
    from ..equiv import (
        check_request,
        check_shallow_equivalence,
        decide_equivalence,
        is_shallow_file,
    )
    from ..io import load
    from ..shallow import load_shallow

    sh_a, sh_b = is_shallow_file(model_a), is_shallow_file(model_b)
    check_request(epsilon, method, exact_max, certificate is not None, (sh_a, sh_b), top1)
    cert_out = None if certificate is None else ensure_writable(certificate)
    show = not (quiet or as_json)
    cert_report: dict[str, Any] = {}
    if sh_a or sh_b:
        deep_path, sh_path = (model_b, model_a) if sh_a else (model_a, model_b)
        shallow = load_shallow(sh_path)
        net = load(deep_path)
        dom = None if domain is None else parse_domain(domain, deep_path, net.input_dim)
        res = check_shallow_equivalence(net, shallow, dom, epsilon)
        dom_text = (dom or shallow.domain).describe()
    else:
        net_a, dom = load_model_and_domain(model_a, domain)
        net_b = load(model_b)
        # created at the first report, so that an input error prints one line only
        bars: dict[str, ProgressBar] = {}

        def search_progress(n: int, q: int, _best: float) -> None:
            if "search" not in bars:
                bars["search"] = ProgressBar(enabled=show, desc="proof search", unit="nodes")
            bars["search"](n, q)

        def certify_progress(done: int, total: int) -> None:
            if "certify" not in bars:
                bars["certify"] = ProgressBar(enabled=show, desc="certify")
            bars["certify"](done, total - done)

        try:
            decision = decide_equivalence(
                net_a, net_b, dom, epsilon, top1=top1, time_limit=time_limit, method=method,
                exact_max=exact_max, certificate=cert_out, workers=workers,
                paths=(model_a, model_b), search_progress=search_progress,
                certify_progress=certify_progress, scheduler=scheduler)
        finally:
            for b in bars.values():
                b.close()
        res, cert_report = decision.result, decision.certificate
        dom_text = dom.describe()
    code = {True: EXIT_OK, False: EXIT_NEGATIVE, None: EXIT_UNKNOWN}[res.equivalent]
    if as_json:
        emit_json({"model_a": model_a, "model_b": model_b, "domain": dom_text,
                   **res.to_dict(), **cert_report})
        sys.exit(code)
    what = "top-1 disagreement" if top1 else "max |f_A - f_B|"
    if res.exact is not None:
        value = f"{res.max_difference!r} (exactly {res.exact})"
    else:
        value = f"in [{res.lower!r}, {res.upper!r}]"
    sep = " =" if res.exact is not None else ""
    if res.equivalent and res.details.get("method") == "proof search":
        st = res.details.get("search", {})
        click.echo(f"equivalent: {what} <= {epsilon!r} on {dom_text}, proved by proof search "
                   f"({st.get('leaves', 0)} leaves, {res.seconds:.2f} s)")
        if cert_report.get("certificate"):
            click.echo(f"wrote proof certificate {cert_report['certificate']} "
                       f"({cert_report['certificate_leaves']} leaves, exact)")
    elif res.equivalent:
        click.echo(f"equivalent: {what}{sep} {value} <= {epsilon!r} on {dom_text} "
                   f"({res.seconds:.2f} s)")
        if cert_report.get("certificate"):
            click.echo(f"wrote certificate {cert_report['certificate']} "
                       f"({cert_report['certificate_regions']} regions, exact)")
    elif res.equivalent is False and res.counterexample is None:
        click.echo(f"NOT equivalent on {dom_text}: {res.details.get('reason', '')}")
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
