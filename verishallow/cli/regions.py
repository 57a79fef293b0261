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
    quiet_option,
    scheduler_option,
    scip_time_limit_option,
    workers_option,
)

#: Seconds between checkpoints of a streamed search (as ``regions.search.CHECKPOINT_SECONDS``;
#: not imported from there so that ``--help`` stays fast).
CHECKPOINT_DEFAULT = 10.0


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class SearchBar(ProgressBar):
    """The region progress bar: found (with tqdm's rate), queue and estimated time left."""

    def __init__(self, enabled: bool, desc: str = "regions"):
        super().__init__(enabled, desc)
        self._started = False
        self._eta: str = ""

    def detail(self, status) -> None:
        """Receives the graph search's :class:`~verishallow.regions.search.SearchStatus`."""
        eta = status.eta
        self._eta = "" if eta is None else f", >= {_duration(eta)} left"

    def __call__(self, found: int, queued: int) -> None:
        if self.bar is None:
            return
        if not self._started:  # a resumed run starts at its checkpoint: no fake rate spike
            self._started = True
            self.bar.initial = self.bar.n = self.bar.last_print_n = found
        self.bar.n = found
        self.bar.set_postfix_str(f"queue {queued}{self._eta}", refresh=False)
        self.bar.update(0)


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


def _exact_coverage(net, dom, part, report: dict, workers: int | None) -> None:
    """Coverage by the exact certificate when SCIP did not prove it: ``report`` gets
    ``complete`` and ``coverage["certificate"]`` (valid, certificate complete, seconds)."""
    import time

    from ..certificate import certify
    from ..checker import check_certificate

    t0 = time.perf_counter()
    cert = certify(net, dom, partition=part, z3=False, workers=workers)
    check = check_certificate(cert, net, workers=workers)
    valid = bool(cert.get("complete")) and check.valid
    coverage = dict(report.get("coverage") or {})
    coverage["certificate"] = {"valid": valid, "seconds": time.perf_counter() - t0,
                               # slivers below the radius tolerance that the proof needed
                               "thin_regions": cert["enumeration"]["thin_regions"],
                               "first_failure": None if valid else
                               (check.failures[0] if check.failures else "incomplete")}
    report["coverage"] = coverage
    report["complete"] = valid


def coverage_line(complete: bool, coverage: dict | None, method: str) -> str:
    """How coverage stands, in words, with what to do when it is not proved."""
    if complete and (coverage or {}).get("certificate", {}).get("valid"):
        return ("proved complete by the exact certificate (adjacency closure checked in "
                "rational arithmetic)")
    if complete:
        return "proved complete by SCIP" + (" (enumeration)" if method == "milp" else "")
    if not coverage:
        return "not proved (coverage proof skipped)"
    if coverage.get("status") == "unknown":
        return (f"not proved: SCIP stopped ({coverage.get('scip_status')}) after "
                f"{coverage.get('seconds', 0):.0f} s; --exact-coverage proves it with the "
                "exact certificate (solver-free; on ACAS Xu ~15 ms of CPU per region), or give "
                "--time-limit for a longer SCIP run")
    return f"not proved ({coverage.get('status')})"


@click.command()
@click.argument("model", type=click.Path())
@domain_argument
@method_option(" (graph with --store)")
@click.option("--no-coverage-proof", is_flag=True,
              help="Skip the SCIP query that proves no region is missing (graph/subdivision).")
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
@click.option("--exact-coverage", is_flag=True,
              help="If SCIP does not prove coverage, prove it with the partition's exact "
                   "certificate (adjacency closure re-checked in rational arithmetic; about "
                   "15 ms of CPU per region on ACAS Xu, shared by --workers; faster than SCIP "
                   "wherever both were measured). Not with --store.")
@workers_option
@scheduler_option
@json_option
@quiet_option
@handle_errors
def command(model: str, domain: str | None, method: str, no_coverage_proof: bool,
            time_limit: float | None, store: str | None, resume: bool,
            checkpoint_every: float, exact_coverage: bool, workers: int | None,
            scheduler: str | None, as_json: bool, quiet: bool) -> None:
    """Every full-dimensional activation region of MODEL on DOMAIN.

    DOMAIN is a .vnnlib or domain .json file, 'whole', or lo:hi,lo:hi,...; without it
    the model's bundled domain is used.

    With --store DIR the regions go to disk as they are found; Ctrl-C (or a crash) leaves a
    checkpoint that --resume continues, with the same result as an uninterrupted run.
    """
    from ..errors import InputError, VerishallowError
    from ..regions import enumerate_regions

    if exact_coverage and store is not None:
        raise InputError("--exact-coverage works on in-memory runs; certify a stored run "
                         "with 'verishallow certify' instead of --store")
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
            method_used = report["method"]
        else:
            part = enumerate_regions(net, dom, method=method,
                                     prove_coverage=not no_coverage_proof, progress=bar,
                                     time_limit=time_limit, workers=workers,
                                     scheduler=scheduler, store=store, resume=resume)
            report, method_used = part.summary(), part.method
            hist = {str(k): v for k, v in part.facet_histogram().items()}
            if exact_coverage and not part.complete:
                _exact_coverage(net, dom, part, report, workers)
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
    click.echo(f"{report['regions']} regions ({method_used}, {report['seconds']:.2f} s), "
               f"mean facets {report['mean_facets']:.3f}")
    click.echo(f"neurons: {report['unstable_neurons']} unstable, "
               f"{report['stable_neurons']} stable on {dom.describe()}")
    click.echo("facet histogram (facets: regions): "
               + ", ".join(f"{k}: {v}" for k, v in hist.items()))
    click.echo("coverage: " + coverage_line(report["complete"], report.get("coverage"),
                                            method_used))
    if store is not None:
        click.echo(f"regions stored in {store}")
