"""The compared quantity and its directions: what "the networks differ by M" means.

Default mode: ``M = max_x |f_A(x) - f_B(x)|_inf``, the maximum over *directions*
``sign * (f_A - f_B)_j``. Top-1 mode (``top1=True``): tie rule -- a network whose largest output
is shared by several outputs accepts any of them, so tie points (a measure-zero set) are never
counterexamples by themselves. The *disagreement* at ``x`` is ``max`` over the two roles
``(P, Q) in {(A, B), (B, A)}`` of ``min(P_i - max_{j != i} P_j, max_{k != i} Q_k - Q_i)`` with
``i = argmax P``: positive iff ``P``'s top output is unique and ``Q`` ranks another output
strictly above it. Its directions are the pairs ``(P, i)``.

Why a module: the float value (sampling, onnxruntime), the exact value (replays) and the
per-direction value (ordering the MILPs) must agree on this one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Direction:
    """``kind="diff"``: maximise ``sign * (f_A - f_B)_j``.
    ``kind="top1"``: ``P`` (``sign > 0``: A, else B) has top output ``j`` by margin ``t`` and
    the other network ranks some ``k`` above ``j`` by ``t``; maximise ``t``."""

    kind: str
    j: int
    sign: int = 1

    def label(self) -> str:
        """Human-readable name (the per-direction log's ``direction``)."""
        if self.kind == "diff":
            return f"{'+' if self.sign > 0 else '-'}(A-B)_{self.j}"
        p, q = ("A", "B") if self.sign > 0 else ("B", "A")
        return f"{p} top {self.j}, {q} not"


def directions(outputs: int, top1: bool) -> list[Direction]:
    """Every direction of the quantity for networks with ``outputs`` outputs."""
    if top1:
        return [Direction("top1", i, s) for s in (1, -1) for i in range(outputs)]
    return [Direction("diff", j, s) for j in range(outputs) for s in (1, -1)]


def quantity_kind(top1: bool) -> str:
    """``"top1"`` or ``"diff"``: the ``kind`` argument of :func:`value` and :func:`exact_value`."""
    return "top1" if top1 else "diff"


def value(kind: str, ya: np.ndarray, yb: np.ndarray) -> np.ndarray:
    """The quantity at points (batch): ``|ya - yb|_inf`` or the top-1 disagreement."""
    if kind == "diff":
        return np.max(np.abs(ya - yb), axis=-1)
    return np.maximum(_disagreement(ya, yb), _disagreement(yb, ya))


def _disagreement(yp: np.ndarray, yq: np.ndarray) -> np.ndarray:
    yp, yq = np.atleast_2d(yp), np.atleast_2d(yq)
    if yp.shape[1] < 2:
        return np.full(yp.shape[0], -np.inf)
    i = np.argmax(yp, axis=1)
    rows = np.arange(yp.shape[0])
    top = yp[rows, i]
    others = yp.copy()
    others[rows, i] = -np.inf
    margin = top - others.max(axis=1)
    q_other = yq.copy()
    q_other[rows, i] = -np.inf
    beat = q_other.max(axis=1) - yq[rows, i]
    return np.minimum(margin, beat)


def exact_value(kind: str, ya: list[Fraction], yb: list[Fraction]) -> Fraction:
    """The quantity at one point from exact outputs."""
    if kind == "diff":
        return max(abs(a - b) for a, b in zip(ya, yb, strict=True))
    if len(ya) < 2:
        return Fraction(-1)  # unreachable in practice: top1 with one output is trivial
    out = None
    for yp, yq in ((ya, yb), (yb, ya)):
        i = max(range(len(yp)), key=lambda t: yp[t])
        margin = yp[i] - max(yp[t] for t in range(len(yp)) if t != i)
        beat = max(yq[t] for t in range(len(yq)) if t != i) - yq[i]
        v = min(margin, beat)
        out = v if out is None else max(out, v)
    return out


def sampled_direction_value(dr: Direction, ya: np.ndarray, yb: np.ndarray) -> float:
    """The direction's largest value over a batch of outputs (orders the MILPs)."""
    if dr.kind == "diff":
        return float(np.max(dr.sign * (ya[:, dr.j] - yb[:, dr.j])))
    yp, yq = (ya, yb) if dr.sign > 0 else (yb, ya)
    i = dr.j
    others = np.delete(yp, i, axis=1)
    margin = yp[:, i] - others.max(axis=1)
    beat = np.delete(yq, i, axis=1).max(axis=1) - yq[:, i]
    return float(np.max(np.minimum(margin, beat)))
