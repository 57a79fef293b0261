#!/usr/bin/env python
"""Decision benchmark (issue #11): ``verishallow verify`` vs Marabou 2.0 on VNN-COMP 2021 ACAS Xu.

Every instance of ``../shared/benchmarks/vnncomp2021/acasxu/acasxu_instances.csv`` whose network
file exists in ``../shared`` (networks 1_1 .. 4_9: 36 x props 1-4 plus the six prop 5-10 rows,
150 instances) is run by each selected tool, with the instance's own timeout (116 s, times
``--timeout-scale``), on this machine, in the same run. The tools run interleaved: one instance
by every tool back to back (the tool order rotates from one instance to the next), so that the
load of a shared machine falls on all of them alike. Every run is a subprocess timed with
``time.perf_counter`` around it; a run still alive at its timeout + 10 s is killed with its whole
process group (answer ``timeout``). The markdown table (``--out``) and the raw JSON (``--json``)
are rewritten after every instance, so an interrupted run keeps what it measured.

Tools (``--tools``, comma-separated):

``verishallow``          ``verishallow verify NET PROP --time-limit T --workers 2 --json``
                         (answer: the JSON's ``status``; its ``seconds`` is recorded as well).
``verishallow-cert``     ``verishallow verify NET PROP --time-limit T --workers 2 --json
                         --certificate C.json.gz``, then ``verishallow check C.json.gz NET PROP
                         --json`` when a certificate was written; both times are recorded.
                         ``--check-certificates`` adds this tool to the list.
``marabou``              ``Marabou NET.onnx PROP.vnnlib --timeout T --num-workers 2 --verbosity 0``
``marabou-prove-unsat``  ``Marabou NET.onnx PROP.vnnlib --timeout T --num-workers 1 --prove-unsat
                         --verbosity 0`` (Marabou produces and checks a proof of every unsat
                         answer).

Marabou is a benchmark-only dependency: it is never installed in the project's environment nor
imported by the package. Its own virtual environment::

    python3 -m venv /work/marabou-venv && /work/marabou-venv/bin/pip install maraboupy

installs maraboupy 2.0.0 (a 1.6 MB manylinux wheel, CPython 3.11; Marabou version 2.0.0
[HEAD 215828c]). The wheel ships the engine as the extension ``maraboupy/MarabouCore*.so`` and a
console script ``/work/marabou-venv/bin/Marabou`` (``maraboupy.MarabouMain:main`` ->
``MarabouCore.maraboupyMain(argv)``): the C++ command line itself, which reads ONNX networks and
VNN-LIB properties directly: ``Marabou NET.onnx PROP.vnnlib [options]``. ``--marabou PATH``
overrides the auto-detected binary (``/work/marabou-venv/bin/Marabou``, ``../marabou-venv``, then
``Marabou`` on PATH). Options used (``Marabou --help``): ``--timeout N`` (seconds, 0 = none),
``--num-workers N`` (threads; N > 1 runs its parallel mode), ``--verbosity 0`` (answer only),
``--prove-unsat`` (proof production; it prints "Proof production is not yet supported with DEEPSOI
search, turning search off." and falls back to its sequential search). Other options seen:
``--snc``, ``--poi``, ``--export-assignment``, ``--summary-file``, ``--seed``.

Output format (stdout, exit code 0 in all three cases)::

    Network: NET.onnx
    Property: PROP.vnnlib
    <blank>
    unsat                       | sat + "Input assignment:" x0 = .. + "Output:" y0 = ..  | Timeout

:func:`parse_marabou_output` maps these lines to ``unsat`` / ``sat`` / ``unknown``.

Times seen when the harness was written (this 2-core machine, shared with other jobs, so only
indicative; ``--timeout 116``; "shell" = first runs by hand, "harness" = ``--instances quick``
through this script, which ran faster, the machine being less loaded then):

==========  ========  ======================================  =================================
instance    expected  marabou (--num-workers 2)               marabou-prove-unsat
==========  ========  ======================================  =================================
1_1 prop_1  unsat     unsat: shell 4.3 s (1 worker 7.1 s),    Timeout 116.9 s
                      harness 3.0 s / 2.9 s
1_1 prop_3  unsat     Timeout 116.2 s (shell)                 Timeout 116.7 s
1_1 prop_4  unsat     unsat 76.1 s (shell)                    Timeout 116.7 s
1_7 prop_3  sat       sat: shell 0.9 s, harness 0.2 s         -
2_1 prop_2  sat       sat: shell 3.9 s, harness 1.9 s         -
2_4 prop_3  unsat     unsat: shell 0.7 s, harness 0.1 s       Timeout (at --timeout 60)
3_3 prop_4  unsat     unsat: harness 0.1 s                    -
==========  ========  ======================================  =================================

Marabou 2.0's proof production is far slower than its plain search: on 2_4 prop_3 (plain:
0.7 s) it had certified 8 proof leaves after 15 s. ``verishallow verify`` (harness, 2 workers)
answered 1_7 prop_3 ``sat`` in 1.7 s wall clock (shell: 4.3 s; JSON ``seconds`` 0.7, by
sampling) and 1_1 prop_1 ``unknown`` at ``--timeout-scale 0.5`` (time limit 58 s; 60.0 s wall).
``verishallow-cert`` then answered ``error`` (verify had no ``--certificate`` option yet). The
equivalence pairs at ``--timeout-scale 0.05``/``0.1``: the ACAS pairs ``unknown (time limit)``, the
MNIST ones killed (``--time-limit`` bounds only the SCIP search).

Expected answers (:data:`EXPECTED_SAT`, everything else ``unsat``): the VNN-COMP 2021 results
(stanleybak/vnncomp2021_results, ``output_voting.txt``, category acasxu: each instance's answers by
all participating tools, ``(v)`` violated = sat, ``(h)`` holds = unsat). On most instances every
tool that decided agreed. Where answers conflicted, only NN-R and/or NV.jl said violated (NV.jl
was scored -100, i.e. wrong, for it): 3_3 prop_2 (holds for nnenum, venus2, VeriNet, a-b-CROWN),
1_1 / 1_2 / 1_3 prop_4, 1_1 prop_5 and 3_3 prop_9 (holds for nnenum, venus2, VeriNet, a-b-CROWN,
oval, Marabou); these are taken as unsat. Cross-checked against the VNN-COMP 2022 results
(ChristopherBrix/vnncomp2022_results, ``alpha_beta_crown/acasxu/results.csv``; the ACAS Xu
benchmark is the same that year), which agree on every instance but 2_9 prop_8 (a timeout there;
violated in 2021 by nnenum, venus2, VeriNet, DNNF, Debona, a-b-CROWN, oval and ERAN), and against
this script's own Marabou runs above. prop_2 is violated on 1_2..1_6 too, not only on the
2_x..5_x networks (except 3_3 and 4_2). No instance is left unknown.

Equivalence mode (``--equivalence``): instead of the ACAS Xu decisions, run ``verishallow equiv A
B DOMAIN --epsilon E --json [--top1] --time-limit T`` for the pairs of :data:`EQUIV_PAIRS`
(ACAS Xu 1_1 vs its 5 %-pruned copy on prop_1 at E = 0.05 and 1e-7; MNIST relu_3_100 vs its
pruned copy with --top1 on two local-robustness boxes; and the same with float16 copies made by
``scripts/make_equiv_models.py``'s ``float16_copy`` when that file exists, else those rows are
skipped). No expected answers are recorded for these pairs. With ``--check-certificates`` each
run also writes ``--certificate C.json.gz`` and every certificate written (an ``equivalent``) is
checked with ``verishallow check C.json.gz A B DOMAIN --json``; the check's answer and seconds
go into the table.

Usage::

    python scripts/bench_decisions.py [--tools verishallow,marabou,marabou-prove-unsat]
        [--instances all|quick|N|NET:PROP,...] [--marabou PATH] [--verishallow CMD]
        [--timeout-scale S] [--workers 2] [--check-certificates]
        [--out docs/benchmarks-decisions.md] [--json FILE]
    python scripts/bench_decisions.py --equivalence [--pairs NAME,...] [--check-certificates]
        [--out docs/benchmarks-equivalence.md] [--json FILE]

A full run (150 instances, three tools, up to 126 s each) can take hours: ``--instances quick``
(:data:`QUICK_INSTANCES`) or ``--instances N`` (the first N rows) for a look.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "benchmarks"
ACAS_DIR = SHARED / "vnncomp2021" / "acasxu"
ACAS_CSV = ACAS_DIR / "acasxu_instances.csv"
VERYDIFF = SHARED / "verydiff"
MAKE_EQUIV_MODELS = ROOT / "scripts" / "make_equiv_models.py"

TOOLS = ("verishallow", "verishallow-cert", "marabou", "marabou-prove-unsat")
#: Seconds a run may outlive its timeout before it is killed.
KILL_GRACE = 10.0
DEFAULT_WORKERS = 2

#: Instances (net, prop) of the VNN-COMP 2021 ACAS Xu benchmark whose property is violated
#: (answer sat); every other instance of the csv is unsat. Source: module docstring.
EXPECTED_SAT = frozenset(
    [(f"1_{j}", "prop_2") for j in range(2, 7)]
    + [(f"{i}_{j}", "prop_2") for i in range(2, 6) for j in range(1, 10)
       if (i, j) not in ((3, 3), (4, 2))]
    + [(f"1_{j}", p) for j in (7, 8, 9) for p in ("prop_3", "prop_4")]
    + [("1_9", "prop_7"), ("2_9", "prop_8")]
)
EXPECTED_SOURCE = (
    "VNN-COMP 2021 results (stanleybak/vnncomp2021_results, output_voting.txt, category "
    "acasxu: consensus of the sound tools), cross-checked with VNN-COMP 2022 "
    "(ChristopherBrix/vnncomp2022_results, alpha_beta_crown/acasxu/results.csv) and Marabou runs"
)

#: A handful of instances for ``--instances quick``: two sat, three unsat, all decided by
#: Marabou within seconds here.
QUICK_INSTANCES = (("1_1", "prop_1"), ("1_7", "prop_3"), ("2_1", "prop_2"), ("2_4", "prop_3"),
                   ("3_3", "prop_4"))

#: Equivalence pairs: name, model A, model B (or ("float16", source) for a float16 copy made by
#: scripts/make_equiv_models.py), domain, epsilon, --top1.
_ACAS_1_1 = ACAS_DIR / "ACASXU_run2a_1_1_batch_2000.onnx"
_MNIST = VERYDIFF / "mnist_relu_3_100.onnx"
EQUIV_PAIRS = (
    ("acas-1_1-pruned5-eps0.05", VERYDIFF / "ACASXU_run2a_1_1_batch_2000.onnx",
     VERYDIFF / "ACASXU_run2a_1_1_batch_2000_pruned5.onnx", VERYDIFF / "prop_1.vnnlib", 0.05,
     False),
    ("acas-1_1-pruned5-eps1e-7", VERYDIFF / "ACASXU_run2a_1_1_batch_2000.onnx",
     VERYDIFF / "ACASXU_run2a_1_1_batch_2000_pruned5.onnx", VERYDIFF / "prop_1.vnnlib", 1e-7,
     False),
    ("mnist-3x100-pruned5-top1-img0", _MNIST, VERYDIFF / "mnist_relu_3_100_pruned5.onnx",
     VERYDIFF / "mnist_0_local_15.vnnlib", 0.0, True),
    ("mnist-3x100-pruned5-top1-img7", _MNIST, VERYDIFF / "mnist_relu_3_100_pruned5.onnx",
     VERYDIFF / "mnist_7_local_15.vnnlib", 0.0, True),
    ("acas-1_1-float16-eps0.05", _ACAS_1_1, ("float16", _ACAS_1_1),
     VERYDIFF / "prop_1.vnnlib", 0.05, False),
    ("acas-1_1-float16-eps1e-7", _ACAS_1_1, ("float16", _ACAS_1_1),
     VERYDIFF / "prop_1.vnnlib", 1e-7, False),
    ("mnist-3x100-float16-top1-img0", _MNIST, ("float16", _MNIST),
     VERYDIFF / "mnist_0_local_15.vnnlib", 0.0, True),
    ("mnist-3x100-float16-top1-img7", _MNIST, ("float16", _MNIST),
     VERYDIFF / "mnist_7_local_15.vnnlib", 0.0, True),
    *((f"acas-{n}-float16-eps{e:g}", ACAS_DIR / f"ACASXU_run2a_{n}_batch_2000.onnx",
       ("float16", ACAS_DIR / f"ACASXU_run2a_{n}_batch_2000.onnx"), VERYDIFF / "prop_1.vnnlib",
       e, False) for n in ("2_1", "3_1", "4_1") for e in (0.05, 1e-7)),
    *((f"acas-1_1-student-eps{e:g}", _ACAS_1_1, ROOT / "models" / "acas_1_1_student.onnx",
       VERYDIFF / "prop_1.vnnlib", e, False) for e in (0.5, 0.1, 0.05)),
)
EQUIV_TIMEOUT = 116.0


# ----- instances and expected answers (pure) -----------------------------------------------

@dataclass(frozen=True)
class Instance:
    net: str            # "1_1"
    prop: str           # "prop_1"
    onnx: Path
    vnnlib: Path
    timeout: float

    @property
    def name(self) -> str:
        return f"{self.net} {self.prop}"


_NET_RE = re.compile(r"ACASXU_run2a_(\d+_\d+)_batch_2000")


def net_id(onnx_name: str) -> str:
    """``"1_1"`` for ``.../ACASXU_run2a_1_1_batch_2000.onnx``; the file stem otherwise."""
    m = _NET_RE.search(onnx_name)
    return m.group(1) if m else Path(onnx_name).stem


def prop_id(vnnlib_name: str) -> str:
    """``"prop_1"`` for ``.../prop_1.vnnlib``."""
    return Path(vnnlib_name).name.removesuffix(".vnnlib")


def parse_instances_csv(text: str, base: Path) -> list[Instance]:
    """Rows ``onnx,vnnlib,timeout`` of a VNN-COMP instances csv, paths relative to ``base``.

    Blank lines are skipped; the network and property paths are not checked here."""
    out = []
    for row in csv.reader(text.splitlines()):
        if not row or not row[0].strip():
            continue
        onnx, vnnlib, timeout = (c.strip() for c in row[:3])
        out.append(Instance(net_id(onnx), prop_id(vnnlib), base / onnx, base / vnnlib,
                            float(timeout)))
    return out


def load_instances(csv_path: Path = ACAS_CSV) -> list[Instance]:
    """The csv's instances whose network and property files exist."""
    rows = parse_instances_csv(csv_path.read_text(), csv_path.parent)
    return [r for r in rows if r.onnx.is_file() and r.vnnlib.is_file()]


