"""One SCIP MILP over two networks that maximises one *direction* of their difference.

Why here: this is the SCIP half of the equivalence MILP method (:mod:`verishallow.equiv.milp`);
keeping the model building in :mod:`verishallow.solvers` keeps every solver import in one
package. The equivalence side gets plain numbers back (status, dual bound, SCIP's point and
the binaries' patterns) and does the exact re-optimisation itself.

Model: both networks over one shared input vector (:func:`~verishallow.solvers.milp.
encode_network` with prefixes ``A_``/``B_``) with interior margin **0** -- the exact MILP
model of ``ReLU`` (a neuron with ``z = 0`` may take either binary, both give the same value),
so no thin region is invisible -- and DEFAULT emphasis, a fresh model per direction.

Directions (``kind``, ``j``, ``sign``): ``"diff"`` maximises ``sign * (f_A - f_B)_j``;
``"top1"`` maximises the margin ``t`` by which network ``P`` (``A`` if ``sign > 0``, else
``B``) ranks output ``j`` first while the other network ranks some ``k != j`` above ``j`` (one
binary per ``k`` chooses it through indicator constraints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyscipopt
from pyscipopt import SCIP_PARAMEMPHASIS, quicksum

from ..bounds import Bounds
from ..domain import Domain
from ..errors import InputError
from ..network import ReLUNetwork
from .milp import NetworkEncoding, add_input_vars, configure_scip, encode_network
from .native_output import native_output_to_stderr


@dataclass
class DirectionMilp:
    """What SCIP said about one direction.

    ``status``: SCIP's status string; ``upper``: its dual bound (the objective limit when SCIP
    proved that nothing beats it; ``inf`` when it has none); ``solved``: optimal or infeasible
    under the limit. With a solution: ``x`` (clipped to the domain's box), both networks'
    activation patterns read off the binaries, ``beater`` (top-1: the output ``k`` the other
    network ranks above ``j``) and ``primal`` (SCIP's objective value).
    """

    status: str
    upper: float
    solved: bool
    x: np.ndarray | None = None
    pattern_a: np.ndarray | None = None
    pattern_b: np.ndarray | None = None
    beater: int | None = None
    primal: float | None = None


def _build(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, bounds: tuple[Bounds, Bounds],
           kind: str, j: int, sign: int
           ) -> tuple[pyscipopt.Model, list, NetworkEncoding, NetworkEncoding, dict[int, Any]]:
    """The model; the last item maps each candidate beater ``k`` to its binary (top-1 with more
    than two outputs; empty otherwise)."""
    model = pyscipopt.Model("verishallow-equiv")
    configure_scip(model, SCIP_PARAMEMPHASIS.DEFAULT)
    xs = add_input_vars(model, domain)
    enc_a = encode_network(model, net_a, xs, bounds[0], margin=0.0, prefix="A_")
    enc_b = encode_network(model, net_b, xs, bounds[1], margin=0.0, prefix="B_")
    if kind == "diff":
        model.setObjective(sign * (enc_a.y[j] - enc_b.y[j]), sense="maximize")
        return model, xs, enc_a, enc_b, {}
    yp, yq = (enc_a.y, enc_b.y) if sign > 0 else (enc_b.y, enc_a.y)
    i, m = j, len(yp)
    t = model.addVar(name="t", vtype="C", lb=None, ub=None)
    for o in range(m):
        if o != i:
            model.addCons(t <= yp[i] - yp[o], name=f"top_{o}")
    ks = [k for k in range(m) if k != i]
    cs: dict[int, Any] = {}
    if len(ks) == 1:
        model.addCons(t <= yq[ks[0]] - yq[i], name="beat")
    else:
        cs = {k: model.addVar(name=f"c{k}", vtype="B") for k in ks}
        model.addCons(quicksum(cs.values()) == 1, name="one_beater")
        for k, ck in cs.items():
            model.addConsIndicator(t - yq[k] + yq[i] <= 0, ck, activeone=True, name=f"beat{k}")
    model.setObjective(t, sense="maximize")
    return model, xs, enc_a, enc_b, cs


def maximise_direction(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                       bounds: tuple[Bounds, Bounds], kind: str, j: int, sign: int,
                       objlimit: float | None = None, time_left: float | None = None
                       ) -> DirectionMilp:
    """Solve one direction's MILP (``objlimit``: SCIP's objective limit, so a direction that
    cannot beat it ends as "infeasible" quickly; ``time_left``: seconds)."""
    model, xs, enc_a, enc_b, cs = _build(net_a, net_b, domain, bounds, kind, j, sign)
    if time_left is not None:
        model.setParam("limits/time", max(time_left, 1e-3))
    if objlimit is not None:
        model.setObjlimit(objlimit)
    with native_output_to_stderr():  # SCIP's native chatter never reaches stdout
        model.optimize()
    status = str(model.getStatus())
    if status == "infeasible" and objlimit is not None:
        upper = float(objlimit)
    elif status == "infeasible":
        raise InputError("the domain is empty (SCIP found no point)")
    else:
        ub = model.getDualbound()
        upper = float(ub) if abs(ub) < model.infinity() else math.inf
    out = DirectionMilp(status, upper, status in ("optimal", "infeasible"))
    if model.getNSols() > 0:
        sol = model.getBestSol()
        x = np.array([model.getSolVal(sol, v) for v in xs])
        out.x = np.clip(x, domain.lower, domain.upper)
        out.pattern_a, out.pattern_b = enc_a.pattern(model, sol), enc_b.pattern(model, sol)
        if kind == "top1":
            out.beater = max(cs, key=lambda kk: model.getSolVal(sol, cs[kk])) if cs else 1 - j
        out.primal = float(model.getObjVal())
    return out
