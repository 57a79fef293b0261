"""Geometry statistics behind the studies in ``scripts/`` and ``docs/studies.md``.

``common`` makes the random networks, ``facets`` counts facets and measures regions exactly,
``breakpoints`` computes the exact 1-D partition quickly, ``depth`` the per-depth statistics.
"""
