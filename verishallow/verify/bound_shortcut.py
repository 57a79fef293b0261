"""Stage 3: symbolic bounds that refute a disjunct on a whole input case at once."""

from __future__ import annotations

import numpy as np

from ..domain import Domain
from ..network import ReLUNetwork
from ..vnnlib import LinearConstraints
from .tolerances import BOUND_MARGIN_ULPS

_EPS = float(np.finfo(np.float64).eps)


def disjunct_refuted(net: ReLUNetwork, domain: Domain, cons: LinearConstraints) -> bool:
    """Do symbolic bounds prove ``C f(x) <= d`` impossible on ``domain`` (some row > d)?

    The rows are folded into the last layer and bounded as one more hidden layer; a row counts
    only if its lower bound beats a rounding margin for the fold (``C W`` and ``C b - d`` are
    computed in float64).
    """
    from ..bounds import symbolic_bounds

    if len(cons) == 0:
        return False
    W, b = net.weights[-1], net.biases[-1]
    k = len(cons)
    Wc = cons.C @ W
    bc = cons.C @ b - cons.d
    aug = ReLUNetwork((*net.weights[:-1], Wc, np.eye(k)), (*net.biases[:-1], bc, np.zeros(k)))
    bnds = symbolic_bounds(aug, domain)
    low = bnds.lower[-1]
    if len(bnds.upper) > 1:
        a_max = np.maximum(bnds.upper[-2], 0.0)
    else:
        lo, hi = domain.bounding_box()
        a_max = np.maximum(np.abs(lo), np.abs(hi))
    if not np.all(np.isfinite(a_max)):
        return False  # the rounding margin cannot be sized on an unbounded range
    absC = np.abs(cons.C)
    mag = absC @ (np.abs(W) @ a_max + np.abs(b)) + np.abs(cons.d)
    margin = BOUND_MARGIN_ULPS * _EPS * (W.shape[1] + W.shape[0] + 2) * mag
    ok = np.isfinite(low) & (low > margin)
    return bool(np.any(ok))
