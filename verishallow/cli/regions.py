"""``verishallow regions MODEL [DOMAIN]``: enumerate activation regions."""

from __future__ import annotations

import shlex
import sys

import click

from .common import (
    ProgressBar,
    domain_argument,
    emit_json,
    handle_errors,
    json_option,
    load_model_and_domain,
    method_option,
    plural,
    quiet_option,
    scheduler_option,
    scip_time_limit_option,
    workers_option,
)

#: Seconds between checkpoints of a streamed search (as ``regions.search.CHECKPOINT_SECONDS``;
#: not imported from there so that ``--help`` stays fast).
CHECKPOINT_DEFAULT = 10.0


class SearchBar(ProgressBar):
    """The region progress bar; a resumed run starts at its checkpoint's count."""

    def __call__(self, found: int, queued: int) -> None:
        if self.bar is not None and not self._started:  # no fake rate spike on --resume
            self.bar.initial = self.bar.n = self.bar.last_print_n = found
        super().__call__(found, queued)


def _resume_command(model: str, domain: str | None, store: str, method: str,
                    workers: int | None, scheduler: str | None, no_coverage_proof: bool,
                    time_limit: float | None, checkpoint_every: float) -> str:
    args = ["verishallow", "regions", "--store", store, "--resume"]
    if method != "auto":
        args += ["--method", method]
    if no_coverage_proof:
        args.append("--no-coverage-proof")
    if time_limit is not None:
        args += ["--time-limit", str(time_limit)]
    if checkpoint_every != CHECKPOINT_DEFAULT:
        args += ["--checkpoint-every", f"{checkpoint_every:g}"]
    if workers is not None:
        args += ["--workers", str(workers)]
    if scheduler is not None:
        args += ["--scheduler", scheduler]
    args += ["--", model] + ([domain] if domain is not None else [])
    return shlex.join(args)


def _unfinished(store: str) -> tuple[int, int] | None:
    """(regions saved, waves done) of an unfinished store, or None."""
    from ..regions.store import RegionStore

    try:
        rs = RegionStore.open(store)
    except Exception:  # noqa: BLE001 - no usable checkpoint: nothing to suggest
        return None
    st = rs.manifest.get("state")
    if rs.complete or not st:
        return None
    return int(st["regions"]), int(st["waves"])


def _finished(store: str) -> bool:
    from ..regions.store import RegionStore

    try:
        return RegionStore.open(store).complete
    except Exception:  # noqa: BLE001 - no usable store
        return False


def coverage_line(complete: bool, coverage: dict | None, method: str) -> str:
    """How coverage stands, in words, with what to do when it is not proved."""
    coverage = coverage or {}
    by = coverage.get("by")
    scip = coverage.get("scip") or {}
    if complete and method == "milp":
        return "proved complete by SCIP (its enumeration)"
    if complete and by == "certificate":
        line = ("proved complete by the exact certificate (adjacency closure checked in "
                "rational arithmetic)")
        if scip:
            line += f"; SCIP's second opinion: {scip.get('status')}"
        return line
    if complete and by == "scip":
        return ("proved complete by SCIP (the exact certificate did not prove it: "
                f"{(coverage.get('certificate') or {}).get('first_failure')})")
    if complete:
        return "proved complete"
    if not coverage:
        return "not proved (coverage proof skipped)"
    return (f"not proved ({coverage.get('reason') or coverage.get('status')}); --time-limit S "
            "gives the proof a longer budget")


def summary_line(report: dict, method: str, neuron_facets: int | None) -> str:
    """``262 regions (subdivision): enumeration 0.12 s, coverage proof 0.88 s; mean facets
    4.000 per region (3.763 on neurons, the rest on the domain's sides)``.

    ``report["seconds"]`` covers the whole run; the coverage proof's share is shown apart (a
    proof can take far longer than the enumeration). ``neuron_facets`` (total, or None when
    unknown) ties the mean to ``show``'s, which counts neuron facets only."""
    n, total = report["regions"], float(report["seconds"])
    proof = (report.get("coverage") or {}).get("seconds")
    if proof is not None:
        times = f"enumeration {max(0.0, total - proof):.2f} s, coverage proof {proof:.2f} s"
    else:
        times = f"{total:.2f} s"
    facets = f"mean facets {report['mean_facets']:.3f} per region"
    if neuron_facets is not None and n:
        facets += f" ({neuron_facets / n:.3f} on neurons, the rest on the domain's sides)"
    return f"{plural(n, 'region')} ({method}): {times}; {facets}"


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@method_option(" (graph with --store)")
@click.option("--no-coverage-proof", is_flag=True,
              help="Skip the coverage proof (that no region is missing): the exact certificate, "
                   "re-checked in rational arithmetic (on ACAS Xu about 6 ms of CPU per region "
                   "(certify 3.9 ms + check 2.1 ms, docs/benchmarks.md), shared by --workers), "
                   "with SCIP's query as the fallback.")
