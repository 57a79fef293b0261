"""Native solver chatter stays off stdout (issue #13, item 7): the known SoPlex notice is
dropped, anything else native code prints goes to stderr, our own stdout is untouched."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import ctypes, os, sys
from verishallow.solvers.native_output import native_output_to_stderr
print("before", flush=True)
libc = ctypes.CDLL(None)
with native_output_to_stderr():
    os.write(1, b"Cannot set feasibility tolerance to small value 1e-12 without GMP"
                b" - using 1e-10.\n")
    libc.printf(b"buffered C line\n")  # C stdio, fully buffered when fd 1 is a file
    os.write(1, b"something else\n")
print("after", flush=True)
"""


def test_known_notice_dropped_other_native_output_to_stderr():
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env={**os.environ}, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["before", "after"]
    assert "without GMP" not in res.stdout + res.stderr
    assert "something else" in res.stderr and "buffered C line" in res.stderr


def test_scip_solves_print_nothing_on_stdout():
    script = ("from verishallow.io import load_with_domain\n"
              "from verishallow.regions import enumerate_regions\n"
              "net, dom = load_with_domain('models/moons.onnx')\n"
              "p = enumerate_regions(net, dom, method='milp')\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
