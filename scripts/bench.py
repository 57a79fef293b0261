#!/usr/bin/env python
"""Run every benchmark of verishallow in one go and write ``docs/benchmarks.md``.

Sections (``--only`` takes a comma-separated subset of these names):

``brute``        region enumeration against the original paper's brute force (all 2^N
                 activation patterns, one Chebyshev LP each, HiGHS), same process, same box;
                 the region sets must agree (asserted).
``he2d``         a He-initialised 2-32-32-1 network on all of R^2: subdivision vs graph engine
                 (1 and 2 workers), and the default (exact certificate) coverage proof
                 against the enumeration, 1 and 2 workers.
``acas``         ACAS Xu run2a_1_1 on the box of prop_1.vnnlib (graph engine, workers 1 and 2).
                 --quick shrinks the box around its centre.
``dims``         regions/s of every engine per input dimension (d = 1, 2, 3, 5).
``shallow``      shallow evaluation (fast and faithful paths) against the deep forward pass
                 on 100,000 points.
``certificate``  certificate checking time against certifying time; the exact coverage proof
                 on ACAS Xu (prop_1 box) with 1 and 2 workers.
``verify``       VNN-LIB properties on ACAS Xu (1_7 prop_3 violated, 1_1 prop_4 holds).
``memory``       peak memory per region of every enumeration run in a subprocess.

Every figure is either a ratio against a baseline measured in the same run or comes with the
machine line of the header (the machine may be shared: the load average is recorded at the
start and the end). Enumerations of the he2d, acas, dims and memory sections run one per
subprocess, so that ``ru_maxrss`` measures each case alone.

Usage: python scripts/bench.py [--quick] [--only NAME[,NAME]] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib.metadata
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ACAS_DIR = ROOT.parent / "shared" / "benchmarks" / "vnncomp2021" / "acasxu"
ACAS_NET = ACAS_DIR / "ACASXU_run2a_1_1_batch_2000.onnx"
ACAS_PROP = ACAS_DIR / "prop_1.vnnlib"
#: ACAS Xu scaling runs: this many interleaved (1 worker, 2 workers) pairs
ACAS_PAIRS = 3
MOONS = ROOT / "models" / "moons.onnx"

SECTIONS = ("brute", "he2d", "acas", "dims", "shallow", "certificate", "verify", "memory")
RESULT_MARK = "BENCH_CASE_RESULT "

#: Brute force: patterns whose Chebyshev radius falls in (BORDER_LO, BORDER_HI] are "too close
#: to call"; a disagreement with the engines is tolerated only on such patterns.
BORDER_LO, BORDER_HI = 1e-10, 1e-6


def _burn(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


#: (when, effective cores) of every parallelism calibration of this run
CALIBRATION: list[tuple[str, float]] = []


def effective_cores(when: str, workers: int = 2, n: int = 4_000_000) -> float:
    """Parallelism the machine offers right now: a CPU-bound task run alone and then
    ``workers`` copies at once on a process pool; ``workers * t_one / t_all`` is 2.0 on two
    idle cores and about 1.0 when other jobs leave one core's worth of CPU."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as ex:
        list(ex.map(_burn, [1000] * workers))  # start the workers
        t_one = t_all = float("inf")
        for _ in range(2):  # best of two: a single 0.5 s sample is noisy
            t0 = time.perf_counter()
            list(ex.map(_burn, [n]))
            t_one = min(t_one, time.perf_counter() - t0)
            t0 = time.perf_counter()
            list(ex.map(_burn, [n] * workers))
            t_all = min(t_all, time.perf_counter() - t0)
    eff = workers * t_one / t_all
    CALIBRATION.append((when, eff))
    log(f"parallelism calibration ({when}): {eff:.2f} effective cores of {workers}")
    return eff


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# building networks and domains from JSON specs (shared by the parent and the case runner)
# ------------------------------------------------------------------------------------------
def build_net(spec: dict):
    if spec["kind"] == "he":
        from verishallow.studies.common import he_network

        return he_network(spec["d"], spec["widths"], spec.get("out", 1), seed=spec["seed"])
    if spec["kind"] == "file":
        import verishallow

        return verishallow.load(spec["path"])
    raise ValueError(f"unknown net spec {spec}")


def build_domain(spec: dict, net):
    from verishallow.domain import Box, Whole

    kind = spec["kind"]
    if kind == "whole":
        return Whole(spec["d"])
    if kind == "box":
        return Box(np.array(spec["lower"], float), np.array(spec["upper"], float))
    if kind == "cube":
        d = net.input_dim
        return Box(-spec["half"] * np.ones(d), spec["half"] * np.ones(d))
    if kind == "vnnlib":
        from verishallow.vnnlib import domain_from_vnnlib

        dom = domain_from_vnnlib(spec["path"])
        f = spec.get("shrink", 1.0)
        if f == 1.0:
            return dom
        c = (dom.lower + dom.upper) / 2
        h = (dom.upper - dom.lower) / 2 * f
        return Box(c - h, c + h)
    if kind == "sidecar":
        from verishallow.io import load_with_domain

        return load_with_domain(spec["path"])[1]
    raise ValueError(f"unknown domain spec {spec}")


def pattern_digest(patterns) -> str:
    """Order-independent digest of a set of pattern keys (to compare engines and workers)."""
    h = hashlib.sha256()
    for k in sorted(patterns):
        h.update(k)
    return h.hexdigest()[:12]


def _maxrss_kb(who: int) -> int:
    return int(resource.getrusage(who).ru_maxrss)  # kilobytes on Linux


