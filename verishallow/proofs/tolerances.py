"""Tolerances of the proof finders, in one place: floats propose evidence, the checkers decide
exactly.
"""

from __future__ import annotations

#: Multipliers below this (relative to the largest) are outside the float LP's support.
SUPPORT_TOL = 1e-9

