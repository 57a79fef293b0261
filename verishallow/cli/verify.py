"""``verishallow verify``: decide a VNN-LIB property (or a VNN-LIB 2.0 equivalence query).

Two forms, the same exit codes:

* ``verishallow verify MODEL PROP.vnnlib`` (this project's form);
* ``verishallow verify SPEC.vnnlib --network N=MODEL.onnx [--network ...] [--timeout S]``, the
  VNN-LIB 2.0 standard solver command line: a query over one network is a property, a query
  over two networks (``equal-to`` / ``isomorphic-to`` or unrelated) an equivalence query.
"""

from __future__ import annotations

import os
import sys

import click

from ..errors import InputError
from .common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    EXIT_UNKNOWN,
    ProgressBar,
    emit_json,
    ensure_writable,
    handle_errors,
    json_option,
    quiet_option,
    search_scheduler_option,
    workers_option,
)

_EXIT = {"unsat": EXIT_OK, "sat": EXIT_NEGATIVE, "unknown": EXIT_UNKNOWN}


#: Setting this environment variable to 1 is the same as passing --strict-float (for test
#: harnesses that call the standard command line and cannot add options).
STRICT_FLOAT_ENV = "VERISHALLOW_STRICT_FLOAT"
#: Kept for harnesses of the previous release (floats are read as real by default now).
FLOAT_AS_REAL_ENV = "VERISHALLOW_FLOAT_AS_REAL"


def _float_as_real(strict: bool) -> bool:
    """Floating-point declarations are read as real unless --strict-float (or its variable)."""
    on = os.environ.get(STRICT_FLOAT_ENV, "").strip().lower() in ("1", "true", "yes")
    return not (strict or on)


def check_element_types(spec: str, models: dict[str, str], float_as_real: bool) -> None:
    """VNN-LIB 2.0 rules for a query's declared element types (chapter "Solver Command-line
    Interface", errors of the verify command): a solver refuses types it cannot analyse
    soundly, and the models' element types must match the declared ones unless those are
    ``real``. verishallow is exact over the reals, so a floating-point type is refused unless
    ``float_as_real`` (the user's consent to read every floating-point type as ``real``, which
    then needs no match either); integer outputs are exact, and checked against the model.
    ``models`` maps network names to model files (only .onnx files are checked)."""
    from ..vnnlib2 import FLOATING_TYPES, INTEGER_TYPES, query_declarations

    decls = query_declarations(spec)
    for net in decls:
        for t in (*net.inputs, *net.outputs):
            etype = t.element_type.lower()
            if etype in FLOATING_TYPES and not float_as_real:
                raise InputError(
                    f"{spec}:{t.line}: {t.name} is declared {t.element_type}, but verishallow "
                    f"decides queries over the reals, not in {t.element_type} arithmetic "
                    "(VNN-LIB 2.0: a solver refuses types it cannot analyse soundly); declare "
                    f"it real, or drop --strict-float (and {STRICT_FLOAT_ENV}) to read "
                    f"{t.element_type} as real")
    for net in decls:
        key = net.relation[1] if net.relation and net.relation[0] == "equal-to" else net.name
        path = models.get(key, models.get(""))
        if path is None or not str(path).lower().endswith(".onnx"):
            continue
        typed = [(t, "input", k) for k, t in enumerate(net.inputs)] + \
            [(t, "output", k) for k, t in enumerate(net.outputs)]
        typed = [x for x in typed if x[0].element_type.lower() in INTEGER_TYPES]
        if not typed:
            continue
        from ..io.onnx import graph_io_types, read_model

        ins, outs = graph_io_types(read_model(path))
        for t, kind, k in typed:
            have = (ins if kind == "input" else outs)
            found = have[k] if k < len(have) else "?"
            if found not in ("?", t.element_type.lower()):
                raise InputError(f"{spec}:{t.line}: {t.name} is declared {t.element_type} but "
                                 f"{kind} {k} of {path} is {found}")


def load_for_query(model: str, prop_path: str):
    """Load ``model``; when it casts an input-dependent tensor to an integer or bool type, load
    it again on the box around the property's input regions (where such a cast may be
    constant, see :func:`verishallow.io.onnx.network_from_onnx`)."""
    from ..io import load
    from ..io.onnx import NeedsInputBox, load_onnx
    from ..vnnlib import parse_vnnlib

    try:
        return load(model)
    except NeedsInputBox:
        return load_onnx(model, parse_vnnlib(prop_path).input_bounds())


