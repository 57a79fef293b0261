"""Benchmark of the region engines per input dimension (issue 14): skeleton vs graph (vs
subdivision in 2-D, vs relucent on the 3-D target), ACAS Xu 1_1 on the prop_1 box, and the
memory held per region. Prints a markdown section for docs/benchmarks.md.

    python scripts/bench_skeleton.py [--quick] [--no-relucent] [--no-acas-graph] [--out FILE]

Every ratio is between runs of this one invocation (same machine, same load). Timings are wall
seconds of ``enumerate_regions(..., prove_coverage=False)``, one engine after the other in one
process (after a warm-up); relucent runs in its own venv (``/work/relucent-venv``) as a
subprocess with 2 workers, as the issue measured it. Make that venv once with

    python3 -m venv /work/relucent-venv
    /work/relucent-venv/bin/pip install torch==2.13.0 relucent==1.0.0

(relucent brings gurobipy, whose bundled size-limited licence covers these small LPs).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ACAS = ROOT.parent / "shared" / "benchmarks" / "vnncomp2021" / "acasxu"
RELUCENT_PY = Path("/work/relucent-venv/bin/python")

#: d -> hidden widths: a few thousand regions per dimension on [-1, 1]^d
DIMS = {2: [32, 32], 3: [16, 16], 4: [10, 10], 5: [8, 8], 6: [7, 7], 7: [6, 6], 8: [6, 6]}

RELUCENT_CHILD = r"""
import json, sys, time
import numpy as np, torch
from relucent import Complex, convert
spec = json.loads(sys.argv[1])
W, b = [np.array(w) for w in spec["W"]], [np.array(v) for v in spec["b"]]
layers = []
for k, (w, v) in enumerate(zip(W, b)):
    lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(w)); lin.bias.copy_(torch.tensor(v))
    layers.append(lin)
    if k < len(W) - 1:
        layers.append(torch.nn.ReLU())
