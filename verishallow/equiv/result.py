"""What an equivalence decision returns: the public result and the per-method run behind it.

Why a module of its own: every stage (the MILP, the overlay, the shallow check, the proof
search adapter) builds the same :class:`EquivalenceResult`, and the CLI prints only that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass
class EquivalenceResult:
    """Answer of :func:`~verishallow.equiv.check_equivalence` (and of the other decisions).

    ``equivalent``: True / False / None (unknown). ``max_difference``: the exact maximum as a
    float when proved (``exact`` holds it as a rational string), else ``(lower, upper)``
    bounds (``lower`` is always attained, ``upper`` may be ``inf``). ``counterexample``: an
    input vector (float64) that replays, when ``equivalent`` is False. ``details``: method,
    per-direction solver log, replays, timings.
    """

    equivalent: bool | None
    max_difference: float | tuple[float, float]
    counterexample: np.ndarray | None
    seconds: float
    details: dict = field(default_factory=dict)
    exact: str | None = None
    lower: float = -math.inf
    upper: float = math.inf

    def to_dict(self) -> dict:
        """JSON-ready summary (the CLI's ``--json`` document)."""
        md: Any = self.max_difference
        if isinstance(md, tuple):
            md = list(md)
        return {
            "equivalent": self.equivalent,
            "max_difference": md,
            "max_difference_exact": self.exact,
            "bounds": [self.lower, self.upper],
            "counterexample": None if self.counterexample is None
            else [float(v) for v in self.counterexample],
            "seconds": self.seconds,
            **self.details,
        }


@dataclass
class DirectionRuns:
    """What one method (MILP or overlay) found over all directions.

    ``log``: one JSON-ready record per direction, each with its ``"upper"`` bound (float);
    ``found``: the exact ``(value, vertex)`` pairs it attained, in the order found;
    ``all_solved``: every direction's upper bound is final (no time limit cut one short).
    """

    log: list[dict]
    found: list[tuple[Fraction, list[Fraction]]]
    all_solved: bool = True