def _status_kb(field: str) -> int | None:
    try:
        for ln in Path("/proc/self/status").read_text().splitlines():
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run_case_in_child(spec: dict) -> dict:
    """Body of ``--case``: one enumeration, with the peak RSS before and after."""
    from verishallow.regions import enumerate_regions
    from verishallow.studies.common import he_network

    net = build_net(spec["net"])
    dom = build_domain(spec["domain"], net)
    # warm-up on a tiny network: loads lazily imported modules (scipy.spatial, highspy,
    # pyscipopt, ...) so that the RSS delta below belongs to this enumeration alone
    from verishallow.domain import Box

    d = net.input_dim
    tiny = he_network(d, [4, 4], 1, seed=1)
    warm_method = spec["method"] if spec["method"] != "subdivision" or d <= 2 else "graph"
    enumerate_regions(tiny, Box(-np.ones(d), np.ones(d)), method=warm_method,
                      prove_coverage=spec.get("prove_coverage", False), time_limit=30)
    # peak growth = peak RSS during the enumeration - RSS just before it; with the peak reset
    # (VmHWM) where Linux allows it, else from ru_maxrss (then earlier peaks can mask growth)
    if _reset_peak() and _status_kb("VmRSS") is not None:
        rss0, peak = _status_kb("VmRSS"), lambda: _status_kb("VmHWM")
    else:
        rss0, peak = _maxrss_kb(resource.RUSAGE_SELF), lambda: _maxrss_kb(resource.RUSAGE_SELF)
    cpu0 = os.times()
    t0 = time.perf_counter()
    part = enumerate_regions(net, dom, method=spec["method"],
                             prove_coverage=spec.get("prove_coverage", False),
                             workers=spec.get("workers", 1),
                             time_limit=spec.get("time_limit"))
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    rss1 = peak()
    cov = part.stats.get("coverage")
    return {
        "regions": len(part), "seconds": part.seconds, "wall": wall,
        "lps": part.stats.get("lps"), "mean_facets": part.mean_facets,
        "complete": bool(part.complete), "method": part.method,
        "unstable": part.unstable_neurons,
        "coverage": ({"status": cov.get("status"), "seconds": cov.get("seconds"),
                      "by": cov.get("by"), "certificate": cov.get("certificate"),
                      "scip_status": str((cov.get("scip") or {}).get("scip_status"))}
                     if cov else None),
        "digest": pattern_digest(part.patterns()),
        "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "cpu_children": ((cpu1.children_user - cpu0.children_user)
                         + (cpu1.children_system - cpu0.children_system)),
        "rss_before_kb": rss0, "rss_after_kb": rss1,
        "children_rss_kb": _maxrss_kb(resource.RUSAGE_CHILDREN),
    }


#: every subprocess case run so far: (label, spec, result); the memory section reports them
CASES: list[tuple[str, dict, dict]] = []


def run_case(label: str, spec: dict, timeout: float) -> dict:
    """Run one enumeration case in a fresh interpreter; ``{"error": ...}`` on failure."""
    log(f"case {label} ...")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        res = {"error": f"timeout after {timeout:.0f} s"}
    else:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
        if proc.returncode == 0 and lines:
            res = json.loads(lines[-1][len(RESULT_MARK):])
        else:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            res = {"error": f"exit {proc.returncode}: {tail[:200]}"}
    log(f"case {label}: {res.get('regions', '-')} regions, "
        f"{res.get('seconds', float('nan')):.2f} s"
        + (f" ({res['error']})" if "error" in res else "")
        + f" [{time.perf_counter() - t0:.1f} s incl. start-up]")
    CASES.append((label, spec, res))
    return res


# ------------------------------------------------------------------------------------------
# formatting helpers
# ------------------------------------------------------------------------------------------
def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return "-"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:.0f}"
        if a >= 10:
            return f"{v:.1f}"
        if a >= 1:
            return f"{v:.2f}"
        return f"{v:.{digits}g}"
    return str(v)


def table(headers: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(v) for v in r) + " |")
    return "\n".join(out)


def ratio(a, b):
    try:
        return float(a) / float(b) if a is not None and b else None
    except (TypeError, ValueError):
        return None


def best_of(fn, repeats: int, budget: float = 10.0) -> tuple[float, object]:
    """Best time of ``repeats`` calls (fewer once ``budget`` seconds are spent)."""
    best, out, spent = float("inf"), None, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
        if spent > budget:
            break
    return best, out


class Section:
    def __init__(self, name: str, title: str):
        self.name, self.title = name, title
        self.parts: list[str] = []
        self.facts: dict = {}  # numbers the "what this means" paragraph draws on

    def add(self, text: str) -> None:
        self.parts.append(text)

    def render(self) -> str:
        return f"## {self.title}\n\n" + "\n\n".join(self.parts) + "\n"


# ------------------------------------------------------------------------------------------
# 1. brute force
# ------------------------------------------------------------------------------------------
def brute_force(net, domain) -> tuple[dict[bytes, float], int]:
    """The original paper's algorithm: every one of the 2^N patterns, one Chebyshev LP each.

    Returns (Chebyshev radius of every pattern whose LP was feasible, number of LPs)."""
    from verishallow.network import pattern_key
    from verishallow.solvers import lp

    G, h, _ = domain.constraints()
    N = net.n_hidden
    radii: dict[bytes, float] = {}
    n_lp = 0
    for bits in itertools.product((False, True), repeat=N):
        s = np.array(bits)
        A, dd, _, _ = net.local_affine(s)
        sigma = np.where(s, -1.0, 1.0)
        H = np.vstack([sigma[:, None] * A, G])
        c = np.concatenate([-sigma * dd, h])
        norms = np.linalg.norm(H, axis=1)
        zero = norms == 0
        # a zero row is a constant neuron: active needs d > 0, inactive needs d <= 0
        zr = zero[:N]
        if np.any(s[zr] & (dd[zr] <= 0)) or np.any(~s[zr] & (dd[zr] > 0)):
            continue
        if np.any(zero[N:] & (c[N:] < 0)):
            continue
        H, c = H[~zero], c[~zero]
        n_lp += 1
        cheb = lp.chebyshev_center(H, c)
        if cheb is not None:
            radii[pattern_key(s)] = float(cheb[1])
    return radii, n_lp


def section_brute(quick: bool) -> Section:
    from verishallow.domain import Box
    from verishallow.regions import enumerate_regions
    from verishallow.regions.tolerances import REGION_RADIUS_TOL
    from verishallow.studies.common import he_network

    sec = Section("brute", "1. Region enumeration vs the 2^N brute force")
    Ns = (8, 10, 12) if quick else (8, 10, 12, 14, 16)
    box = Box(-np.ones(2), np.ones(2))
    rows, facts = [], []
    # warm-up: lazy imports and first-call costs stay out of the first row
    tiny = he_network(2, [3, 3], 1, seed=1)
    brute_force(tiny, box)
    for method in ("graph", "subdivision"):
        enumerate_regions(tiny, box, method=method, prove_coverage=False)
    for N in Ns:
        net = he_network(2, [N // 2, N // 2], 1, seed=N)
        t0 = time.perf_counter()
        radii, n_lp = brute_force(net, box)
        t_brute = time.perf_counter() - t0
        brute = {k for k, r in radii.items() if r > REGION_RADIUS_TOL}
        border = {k for k, r in radii.items() if BORDER_LO < r <= BORDER_HI}
        res = {}
        for method in ("graph", "subdivision"):
            part = enumerate_regions(net, box, method=method, prove_coverage=False)
            res[method] = part
            diff = brute ^ part.patterns()
            assert diff <= border, (
                f"N={N}: {method} engine and brute force disagree on {len(diff)} patterns "
                f"({len(diff - border)} not borderline)")
        t_g, t_s = res["graph"].seconds, res["subdivision"].seconds
        rows.append([f"2-{N // 2}-{N // 2}-1", 2 ** N, n_lp, len(brute), len(border),
                     t_brute, t_g, t_s, ratio(t_brute, t_g), ratio(t_brute, t_s)])
        facts.append({"N": N, "regions": len(brute), "brute": t_brute, "graph": t_g,
                      "subdivision": t_s})
        log(f"brute N={N}: {len(brute)} regions, brute {t_brute:.2f} s, graph {t_g:.2f} s, "
            f"subdivision {t_s:.3f} s")
    sec.add("He-initialised 2-input networks with two hidden layers of N/2 neurons (seed N), "
            "on the box [-1, 1]^2. Brute force: every one of the 2^N patterns gets one "
            "Chebyshev LP (HiGHS through `verishallow.solvers.lp`, the LP kernel the engines use; "
            "patterns with an inconsistent constant neuron are skipped without an LP); a "
            f"pattern is a region when its inscribed radius exceeds {REGION_RADIUS_TOL:g}, the "
            "engines' tolerance. All three run in the same process, one after the other "
            "(after a warm-up on a tiny network), without the SCIP coverage proof. The script "
            "asserts that each engine returns exactly the brute-force region set "
            "(differences allowed only on patterns with a "
            f"radius in ({BORDER_LO:g}, {BORDER_HI:g}], counted as 'borderline').")
    sec.add(table(["network (N)", "patterns 2^N", "brute LPs", "regions", "borderline",
                   "brute s", "graph s", "subdivision s", "speed-up graph",
                   "speed-up subdivision"], rows))
    sec.facts["rows"] = facts
    return sec


# ------------------------------------------------------------------------------------------
# 2. He 2-32-32-1 on R^2
# ------------------------------------------------------------------------------------------
HE2D_NET = {"kind": "he", "d": 2, "widths": [32, 32], "seed": 0}
#: --quick: a smaller network (the graph engine alone takes 10+ s on the real one)
HE2D_QUICK = {"kind": "he", "d": 2, "widths": [16, 16], "seed": 0}


def cpu_total(r: dict) -> float | None:
    if r.get("cpu") is None:
        return None
    return r["cpu"] + (r.get("cpu_children") or 0.0)


def section_he2d(quick: bool) -> Section:
    netspec = HE2D_QUICK if quick else HE2D_NET
    arch = "2-{}-{}-1".format(*netspec["widths"])
    sec = Section("he2d", f"2. He-initialised {arch} on all of R^2")
    dom = {"kind": "whole", "d": 2}
    runs = [("subdivision", 1), ("graph", 1), ("graph", 2)]
    rows, res = [], {}
    for method, w in runs:
        r = run_case(f"he2d {method} w{w}", {"net": netspec, "domain": dom, "method": method,
                                             "workers": w}, timeout=900)
        res[(method, w)] = r
    base = res[("subdivision", 1)].get("seconds")
    digests = {r.get("digest") for r in res.values() if "error" not in r}
    for (method, w), r in res.items():
        if "error" in r:
            rows.append([method, w, r["error"]] + [None] * 7)
            continue
        rows.append([method, w, r["regions"], r["seconds"], cpu_total(r),
                     r["regions"] / r["seconds"],
                     r["lps"] / r["regions"] if r["lps"] is not None else None,
                     r["mean_facets"], ratio(r["seconds"], base)])
    sec.add(f"`he_network(2, {netspec['widths']}, seed=0)` (PyTorch-style bias), domain "
            "`Whole(2)`, no coverage proof; one subprocess per row"
            + (" (--quick: a 2-16-16-1 network instead of 2-32-32-1)" if quick else "")
            + ". 'CPU s' is the CPU time of the enumeration (its worker processes included): "
            "on a busy machine it is closer than the wall time to what an idle machine "
            "gives. The subdivision engine is serial (it ignores `workers`). The issue's target "
            "is under 1 s on 2 cores (well over 2,000 regions/s); a peer tool (relucent, "
            "Gurobi, 2 workers) is quoted at about 40 s on the 2-32-32-1 network.")
    sec.add(table(["engine", "workers", "regions", "seconds", "CPU s", "regions/s",
                   "LPs/region", "mean facets", "time vs subdivision"], rows))
    sec.add("All engines return the same region set: "
            + ("yes (identical pattern digests)." if len(digests) == 1 else
               f"**no** (digests {sorted(d for d in digests if d)})."))
    sec.facts.update({"res": {f"{m}/{w}": r for (m, w), r in res.items()},
                      "agree": len(digests) == 1, "arch": arch, "quick": quick})
    # the default coverage proof (exact certificate, then the checker) against the enumeration
    # it proves, in the same subprocess; the issue's target is at most 3x on 2 workers
    limit = 300.0
    cov_rows = []
    for w in (1, 2):
        r = run_case(f"he2d coverage proof w{w}", {"net": netspec, "domain": dom,
                                                   "method": "subdivision", "workers": w,
                                                   "prove_coverage": True, "time_limit": limit},
                     timeout=limit + 600)
        sec.facts[f"coverage_w{w}"] = r
        if "error" in r:
            cov_rows.append([w, r["error"]] + [None] * 5)
            continue
        cov = r.get("coverage") or {}
        cov_rows.append([w, r["regions"], cov.get("by"), r["seconds"], cov.get("seconds"),
                         (cov.get("certificate") or {}).get("thin_regions"),
                         ratio(cov.get("seconds"), r["seconds"])])
    sec.add("The default coverage proof (`regions` without `--no-coverage-proof`): the exact "
            "partition certificate built and re-checked by the independent checker "
            "(`verishallow.proofs.coverage.prove_coverage`), after a subdivision enumeration "
            "in the same subprocess; 'proof / enumeration' is the issue's figure (target: at "
            "most 3x with 2 workers).")
    sec.add(table(["workers", "regions", "proved by", "enumeration s", "proof s",
                   "thin regions", "proof / enumeration"], cov_rows))
    return sec


# ------------------------------------------------------------------------------------------
# 3. ACAS Xu
# ------------------------------------------------------------------------------------------
def section_acas(quick: bool) -> Section:
    sec = Section("acas", "3. ACAS Xu run2a_1_1 on the box of prop_1")
    if not ACAS_NET.exists() or not ACAS_PROP.exists():
        sec.add(f"Skipped: {ACAS_NET} or {ACAS_PROP} not found.")
        return sec
    shrink = 0.1 if quick else 1.0
    dom = {"kind": "vnnlib", "path": str(ACAS_PROP), "shrink": shrink}
    net = {"kind": "file", "path": str(ACAS_NET)}
    res = {}
    pairs = []  # (seconds with 1 worker, with 2), interleaved: load changes hit both alike
    eff0 = effective_cores("before ACAS")
    for rep in range(1 if quick else ACAS_PAIRS):
        got = {}
        for w in (1, 2):
            got[w] = run_case(f"acas graph w{w}" + (f" (repeat {rep})" if rep else ""),
                              {"net": net, "domain": dom, "method": "graph", "workers": w},
                              timeout=3600)
        if rep == 0:
            res = got
        if all("error" not in r for r in got.values()):
            pairs.append((got[1]["seconds"], got[2]["seconds"]))
    eff1 = effective_cores("after ACAS")
    rows = []
    for w, r in res.items():
        if "error" in r:
            rows.append([w, r["error"]] + [None] * 7)
            continue
        rows.append([w, r["regions"], r["seconds"], cpu_total(r), r["regions"] / r["seconds"],
                     r["lps"] / r["regions"], r["mean_facets"], r["unstable"],
                     ratio(res[1].get("seconds"), r["seconds"])])
    box = ("the prop_1 box shrunk to 10% of its half-widths around its centre (--quick)"
           if quick else "the full prop_1 box")
    sec.add(f"`{ACAS_NET.name}` (5-50x6-5, 300 ReLUs) on {box}; graph engine (closure under "
            "facet crossing, no SCIP coverage query), one subprocess per row; 'CPU s' includes "
            "the worker processes. Targets: "
            "complete enumeration in under 2 minutes on 2 cores, and a 1.7x speed-up from 1 "
            "to 2 workers.")
    sec.add(table(["workers", "regions", "seconds", "CPU s", "regions/s", "LPs/region",
                   "mean facets",
                   "unstable neurons", "speed-up vs 1 worker"], rows))
    ok = [r for r in res.values() if "error" not in r]
    same = len(ok) == 2 and ok[0]["digest"] == ok[1]["digest"]
    sec.add("1 and 2 workers return the same region set: " + ("yes." if same else "**no**."))
    if len(pairs) > 1:
        sps = [ratio(a, b) for a, b in pairs]
        sec.add(f"Runs were made in {len(pairs)} interleaved pairs (1 worker, 2 workers, 1, 2, "
                "...) so that load changes on a shared machine hit both alike; the table shows "
                "the first pair. Speed-up per pair: "
                + ", ".join(f"{a:.1f} s / {b:.1f} s = {fmt(r)}x" for (a, b), r
                            in zip(pairs, sps, strict=True))
                + f"; median {fmt(float(np.median(sps)))}x.")
    sec.add(f"Parallelism the machine offered (CPU-bound calibration, 2 processes vs 1, see "
            f"the header): {eff0:.2f} effective cores just before these runs, {eff1:.2f} just "
            "after. These are snapshots (other jobs come and go while the runs last); when they "
            "are well below 2, the speed-up column says little about two idle cores.")
    sec.facts.update({"res": res, "quick": quick, "same": same, "eff": (eff0, eff1),
                      "pairs": pairs})
    return sec


# ------------------------------------------------------------------------------------------
# per input dimension
# ------------------------------------------------------------------------------------------
DIM_CASES = [  # (d, widths, half-width of the cube domain)
    (1, [64, 64], 3.0),
    (2, [16, 16], 1.0),
    (3, [10, 10], 1.0),
    (5, [6, 6], 1.0),
]


def section_dims(quick: bool) -> Section:
    sec = Section("dims", "4. What each engine achieves per input dimension")
    milp_limit = 120.0
    rows, facts = [], []
    for d, widths, half in DIM_CASES:
        if quick and d > 3:
            continue
        netspec = {"kind": "he", "d": d, "widths": widths, "seed": 0}
        dom = {"kind": "cube", "half": half}
        methods = (["subdivision"] if d <= 2 else []) + ["graph"]
        if not quick:
            methods.append("milp")
        res = {}
        for m in methods:
            spec = {"net": netspec, "domain": dom, "method": m}
            if m == "milp":
                spec["time_limit"] = milp_limit
            res[m] = run_case(f"dims d={d} {m}", spec, timeout=milp_limit + 600)
        ok = [r for r in res.values() if "error" not in r and (r["complete"] or
                                                                 r["method"] != "milp")]
        agree = len({r["digest"] for r in ok}) == 1 if ok else None
        base = res["graph"].get("seconds")
        for m, r in res.items():
            name = f"{d}-{widths[0]}-{widths[1]}-1"
            if "error" in r:
                rows.append([d, name, m, r["error"]] + [None] * 7)
                continue
            proved = ("yes" if r["complete"] else "no (time limit)") if m == "milp" else "-"
            rows.append([d, name, m, r["regions"], r["seconds"], r["cpu"],
                         r["regions"] / r["seconds"], proved,
                         ratio(base, r["seconds"]),
                         "yes" if agree else ("no" if agree is not None else "-")])
            facts.append({"d": d, "method": m, "regions": r["regions"],
                          "rate": r["regions"] / r["seconds"], "complete": r["complete"]})
    sec.add("He-initialised d-w-w-1 networks (seed 0) on the cube [-h, h]^d (h = 3 for d = 1, "
            "else 1), no coverage proof for graph/subdivision; the MILP engine (SCIP pattern "
            f"enumeration, which proves completeness itself) gets a {milp_limit:.0f} s limit"
            + (" and is skipped under --quick, as is d = 5" if quick else "")
            + ". The subdivision engine handles d <= 2 only. 'agree' compares the region sets "
            "of all engines that finished. One subprocess per row.")
    sec.add(table(["d", "network", "engine", "regions", "seconds", "CPU s", "regions/s",
                   "complete (SCIP)",
                   "speed-up vs graph", "agree"], rows))
    sec.facts["rows"] = facts
    return sec


# ------------------------------------------------------------------------------------------
# 5. shallow evaluation
# ------------------------------------------------------------------------------------------
def section_shallow(quick: bool) -> Section:
    from verishallow.domain import Box
    from verishallow.io import load_with_domain
    from verishallow.shallow import to_shallow
    from verishallow.studies.common import he_network

    sec = Section("shallow", "5. Shallow evaluation vs the deep forward pass")
    n = 20_000 if quick else 100_000
    cases = [("moons 2-16-16-2", *load_with_domain(MOONS))]
    big = he_network(2, [32, 32], 1, seed=0)
    cases.append(("He 2-32-32-1", big, Box(-3 * np.ones(2), 3 * np.ones(2))))
    rows, facts = [], []
    reps = 1 if quick else 3
    for name, net, dom in cases:
        t0 = time.perf_counter()
        sh = to_shallow(net, dom, prove_coverage=False)
        t_build = time.perf_counter() - t0
        X = np.random.default_rng(0).uniform(dom.lower, dom.upper, size=(n, net.input_dim))
        t_deep, Y = best_of(lambda net=net, X=X: net.forward(X), reps)
        t_fast, Yf = best_of(lambda sh=sh, X=X: sh.evaluate(X, method="fast"), reps)
        t_faith, Yt = best_of(lambda sh=sh, X=X: sh.evaluate(X, method="faithful"), reps)
        err = max(float(np.nanmax(np.abs(Yf - Y))), float(np.nanmax(np.abs(Yt - Y))))
        rows.append([name, sh.n_regions, sh.n_hyperplanes, t_build, t_deep, t_fast, t_faith,
                     ratio(t_fast, t_deep), ratio(t_faith, t_deep), err])
        facts.append({"name": name, "fast": ratio(t_fast, t_deep),
                      "faithful": ratio(t_faith, t_deep), "regions": sh.n_regions})
    sec.add(f"{n:,} points uniform in the domain (moons: its sidecar box; He 2-32-32-1: "
            f"[-3, 3]^2), float64, best of {reps} runs each (fewer once 10 s are spent), "
            "same process. 'fast' locates each "
            "point by its activation pattern (needs the source network), 'faithful' runs the "
            "three-layer shallow network itself. Ratios are shallow time / deep time "
            "(> 1: the shallow network is slower).")
    sec.add(table(["network", "regions", "hyperplanes", "build s", "deep s", "fast s",
                   "faithful s", "fast / deep", "faithful / deep", "max abs diff"], rows))
    sec.facts["rows"] = facts
    return sec


# ------------------------------------------------------------------------------------------
# 6. certificates
# ------------------------------------------------------------------------------------------
def section_certificate(quick: bool) -> Section:
    sec = Section("certificate", "6. Certificate checking vs certifying")
    try:
        from verishallow.io import load_with_domain
        from verishallow.proofs.partition import certify
        from verishallow.proofs.partition_checker import check_certificate
        from verishallow.regions import enumerate_regions

        rows, facts = [], []
        for name in ("sine", "moons"):
            net, dom = load_with_domain(ROOT / "models" / f"{name}.onnx")
            part = enumerate_regions(net, dom, prove_coverage=False)
            t0 = time.perf_counter()
            cert = certify(net, dom, partition=part, z3=False)
            t_cert = time.perf_counter() - t0
            t0 = time.perf_counter()
            chk = check_certificate(cert, net)
            t_chk = time.perf_counter() - t0
            if not chk.valid:
                raise AssertionError(f"{name}: certificate rejected: {chk.failures[:3]}")
            rows.append([name, len(part), part.seconds, t_cert, t_chk, ratio(t_chk, t_cert),
                         cert.get("complete")])
            facts.append({"name": name, "certify": t_cert, "check": t_chk,
                          "ratio": ratio(t_chk, t_cert), "regions": len(part)})
        sec.add("Models from `models/` on their sidecar domains. The partition is enumerated "
                "first (auto engine, no SCIP proof; its time is shown for scale); 'certify' is "
                "`certify(net, domain, partition=part, z3=False)` (exact evidence per region), "
                "'check' is `check_certificate(cert, net)` on the in-memory certificate (exact "
                "rational arithmetic, independent of the LP solver). Same process.")
        sec.add(table(["model", "regions", "enumerate s", "certify s", "check s",
                       "check / certify", "certificate complete"], rows))
        if not quick:
            try:
                net, dom = load_with_domain(MOONS)
                part = enumerate_regions(net, dom, prove_coverage=False)
                t0 = time.perf_counter()
                cert = certify(net, dom, partition=part, z3=True)
                t_all = time.perf_counter() - t0
                z3s = cert.get("seconds", {}).get("z3")
                sec.add("With the optional z3 double-check (moons): certify "
                        f"{fmt(t_all)} s in total, of which z3 {fmt(z3s)} s "
                        f"({fmt(ratio(z3s, t_all))} of the total).")
                facts.append({"name": "moons+z3", "certify": t_all, "z3": z3s})
            except Exception as exc:
                sec.add(f"The z3 double-check run failed ({type(exc).__name__}: {exc}).")
                log("certificate z3 run failed:\n" + traceback.format_exc())
        if ACAS_NET.exists() and ACAS_PROP.exists():
            _acas_certificates(sec, quick, facts)
        sec.facts["rows"] = facts
    except Exception as exc:  # the certificate API may be in flux: report, do not abort
        sec.add(f"Skipped: the certificate API failed ({type(exc).__name__}: {exc}).")
        sec.facts["error"] = f"{type(exc).__name__}: {exc}"
        log("certificate section failed:\n" + traceback.format_exc())
    return sec


def _acas_certificates(sec: Section, quick: bool, facts: list) -> None:
    """The exact coverage proof at ACAS scale: certify + check, 1 and 2 worker processes."""
    from verishallow.proofs.coverage import prove_coverage
    from verishallow.proofs.partition import certify
    from verishallow.proofs.partition_checker import check_certificate
    from verishallow.regions import enumerate_regions

    net = build_net({"kind": "file", "path": str(ACAS_NET)})
    rows = []
    cases = [(0.1, (1, 2))] if quick else [(0.3, (1, 2)), (1.0, (2,))]
    for shrink, worker_counts in cases:
        dom = build_domain({"kind": "vnnlib", "path": str(ACAS_PROP), "shrink": shrink}, net)
        part = enumerate_regions(net, dom, method="graph", prove_coverage=False, workers=2)
        for w in worker_counts:
            t0 = time.perf_counter()
            cert = certify(net, dom, partition=part, z3=False, workers=w)
            t_cert = time.perf_counter() - t0
            t0 = time.perf_counter()
            chk = check_certificate(cert, net, workers=w)
            t_chk = time.perf_counter() - t0
            if not chk.valid:
                raise AssertionError(f"ACAS {shrink}: certificate rejected: {chk.failures[:3]}")
            # the default coverage proof: the same two, the checker beside the certifier
            t0 = time.perf_counter()
            proof = prove_coverage(part, time_limit=3600.0, workers=w)
            t_proof = time.perf_counter() - t0
            if proof.by != "certificate":
                raise AssertionError(f"ACAS {shrink}: coverage not proved: {proof.reason}")
            n = len(part)
            rows.append([f"{shrink:.0%} of the box", n, part.seconds, w, t_cert, t_chk,
                         1e3 * t_cert / n, 1e3 * t_chk / n, ratio(t_chk, t_cert),
                         cert.get("complete"), cert["enumeration"]["thin_regions"], t_proof,
                         ratio(t_proof, part.seconds)])
            facts.append({"name": f"acas {shrink} w{w}", "regions": n, "certify": t_cert,
                          "check": t_chk, "enumerate": part.seconds, "proof": t_proof})
    sec.add(f"The exact coverage proof at ACAS scale: `{ACAS_NET.name}` on the prop_1 box "
            "(shrunk around its centre), graph enumeration with 2 workers first (its time for "
            "scale), then `certify(..., workers=w)` and `check_certificate(..., workers=w)`. "
            "A valid, complete certificate proves the partition covers the box (the "
            "`complete` flag of `regions --exact-coverage`, and `verify`'s fallback when SCIP "
            "gives no answer). 'coverage proof s' is the default proof of `regions` "
            "(`prove_coverage`): the same certificate and check, each region checked in the "
            "worker that certified it as soon as it is certified (`StagedCheck`).")
    sec.add(table(["domain", "regions", "enumerate s (2 workers)", "workers", "certify s",
                   "check s", "certify ms/region", "check ms/region", "check / certify",
                   "certificate complete", "thin regions", "coverage proof s",
                   "proof / enumeration"], rows))


# ------------------------------------------------------------------------------------------
# VNN-LIB verification
# ------------------------------------------------------------------------------------------
def section_verify(quick: bool) -> Section:
    sec = Section("verify", "7. VNN-LIB properties on ACAS Xu")
    net_path = ACAS_DIR / "ACASXU_run2a_1_1_batch_2000.onnx"
    if not net_path.exists():
        sec.add(f"Skipped: {net_path} not found.")
        return sec
    from verishallow.io import load
    from verishallow.verify import verify_property
    from verishallow.vnnlib import parse_vnnlib

    rows, facts = [], []
    cases = [("1_7", 3, 2), ("1_1", 4, 2)] if not quick else [("1_7", 3, 2)]
    for net_id, prop_id, workers in cases:
        net = load(ACAS_DIR / f"ACASXU_run2a_{net_id}_batch_2000.onnx")
        prop = parse_vnnlib(ACAS_DIR / f"prop_{prop_id}.vnnlib")
        t0 = time.perf_counter()
        res = verify_property(net, prop, workers=workers)
        secs = time.perf_counter() - t0
        name = f"{net_id} prop_{prop_id}"
        rows.append([name, workers, res.status, res.method, res.regions_checked, secs,
                     (res.reason or "")[:120]])
        facts.append({"name": name, "status": res.status, "seconds": secs})
    sec.add("`verify_property(net, prop, workers=2)` on the full property boxes, same process. "
            "VNN-COMP 2021's answers: prop_3 is violated on 1_7, prop_4 holds on 1_1. "
            "The default method answers from a sampled counterexample (`sat`) or the proof "
            "search's branch and bound (`unsat`: every leaf bounded); 'regions checked' counts "
            "the region stage's work, which only `--method regions` (or a search left open) "
            "uses.")
    sec.add(table(["network / property", "workers", "status", "method", "regions checked",
                   "seconds", "why"], rows))
    sec.facts["rows"] = facts
    return sec


# ------------------------------------------------------------------------------------------
# 7. memory
# ------------------------------------------------------------------------------------------
def section_memory(quick: bool) -> Section:
    sec = Section("memory", "8. Peak memory per region")
    if not CASES:  # run on its own: a few representative cases
        run_case("moons graph", {"net": {"kind": "file", "path": str(MOONS)},
                                 "domain": {"kind": "sidecar", "path": str(MOONS)},
                                 "method": "graph"}, timeout=600)
        run_case("moons subdivision", {"net": {"kind": "file", "path": str(MOONS)},
                                       "domain": {"kind": "sidecar", "path": str(MOONS)},
                                       "method": "subdivision"}, timeout=600)
        if ACAS_NET.exists():
            run_case("acas graph w1 (10% box)", {
                "net": {"kind": "file", "path": str(ACAS_NET)},
                "domain": {"kind": "vnnlib", "path": str(ACAS_PROP), "shrink": 0.1},
                "method": "graph"}, timeout=600)
    rows, facts = [], []
    for label, _spec, r in CASES:
        if "error" in r:
            rows.append([label, r["error"], None, None, None, None])
            continue
        delta = r["rss_after_kb"] - r["rss_before_kb"]
        per = delta * 1024 / r["regions"] if r["regions"] else None
        rows.append([label, r["regions"], r["rss_before_kb"] / 1024, r["rss_after_kb"] / 1024,
                     delta / 1024, per / 1024 if per is not None else None,
                     r["children_rss_kb"] / 1024 if r["children_rss_kb"] else None])
        facts.append({"label": label, "regions": r["regions"], "kib_per_region":
                      per / 1024 if per is not None else None})
    sec.add("Every enumeration of this run that ran in its own subprocess. 'before' is the "
            "resident set (VmRSS) just before the enumeration, after imports, loading the "
            "network and a warm-up enumeration of a tiny network (which loads the lazily "
            "imported solvers); 'after' is the peak resident set (VmHWM, reset through "
            "`/proc/self/clear_refs` just before the enumeration; `ru_maxrss` where that is "
            "not possible), so 'growth' is what this enumeration (the returned Partition with "
            "its regions, facets and graph, plus transient peaks) added. Worker processes are "
            "measured separately (`ru_maxrss` of the largest child). Small cases are dominated "
            "by allocator granularity; read the per-region figure from the large ones.")
    sec.add(table(["case", "regions", "before MiB", "after MiB", "growth MiB",
                   "KiB/region", "largest worker MiB"], rows))
    sec.facts["rows"] = facts
    return sec


# ------------------------------------------------------------------------------------------
# header and summary
# ------------------------------------------------------------------------------------------
def machine_info() -> dict:
    cpu = "unknown"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal"):
                mem = int(ln.split()[1]) / 1024 ** 2
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    versions = {}
    for pkg in ("numpy", "scipy", "highspy", "PySCIPOpt", "networkx", "z3-solver", "Pyomo",
                "onnx"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        import pyscipopt

        versions["SCIP"] = str(pyscipopt.Model().version())
    except Exception:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip() or None
    except OSError:
        commit = None
    dirty = None
    if commit:  # read-only: how far the working tree (what actually ran) is from the commit
        st = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,
                            capture_output=True, text=True).stdout
        dirty = len([ln for ln in st.splitlines() if ln.strip()])
    import verishallow

    return {"cpu": cpu, "nproc": nproc, "mem_gib": mem, "kernel": platform.release(),
            "python": platform.python_version(), "versions": versions,
            "verishallow": verishallow.__version__, "commit": commit, "dirty": dirty}


def uptime_line() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        la = os.getloadavg()
        return f"load average: {la[0]:.2f}, {la[1]:.2f}, {la[2]:.2f}"


def meaning(secs: dict[str, Section], info: dict, load_start, load_end) -> str:
    """The 'what this means' paragraph, built only from numbers measured in this run."""
    out = []
    b = secs.get("brute")
    if b and b.facts.get("rows"):
        last = b.facts["rows"][-1]
        out.append(
            f"At N = {last['N']} neurons the paper's brute force spends {fmt(last['brute'])} s "
            f"on 2^{last['N']} = {2 ** last['N']:,} patterns to find {last['regions']} regions; "
            f"the graph engine needs {fmt(last['graph'])} s "
            f"({fmt(ratio(last['brute'], last['graph']))}x faster) and the subdivision engine "
            f"{fmt(last['subdivision'])} s ({fmt(ratio(last['brute'], last['subdivision']))}x). "
            "The brute force doubles with every neuron while the engines scale with the number "
            "of regions, so the gap widens with N.")
    h = secs.get("he2d")
    if h and h.facts.get("res"):
        sub = h.facts["res"].get("subdivision/1", {})
        gr = h.facts["res"].get("graph/1", {})
        if "error" not in sub and "error" not in gr:
            txt = (f"On the {h.facts['arch']} network over R^2 ({sub['regions']:,} regions) the "
                   f"subdivision engine takes {fmt(sub['seconds'])} s wall, "
                   f"{fmt(sub['cpu'])} s CPU ({fmt(sub['regions'] / sub['seconds'])} regions/s "
                   "wall) on one core")
            if not h.facts["quick"]:
                wall = "meets" if sub["seconds"] < 1.0 else "misses"
                cpu = "meets" if sub["cpu"] < 1.0 else "misses"
                txt += (f", which {wall} the issue's 1 s target in wall time"
                        + ("" if cpu == wall else f" and {cpu} it in CPU time"))
            out.append(txt + f"; it is {fmt(ratio(gr['seconds'], sub['seconds']))}x faster "
                       f"than the LP-based graph engine ({fmt(gr['seconds'])} s).")
        g2 = h.facts["res"].get("graph/2")
        if g2 and "error" not in g2 and "error" not in gr:
            sp = ratio(gr["seconds"], g2["seconds"])
            out.append(f"Two workers take the graph engine to {fmt(g2['seconds'])} s (speed-up "
                       f"{fmt(sp)}x" + (", i.e. slower than one worker" if sp and sp < 1
                                         else "") + ").")
        for w in (1, 2):
            cov = h.facts.get(f"coverage_w{w}")
            if cov and "error" not in cov and cov.get("coverage"):
                c = cov["coverage"]
                r = ratio(c["seconds"], cov["seconds"])
                verdict = "" if w != 2 or r is None else \
                    (" (meets the 3x target)" if r <= 3 else " (misses the 3x target)")
                out.append(f"The default coverage proof (exact certificate and its check, "
                           f"{w} worker{'s' if w > 1 else ''}) ended '{c['status']}' by "
                           f"{c.get('by')} in {fmt(c['seconds'])} s, {fmt(r)}x its own "
                           f"subdivision enumeration{verdict}.")
    a = secs.get("acas")
    if a and a.facts.get("res"):
        r1, r2 = a.facts["res"].get(1, {}), a.facts["res"].get(2, {})
        if "error" not in r1 and "error" not in r2:
            pairs = a.facts.get("pairs") or [(r1["seconds"], r2["seconds"])]
            sp = float(np.median([ratio(x, y) for x, y in pairs]))
            scope = "a 10% sub-box (--quick)" if a.facts["quick"] else "the full prop_1 box"
            txt = (f"ACAS Xu 1_1 on {scope}: {r1['regions']:,} regions in "
                   f"{fmt(r1['seconds'])} s on one worker and {fmt(r2['seconds'])} s on two "
                   f"(speed-up {fmt(sp)}x"
                   + (f", median of {len(pairs)} interleaved pairs" if len(pairs) > 1 else "")
                   + f", target 1.7x; CPU time {fmt(cpu_total(r1))} s and "
                   f"{fmt(cpu_total(r2))} s)")
            if not a.facts["quick"]:
                txt += (", so the 2-minute target on 2 cores is "
                        + ("met" if r2["seconds"] < 120 else "missed"))
            e0, e1 = a.facts["eff"]
            txt += (f"; the machine offered {e0:.2f} / {e1:.2f} effective cores (before / "
                    "after), so the scaling figure says little about 2 idle cores"
                    if min(e0, e1) < 1.7 else
                    f"; the machine offered {e0:.2f} / {e1:.2f} effective cores (before / "
                    "after)")
            out.append(txt + f"; {fmt(r1['lps'] / r1['regions'])} LPs per region.")
    d = secs.get("dims")
    if d and d.facts.get("rows"):
        best = {}
        for r in d.facts["rows"]:
            if r["d"] not in best or r["rate"] > best[r["d"]]["rate"]:
                best[r["d"]] = r
        out.append("Fastest engine per input dimension: " + "; ".join(
            f"d = {k}: {v['method']} at {fmt(v['rate'])} regions/s"
            for k, v in sorted(best.items())) + ".")
    s = secs.get("shallow")
    if s and s.facts.get("rows"):
        out.append("Evaluating the shallow network costs " + "; ".join(
            f"{r['name']} ({r['regions']:,} regions): fast path {fmt(r['fast'])}x, faithful "
            f"path {fmt(r['faithful'])}x" for r in s.facts["rows"])
            + " the deep forward pass: the faithful path grows with the number of facets, "
            "the deep pass does not.")
    c = secs.get("certificate")
    if c and c.facts.get("rows"):
        rs = [r for r in c.facts["rows"] if "ratio" in r]
        out.append("Checking a certificate takes " + "; ".join(
            f"{fmt(r['ratio'])}x the certifying time for {r['name']}" for r in rs) + ".")
        big = max((r for r in c.facts["rows"] if r["name"].startswith("acas")),
                  key=lambda r: (r["regions"], r["name"]), default=None)
        if big:
            out.append(
                f"The exact coverage proof on ACAS Xu ({big['name']}: {big['regions']:,} "
                f"regions) takes {fmt(big['certify'])} s to certify and {fmt(big['check'])} s "
                f"to check, {fmt(ratio(big['certify'] + big['check'], big['enumerate']))}x "
                f"the enumeration ({fmt(big['enumerate'])} s, 2 workers)"
                + (f"; the default coverage proof (the check beside the certifier) takes "
                   f"{fmt(big['proof'])} s, {fmt(ratio(big['proof'], big['enumerate']))}x"
                   if big.get("proof") else "") + ".")
    v = secs.get("verify")
    if v and v.facts.get("rows"):
        out.append("VNN-LIB: " + "; ".join(
            f"{r['name']}: {r['status']} in {fmt(r['seconds'])} s" for r in v.facts["rows"])
            + ".")
    m = secs.get("memory")
    if m and m.facts.get("rows"):
        big = max((r for r in m.facts["rows"] if r["kib_per_region"] is not None),
                  key=lambda r: r["regions"], default=None)
        if big:
            out.append(f"Memory: the largest case ({big['label']}, {big['regions']:,} regions) "
                       f"grew the peak RSS by {fmt(big['kib_per_region'])} KiB per region.")
    busy = max(load_start[0], load_end[0])
    n = int(info["nproc"]) if str(info["nproc"]).isdigit() else os.cpu_count() or 1
    low = min((e for _, e in CALIBRATION), default=None)
    if busy > n or (low is not None and low < 1.7):
        why = [f"the 1-minute load average reached {busy:.1f} on {n} cores"]
        if low is not None:
            why.append(f"the parallelism calibration found as little as {low:.2f} effective "
                       "cores")
        out.append("Caveat: " + " and ".join(why) + " during this run (a shared machine), so "
                   "absolute times are inflated and the worker-scaling figures understate what "
                   "an idle machine gives; same-run ratios are the robust figures.")
    return " ".join(out) if out else "No sections ran."


def render(secs: dict[str, Section], info: dict, quick: bool, started: str,
           up_start: str, up_end: str, load_start, load_end, total: float,
           argv: list[str]) -> str:
    v = info["versions"]
    vers = ", ".join(f"{k} {val}" for k, val in v.items())
    cmd = (" " + " ".join(argv)) if argv else ""
    head = [
        "# Benchmarks",
        "",
        f"Generated by `python scripts/bench.py{cmd}` on {started} UTC"
        + (" (--quick: reduced sizes; not the reference figures)." if quick else "."),
        "",
        f"- Machine: {info['cpu']}, `nproc` = {info['nproc']}, "
        + (f"{info['mem_gib']:.1f} GiB RAM, " if info["mem_gib"] else "")
        + f"Linux {info['kernel']}, Python {info['python']}",
        f"- Load (`uptime`) at start: `{up_start}`",
        f"- Load (`uptime`) at end: `{up_end}`",
        f"- verishallow {info['verishallow']}"
        + (f" (commit {info['commit']}" + (f"; the working tree that ran differs: `git status` "
                                          f"lists {info['dirty']} paths" if info.get("dirty")
                                          else "") + ")"
           if info["commit"] else "") + f"; {vers}",
        "- Parallelism available (CPU-bound calibration, 2 processes vs 1; 2.0 = two free "
        "cores): " + ", ".join(f"{e:.2f} {w}" for w, e in CALIBRATION),
        f"- Total wall time of the run: {total:.0f} s",
        "",
        "Every timing below is either compared with a baseline measured in the same run (a "
        "ratio column) or is to be read together with the machine line above. The machine "
        "may be shared with other jobs while this runs; the load average says how busy it "
        "was.",
        "",
        "## What this means",
        "",
        meaning(secs, info, load_start, load_end),
        "",
    ]
    body = [secs[name].render() for name in SECTIONS if name in secs]
    return "\n".join(head) + "\n" + "\n".join(body)


RUNNERS = {
    "brute": section_brute, "he2d": section_he2d, "acas": section_acas, "dims": section_dims,
    "shallow": section_shallow, "certificate": section_certificate, "verify": section_verify,
    "memory": section_memory,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="reduced sizes (about a minute): smaller N, ACAS sub-box, no SCIP proof")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated sections to run: {','.join(SECTIONS)}")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"),
                    help="output markdown file (default docs/benchmarks.md)")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)  # internal: one case
    args = ap.parse_args(argv)

    if args.case is not None:
        res = run_case_in_child(json.loads(args.case))
        print(RESULT_MARK + json.dumps(res), flush=True)
        return 0

    names = SECTIONS if args.only is None else tuple(
        s.strip() for s in args.only.split(",") if s.strip())
    bad = [s for s in names if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    from verishallow.atomic import write_text

    started = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M")
    up_start, load_start = uptime_line(), os.getloadavg()
    info = machine_info()
    effective_cores("at start")
    log(f"machine: {info['cpu']}, nproc {info['nproc']}; {up_start}")
    t0 = time.perf_counter()
    secs: dict[str, Section] = {}
    for name in SECTIONS:  # fixed order: memory last, so it sees every case
        if name not in names:
            continue
        ts = time.perf_counter()
        log(f"section {name} ...")
        secs[name] = RUNNERS[name](args.quick)
        log(f"section {name} done in {time.perf_counter() - ts:.1f} s")
    total = time.perf_counter() - t0
    effective_cores("at end")
    up_end, load_end = uptime_line(), os.getloadavg()
    text = render(secs, info, args.quick, started, up_start, up_end, load_start, load_end,
                  total, argv)
    write_text(out, text)
    log(f"wrote {out} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