def select_instances(instances: list[Instance], spec: str) -> list[Instance]:
    """``all``, ``quick`` (:data:`QUICK_INSTANCES`), ``N`` (the first N) or ``NET:PROP,...``."""
    spec = spec.strip()
    if spec == "all":
        return list(instances)
    if spec.isdigit():
        return list(instances[: int(spec)])
    if spec == "quick":
        wanted = list(QUICK_INSTANCES)
    else:
        wanted = []
        for item in spec.split(","):
            net, sep, prop = item.strip().partition(":")
            if not sep:
                raise ValueError(f"bad instance {item!r}: expected NET:PROP such as 1_1:prop_1")
            wanted.append((net, prop if prop.startswith("prop_") else f"prop_{prop}"))
    by_key = {(i.net, i.prop): i for i in instances}
    missing = [w for w in wanted if w not in by_key]
    if missing:
        raise ValueError(f"instances not in the csv (or files missing): {missing}")
    return [by_key[w] for w in wanted]


def expected_answer(net: str, prop: str) -> str:
    """The VNN-COMP answer of ACAS Xu instance (net, prop): ``sat``, ``unsat`` or ``unknown``."""
    if not re.fullmatch(r"[1-5]_[1-9]", net) or not re.fullmatch(r"prop_([1-9]|10)", prop):
        return "unknown"
    return "sat" if (net, prop) in EXPECTED_SAT else "unsat"


def classify(answer: str, expected: str) -> str:
    """``correct`` / ``wrong`` for a decided answer against a known one, ``unknown`` when the
    tool did not decide, ``unchecked`` when it decided but the expected answer is unknown."""
    if answer not in ("sat", "unsat"):
        return "unknown"
    if expected not in ("sat", "unsat"):
        return "unchecked"
    return "correct" if answer == expected else "wrong"


# ----- tool outputs (pure) -----------------------------------------------------------------

def parse_marabou_output(text: str) -> str:
    """``sat`` / ``unsat`` / ``unknown`` from the stdout of Marabou's command line.

    The answer is a line of its own: ``sat`` (then the assignment), ``unsat``, or ``Timeout``;
    anything else (an error, no answer) is ``unknown``."""
    for line in text.splitlines():
        word = line.strip().lower()
        if word in ("sat", "unsat"):
            return word
        if word in ("timeout", "unknown"):
            return "unknown"
    return "unknown"


def _json_doc(text: str) -> dict | None:
    """The JSON object on stdout; a progress line or warning may precede it."""
    if not isinstance(text, str):
        return None
    for start in (0, text.find("{")):
        if start < 0:
            continue
        try:
            doc = json.loads(text[start:])
        except json.JSONDecodeError:
            continue
        return doc if isinstance(doc, dict) else None
    return None


