"""Tolerances of the region engines, in one place with what each guards.

Every engine (graph, subdivision, skeleton, milp) decides "region or not", "facet or not" and
"same hyperplane or not" with these, so that they return identical partitions; a region store
and a partition certificate record the geometry ones (a resume under other settings is refused).
Names are unique across the package tree (tests/test_layout.py); docs/tolerances.md lists them all.
"""

from __future__ import annotations

# ----- geometry (the pattern oracle, every engine) ----------------------------------------

#: A pattern is a region iff its largest inscribed ball has a radius above this (input units).
REGION_RADIUS_TOL = 1e-9

#: Facets of a sliver (a region with a radius at most REGION_RADIUS_TOL, only asked for by
#: the certifier) need an in-plane ball wider than this fraction of the sliver's radius.
THIN_FACET_FRACTION = 1e-2

#: A supporting hyperplane is a facet iff the largest (d-1)-ball inside the region's
#: intersection with it has a radius above this.
FACET_RADIUS_TOL = 1e-9

#: Facet normals of a 2-D region, sorted by angle, that are at least ``pi`` minus this apart
#: span no vertex (the region is unbounded between them). It only proposes vertices to the
#: certifier; their Farkas evidence is verified exactly.
ANGLE_GAP_TOL = 1e-12

#: Rows whose norm is below this (relative to the largest row norm of the layer's weights times
#: input scale) are treated as zero: the neuron is constant on the region.
ZERO_ROW_TOL = 1e-13

#: Two unit normals (with offsets) closer than this are the same hyperplane (duplicated neurons).
DUPLICATE_TOL = 1e-12

#: Slack of the bounding-box screen: rows whose hyperplane misses the region's bounding box by
#: more than this cannot be facets and get no facet LP.
SCREEN_TOL = 1e-9

#: Dual points within this (relative to the largest dual coordinate) of the hull boundary stay
#: facet candidates, so that qhull's rounding can never drop a true facet.
DUAL_SCREEN_TOL = 1e-7

#: In-plane norms (of unit normals) below this make two hyperplanes parallel.
PARALLEL_TOL = 1e-12

#: Patterns rejected with a Chebyshev radius in (0, NEAR_TOL_BAND] are recorded so that z3 can
#: re-decide them exactly (the LP's verdict is least trustworthy there).
NEAR_TOL_BAND = 1e-6

# ----- cheap vertex geometry (subdivision and skeleton engines) ---------------------------

#: A stored pre-activation ``z`` counts as 0 when ``|z| <= SIGN_RTOL * scale`` with
#: ``scale = |W| |a| + |b|`` (a bound on what rounding can do to ``z``); a few hundred ulps.
SIGN_RTOL = 1e-13

#: Cheap geometry decides a cell (region or not; piece is a facet or not) only when its
#: inradius / facet radius is more than this factor away from REGION_RADIUS_TOL /
#: FACET_RADIUS_TOL; in between, the oracle's LPs decide exactly as in the graph engine.
GEOMETRY_SAFETY = 4.0

#: Slack of the recession test ``h . g <= RAY_TOL`` (unit rows, unit generators).
RAY_TOL = 1e-10

#: Unit directions whose cross product is below this are parallel in the recession test.
RAY_PARALLEL_TOL = 1e-12
