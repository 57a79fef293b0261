"""Tolerances of the geometry studies, in one place with what each guards.
"""

from __future__ import annotations

#: A candidate vertex satisfies every facet inequality up to this (relative to the offsets).
POLYGON_VERTEX_TOL = 1e-9

#: A split that leaves a piece smaller than this fraction of its cell's area is no split: the
#: line only grazes the cell (a rounding artefact, or a corner touched exactly).
SLIVER_RTOL = 1e-12