def _seconds(doc: dict) -> float | None:
    value = doc.get("seconds")
    return float(value) if isinstance(value, int | float) else None


def parse_verishallow_json(text: str) -> dict:
    """``{"status": sat|unsat|unknown|error, "seconds": float|None, ...}`` from the stdout of
    ``verishallow verify --json``; ``error`` if it is not such JSON."""
    doc = _json_doc(text)
    if doc is None:
        return {"status": "error", "seconds": None}
    status = str(doc.get("status", "")).lower()
    status = {"holds": "unsat", "violated": "sat"}.get(status, status)
    if status not in ("sat", "unsat", "unknown"):
        status = "error"
    out = {"status": status, "seconds": _seconds(doc)}
    for key in ("method", "reason"):
        if key in doc:
            out[key] = doc[key]
    return out


def parse_equiv_json(text: str) -> dict:
    """``{"status": equivalent|different|unknown|error, "seconds", "reason", "sampled_max"}``
    from the stdout of ``verishallow equiv --json`` (its ``equivalent``: true/false/null)."""
    doc = _json_doc(text)
    if doc is None or "equivalent" not in doc:
        return {"status": "error", "seconds": None}
    eq = doc["equivalent"]
    status = "equivalent" if eq is True else "different" if eq is False else "unknown"
    out = {"status": status, "seconds": _seconds(doc)}
    for key in ("reason", "sampled_max", "method"):
        if key in doc:
            out[key] = doc[key]
    return out


# ----- commands ------------------------------------------------------------------------------

def marabou_command(binary: str, inst: Instance, timeout: float, workers: int,
                    prove_unsat: bool) -> list[str]:
    cmd = [binary, str(inst.onnx), str(inst.vnnlib), "--timeout", str(max(1, round(timeout))),
           "--num-workers", str(1 if prove_unsat else workers), "--verbosity", "0"]
    if prove_unsat:
        cmd.append("--prove-unsat")
    return cmd


def verishallow_verify_command(vs: list[str], inst: Instance, timeout: float, workers: int,
                               certificate: Path | None = None) -> list[str]:
    cmd = [*vs, "verify", str(inst.onnx), str(inst.vnnlib), "--time-limit", f"{timeout:g}",
           "--workers", str(workers), "--json"]
    if certificate is not None:
        cmd += ["--certificate", str(certificate)]
    return cmd


