"""Activation regions: the partition of the input domain and its adjacency graph."""

from .region import Facet, Partition, Region
from .search import METHODS, enumerate_regions

__all__ = ["Facet", "Partition", "Region", "METHODS", "enumerate_regions"]
