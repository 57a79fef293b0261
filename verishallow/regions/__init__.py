"""Activation regions: geometry oracle, search engines, partitions, and the on-disk store."""

from .region import Facet, Partition, Region
from .search import METHODS, enumerate_regions, stream_regions
from .store import RegionStore

__all__ = ["Facet", "Partition", "Region", "RegionStore", "METHODS", "enumerate_regions",
           "stream_regions"]
