"""``verishallow certify MODEL [DOMAIN] -o CERT.json``: write an audit certificate.

Exit codes: 0 the certificate is complete (every region, facet and neighbour proved exactly),
2 bad input, 3 the certificate was written but is incomplete (its ``problems`` say why; the
checker will reject it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .common import (
    EXIT_UNKNOWN,
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
    """``<model stem>.cert.json`` in the current working directory."""
    return Path(Path(model).stem + ".cert.json")


def z3_summary(report: dict | None) -> dict | None:
    """The z3 double-check report in a few numbers (None when z3 did not run)."""
    if report is None:
        return None
    wit, aff, rej, cov = (report["witnesses"], report["affine"], report["rejected"],
                          report["coverage"])
    return {
        "witnesses_exact": wit["exact"], "witnesses_z3": wit["z3"],
        "witnesses_failed": len(wit["failed"]), "witnesses_unknown": len(wit["unknown"]),
        "affine_equal": aff["equal"], "affine_unequal": len(aff["unequal"]),
        "affine_unknown": len(aff["unknown"]),
        "rejected_checked": rej.get("checked", 0), "rejected_nonempty": rej.get("nonempty", 0),
        "coverage": cov["status"], "missed_regions": len(report["missed_regions"]),
        "seconds": report["seconds"],
    }


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Certificate file (.json, or .json.gz for gzip); default <model stem>.cert.json "
                   "in the current directory.")
@click.option("--z3/--no-z3", "z3", default=False, show_default=True,
              help="Also re-decide every region's witness and affine model (and, for small "
                   "networks, coverage) with z3 and record the results. Off by default: the "
                   "certificate's proof does not rely on z3, and the double-check usually "
                   "takes far longer than the certificate itself (moons: 13.5 s of 13.9 s, "
                   "docs/benchmarks.md).")
@click.option("--z3-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="With --z3: time limit of each per-region z3 query, "
                                      "seconds.")
@click.option("--z3-coverage-timeout", type=click.FloatRange(min=0, min_open=True),
              default=60.0, show_default=True,
              help="With --z3: time limit of z3's coverage query, seconds (then SCIP's result "
                   "stands alone).")
@method_option()
@click.option("--no-coverage-proof", is_flag=True,
              help="No effect, kept for old scripts: the certificate is the coverage proof.")
@scip_time_limit_option
@workers_option
@scheduler_option
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, output: str | None, z3: bool, z3_timeout: float,
            z3_coverage_timeout: float, method: str, no_coverage_proof: bool,
            time_limit: float | None, workers: int | None, scheduler: str | None,
            as_json: bool, quiet: bool) -> None:
    """Enumerate MODEL's regions on DOMAIN and write a certificate that `verishallow check`
    verifies in exact arithmetic, without solvers.

    DOMAIN is a .vnnlib or domain .json file, 'whole', or lo:hi,lo:hi,...; without it the
    model's bundled domain is used. --z3 adds z3's independent double-checks (slow; off by
    default). Exit 0 complete, 3 written but incomplete, 2 bad input.
    """
    from ..proofs.partition import certificate_bytes, certify
    from ..regions import enumerate_regions
    from .convert import write_all

    t0 = time.perf_counter()
    out = ensure_writable(output if output else default_output(model))
    net, dom = load_model_and_domain(model, domain)
    show = not (quiet or as_json)
    bar = ProgressBar(enabled=show)
    try:
        # the certificate written below is the coverage proof: no second one here
        part = enumerate_regions(net, dom, method=method, prove_coverage=False,
                                 progress=bar, time_limit=time_limit, workers=workers,
                                 scheduler=scheduler)
    finally:
        bar.close()
    bar = ProgressBar(enabled=show, desc="certify")

    def progress(done: int, total: int) -> None:
        bar.count(done, total)
        if done >= total:  # the evidence is done; what follows reports no progress
            bar.phase(f"z3 double-check of {total} regions (no progress report)" if z3 else
                      "writing")

    bar.phase("exact evidence per region")
    try:
        cert = certify(net, dom, partition=part, z3=z3, z3_timeout=z3_timeout,
                       z3_coverage_timeout=z3_coverage_timeout, workers=workers,
                       progress=progress)
    finally:
        bar.close()
    write_all([(out, certificate_bytes(cert, out))])
    report = {
        "regions": len(cert["regions"]),
        "complete": cert["complete"],
        "output": str(out),
        "seconds": time.perf_counter() - t0,
        "problems": cert.get("problem_count", len(cert["problems"])),
        "z3": z3_summary(cert["z3"]),
        "timings": cert["seconds"],
    }
    if as_json:
        emit_json(report)
    else:
        click.echo(f"{model}: {report['regions']} regions on {dom.describe()}, certificate "
                   f"{'complete' if cert['complete'] else 'INCOMPLETE'} "
                   f"({report['seconds']:.2f} s)")
        z = report["z3"]
        if z is None:
            click.echo("z3: not run (--z3 adds the double-check)")
        else:
            click.echo(f"z3: witnesses {z['witnesses_exact'] + z['witnesses_z3']} exact, "
                       f"affine models {z['affine_equal']} equal, coverage {z['coverage']}")
        for p in cert["problems"][:10]:
            click.echo(f"problem: {p}")
        click.echo(f"wrote {out}")
    if not cert["complete"]:
        sys.exit(EXIT_UNKNOWN)
