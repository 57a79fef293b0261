"""``verishallow convert MODEL [DOMAIN]``: build the shallow network and write it out."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import click

from ..errors import InputError
from .common import (
    ProgressBar,
    domain_argument,
    emit_json,
    ensure_writable,
    handle_errors,
    json_option,
    load_model_and_domain,
    method_option,
    quiet_option,
    scheduler_option,
    scip_time_limit_option,
    workers_option,
)


def default_output(model: str) -> Path:
    """``<model stem>.shallow.json`` in the current working directory (never beside the
    model, which may sit in a read-only or shared directory)."""
    return Path(Path(model).stem + ".shallow.json")


def write_all(outputs: list[tuple[Path, bytes]]) -> None:
    """Write every output atomically; if one fails, remove the ones this call wrote."""
    from ..atomic import write_bytes

    done: list[Path] = []
    try:
        for path, data in outputs:
            write_bytes(path, data)
            done.append(path)
    except BaseException:
        for path in done:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Shallow network file, JSON (.npz if so named); default "
                   "<model stem>.shallow.json in the current directory.")
@click.option("--onnx", "onnx_path", type=click.Path(), default=None,
              help="Also write a runnable ONNX model of the shallow network.")
@click.option("--npz", "npz_path", type=click.Path(), default=None,
              help="Also write the shallow network as .npz.")
@method_option()
@click.option("--no-coverage-proof", is_flag=True,
              help="Skip the coverage proof (that no region is missing): the exact certificate "
                   "first, SCIP's query as the fallback.")
@scip_time_limit_option
@click.option("--certificate", "cert_path", type=click.Path(), default=None,
              help="Also write an audit certificate of the same partition (.json or .json.gz; "
                   "see `verishallow check`).")
@workers_option
@scheduler_option
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, output: str | None, onnx_path: str | None,
            npz_path: str | None, method: str, no_coverage_proof: bool,
            time_limit: float | None, cert_path: str | None, workers: int | None,
            scheduler: str | None, as_json: bool, quiet: bool) -> None:
    """Build the shallow (three-layer) network equal to MODEL on DOMAIN and save it.

    DOMAIN is a .vnnlib or domain .json file, 'whole', or lo:hi,lo:hi,...; without it the
    model's bundled domain is used. Outputs are written atomically, only after the whole
    network is built.
    """
    from ..proofs.coverage import prove_coverage
    from ..proofs.partition import certificate_bytes, certify
    from ..regions import enumerate_regions
    from ..shallow import ShallowBuilder, to_json, to_npz_bytes, to_onnx
    from .regions import coverage_line

    t0 = time.perf_counter()
    out = Path(output) if output else default_output(model)
    targets = [ensure_writable(p) for p in (out, onnx_path, npz_path, cert_path) if p]
    if len({p.resolve() for p in targets}) != len(targets):
        raise InputError("the output files must all differ")
    net, dom = load_model_and_domain(model, domain)
    builder = ShallowBuilder(net, dom)
    bar = ProgressBar(enabled=not (quiet or as_json))
    try:
        part = enumerate_regions(net, dom, method=method, prove_coverage=False,
                                 progress=bar, time_limit=time_limit,
                                 on_region=builder.add_region, workers=workers,
                                 scheduler=scheduler)
    finally:
        bar.close()
    proof = None
    if not no_coverage_proof and part.method != "milp":
        bar = ProgressBar(enabled=not (quiet or as_json), desc="coverage proof")
        try:
            proof = prove_coverage(part, time_limit=time_limit, workers=workers,
                                   progress=bar.count)
        finally:
            bar.close()
    shallow = builder.build(part)
    main_bytes = to_npz_bytes(shallow) if out.suffix == ".npz" else \
        to_json(shallow).encode("utf-8")
    outputs = [(out, main_bytes)]
    if onnx_path:
        outputs.append((Path(onnx_path), to_onnx(shallow).SerializeToString()))
    if npz_path:
        outputs.append((Path(npz_path), to_npz_bytes(shallow)))
    cert = proof.certificate if proof is not None else None
    if cert_path and cert is None:
        bar = ProgressBar(enabled=not (quiet or as_json), desc="certify")
        try:
            cert = certify(net, dom, partition=part, workers=workers, progress=bar.count)
        finally:
            bar.close()
    if cert_path:
        outputs.append((Path(cert_path), certificate_bytes(cert, cert_path)))
    write_all(outputs)
    summary = shallow.summary()
    report = {
        "regions": summary["regions"],
        "hyperplanes": summary["hyperplanes"],
        "function_pieces": summary["function_pieces"],
        "seconds": time.perf_counter() - t0,
        "output": str(out),
        "complete": shallow.complete,
        "onnx": onnx_path,
    }
    if cert is not None:
        report["certificate"] = cert_path
        report["certificate_complete"] = cert["complete"]
    if as_json:
        emit_json(report)
        return
    click.echo(f"{model}: {report['regions']} regions, {report['hyperplanes']} hyperplanes, "
               f"{report['function_pieces']} function pieces ({report['seconds']:.2f} s)")
    click.echo("coverage: " + coverage_line(shallow.complete, part.stats.get("coverage"),
                                            part.method))
    if cert is not None:
        click.echo("certificate: " + ("complete" if cert["complete"] else
                                      f"INCOMPLETE ({cert['problems'][0]})"))
    for p in [str(out), onnx_path, npz_path, cert_path]:
        if p:
            click.echo(f"wrote {p}")
