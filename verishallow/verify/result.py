"""The answer of ``verify``: :class:`VerifyResult`, and VNN-COMP's counterexample form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: The three answers, in VNN-COMP's words.
STATUSES = ("unsat", "sat", "unknown")

#: ``progress(regions_checked, queued)`` of the region stage.
Progress = Callable[[int, int], None]


@dataclass
class VerifyResult:
    """The answer for one property: ``"unsat"`` (holds), ``"sat"`` (violated) or ``"unknown"``.

    ``counterexample`` is ``(x, y)`` (float64 input and its float64 output) for ``sat``, replayed
    in float64 and exact rational arithmetic. ``method`` says which stage decided
    (``"sampling"``, ``"bounds"``, ``"regions"``, ``"exact"`` for a single point), ``reason``
    explains an ``unknown``.
    """

    status: str
    counterexample: tuple[np.ndarray, np.ndarray] | None
    regions_checked: int
    seconds: float
    method: str = ""
    reason: str = ""
    lps: int = 0
    complete: bool = False
    stats: dict = field(default_factory=dict)
    certificate: dict | None = None

    @property
    def holds(self) -> bool | None:
        """True if the property holds (unsat), False if violated (sat), None if unknown."""
        return {"unsat": True, "sat": False}.get(self.status)

    def to_dict(self) -> dict:
        """The ``verify --json`` report."""
        cex = None
        if self.counterexample is not None:
            x, y = self.counterexample
            cex = {"x": [float(v) for v in x], "y": [float(v) for v in y]}
        return {"status": self.status, "counterexample": cex,
                "regions_checked": self.regions_checked, "seconds": self.seconds,
                "method": self.method, "reason": self.reason, "lps": self.lps,
                "search": self.stats}


def format_counterexample(x: np.ndarray, y: np.ndarray) -> str:
    """VNN-COMP's counterexample form ``((X_0 v)\\n (X_1 v)\\n ... (Y_0 v))``.

    Values are printed with ``repr`` (shortest string that reads back as the same double), so
    the printed point replays exactly.
    """
    items = [f"(X_{i} {float(v)!r})" for i, v in enumerate(x)]
    items += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(y)]
    return "(" + "\n ".join(items) + ")"
