"""Exact partition of a 1-input network: breakpoints on an interval or on all of R, fast.

Layer by layer we keep the interval cut into pieces on each of which every neuron so far has a
fixed activation, so each layer's input is affine in ``x`` on each piece. A neuron of the next
layer is then affine on each piece, ``z = s x + t``; its root ``-t/s``, when it falls strictly
inside a piece, is a new breakpoint. Splitting at all roots and reading each new piece's
activations at an interior point (the midpoint, or a point beyond the last breakpoint on an
unbounded end) gives the next layer's pieces. Adjacent pieces with identical patterns merge.
Cost is ``O(pieces x width)`` numpy work per layer; no LPs. Exact up to float arithmetic (a
root is the rounded ``-t/s``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..network import ReLUNetwork


@dataclass(frozen=True)
class Breakpoints:
    """The activation regions of a 1-input network on ``[lo, hi]`` (ends may be infinite).

    Piece ``k`` is ``(edges[k], edges[k+1])``; on it the pattern is ``patterns[k]`` and the
    output is ``slopes[k] * x + intercepts[k]``.
    """

    edges: np.ndarray  # (K+1,)
    patterns: np.ndarray  # (K, N) bool
    slopes: np.ndarray  # (K, m)
    intercepts: np.ndarray  # (K, m)

    @property
    def points(self) -> np.ndarray:
        """Interior breakpoints: where the activation pattern changes."""
        return self.edges[1:-1]

    @property
    def n_regions(self) -> int:
        """Number of activation regions (pieces)."""
        return len(self.edges) - 1

    def linear_breakpoints(self, rtol: float = 0.0) -> np.ndarray:
        """Breakpoints where the output's affine map actually changes (kinks or jumps in
        slope); crossing a neuron that feeds nothing alive changes the pattern, not ``f``."""
        ds = np.abs(np.diff(self.slopes, axis=0))
        di = np.abs(np.diff(self.intercepts, axis=0))
        sc = rtol * np.maximum(1.0, np.abs(self.slopes[1:]) + np.abs(self.intercepts[1:]))
        change = np.any((ds > sc) | (di > sc), axis=1)
        return self.points[change]

    @property
    def n_linear_regions(self) -> int:
        """Maximal intervals on which ``f`` is affine."""
        return len(self.linear_breakpoints()) + 1

    def locate(self, x: np.ndarray) -> np.ndarray:
        """Piece index of each point (a breakpoint counts with the piece to its right)."""
        return np.clip(np.searchsorted(self.edges, np.asarray(x), side="right") - 1, 0,
                       self.n_regions - 1)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The network's output from the pieces' affine models, shape (n, m)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        k = self.locate(x)
        return self.slopes[k] * x[:, None] + self.intercepts[k]


def _inner_points(edges: np.ndarray) -> np.ndarray:
    """A point strictly inside each piece (midpoint; beyond the end on an infinite side)."""
    lo, hi = edges[:-1], edges[1:]
    left_inf = ~np.isfinite(lo)
    right_inf = ~np.isfinite(hi)
    with np.errstate(invalid="ignore"):
        mid = 0.5 * lo + 0.5 * hi  # halves first: no overflow for huge finite ends
        mid = np.where(left_inf & ~right_inf, hi - 1.0 - np.abs(hi), mid)
        mid = np.where(right_inf & ~left_inf, lo + 1.0 + np.abs(lo), mid)
    return np.where(left_inf & right_inf, 0.0, mid)


def _merge(edges: np.ndarray, pats: np.ndarray, S: np.ndarray, C: np.ndarray):
    """Drop breakpoints between pieces with equal patterns (their affine maps are equal)."""
    if len(pats) <= 1:
        return edges, pats, S, C
    same = np.all(pats[1:] == pats[:-1], axis=1)
    if not same.any():
        return edges, pats, S, C
    keep = np.r_[True, ~same]
    edges = np.r_[edges[:-1][keep], edges[-1]]
    return edges, pats[keep], S[keep], C[keep]


def breakpoints(net: ReLUNetwork, interval: tuple[float, float] = (-np.inf, np.inf)
                ) -> Breakpoints:
    """Every activation region of a 1-input network on ``interval`` (default: all of R)."""
    if net.input_dim != 1:
        raise InputError(f"breakpoints need a network with 1 input; this one has "
                         f"{net.input_dim}")
    lo, hi = float(interval[0]), float(interval[1])
    if np.isnan(lo) or np.isnan(hi) or not lo < hi:
        raise InputError(f"the interval needs lo < hi, got [{lo}, {hi}]")
    edges = np.array([lo, hi])
    # activations of the previous layer on each piece: a = S x + C, shapes (K, n)
    S = np.ones((1, 1))
    C = np.zeros((1, 1))
    pats = np.zeros((1, 0), dtype=bool)
    for W, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        Zs = S @ W.T  # slopes of the pre-activations, (K, n)
        Zc = C @ W.T + b
        with np.errstate(divide="ignore", invalid="ignore"):
            r = -Zc / Zs
        inside = (Zs != 0) & (r > edges[:-1, None]) & (r < edges[1:, None])
        new_edges = np.unique(np.concatenate([edges, r[inside]]))
        mids = _inner_points(new_edges)
        parent = np.searchsorted(edges, mids, side="right") - 1
        parent = np.clip(parent, 0, len(edges) - 2)
        Zs, Zc = Zs[parent], Zc[parent]
        on = (Zs * mids[:, None] + Zc) > 0
        pats = np.concatenate([pats[parent], on], axis=1)
        S = Zs * on
        C = Zc * on
        edges, pats, S, C = _merge(new_edges, pats, S, C)
    slopes = S @ net.weights[-1].T
    intercepts = C @ net.weights[-1].T + net.biases[-1]
    return Breakpoints(edges, pats, slopes, intercepts)
