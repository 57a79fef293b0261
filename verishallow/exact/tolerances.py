"""The exact kernel's only float tolerance: which rows a float vertex is *tried* with (the
exact test then decides), in one place.
"""

from __future__ import annotations

#: Relative slack (float64) under which an LP row counts as tight at a float vertex, when
#: choosing the candidate basis that :func:`verify_vertex` then checks exactly.
TIGHT_ROW_TOL = 1e-7
