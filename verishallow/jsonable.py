"""Plain JSON values from what our reports hold (numpy scalars and arrays, tuples, infinities).

One converter for every JSON the package writes (CLI reports, certificates): JSON has no
infinity or NaN, so non-finite floats become the strings "inf", "-inf", "nan".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    """``obj`` with dict keys as strings, tuples/arrays as lists, numpy scalars as Python
    numbers and non-finite floats as strings."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj
