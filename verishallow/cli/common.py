"""Shared CLI plumbing: exit codes, error handling, JSON output, domain and progress options.

Commands hold no logic of their own: they parse, call the library, and report.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import click

from ..errors import InputError, VerishallowError
from ..jsonable import jsonable

#: Exit codes, stable for scripts.
EXIT_OK = 0  # success / property holds / equivalent / certificate valid
EXIT_NEGATIVE = 1  # the answer is "no": not equivalent, violated, certificate invalid
EXIT_BAD_INPUT = 2  # unusable input: bad file, option or domain
EXIT_UNKNOWN = 3  # undecided (time limit, solver trouble)
EXIT_INTERNAL = 4  # a bug: please report


class Context:
    def __init__(self, debug: bool):
        self.debug = debug


#: While a ``--json`` command runs with the process's real stdout, its JSON waits here (see
#: :func:`_json_stdout`); None otherwise.
_json_buffer: list[str] | None = None


@contextlib.contextmanager
def _json_stdout(active: bool):
    """Keep stdout for the JSON document alone: solver libraries print from C (HiGHS banners,
    SoPlex's tolerance notices) straight to file descriptor 1, which no Python setting stops.
    For the command's duration fd 1 is pointed at stderr and :func:`emit_json` buffers; on exit
    fd 1 is restored and the JSON written. (Under a test runner that replaced ``sys.stdout``
    there is no fd to guard, and nothing changes.)"""
    global _json_buffer
    fd = None
    if active:
        try:
            sys.stdout.flush()
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
    if fd != 1:
        yield
        return
    saved = os.dup(1)
    os.dup2(2, 1)
    _json_buffer = []
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        text, _json_buffer = "".join(_json_buffer), None
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()


def cli_wording(message: str) -> str:
    """A library message in command-line terms: the keyword ``method='graph'`` a Python caller
    passes is the option ``--method graph`` here."""
    return re.sub(r"\bmethod='([\w-]+)'", r"--method \1", message)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 facet``, ``2 facets``, ``1 coordinate``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def handle_errors(fn: Callable) -> Callable:
    """Turn expected errors into one line on stderr and exit 2 (traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            with _json_stdout(bool(kwargs.get("as_json"))):
                return fn(*args, **kwargs)
        except VerishallowError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"error: {cli_wording(str(exc))}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # the reader went away (``verishallow supports ... | head``): not an error of ours;
            # point stdout at /dev/null so the interpreter's final flush stays quiet
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as exc:  # noqa: BLE001 - last line of defence, reported as a bug
            if debug:
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug "
                       "for a traceback)", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


def emit_json(data: dict) -> None:
    """One JSON document on stdout (NaN/inf as strings so any parser reads it)."""
    text = json.dumps(jsonable(data), indent=2, sort_keys=False)
    if _json_buffer is not None:
        _json_buffer.append(text + "\n")
    else:
        click.echo(text)


def parse_domain(spec: str | None, model_path: str, input_dim: int):
    """Domain from the CLI: a .vnnlib or .json file, ``whole``, or ``lo:hi,lo:hi,...``.

    Without a spec the model's bundled domain is used (sidecar or metadata).
    """
    from ..domain import Box, Whole, load_domain_json

    if spec is None:
        from ..io import load_with_domain

        _, dom = load_with_domain(model_path)
        if dom is None:
            raise InputError(f"{model_path} ships no default domain; give one (a .vnnlib or "
                             "domain .json file, 'whole', or lo:hi,lo:hi,...)")
        return dom
    if spec == "whole":
        return Whole(input_dim)
    p = Path(spec)
    if p.suffix == ".vnnlib":
        from ..vnnlib import domain_from_vnnlib

        return domain_from_vnnlib(p)
    if p.suffix == ".json":
        return load_domain_json(p)
    if ":" in spec and not p.exists():
        lo, hi = [], []
        for part in spec.split(","):
            try:
                a, b = part.split(":")
                lo.append(float(a))
                hi.append(float(b))
            except ValueError:
                raise InputError(f"cannot read box coordinate {part!r}; expected lo:hi") from None
        if len(lo) != input_dim:
            raise InputError(f"the box has {plural(len(lo), 'coordinate')} but the model has "
                             f"{plural(input_dim, 'input')}")
        return Box(lo, hi)
    raise InputError(f"cannot read domain {spec!r}: expected a .vnnlib or .json file, 'whole', "
                     "or lo:hi,lo:hi,...")


def load_model_and_domain(model: str, domain: str | None):
    from ..io import load

    net = load(model)
    dom = parse_domain(domain, model, net.input_dim)
    if dom.dim != net.input_dim:
        raise InputError(f"domain has {plural(dom.dim, 'coordinate')} but {model} has "
                         f"{plural(net.input_dim, 'input')}")
    return net, dom


def ensure_writable(path: str | Path) -> Path:
    """``path`` as a Path, once it is clear that an output can be written there: its directory
    exists and is writable, and an existing file there is a writable regular file. Otherwise
    an :class:`InputError` with one line, so that a command fails before its work, not after.
    (Outputs are written atomically: a temporary file in the same directory, then a rename.)
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"output directory does not exist: {parent} (for {path})")
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output directory is not writable: {parent} (for {path})")
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"cannot write {path}: the file exists and is read-only")
    return path


class ProgressBar:
    """Progress on stderr via tqdm; silent when disabled (``--quiet``, ``--json``).

    Two kinds of work:

    * counted work (certificates, ``count(done, total)``): the total is known, so tqdm's
      percentage and time left are true;
    * a search (``bar(found, queued)``): regions found so far and the candidates waiting. A
      breadth-first search cannot know how many regions remain (the frontier keeps growing
      until the last waves), so the bar claims no time left: it shows the rate, the search
      wave (for callbacks that pass a ``detail`` status) and the queue.

    ``phase(text)`` says what is running now (a subdivision layer, a z3 double-check, ...) and
    redraws at once, so a stage that reports nothing still shows its name.
    """

    def __init__(self, enabled: bool, desc: str = "regions", unit: str = "regions"):
        self.bar = None
        self.desc = desc
        self._wave: int | None = None
        self._started = False
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(desc=desc, unit=" " + unit, file=sys.stderr, leave=False,
                            dynamic_ncols=True, mininterval=0.25)

    def detail(self, status) -> None:
        """Receives the graph search's :class:`~verishallow.regions.search.SearchStatus`."""
        self._wave = getattr(status, "wave", None)

    def __call__(self, found: int, queued: int) -> None:
        if self.bar is None:
            return
        self._started = True
        self.bar.n = found
        wave = f"wave {self._wave}, " if self._wave is not None else ""
        self.bar.set_postfix_str(f"{wave}queue {queued}", refresh=False)
        # drawn every time: engines report a batch at a time (512 candidates in the graph
        # search), and a throttled bar would hide the last report for a whole long stage
        self.bar.refresh()

    def count(self, done: int, total: int) -> None:
        """Counted work: ``done`` of ``total`` items (tqdm then shows a true time left)."""
        if self.bar is None:
            return
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        if done >= total:
            self.bar.refresh()
        else:
            self.bar.update(0)

    def phase(self, text: str) -> None:
        """Name the stage that runs now (``desc: text``), drawn immediately."""
        if self.bar is not None:
            self.bar.set_description_str(f"{self.desc}: {text}" if text else self.desc,
                                         refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class OptionError(click.ClickException):
    """A bad option value found before the command runs: one line on stderr, exit 2 (click's
    own usage errors print the whole usage text)."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _numbers(text: str, option: str) -> list[str]:
    """The comma-separated numbers of ``option`` as typed (checked to be numbers)."""
    values = [v.strip() for v in text.split(",")]
    for v in values:
        try:
            float(v)
        except ValueError:
            raise OptionError(f"cannot read {option} value {v!r} in {text!r}: expected "
                              "numbers a,b,...") from None
    return values


def domain_argument(fn: Callable) -> Callable:
    """Positional ``[DOMAIN]`` plus ``--lower/--upper``, ``--vnnlib`` and ``--whole-space``.

    The command receives a single ``domain`` spec string (or None for the model's default),
    so every command reads domains the same way through :func:`parse_domain`.
    """

    @functools.wraps(fn)
    def wrapper(*args, domain=None, lower=None, upper=None, vnnlib=None, whole_space=False,
                **kwargs):
        given = [g for g in (domain, vnnlib, "whole" if whole_space else None,
                             "box" if (lower or upper) else None) if g]
        if len(given) > 1:
            raise OptionError("give the domain once: DOMAIN, --lower/--upper, --vnnlib "
                              "or --whole-space")
        if lower or upper:
            if not (lower and upper):
                raise OptionError("--lower and --upper go together")
            lo, hi = _numbers(lower, "--lower"), _numbers(upper, "--upper")
            if len(lo) != len(hi):
                raise OptionError(f"--lower has {plural(len(lo), 'value')} but --upper "
                                  f"{plural(len(hi), 'value')}")
            domain = ",".join(f"{a}:{b}" for a, b in zip(lo, hi, strict=True))
        elif vnnlib:
            domain = vnnlib
        elif whole_space:
            domain = "whole"
        return fn(*args, domain=domain, **kwargs)

    for deco in reversed([
        click.argument("domain", required=False),
        click.option("--lower", help="Box lower bounds a,b,... (with --upper)."),
        click.option("--upper", help="Box upper bounds a,b,... (with --lower)."),
        click.option("--vnnlib", type=click.Path(), help="Input bounds from a VNN-LIB file."),
        click.option("--whole-space", is_flag=True, help="All of R^d."),
    ]):
        wrapper = deco(wrapper)
    return wrapper


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON document on stdout (no progress bar).")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
#: Region engines (kept literal: importing verishallow.regions here would load the solvers
#: into every command, including the solver-free ``check``).
REGION_METHODS = ("auto", "graph", "subdivision", "skeleton", "milp")


def method_option(extra: str = ""):
    """``--method`` of the commands that enumerate regions (regions, convert, certify)."""
    return click.option(
        "--method", type=click.Choice(REGION_METHODS), default="auto", show_default=True,
        help="auto: subdivision for 1-2 free inputs, else skeleton (graph with --scheduler)"
             + extra + "; graph: adjacency-graph search; subdivision: layer-wise cell "
             "splitting (1-D/2-D); skeleton: edge subdivision of the 1-skeleton (any "
             "dimension); milp: SCIP enumeration.")


scip_time_limit_option = click.option(
    "--time-limit", type=float, default=None,
    help="Seconds for SCIP's enumeration (--method milp) and for the coverage proof (default: "
         "120 s or 16x the enumeration time, whichever is more).")
workers_option = click.option("--workers", type=click.IntRange(min=1), default=None,
                              help="Worker processes for the proof search, the region search "
                                   "and the certificate evidence (default: all cores). Results "
                                   "are identical to a serial run.")
scheduler_option = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                                help="Run the region search on a Dask distributed cluster.")
search_scheduler_option = click.option(
    "--scheduler", default=None, metavar="tcp://HOST:PORT",
    help="Bound the proof search's nodes on a Dask distributed cluster (verify: its region "
         "stage too); the search tree and the answer are those of a serial run.")
