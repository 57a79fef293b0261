"""verishallow: prove a deep ReLU network equals a shallow one, and show the work.

The public API is re-exported here lazily, so ``import verishallow`` stays cheap and heavy
solvers (Pyomo, SCIP, z3) load only when a feature needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ReLUNetwork": "verishallow.network",
    "Box": "verishallow.domain",
    "Polytope": "verishallow.domain",
    "Whole": "verishallow.domain",
    "Domain": "verishallow.domain",
    "domain_from_vnnlib": "verishallow.vnnlib",
    "verify_property": "verishallow.verify",
    "load": "verishallow.io",
    "load_with_domain": "verishallow.io",
    "from_torch": "verishallow.io",
    "interval_bounds": "verishallow.bounds",
    "symbolic_bounds": "verishallow.bounds",
    "preactivation_bounds": "verishallow.bounds",
    "enumerate_regions": "verishallow.regions",
    "shapley_values": "verishallow.explain",
    "ShallowNetwork": "verishallow.shallow",
    "to_shallow": "verishallow.shallow",
    "load_shallow": "verishallow.shallow",
    "check_equivalence": "verishallow.equiv",
    "InputError": "verishallow.errors",
    "VerishallowError": "verishallow.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'verishallow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