def _networks(specs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--network needs NAME=MODEL.onnx, got {spec!r}")
        if name in out:
            raise InputError(f"--network {name} is given twice")
        out[name] = path
    return out


@click.command()
@click.argument("first", metavar="MODEL", type=click.Path())
@click.argument("second", metavar="PROP.vnnlib", required=False, type=click.Path())
@click.option("--network", "networks", multiple=True, metavar="NAME=MODEL.onnx",
              help="VNN-LIB 2.0 form: bind a network the query declares (then the only "
                   "positional argument is the query).")
@click.option("--time-limit", "--timeout", "time_limit", type=click.FloatRange(min=0),
              default=None, help="Give up after this many seconds (answer: unknown).")
@click.option("--method", type=click.Choice(["auto", "search", "regions"]), default="auto",
              show_default=True,
              help="search: branch and bound over the input box (symbolic bounds, exact "
                   "certificates); regions: check the property on every activation region; "
                   "auto: the search, then the regions if it could not decide in time.")
@click.option("--certificate", type=click.Path(), default=None, metavar="PROOF.json",
              help="When the property holds, write the proof tree (.json, or .json.gz) that "
                   "'verishallow check PROOF.json MODEL PROP.vnnlib' re-derives exactly, "
                   "without solvers. Nothing is written otherwise.")
@click.option("--strict-float", is_flag=True,
              help="Refuse a VNN-LIB 2.0 query that declares floating-point element types "
                   "(float32, ...). By default they are read as real, as other verifiers do: "
                   "the analysis is exact over the reals and models no float rounding, so the "
                   "verdict is about the real-valued network of the exact weights (also: "
                   f"{STRICT_FLOAT_ENV}=1).")
@click.option("--float-as-real", is_flag=True, hidden=True,
              help="Accepted for old scripts: floating-point types are read as real by default.")
@workers_option
@search_scheduler_option
@json_option
@quiet_option
@handle_errors
def command(first: str, second: str | None, networks: tuple[str, ...], time_limit: float | None,
            method: str, certificate: str | None, strict_float: bool, float_as_real: bool,
            workers: int | None, scheduler: str | None,
            as_json: bool, quiet: bool) -> None:
    """Check the VNN-LIB property PROP on MODEL.

    Prints 'unsat' (the property holds: no input in the input set reaches the unsafe outputs),
    'sat' and a replayed counterexample in VNN-COMP's ((X_0 v) ... (Y_0 v)) form, or 'unknown'.
    Exit code 0 holds, 1 violated, 3 unknown, 2 bad input.

    The VNN-LIB 2.0 form 'verify SPEC.vnnlib --network N=MODEL.onnx' takes the query first;
    a query over two networks is decided as an equivalence (see 'verishallow equiv').
    """
    from ..verify import format_counterexample, verify_property
    from ..vnnlib import parse_vnnlib

    cert_out = ensure_writable(certificate) if certificate else None
    float_as_real = _float_as_real(strict_float)
    if networks:
        if second is not None:
            raise InputError("with --network give only the query: verify SPEC.vnnlib "
                             "--network NAME=MODEL.onnx")
        spec, bound = first, _networks(networks)
        from ..vnnlib2 import NetworkQuery, equivalence_form, parse_query, query_network_names

        names = query_network_names(spec)
        missing = [n for n in names if n not in bound]
        extra = [n for n in bound if names and n not in names]
        if missing or extra:
            raise InputError(f"{spec} declares networks {', '.join(names)}; --network gave "
                             f"{', '.join(bound)}")
        check_element_types(spec, bound, float_as_real)
        query = parse_query(spec)
        if isinstance(query, NetworkQuery):
            form = equivalence_form(query)
            _equivalence(form, bound, time_limit, workers, cert_out, as_json, quiet, scheduler)
            return
        model = bound[names[0]] if names else next(iter(bound.values()))
        prop_path = spec
    else:
        if second is None:
            raise InputError("give MODEL and PROP.vnnlib (or SPEC.vnnlib --network "
                             "NAME=MODEL.onnx)")
        model, prop_path = first, second
        check_element_types(prop_path, {"": model}, float_as_real)
    net = load_for_query(model, prop_path)
    vnn = parse_vnnlib(prop_path, n_inputs=net.input_dim, n_outputs=net.output_dim)
    show = not (quiet or as_json)
    bars: dict[str, ProgressBar] = {}

    def bar(name: str, unit: str) -> ProgressBar:
        # one bar per stage that actually runs, created when it first reports
        if name not in bars:
            for other in bars.values():
                other.close()
            bars[name] = ProgressBar(enabled=show, desc=name, unit=unit)
        return bars[name]

    try:
        res = verify_property(
            net, vnn, time_limit=time_limit, workers=workers, method=method,
            certificate=cert_out is not None, scheduler=scheduler,
            progress=lambda n, q: bar("regions checked", "regions")(n, q),
            search_progress=lambda n, q, _best: bar("proof search", "nodes")(n, q))
    finally:
        for b in bars.values():
            b.close()
    written = None
    if cert_out is not None and res.certificate is not None:
        from ..proofsearch.decide import write_proof

        write_proof(res.certificate, cert_out)
        written = str(cert_out)
    if as_json:
        emit_json({**res.to_dict(), "certificate": written})
    else:
        click.echo(res.status)
        if res.counterexample is not None:
            click.echo(format_counterexample(*res.counterexample))
        if not quiet:
            if res.method == "proof search":
                st = res.stats
                how = (f"proof search, {st.get('nodes', 0)} nodes, {st.get('leaves', 0)} "
                       f"leaves, {res.seconds:.2f} s")
            else:
                how = f"{res.method}, {res.regions_checked} regions, {res.seconds:.2f} s"
            extra = f": {res.reason}" if res.reason else ""
            click.echo(f"{res.status} ({how}){extra}", err=True)
            if written:
                click.echo(f"wrote proof certificate {written}", err=True)
    sys.exit(_EXIT[res.status])


def _equivalence(form, bound: dict[str, str], time_limit: float | None, workers: int | None,
                 cert_out, as_json: bool, quiet: bool, scheduler: str | None = None) -> None:
    """A two-network VNN-LIB 2.0 query: unsat = equivalent, sat = a replayed difference."""
    from ..io import load
    from ..io.onnx import NeedsInputBox, load_onnx
    from ..proofsearch.decide import prove_equivalence, write_proof

    a, b = form.networks

    def load_on_box(path: str):
        try:
            return load(path)
        except NeedsInputBox:
            return load_onnx(path, (form.lower, form.upper))

    net_a, net_b = load_on_box(bound[a]), load_on_box(bound[b])
    top1 = form.mode == "top1"
    eps = 0.0 if form.epsilon is None else float(form.epsilon)
    dec = prove_equivalence(net_a, net_b, form.box, eps, top1, time_limit,
                            workers=workers, certificate=cert_out is not None,
                            scheduler=scheduler)
    status = {"holds": "unsat", "violated": "sat", "unknown": "unknown"}[dec.status]
    written = None
    if cert_out is not None and dec.certificate is not None:
        write_proof(dec.certificate, cert_out)
        written = str(cert_out)
    if as_json:
        cex = None
        if dec.counterexample is not None:
            cex = {"x": [float(v) for v in dec.counterexample[0]],
                   "y": [float(v) for v in dec.counterexample[1]]}
        emit_json({"status": status, "counterexample": cex, "seconds": dec.seconds,
                   "method": "proof search (equivalence)", "reason": dec.reason,
                   "search": dec.stats, "certificate": written})
    else:
        click.echo(status)
        if dec.counterexample is not None:
            x, y = dec.counterexample
            m = net_a.output_dim
            items = [f"(X_{i} {float(v)!r})" for i, v in enumerate(x)]
            items += [f"({a}_Y_{j} {float(v)!r})" for j, v in enumerate(y[:m])]
            items += [f"({b}_Y_{j} {float(v)!r})" for j, v in enumerate(y[m:])]
            click.echo("(" + "\n ".join(items) + ")")
        if not quiet:
            extra = f": {dec.reason}" if dec.reason else ""
            click.echo(f"{status} (proof search, equivalence of {a} and {b}, "
                       f"{dec.seconds:.2f} s){extra}", err=True)
    sys.exit(_EXIT[status])