@scip_time_limit_option
@click.option("--store", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Stream regions to a region store directory (chunked, bounded memory; "
                   "see docs/region-store.md), with resumable checkpoints.")
@click.option("--resume", is_flag=True,
              help="Continue the interrupted run whose checkpoint is in --store DIR.")
@click.option("--checkpoint-every", type=click.FloatRange(min=0), default=CHECKPOINT_DEFAULT,
              show_default=True, metavar="SECONDS",
              help="With --store: seconds between checkpoints (about the most work Ctrl-C "
                   "or a crash can lose; 0: after every batch).")
@click.option("--scip-coverage", is_flag=True,
              help="Also ask SCIP's no-good-cut query for its independent second opinion on "
                   "coverage (after the exact certificate; within the same budget). Not with "
                   "--store.")
@click.option("--exact-coverage", is_flag=True, hidden=True,
              help="Accepted for old scripts: the exact certificate is the default proof now.")
@workers_option
@scheduler_option
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, method: str, no_coverage_proof: bool,
            time_limit: float | None, store: str | None, resume: bool,
            checkpoint_every: float, scip_coverage: bool, exact_coverage: bool,
            workers: int | None,
            scheduler: str | None, as_json: bool, quiet: bool) -> None:
    """Every full-dimensional activation region of MODEL on DOMAIN.

    DOMAIN is a .vnnlib or domain .json file, 'whole', or lo:hi,lo:hi,...; without it
    the model's bundled domain is used.

    With --store DIR the regions go to disk as they are found; Ctrl-C (or a crash) leaves a
    checkpoint that --resume continues, with the same result as an uninterrupted run.
    """
    from ..errors import InputError, VerishallowError
    from ..proofs.coverage import prove_coverage
    from ..regions import enumerate_regions

    if scip_coverage and store is not None:
        raise InputError("--scip-coverage works on in-memory runs (a stored run's coverage "
                         "proof is the exact certificate, with SCIP as its fallback)")
    if resume and store is None:
        raise InputError("--resume needs --store DIR (the store of the interrupted run)")
    net, dom = load_model_and_domain(model, domain)
    bar = SearchBar(enabled=not (quiet or as_json))
    try:
        if store is not None and method in ("auto", "graph"):
            from ..regions.search import stream_regions

            rs = stream_regions(net, dom, store, resume=resume,
                                prove_coverage=not no_coverage_proof, progress=bar,
                                time_limit=time_limit, workers=workers, scheduler=scheduler,
                                checkpoint_seconds=checkpoint_every)
            report, hist = rs.summary(), rs.summary()["facet_histogram"]
            method_used, neuron_facets = report["method"], None
        else:
            part = enumerate_regions(net, dom, method=method, prove_coverage=False,
                                     progress=bar, time_limit=time_limit, workers=workers,
                                     scheduler=scheduler, store=store, resume=resume)
            if not no_coverage_proof and part.method != "milp":
                bar.phase("coverage proof")
                prove_coverage(part, time_limit=time_limit, second_opinion=scip_coverage,
                               workers=workers)
            report, method_used = part.summary(), part.method
            hist = {str(k): v for k, v in part.facet_histogram().items()}
            neuron_facets = sum(f.kind == "neuron" for r in part.regions for f in r.facets)
    except KeyboardInterrupt:
        bar.close()
        saved = _unfinished(store) if store is not None else None
        if saved is None:
            if store is not None and _finished(store):
                click.echo(f"interrupted after the search: every region is in {store}; "
                           "--resume runs the coverage proof only", err=True)
                sys.exit(130)
            raise
        click.echo(f"interrupted: {saved[0]} regions ({saved[1]} waves) checkpointed in "
                   f"{store}; resume with:\n  "
                   + _resume_command(model, domain, store, method, workers, scheduler,
                                   no_coverage_proof, time_limit, checkpoint_every),
                   err=True)
        sys.exit(130)
    except VerishallowError:
        raise
    except Exception:
        saved = _unfinished(store) if store is not None else None
        if saved is not None:
            bar.close()
            click.echo(f"the run stopped; its checkpoint ({saved[0]} regions) in {store} "
                       "can be resumed with --resume", err=True)
        raise
    finally:
        bar.close()
    if store is not None:
        report["store"] = store
    if as_json:
        emit_json(report)
        return
    click.echo(summary_line(report, method_used, neuron_facets))
    click.echo(f"neurons: {report['unstable_neurons']} unstable, "
               f"{report['stable_neurons']} stable on {dom.describe()}")
    click.echo("facet histogram (facets: regions): "
               + ", ".join(f"{k}: {v}" for k, v in hist.items()))
    click.echo("coverage: " + coverage_line(report["complete"], report.get("coverage"),
                                            method_used))
    if store is not None:
        click.echo(f"regions stored in {store}")
