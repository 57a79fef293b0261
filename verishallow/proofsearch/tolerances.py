"""Tolerances of the proof search, in one place: float screening only, every closed leaf is
re-derived exactly.
"""

from __future__ import annotations

#: A float lower bound refutes a row only when it exceeds this fraction of the magnitude of
#: the terms it was computed from (``scale``). Open disjuncts (equivalence) need an exact
#: bound ``>= 0``; they are held to the same margin unless every term is exactly 0.
CLOSE_TOL = 1e-9

#: A lookahead split must improve the children's summed bound by more than this (relative to
#: the parent's): smaller gains are rounding noise, and the widest coordinate is split instead.
SPLIT_GAIN_TOL = 1e-6
