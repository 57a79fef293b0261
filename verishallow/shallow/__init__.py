"""The shallow network: build, evaluate, save/load and export the three-layer equivalent.

See :mod:`verishallow.shallow.model` for the structure, the extended-real conventions and the
boundary rule, and :mod:`verishallow.shallow.serialise` for the file formats.
"""

from .build import ShallowBuilder, canonical_row, shallow_from_partition, to_shallow
from .model import (
    BOUNDARY_TOL,
    DOMAIN_TOL,
    FAST_MARGIN,
    GAP_TOL,
    Selection,
    ShallowNetwork,
    ext_mul,
)
from .onnx_export import save_onnx, to_onnx
from .serialise import load_shallow, save_shallow, to_json, to_npz_bytes

__all__ = [
    "BOUNDARY_TOL", "DOMAIN_TOL", "FAST_MARGIN", "GAP_TOL", "Selection", "ShallowBuilder",
    "ShallowNetwork", "canonical_row", "ext_mul", "load_shallow", "save_onnx",
    "save_shallow", "shallow_from_partition", "to_json", "to_npz_bytes", "to_onnx",
    "to_shallow",
]
