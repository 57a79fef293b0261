"""Tolerances of the shallow network (its boundary rule and float fast path), in one place.
"""

from __future__ import annotations

#: ``|h_k(x)| <= BOUNDARY_TOL * (|H_k|_1 |x|_inf + |c_k|)`` counts as ``h_k(x) = 0``.
#: A few thousand ulps: absorbs rounding in ``H x + c``, far below any geometric tolerance.
BOUNDARY_TOL = 1e-12

#: The fast path accepts the pattern's region only if ``sigma h_k(x) < -FAST_MARGIN * scale``
#: on every facet (1000x the boundary tolerance); any other point goes the faithful way.
FAST_MARGIN = 1e-9

#: An in-domain point that no selector selects is given the nearest region only if its
#: violation (sum of distances to violated facets) is at most ``GAP_TOL * max(1, |x|_inf)``.
GAP_TOL = 1e-9

#: Points outside the domain by at most ``DOMAIN_TOL * max(1, |bound|)`` count as inside
#: (rounding in corner or face points); polytope rows use the scale ``|A_i|.|x| + |b_i|``.
DOMAIN_TOL = 1e-9
