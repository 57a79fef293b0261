"""Keep the native solvers' console chatter off our stdout.

SCIP's ``hideOutput`` silences SCIP, but its LP solver SoPlex writes some notices straight to
file descriptor 1 from C, e.g. "Cannot set feasibility tolerance to small value 1e-12 without
GMP - using 1e-10." (SCIP tightens the LP tolerance when it resolves a numerically hard LP;
SoPlex, built without GMP, clamps it: harmless, and nothing a user can act on). Our stdout
carries verdicts and JSON that scripts parse, so :func:`native_output_to_stderr` points fd 1 at
a temporary file while a solver runs, then drops the known notices and passes anything else to
stderr, where it can still be seen.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

#: Notices that say nothing a user can act on (matched per line).
KNOWN_NOTICES = (
    re.compile(r"^Cannot set feasibility tolerance to small value .* without GMP"),
)


def _drop_known(text: str) -> str:
    keep = [ln for ln in text.splitlines(keepends=True)
            if not any(p.search(ln) for p in KNOWN_NOTICES)]
    return "".join(keep)


def _flush_c_stdio() -> None:
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def native_output_to_stderr() -> Iterator[None]:
    """While the block runs, what native code writes to fd 1 is held back; afterwards the known
    notices are dropped and the rest goes to stderr. Python's own ``sys.stdout`` is flushed
    first, so nothing of ours is caught. A no-op where fd 1 cannot be redirected."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved = os.dup(fd)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            _flush_c_stdio()  # C/C++ buffers would otherwise reach the restored stdout later
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            rest = _drop_known(tmp.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()
