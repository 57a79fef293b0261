"""The LP kernel: every linear program the package solves goes through here (HiGHS via highspy).

Keeping solver glue in one module means the region engine speaks only in ``A x <= b`` arrays,
and a different LP backend is a change to this file alone.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from .tolerances import LP_FEASIBILITY_TOL

INF = highspy.kHighsInf

#: Radius cap of the Chebyshev LP: keeps unbounded regions' LPs bounded. Regions on ``Whole(d)``
#: report a radius of at most this.
RADIUS_CAP = 1e3


@dataclass(frozen=True)
class LPSolution:
    status: str  # "optimal" | "infeasible" | "unbounded" | "error"
    x: np.ndarray | None
    objective: float | None

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def _quiet_banner() -> None:
    """HiGHS prints its banner on C-level stdout when the first ``Highs`` of a process is made,
    whatever the options; that would corrupt ``--json`` output on stdout. Make the first one
    with file descriptor 1 pointed at /dev/null (later instances print nothing)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no usable fd 1: nothing to protect
        highspy.Highs()
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            try:
                highspy.Highs()
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)


_quiet_banner()


def _new_highs() -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("primal_feasibility_tolerance", LP_FEASIBILITY_TOL)
    h.setOptionValue("dual_feasibility_tolerance", LP_FEASIBILITY_TOL)
    # our LPs are small and dense: presolve costs more than it saves (measured 2.0 -> 1.3 ms
    # for a 90-row Chebyshev LP)
    h.setOptionValue("presolve", "off")
    return h


_SOLVER: highspy.Highs | None = None


def _solver() -> highspy.Highs:
    global _SOLVER
    if _SOLVER is None:
        _SOLVER = _new_highs()
    return _SOLVER


_INDEX_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _row_index(m: int, n: int) -> np.ndarray:
    """Row indices of a dense column-wise matrix (cached: the same shapes recur constantly)."""
    idx = _INDEX_CACHE.get((m, n))
    if idx is None:
        idx = np.tile(np.arange(m, dtype=np.int32), n)
        if len(_INDEX_CACHE) < 4096:
            _INDEX_CACHE[(m, n)] = idx
    return idx


#: the object whose model the shared solver holds (a warm start is only valid for it)
_OWNER: object | None = None


def _pass_model(cost, A, row_lower, row_upper, col_lower, col_upper, maximize: bool) -> None:
    A = np.asarray(A, dtype=np.float64)
    m, n = A.shape
    h = _solver()
    h.clearModel()
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_upper, dtype=np.float64)
    if maximize:
        lp.sense_ = highspy.ObjSense.kMaximize
    if m:
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.arange(0, m * n + 1, m, dtype=np.int32)
        lp.a_matrix_.index_ = _row_index(m, n)
        lp.a_matrix_.value_ = A.T.reshape(-1)
    h.passModel(lp)


def _run() -> LPSolution:
    h = _solver()
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        sol = h.getSolution()
        return LPSolution("optimal", np.array(sol.col_value), h.getInfo().objective_function_value)
    if status == highspy.HighsModelStatus.kInfeasible:
        return LPSolution("infeasible", None, None)
    if status in (highspy.HighsModelStatus.kUnbounded,
                  highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return LPSolution("unbounded", None, None)
    return LPSolution("error", None, None)


def solve_lp(
    cost: np.ndarray,
    A: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    maximize: bool = False,
) -> LPSolution:
    """Solve ``min/max cost.x  s.t.  row_lower <= A x <= row_upper, col bounds`` (dense A)."""
    global _OWNER
    _OWNER = None
    _pass_model(cost, A, row_lower, row_upper, col_lower, col_upper, maximize)
    return _run()


class RowBoundsFamily:
    """LPs that share cost, matrix and column bounds and differ only in their row bounds.

    HiGHS keeps the last basis between them (a warm start: after a change of row bounds the
    dual simplex resumes from it), which is several times cheaper than a fresh model each time:
    the certifier asks 2 d such LPs of every region for its coordinate bounds.
    """

    def __init__(self, cost: np.ndarray, A: np.ndarray, col_lower: np.ndarray,
                 col_upper: np.ndarray):
        self.cost, self.A = cost, np.asarray(A, dtype=np.float64)
        self.col_lower, self.col_upper = col_lower, col_upper
        self._rows = np.arange(self.A.shape[0], dtype=np.int32)

    def solve(self, row_lower: np.ndarray, row_upper: np.ndarray) -> LPSolution:
        global _OWNER
        if _OWNER is not self:
            _pass_model(self.cost, self.A, row_lower, row_upper, self.col_lower,
                        self.col_upper, False)
            _OWNER = self
        else:
            _solver().changeRowsBounds(len(self._rows), self._rows,
                                       np.asarray(row_lower, dtype=np.float64),
                                       np.asarray(row_upper, dtype=np.float64))
        return _run()


def chebyshev_center(
    A: np.ndarray,
    b: np.ndarray,
    A_eq: np.ndarray | None = None,
    b_eq: np.ndarray | None = None,
    radius_cap: float = RADIUS_CAP,
) -> tuple[np.ndarray, float] | None:
    """Largest ball inside ``{A x <= b}`` (optionally within the plane ``A_eq x = b_eq``).

    Returns ``(center, radius)`` with the radius capped at ``radius_cap``, or ``None`` when the
    set is empty. Zero rows of ``A`` constrain nothing here: callers decide them separately.
    With ``A_eq`` the ball lives in the plane, so this measures a facet's relative interior.
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = A.shape[1]
    norms = np.linalg.norm(A, axis=1)
    rows = [np.hstack([A, norms[:, None]])]
    lo = [np.full(A.shape[0], -INF)]
    hi = [b]
    if A_eq is not None and len(A_eq):
        A_eq = np.atleast_2d(np.asarray(A_eq, dtype=np.float64))
        rows.append(np.hstack([A_eq, np.zeros((A_eq.shape[0], 1))]))
        lo.append(np.asarray(b_eq, dtype=np.float64))
        hi.append(np.asarray(b_eq, dtype=np.float64))
    cost = np.zeros(d + 1)
    cost[-1] = 1.0
    col_hi = np.full(d + 1, INF)
    col_hi[d] = radius_cap
    sol = solve_lp(cost, np.vstack(rows), np.concatenate(lo), np.concatenate(hi),
                   np.full(d + 1, -INF), col_hi, maximize=True)
    if not sol.ok:
        return None
    return sol.x[:d], float(sol.x[d])


def maximize_linear(
    c: np.ndarray, A: np.ndarray, b: np.ndarray
) -> LPSolution:
    """``max c.x  s.t.  A x <= b`` over free variables."""
    A = np.asarray(A, dtype=np.float64)
    d = A.shape[1]
    return solve_lp(c, A, np.full(A.shape[0], -INF), b, np.full(d, -INF), np.full(d, INF),
                    maximize=True)
