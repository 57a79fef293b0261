"""Tolerances of ``verify`` (the only non-exact links of its float stages), named once.

Names are unique across the package tree (tests/test_layout.py); docs/tolerances.md lists them all.
"""

from __future__ import annotations

#: Relative margin below which a region LP's optimum is too close to the unsafe set to call
#: (relative to the output scale ``1 + max|C| |y| + max|d|`` at the LP point): such a region
#: makes a would-be ``unsat`` ``unknown``.
TOUCH_TOL = 1e-9

#: Extra rounding margin of the bound shortcut, in ulps of the magnitudes involved per term.
BOUND_MARGIN_ULPS = 8.0
