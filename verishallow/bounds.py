"""Pre-activation bounds over a domain.

They decide which neurons are stable (never change sign on the domain, so they are not region
boundaries) and give the big-M constants of the MILP. Interval arithmetic is the cheap, loose
baseline; the symbolic linear relaxation (CROWN/DeepPoly style back-substitution) is tighter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domain import Domain
from .network import ReLUNetwork


@dataclass(frozen=True)
class Bounds:
    """Lower/upper pre-activation bounds for each hidden layer, valid on the whole domain."""

    lower: tuple[np.ndarray, ...]
    upper: tuple[np.ndarray, ...]
    method: str

    @property
    def flat_lower(self) -> np.ndarray:
        return np.concatenate(self.lower) if self.lower else np.zeros(0)

    @property
    def flat_upper(self) -> np.ndarray:
        return np.concatenate(self.upper) if self.upper else np.zeros(0)

    @property
    def stable_active(self) -> np.ndarray:
        """Neurons with ``z > 0`` everywhere on the domain."""
        return self.flat_lower > 0

    @property
    def stable_inactive(self) -> np.ndarray:
        """Neurons with ``z <= 0`` everywhere on the domain (ReLU(0) = 0 counts as inactive)."""
        return self.flat_upper <= 0

    @property
    def unstable(self) -> np.ndarray:
        return ~(self.stable_active | self.stable_inactive)


def _interval_affine(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Exact range of ``W x + b`` over a box, with ``0 * inf = 0``."""
    Wp = np.maximum(W, 0.0)
    Wn = np.minimum(W, 0.0)
    with np.errstate(invalid="ignore"):
        up = np.where(Wp != 0, Wp * hi, 0.0).sum(axis=1) + np.where(Wn != 0, Wn * lo, 0.0).sum(1)
        dn = np.where(Wp != 0, Wp * lo, 0.0).sum(axis=1) + np.where(Wn != 0, Wn * hi, 0.0).sum(1)
    return dn + b, up + b


def interval_bounds(net: ReLUNetwork, domain: Domain) -> Bounds:
    """Interval bound propagation from the domain's bounding box."""
    lo, hi = domain.bounding_box()
    lows, ups = [], []
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        zl, zu = _interval_affine(W, b, lo, hi)
        lows.append(zl)
        ups.append(zu)
        lo, hi = np.maximum(zl, 0.0), np.maximum(zu, 0.0)
    return Bounds(tuple(lows), tuple(ups), "interval")