c = Complex(convert(torch.nn.Sequential(*layers)))
t = time.perf_counter()
c.bfs(nworkers=2, verbose=0)
print("RESULT", json.dumps({"regions": len(c), "seconds": time.perf_counter() - t}))
"""


def he(d: int, widths: list[int], seed: int = 0):
    from verishallow.studies.common import he_network

    return he_network(d, widths, 1, seed=seed)


def run(net, dom, method: str, workers: int = 1):
    from verishallow.regions import enumerate_regions

    gc.collect()
    t = time.perf_counter()
    part = enumerate_regions(net, dom, method=method, prove_coverage=False, workers=workers)
    return part, time.perf_counter() - t


def relucent(net, timeout: float) -> dict:
    if not RELUCENT_PY.exists():
        return {"error": "no relucent venv"}
    spec = json.dumps({"W": [w.tolist() for w in net.weights],
                       "b": [v.tolist() for v in net.biases]})
    try:
        p = subprocess.run([str(RELUCENT_PY), "-c", RELUCENT_CHILD, spec], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1][7:])


def held_bytes(net, dom, method: str) -> tuple[int, float]:
    """Bytes held by the returned Partition per region (tracemalloc: allocations still live
    after the enumeration, the Partition included), and the peak per region."""
    from verishallow.regions import enumerate_regions

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    part = enumerate_regions(net, dom, method=method, prove_coverage=False)
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(part)
    return n, (cur - base) / n, (peak - base) / n


def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if v == 0:
        return "0"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{digits}g}"


def table(head: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    out += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller nets, no ACAS, no relucent")
    ap.add_argument("--no-relucent", action="store_true")
    ap.add_argument("--no-acas-graph", action="store_true")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    from verishallow.domain import Box, Whole

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = os.getloadavg()
    run(he(3, [4, 4], 1), Box(-np.ones(3), np.ones(3)), "skeleton")  # warm-up (imports)
    run(he(3, [4, 4], 1), Box(-np.ones(3), np.ones(3)), "graph")
    md = [f"## 9. Region engines per input dimension (issue 14)\n\nGenerated by "
          f"`python scripts/bench_skeleton.py` on {started}; `nproc` = {os.cpu_count()}, load "
          f"average {load0[0]:.2f} at start. Wall seconds of `enumerate_regions(..., "
          "prove_coverage=False)`, engines one after the other in one process; every ratio "
          "is between runs of this one invocation."]

    # ----- the 3-D target ----------------------------------------------------------------
    net = he(3, [8, 8] if a.quick else [16, 16])
    sk, t_s = run(net, Whole(3), "skeleton")
    gr, t_g = run(net, Whole(3), "graph")
    rows = [["skeleton", len(sk), t_s, len(sk) / t_s, 1.0],
            ["graph", len(gr), t_g, len(gr) / t_g, t_g / t_s]]
    rel = {"error": "not run"} if (a.quick or a.no_relucent) else relucent(net, 600)
    if "error" not in rel:
        rows.append(["relucent 1.0 (2 workers)", rel["regions"], rel["seconds"],
                     rel["regions"] / rel["seconds"], rel["seconds"] / t_s])
    md.append(f"### He 3-{net.hidden_widths[0]}-{net.hidden_widths[1]}-1 over all of R^3\n\n"
              "`he_network(3, [16, 16], seed=0)` (PyTorch-style bias), domain `Whole(3)`. "
              "Target: under 0.5 s and at least 100x relucent.\n\n"
              + table(["engine", "regions", "seconds", "regions/s", "time vs skeleton"], rows)
              + f"\n\nSkeleton and graph return the same patterns: "
              f"{'yes' if sk.patterns() == gr.patterns() else 'NO'}. Skeleton run: "
              f"{sk.stats['skeleton']}."
              + ("" if "error" not in rel else
                 f" relucent: {rel['error']} (the issue's figure, not re-measured: 48.7 s)."))

    # ----- per dimension -----------------------------------------------------------------
    rows, where = [], []
    for d, widths in DIMS.items():
        if a.quick:
            widths = [max(3, w // 2) for w in widths]
        net = he(d, widths)
        dom = Box(-np.ones(d), np.ones(d))
        sk, t_s = run(net, dom, "skeleton")
        st = sk.stats["skeleton"]
        res = {"skeleton": (sk, t_s)}
        if d == 2:
            res["subdivision"] = run(net, dom, "subdivision")
        res["graph"] = run(net, dom, "graph")
        agree = all(p.patterns() == sk.patterns() for p, _ in res.values())
        for name, (p, t) in res.items():
            rows.append([d, f"{d}-{widths[0]}-{widths[1]}-1", name, len(p), t, len(p) / t,
                         t / t_s, "yes" if agree else "NO"])
        if "fallback" not in st:
            sub, geo = st["seconds_subdivide"], st["seconds_geometry"]
            where.append([d, len(sk), t_s, sub / t_s, geo / t_s, (t_s - sub - geo) / t_s,
                          st["vertices"], st["edges"], st["oracle_cells"]])
    md.append("### Regions per second per input dimension\n\nHe-initialised d-w-w-1 "
              "networks (seed 0) on [-1, 1]^d. 'time vs skeleton' > 1: slower than the "
              "skeleton engine.\n\n"
              + table(["d", "network", "engine", "regions", "seconds", "regions/s",
                       "time vs skeleton", "agree"], rows)
              + "\n\nWhere the skeleton engine's time goes (fractions of its wall time): "
              "splitting the 1-skeleton by every hyperplane, then grouping the (vertex, "
              "pattern) pairs into regions with the geometry (inscribed-ball bounds, facet "
              "points, in-plane radii, oracle LPs for the few suspect cells), then building the "
              "Region/Facet objects, neighbours and graph.\n\n"
              + table(["d", "regions", "seconds", "subdivide", "geometry", "rest (builder, set-up)",
                       "vertices", "edges", "oracle cells"], where))

    # ----- ACAS Xu -----------------------------------------------------------------------
    if not a.quick and (ACAS / "ACASXU_run2a_1_1_batch_2000.onnx").exists():
        import verishallow
        from verishallow.vnnlib import domain_from_vnnlib

        net = verishallow.load(str(ACAS / "ACASXU_run2a_1_1_batch_2000.onnx"))
        dom = domain_from_vnnlib(str(ACAS / "prop_1.vnnlib"))
        sk, t_s = run(net, dom, "skeleton")
        st = sk.stats["skeleton"]
        rows = [["skeleton", 1, len(sk), t_s, len(sk) / t_s, 1.0]]
        sk2, t_s2 = run(net, dom, "skeleton", workers=2)  # the geometry on two processes
        rows.append(["skeleton", 2, len(sk2), t_s2, len(sk2) / t_s2, t_s2 / t_s])
        same = "yes" if sk2.patterns() == sk.patterns() else "NO"
        del sk2
        if not a.no_acas_graph:
            gr, t_g = run(net, dom, "graph", workers=2)
            rows.append(["graph", 2, len(gr), t_g, len(gr) / t_g, t_g / t_s])
            same = "yes" if gr.patterns() == sk.patterns() and same == "yes" else "NO"
        md.append("### ACAS Xu run2a_1_1 on the prop_1 box\n\nTarget: under 20 s on 2 cores "
                  "(with 2 workers the skeleton engine shares the regions' geometry, its "
                  "longest phase; splitting the skeleton and building the regions stay "
                  "serial).\n\n"
                  + table(["engine", "workers", "regions", "seconds", "regions/s",
                           "time vs skeleton"], rows)
                  + f"\n\nSame patterns: {same}. Skeleton run: {st}.")

    # ----- memory ------------------------------------------------------------------------
    rows = []
    w3 = [8, 8] if a.quick else [16, 16]
    cases = [(f"he 3-{w3[0]}-{w3[1]}-1, R^3", he(3, w3), Whole(3))]
    if not a.quick and (ACAS / "prop_1.vnnlib").exists():
        c = (dom.lower + dom.upper) / 2
        hw = (dom.upper - dom.lower) / 2 * 0.3
        cases.append(("ACAS 1_1, 30% of the prop_1 box", net, Box(c - hw, c + hw)))
    for label, n_, d_ in cases:
        for method in ("skeleton", "graph"):
            k, held, peak = held_bytes(n_, d_, method)
            rows.append([label, method, k, held / 1024, peak / 1024])
    md.append("### Memory held per region\n\ntracemalloc: bytes still allocated after the "
              "enumeration (the returned Partition: regions, facets, graph, index) per region, "
              "and the peak during it. Target: at most 5 KiB held per region.\n\n"
              + table(["case", "engine", "regions", "KiB/region held", "KiB/region peak"],
                      rows))
    load1 = os.getloadavg()
    md.append(f"Load average at the end: {load1[0]:.2f}.")
    text = "\n\n".join(md) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