def verishallow_check_command(vs: list[str], certificate: Path, inst: Instance,
                              workers: int) -> list[str]:
    return [*vs, "check", str(certificate), str(inst.onnx), str(inst.vnnlib), "--workers",
            str(workers), "--json"]


def find_marabou(explicit: str | None = None) -> str | None:
    """The Marabou command-line binary: ``explicit``, else the benchmark venv's, else PATH."""
    if explicit:
        return explicit
    for cand in (Path("/work/marabou-venv/bin/Marabou"), ROOT.parent / "marabou-venv" / "bin"
                 / "Marabou"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return shutil.which("Marabou")


def find_verishallow(explicit: str | None = None) -> list[str]:
    """The verishallow command: ``explicit`` (split like a shell), else the ``verishallow``
    script beside this interpreter, on PATH, or in ``../venv``; else ``python -m verishallow``."""
    if explicit:
        return shlex.split(explicit)
    for cand in (Path(sys.executable).parent / "verishallow",
                 Path(shutil.which("verishallow") or "/nonexistent"),
                 ROOT.parent / "venv" / "bin" / "verishallow"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return [str(cand)]
    return [sys.executable, "-m", "verishallow"]


# ----- running -------------------------------------------------------------------------------

@dataclass
class Run:
    """One subprocess: its command, exit code, wall-clock seconds and output tails."""
    cmd: list[str]
    returncode: int | None
    seconds: float
    killed: bool
    stdout: str
    stderr: str


def run_timed(cmd: list[str], hard_timeout: float) -> Run:
    """Run ``cmd`` in its own process group, wall-clock timed with ``time.perf_counter``;
    the whole group is killed (SIGKILL) once ``hard_timeout`` seconds have passed."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, cwd=ROOT)
    except OSError as exc:
        return Run(cmd, None, time.perf_counter() - t0, False, "", f"cannot start: {exc}")
    killed = False
    try:
        out, err = proc.communicate(timeout=hard_timeout)
    except subprocess.TimeoutExpired:
        killed = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    return Run(cmd, proc.returncode, seconds, killed, out or "", err or "")


@dataclass
class Result:
    instance: str
    net: str
    prop: str
    tool: str
    expected: str
    answer: str                  # sat / unsat / unknown / timeout / error
    seconds: float               # wall clock of the (first) subprocess
    verdict: str = ""            # classify(answer, expected)
    tool_seconds: float | None = None   # the tool's own figure (verishallow's JSON "seconds")
    check_answer: str | None = None     # verishallow-cert: valid / invalid / error / skipped
    check_seconds: float | None = None
    returncode: int | None = None
    extra: dict = field(default_factory=dict)
    cmd: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""


def _tail(text: str, n: int = 2000) -> str:
    return text if len(text) <= n else "..." + text[-n:]


def run_tool(tool: str, inst: Instance, timeout: float, *, marabou: str | None,
             vs: list[str], workers: int, tmpdir: Path) -> Result:
    expected = expected_answer(inst.net, inst.prop)
    hard = timeout + KILL_GRACE
    cert = None
    if tool in ("marabou", "marabou-prove-unsat"):
        if not marabou:
            return Result(inst.name, inst.net, inst.prop, tool, expected, "error", 0.0,
                          "unknown", extra={"error": "no Marabou binary (see --marabou)"})
        cmd = marabou_command(marabou, inst, timeout, workers, tool == "marabou-prove-unsat")
    elif tool == "verishallow":
        cmd = verishallow_verify_command(vs, inst, timeout, workers)
    elif tool == "verishallow-cert":
        cert = tmpdir / f"{inst.net}_{inst.prop}.cert.json.gz"
        if cert.exists():
            cert.unlink()
        cmd = verishallow_verify_command(vs, inst, timeout, workers, certificate=cert)
    else:
        raise ValueError(f"unknown tool {tool!r}")
    run = run_timed(cmd, hard)
    res = Result(inst.name, inst.net, inst.prop, tool, expected, "error", run.seconds,
                 returncode=run.returncode, cmd=shlex.join(cmd), stdout_tail=_tail(run.stdout),
                 stderr_tail=_tail(run.stderr))
    if run.killed:
        res.answer = "timeout"
    elif tool.startswith("marabou"):
        res.answer = parse_marabou_output(run.stdout)
        if res.answer == "unknown" and "timeout" not in run.stdout.lower():
            res.answer = "error" if run.returncode else "unknown"
    else:
        doc = parse_verishallow_json(run.stdout)
        res.answer, res.tool_seconds = doc["status"], doc["seconds"]
        res.extra = {k: v for k, v in doc.items() if k not in ("status", "seconds")}
    res.verdict = classify(res.answer, expected)
    if tool == "verishallow-cert":
        if cert is not None and cert.is_file():
            res.extra["certificate_bytes"] = cert.stat().st_size
            chk = run_timed(verishallow_check_command(vs, cert, inst, workers), hard)
            res.check_seconds = chk.seconds
            res.check_answer = ("timeout" if chk.killed else
                                {0: "valid", 1: "invalid"}.get(chk.returncode, "error"))
            res.extra["check_stdout_tail"] = _tail(chk.stdout, 1000)
            res.extra["check_stderr_tail"] = _tail(chk.stderr, 1000)
            cert.unlink()
        else:
            res.check_answer = "skipped"
    return res


# ----- reporting (pure) ----------------------------------------------------------------------

def summarize(results: list[Result], tools: list[str]) -> dict[str, dict]:
    """Per tool: runs, total seconds, sat/unsat answers, and the classify() counts."""
    out = {}
    for tool in tools:
        rs = [r for r in results if r.tool == tool]
        s = {"runs": len(rs), "total_seconds": sum(r.seconds for r in rs),
             "solved": sum(r.answer in ("sat", "unsat") for r in rs),
             "solved_seconds": sum(r.seconds for r in rs if r.answer in ("sat", "unsat"))}
        for v in ("correct", "wrong", "unknown", "unchecked"):
            s[v] = sum(r.verdict == v for r in rs)
        checks = [r for r in rs if r.check_seconds is not None]
        if checks:
            s["check_total_seconds"] = sum(r.check_seconds for r in checks)
            s["checks_valid"] = sum(r.check_answer == "valid" for r in checks)
        out[tool] = s
    return out


def format_cell(r: Result | None) -> str:
    """``answer seconds`` for one run; a wrong answer in bold with **WRONG**."""
    if r is None:
        return "-"
    text = f"{r.answer} {r.seconds:.1f}"
    if r.check_seconds is not None:
        text += f" (check {r.check_answer} {r.check_seconds:.1f})"
    elif r.check_answer == "skipped":
        text += " (no cert)"
    return f"**{text} WRONG**" if r.verdict == "wrong" else text


def render_markdown(results: list[Result], tools: list[str], meta: dict) -> str:
    """The report: header (machine, command, sources), one row per instance, totals."""
    lines = ["# Decision benchmark: verishallow verify vs Marabou (VNN-COMP 2021 ACAS Xu)", ""]
    for key in ("date", "command", "machine", "load_start", "load_end", "commit", "marabou",
                "verishallow", "timeout", "expected_source"):
        if key in meta:
            lines.append(f"- {key.replace('_', ' ')}: {meta[key]}")
    lines += ["", "Cells: answer and wall-clock seconds of the subprocess (timeout = killed at "
              f"the instance timeout + {KILL_GRACE:g} s). Wrong answers are **bold**.", ""]
    lines.append("| instance | expected | " + " | ".join(tools) + " |")
    lines.append("|---|---|" + "---|" * len(tools))
    order = []
    for r in results:
        if r.instance not in order:
            order.append(r.instance)
    cell = {(r.instance, r.tool): r for r in results}
    for name in order:
        exp = next(r.expected for r in results if r.instance == name)
        lines.append(f"| {name} | {exp} | "
                     + " | ".join(format_cell(cell.get((name, t))) for t in tools) + " |")
    summary = summarize(results, tools)
    lines += ["", "## Totals", "", "| tool | runs | total s | solved | solved s | correct | "
              "wrong | unknown | unchecked | check s |", "|---|" + "---|" * 9]
    for tool in tools:
        s = summary[tool]
        wrong = f"**{s['wrong']}**" if s["wrong"] else "0"
        check = f"{s['check_total_seconds']:.1f}" if "check_total_seconds" in s else "-"
        lines.append(f"| {tool} | {s['runs']} | {s['total_seconds']:.1f} | {s['solved']} | "
                     f"{s['solved_seconds']:.1f} | {s['correct']} | {wrong} | {s['unknown']} | "
                     f"{s['unchecked']} | {check} |")
    lines += ["", "unknown: the tool gave no answer (unknown, timeout or error); unchecked: an "
              "answer where the expected one is not known.", ""]
    return "\n".join(lines)


def render_equivalence_markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Equivalence benchmark: verishallow equiv", ""]
    for key in ("date", "command", "machine", "commit", "verishallow", "timeout"):
        if key in meta:
            lines.append(f"- {key}: {meta[key]}")
    lines += ["", "| pair | A | B | domain | epsilon | top1 | answer | seconds | tool s | "
              "sampled max | check |", "|---|" + "---|" * 10]
    for r in rows:
        chk = (f"{r['check_answer']} {r['check_seconds']:.1f}" if r.get("check_answer")
               else "-")
        ts = f"{r['tool_seconds']:.1f}" if r.get("tool_seconds") is not None else "-"
        sm = f"{r['sampled_max']:.3g}" if isinstance(r.get("sampled_max"), float) else "-"
        answer = r["answer"] + (f" ({r['reason']})" if r.get("reason") else "")
        lines.append(f"| {r['name']} | {r['a']} | {r['b']} | {r['domain']} | {r['epsilon']:g} | "
                     f"{'yes' if r['top1'] else 'no'} | {answer} | {r['seconds']:.1f} | "
                     f"{ts} | {sm} | {chk} |")
    lines += ["", "answer: equivalent = proved max |f_A - f_B| <= epsilon on the domain (with "
              "--top1: the same top-ranked output), different = a counterexample, otherwise "
              "unknown (the tool's reason), timeout (killed), error or skipped. sampled max: the "
              "largest difference seen on samples. check: the certificate's check (`verishallow "
              "check`, exact) and its wall-clock seconds, with --check-certificates.", ""]
    return "\n".join(lines)


# ----- main ----------------------------------------------------------------------------------

def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.node()}, `nproc` = {os.cpu_count()}, {cpu}, "
            f"Python {platform.python_version()}")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, text=True, capture_output=True, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def _write(path: Path | None, text: str) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def parse_tools(spec: str, check_certificates: bool = False) -> list[str]:
    tools = [t.strip() for t in spec.split(",") if t.strip()]
    bad = [t for t in tools if t not in TOOLS]
    if bad:
        raise ValueError(f"unknown tools {bad}; choose from {', '.join(TOOLS)}")
    if check_certificates and "verishallow-cert" not in tools:
        tools.append("verishallow-cert")
    return list(dict.fromkeys(tools))


def rotated(tools: list[str], k: int) -> list[str]:
    """The tool order for the k-th instance: ``tools`` rotated by k."""
    if not tools:
        return []
    k %= len(tools)
    return tools[k:] + tools[:k]


def _float16_model(src: Path, out_dir: Path) -> Path | None:
    """A float16 copy of ``src`` via scripts/make_equiv_models.py, or None without it."""
    if not MAKE_EQUIV_MODELS.is_file():
        return None
    spec = importlib.util.spec_from_file_location("make_equiv_models", MAKE_EQUIV_MODELS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if hasattr(mod, "write_float16_copy"):
        return Path(mod.write_float16_copy(src, out_dir))
    if not hasattr(mod, "float16_copy"):
        return None
    from verishallow.io import load, save_onnx
    path = out_dir / f"{src.stem}.f16.onnx"
    save_onnx(mod.float16_copy(load(src)), path)
    return path


def select_pairs(spec: str | None) -> list[tuple]:
    """The rows of :data:`EQUIV_PAIRS` named in comma-separated ``spec`` (all without one)."""
    if not spec:
        return list(EQUIV_PAIRS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    known = {p[0]: p for p in EQUIV_PAIRS}
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"unknown pairs {bad}; choose from {', '.join(known)}")
    return [known[n] for n in names]


def run_equivalence(args, vs: list[str], meta: dict) -> int:
    rows = []
    timeout = EQUIV_TIMEOUT * args.timeout_scale
    meta["timeout"] = f"{timeout:g} s per pair (--time-limit), killed at + {KILL_GRACE:g} s"
    out = Path(args.out or "docs/benchmarks-equivalence.md")
    with tempfile.TemporaryDirectory(prefix="bench-equiv-") as tmp:
        for name, a, b, domain, eps, top1 in select_pairs(args.pairs):
            row = {"name": name, "a": Path(a).name, "domain": Path(domain).name,
                   "epsilon": eps, "top1": top1, "seconds": 0.0, "tool_seconds": None}
            if isinstance(b, tuple):
                try:
                    b_path = _float16_model(Path(b[1]), Path(tmp))
                except Exception as exc:  # another engineer's script: report, go on
                    b_path, row["error"] = None, f"{type(exc).__name__}: {exc}"
                if b_path is None:
                    rows.append({**row, "b": f"float16({Path(b[1]).name})", "answer": "skipped"})
                    print(f"{name}: skipped (no float16 copy)", flush=True)
                    continue
                row["b"] = f"float16({Path(b[1]).name})"
            else:
                b_path = Path(b)
                row["b"] = b_path.name
            if not (Path(a).is_file() and b_path.is_file() and Path(domain).is_file()):
                rows.append({**row, "answer": "skipped", "error": "file missing"})
                continue
            cmd = [*vs, "equiv", str(a), str(b_path), str(domain), "--epsilon", f"{eps:g}",
                   "--json", "--time-limit", f"{timeout:g}"]
            if top1:
                cmd.append("--top1")
            cert = Path(tmp) / f"{name}.cert.json.gz"
            if args.check_certificates:
                cmd += ["--certificate", str(cert)]
            run = run_timed(cmd, timeout + KILL_GRACE)
            doc = parse_equiv_json(run.stdout)
            row.update(answer="timeout" if run.killed else doc["status"], seconds=run.seconds,
                       tool_seconds=doc["seconds"], returncode=run.returncode,
                       reason=doc.get("reason", ""), sampled_max=doc.get("sampled_max"),
                       cmd=shlex.join(cmd), stdout_tail=_tail(run.stdout),
                       stderr_tail=_tail(run.stderr))
            if args.check_certificates and cert.is_file():
                chk = run_timed([*vs, "check", str(cert), str(a), str(b_path), str(domain),
                                 "--json"], timeout + KILL_GRACE)
                row["check_seconds"] = chk.seconds
                row["check_answer"] = ("timeout" if chk.killed else
                                       {0: "valid", 1: "invalid"}.get(chk.returncode, "error"))
                cert.unlink()
            rows.append(row)
            print(f"{name}: {row['answer']} {run.seconds:.1f} s"
                  + (f", check {row['check_answer']} {row['check_seconds']:.1f} s"
                     if "check_answer" in row else ""), flush=True)
            _write(out, render_equivalence_markdown(rows, meta))
            if args.json:
                _write(Path(args.json), json.dumps({"meta": meta, "pairs": rows}, indent=1))
    _write(out, render_equivalence_markdown(rows, meta))
    if args.json:
        _write(Path(args.json), json.dumps({"meta": meta, "pairs": rows}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", default="verishallow,marabou,marabou-prove-unsat",
                    help=f"comma-separated, from {', '.join(TOOLS)} (default: %(default)s)")
    ap.add_argument("--instances", default="all",
                    help="all | quick | N (first N rows) | NET:PROP,... (default: %(default)s)")
    ap.add_argument("--csv", type=Path, default=ACAS_CSV, help="VNN-COMP instances csv")
    ap.add_argument("--marabou", help="Marabou binary (default: auto-detect the marabou venv)")
    ap.add_argument("--verishallow", help="verishallow command (default: auto-detect)")
    ap.add_argument("--timeout-scale", type=float, default=1.0,
                    help="multiply every instance timeout by this (default: 1)")
    ap.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                    help="verishallow --workers and Marabou --num-workers (default: 2)")
    ap.add_argument("--check-certificates", action="store_true",
                    help="also run verishallow-cert: verify --certificate, then check")
    ap.add_argument("--equivalence", action="store_true",
                    help="run the verishallow equiv pairs instead of the ACAS Xu decisions")
    ap.add_argument("--pairs", help="with --equivalence: comma-separated pair names "
                    "(default: all of EQUIV_PAIRS)")
    ap.add_argument("--out", help="markdown report (default: docs/benchmarks-decisions.md, "
                    "or docs/benchmarks-equivalence.md with --equivalence)")
    ap.add_argument("--json", help="raw results as JSON")
    args = ap.parse_args(argv)
    if args.timeout_scale <= 0:
        ap.error("--timeout-scale must be positive")

    vs = find_verishallow(args.verishallow)
    meta = {"date": _dt.datetime.now().isoformat(timespec="seconds"),
            "command": "`" + shlex.join(["python", "scripts/bench_decisions.py",
                                         *(argv if argv is not None else sys.argv[1:])]) + "`",
            "machine": _machine(), "load_start": _load(), "commit": _commit(),
            "verishallow": "`" + shlex.join(vs) + "`"}
    if args.equivalence:
        try:
            select_pairs(args.pairs)
        except ValueError as exc:
            ap.error(str(exc))
        return run_equivalence(args, vs, meta)

    try:
        tools = parse_tools(args.tools, args.check_certificates)
        instances = select_instances(load_instances(args.csv), args.instances)
    except (ValueError, OSError) as exc:
        ap.error(str(exc))
    marabou = find_marabou(args.marabou)
    if any(t.startswith("marabou") for t in tools):
        if not marabou:
            ap.error("no Marabou binary found: install it (see the module docstring) or give "
                     "--marabou PATH")
        meta["marabou"] = f"`{marabou}` ({_version([marabou, '--version'])})"
    meta["timeout"] = (f"instance timeout x {args.timeout_scale:g} (csv: "
                       f"{sorted({i.timeout for i in instances})} s), killed at + "
                       f"{KILL_GRACE:g} s; workers {args.workers}")
    meta["expected_source"] = EXPECTED_SOURCE
    out = Path(args.out or "docs/benchmarks-decisions.md")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-decisions-") as tmp:
        for k, inst in enumerate(instances):
            timeout = inst.timeout * args.timeout_scale
            for tool in rotated(tools, k):
                r = run_tool(tool, inst, timeout, marabou=marabou, vs=vs, workers=args.workers,
                             tmpdir=Path(tmp))
                results.append(r)
                print(f"[{k + 1}/{len(instances)}] {inst.name} {tool}: {r.answer} "
                      f"{r.seconds:.1f} s (expected {r.expected}: {r.verdict})", flush=True)
            meta["load_end"] = _load()
            _write(out, render_markdown(results, tools, meta))
            if args.json:
                _write(Path(args.json), json.dumps(
                    {"meta": meta, "tools": tools, "summary": summarize(results, tools),
                     "results": [asdict(r) for r in results]}, indent=1))
    for tool, s in summarize(results, tools).items():
        print(f"{tool}: {s['solved']}/{s['runs']} solved, {s['correct']} correct, "
              f"{s['wrong']} wrong, total {s['total_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
