"""Every tolerance of the equivalence decisions, in one place, with what it guards.

Why one module: these are the only non-exact links of an equivalence answer (float upper
bounds, float screening of cells, onnxruntime's float32 replays, the float64 rounding budget of
a stored shallow model); naming them once makes the trust statement of
:mod:`verishallow.equiv` readable in one screen. Names are unique across the package tree.
"""

from __future__ import annotations

#: Upper bounds (SCIP's dual bounds, float cell maxima of the overlay) are trusted up to
#: ``UPPER_TOL * (1 + |value|)``: "equivalent" needs every direction's bound
#: ``<= max(exact lower bound, epsilon) + that``.
UPPER_TOL = 1e-9
#: ``max_difference`` is reported as the exact maximum ("proved maximal") when every upper
#: bound is within ``PROVED_GAP_TOL * (1 + |value|)`` of the exact lower bound; SCIP closes its
#: gap only to about 1e-9 (its ``numerics/epsilon``), so this is a little looser than that.
PROVED_GAP_TOL = 1e-8
#: onnxruntime replay: its outputs must match the float64 forward pass at the same point within
#: ``ORT_REL_TOL * (1 + max|y|)`` (float32 models compute in float32).
ORT_REL_TOL = 1e-4
#: Overlay cells: polygon vertices are kept when they violate no facet by more than
#: ``OVERLAY_VERTEX_TOL * scale``.
OVERLAY_VERTEX_TOL = 1e-9
#: Overlay cells whose float maximum is within ``OVERLAY_SCREEN_TOL * (1 + |best|)`` of the best
#: float value get the exact LP (several cells share the maximising vertex).
OVERLAY_SCREEN_TOL = 1e-9
#: A sound interval upper bound on a direction is widened by this (absolute + relative).
INTERVAL_PAD = 1e-9
#: Safety factor on the textbook float64 error bound of a pattern-fixed map (see
#: :func:`verishallow.equiv.shallow.rounding_budget`): a stored model within the bound is a
#: float rounding of the exact map, anything farther is a different model.
ROUNDING_SAFETY = 4.0
