#!/usr/bin/env python
"""A/B of ``scripts/bench.py --quick`` between a base commit and the working tree: did any
benchmark get slower?

    python scripts/bench_ab.py BASE_COMMIT [--pairs 2] [--out FILE]

The base commit is checked out into a temporary git worktree (with ``../shared`` linked beside
it, so that the ACAS Xu sections run there too) and both trees run ``bench.py --quick`` with
this interpreter, alternately (base, new, base, new, ...): load changes on a shared machine
hit both alike. Every timing the runs log (each enumeration case, each brute-force engine,
each section) is compared by its minimum over the runs; the markdown table goes to stdout and
``--out``. The base tree is imported through ``PYTHONPATH``, so it needs no installation.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CASE = re.compile(r"case (.+?): ([\d,]+) regions, ([\d.]+) s")
_BRUTE = re.compile(r"brute N=(\d+): .* graph ([\d.]+) s, subdivision ([\d.]+) s")
_SECTION = re.compile(r"section (\w+) done in ([\d.]+) s")


def timings(log: str) -> dict[str, float]:
    """The timings one ``bench.py`` log reports, by name."""
    out: dict[str, float] = {}
    for ln in log.splitlines():
        if m := _CASE.search(ln):
            out[f"case {m.group(1)}"] = float(m.group(3))
        if m := _BRUTE.search(ln):
            out[f"brute N={m.group(1)} graph"] = float(m.group(2))
            out[f"brute N={m.group(1)} subdivision"] = float(m.group(3))
        if m := _SECTION.search(ln):
            out[f"section {m.group(1)}"] = float(m.group(2))
    return out


def run_bench(tree: Path, env_path: Path | None, out: Path) -> dict[str, float]:
    env = None
    if env_path is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(env_path)}
    p = subprocess.run([sys.executable, str(tree / "scripts" / "bench.py"), "--quick",
                        "--out", str(out)], cwd=tree, env=env, capture_output=True, text=True,
                       timeout=3600)
    if p.returncode != 0:
        raise SystemExit(f"bench.py failed in {tree}: {p.stderr.strip().splitlines()[-1:]}")
    return timings(p.stderr + p.stdout)


def table(base: list[dict[str, float]], new: list[dict[str, float]], label: str) -> str:
    keys = sorted(set().union(*base, *new))
    rows = [f"| figure | {label} s | working tree s | new / base |", "|---|---:|---:|---:|"]
    for k in keys:
        b = [r[k] for r in base if k in r]
        n = [r[k] for r in new if k in r]
        if not b or not n:
            rows.append(f"| {k} | {min(b) if b else '-'} | {min(n) if n else '-'} | new only |"
                        if n else f"| {k} | {min(b)} | - | base only |")
            continue
        mb, mn = min(b), min(n)
        ratio = f"{mn / mb:.2f}" if mb > 0 else "-"
        rows.append(f"| {k} | {mb:.3g} | {mn:.3g} | {ratio} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the base commit (anything git rev-parse takes)")
    ap.add_argument("--pairs", type=int, default=2, help="alternating (base, new) pairs")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    sha = subprocess.run(["git", "rev-parse", "--short", a.base], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wt = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), sha], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            shared = ROOT.parent / "shared"
            if shared.exists():
                (tmp / "shared").symlink_to(shared)
            base, new = [], []
            for i in range(a.pairs):
                base.append(run_bench(wt, wt, tmp / f"base{i}.md"))
                new.append(run_bench(ROOT, None, tmp / f"new{i}.md"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT,
                           capture_output=True)
    text = (f"`python scripts/bench_ab.py {a.base} --pairs {a.pairs}`: `bench.py --quick` at "
            f"{sha} and in the working tree, alternately, {a.pairs} runs each; minimum seconds "
            "per figure.\n\n" + table(base, new, sha) + "\n")
    print(text)
    if a.out:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
