"""Exact (rational, solver-free) kernels of the proof-tree checker: part of the trusted base.

:mod:`verishallow.exact.leaf_bounds` recomputes the leaf bound of ``docs/proof-search.md`` in
exact dyadic arithmetic. Imports: the standard library, numpy and the network class only.
"""

from .leaf_bounds import LEVELS, ExactNetwork, LayerBounds, LeafBound, layer_bounds, leaf_bound

__all__ = ["LEVELS", "ExactNetwork", "LayerBounds", "LeafBound", "layer_bounds", "leaf_bound"]
