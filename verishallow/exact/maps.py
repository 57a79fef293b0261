"""Exact pattern maps: a network with its activation pattern fixed, in dyadic integers.

For a pattern (one bit per hidden neuron), every pre-activation and the output are affine in
the input; this module computes those maps exactly (the weights are dyadic rationals, so the
maps are integer arrays over one power of two per layer), the pattern's inequalities as
primitive integer rows (equal for positive multiples of one inequality), and the exact pattern
of a rational point. It is the one implementation the partition checker, the equivalence
checker, the certifiers and the exact equivalence decisions share. Imports: the standard
library, numpy and :mod:`verishallow.exact.numbers` (the network class only for type hints).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .numbers import dyadic, dyadic_str, shift, zeros

if TYPE_CHECKING:
    from ..network import ReLUNetwork

#: Memoised layer maps per layer (patterns visited in sorted order share their prefixes).
MEMO_SIZE = 256
#: Whole patterns' rows kept by :meth:`ExactRows.rows` (a region's certifier and checker ask in
#: turn; the certifier also asks for the patterns beyond a few facets in between).
RECENT_ROWS = 8


def exact_layers(net: ReLUNetwork) -> list[tuple[list[list[Fraction]], list[Fraction]]]:
    """The weights as exact rationals (``Fraction(float)`` is exact), cached on the network."""
    cached = net.__dict__.get("_exact_layers")
    if cached is None:
        cached = [
            ([[Fraction(float(v)) for v in row] for row in w], [Fraction(float(v)) for v in b])
            for w, b in zip(net.weights, net.biases, strict=True)
        ]
        net.__dict__["_exact_layers"] = cached
    return cached


def exact_pattern(net: ReLUNetwork, x: list[Fraction]) -> np.ndarray:
    """The activation pattern at the rational point ``x`` in exact arithmetic (z > 0 active)."""
    bits: list[bool] = []
    a = list(x)
    for W, b in exact_layers(net)[:-1]:
        z = [sum((wi * ai for wi, ai in zip(row, a, strict=True)), bj)
             for row, bj in zip(W, b, strict=True)]
        bits.extend(v > 0 for v in z)
        a = [v if v > 0 else Fraction(0) for v in z]
    return np.array(bits, dtype=bool)


class ExactNet:
    """A network's weights as dyadic integers, and the exact affine pieces of a pattern."""

    def __init__(self, net: ReLUNetwork):
        self.layers = []
        for W, b in zip(net.weights, net.biases, strict=True):
            IW, eW = dyadic(W)
            Ib, eb = dyadic(b)
            self.layers.append((IW, eW, Ib, eb))
        self.input_dim = net.input_dim
        self.widths = tuple(net.hidden_widths)
        self.n_hidden = int(sum(self.widths))
        self.offsets = net.layer_offsets
        self.layer_of = [k for k, w in enumerate(self.widths) for _ in range(w)]
        self._memo: list[OrderedDict] = [OrderedDict() for _ in self.layers]
        #: per layer: (layer k-1 map, its active bits, the exact product) of the last miss
        self._last: list[tuple | None] = [None for _ in self.layers]
        #: per layer, each weight column as a (rows, 1) array; the biases at an exponent
        self._columns = [[IW[:, j:j + 1] for j in range(IW.shape[1])]
                         for IW, _, _, _ in self.layers]
        self._biases: dict[tuple[int, int], np.ndarray] = {}
        IW, eW, Ib, eb = self.layers[0]
        E = min(eW, eb)
        self._first = (np.column_stack([shift(IW, eW - E), shift(Ib, eb - E)]), E)

    def layer_map(self, k: int, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Layer ``k``'s pattern-fixed pre-activation ``z = (A x + d) * 2**e``; ``k`` may be
        the output layer. It depends only on the bits of layers ``< k``, and regions in pattern
        order share those prefixes (neighbours differ in one neuron), so each is memoised."""
        Ad, E = self._map(k, bits)
        return Ad[:, :-1], Ad[:, -1], E

    def _map(self, k: int, bits: np.ndarray) -> tuple[np.ndarray, int]:
        """``[A | d]`` of :meth:`layer_map` as one object array, and its exponent.

        Memoised by the prefix of bits it depends on; a miss whose layer ``k - 1`` map is the
        previous miss's and whose layer ``k - 1`` bits differ in fewer places than they are
        active updates that product (``W[:, on] M[on]``, a column per changed neuron) instead
        of recomputing it: in pattern order most misses differ from the last in one bit."""
        if k == 0:
            return self._first
        prefix = np.packbits(bits[:self.offsets[k]]).tobytes()
        memo = self._memo[k]
        hit = memo.get(prefix)
        if hit is not None:
            memo.move_to_end(prefix)
            return hit
        prev, E = self._map(k - 1, bits)
        IW, eW, Ib, eb = self.layers[k]
        act = np.array(bits[self.offsets[k - 1]:self.offsets[k]], dtype=bool)  # a copy
        n_act = int(np.count_nonzero(act))
        last = self._last[k]
        acc = None
        if last is not None and last[0] is prev:
            changed = np.nonzero(act ^ last[1])[0].tolist()
            if len(changed) < n_act:
                acc = last[2]
                cols = self._columns[k]
                for j in changed:
                    term = cols[j] * prev[j]  # (rows, 1) * (n + 1,): column j's outer product
                    acc = acc + term if act[j] else acc - term
        if acc is None:
            acc = IW[:, act].dot(prev[act]) if n_act else zeros((IW.shape[0], prev.shape[1]))
        # the exact product W[:, act] [A | d][act], kept for the next miss (never mutated)
        self._last[k] = (prev, act, acc)
        e2 = eW + E if n_act else eb
        E2 = min(e2, eb)
        out = acc * (1 << (e2 - E2)) if e2 > E2 else acc.copy()
        bias = self._biases.get((k, E2))
        if bias is None:
            bias = self._biases[(k, E2)] = shift(Ib, eb - E2)
        out[:, -1] += bias
        hit = (out, E2)
        memo[prefix] = hit
        if len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
        return hit


class ExactDomain:
    """A certificate's domain in exact rationals: rows ``h x <= c`` in ``Domain.constraints()``
    order (finite upper then lower bound per coordinate, then the rows of ``A``), the fixed
    coordinates (``lower == upper``), and every row restricted to the free coordinates."""

    def __init__(self, lower: list[Fraction | None], upper: list[Fraction | None],
                 A: list[list[Fraction]], b: list[Fraction]):
        d = len(lower)
        self.dim = d
        self.lower, self.upper, self.A, self.b = lower, upper, A, b
        rows: list[tuple[list[Fraction], Fraction]] = []
        for i in range(d):
            if upper[i] is not None:
                rows.append(([Fraction(int(j == i)) for j in range(d)], upper[i]))
            if lower[i] is not None:
                rows.append(([Fraction(-int(j == i)) for j in range(d)], -lower[i]))
        rows += [(list(a), c) for a, c in zip(A, b, strict=True)]
        self.rows = rows
        self.fixed = [lower[i] is not None and lower[i] == upper[i] for i in range(d)]
        self.free = [i for i in range(d) if not self.fixed[i]]
        self.x0 = [lower[i] if self.fixed[i] else Fraction(0) for i in range(d)]
        # reduced rows as primitive integer vectors (h_free..., c) or zero rows
        self.red_int: list[tuple[list[int], int]] = []
        for h, c in rows:
            c_red = c - sum((h[i] * self.x0[i] for i in range(d) if self.fixed[i]), Fraction(0))
            vals = [h[i] for i in self.free] + [c_red]
            den = math.lcm(*(v.denominator for v in vals))
            ints = [int(v * den) for v in vals]
            self.red_int.append((ints[:-1], ints[-1]))
        # the fixed values as a dyadic-or-not common-denominator vector
        den = math.lcm(*(v.denominator for v in self.x0)) if d else 1
        self.x0_den = den
        self.x0_num = [int(v * den) for v in self.x0]


def primitive(vals: list[int]) -> tuple[int, ...] | None:
    """The primitive integer vector of ``h x <= c`` (``vals = h + [c]``): equal for positive
    multiples of one inequality. ``None`` for a zero normal (decided by its constant alone)."""
    if not any(vals[:-1]):
        return None
    g = math.gcd(*vals)
    return tuple(v // g for v in vals)


def _both_keys(raw: list[tuple[list[int], int]]
               ) -> tuple[list[tuple[int, ...] | None], list[tuple[int, ...] | None]]:
    """Each neuron's primitive key when inactive (``z <= 0``: ``h = a, c = -d``) and when
    active (``-z <= 0``: the negated key), as :func:`primitive` gives them."""
    gcd = math.gcd
    off: list[tuple[int, ...] | None] = []
    on: list[tuple[int, ...] | None] = []
    for a, d in raw:
        if not any(a):
            off.append(None)
            on.append(None)
            continue
        g = gcd(*a, d)
        off.append((*[v // g for v in a], -d // g))
        on.append((*[-v // g for v in a], d // g))
    return off, on


@dataclass
class PatternRows:
    """Exact rows of one pattern in the free coordinates."""

    raw: list[tuple[list[int], int]]  # per neuron: z(x) ~ a.x + d (a positive scale per layer)
    keys: tuple[tuple[int, ...] | None, ...]  # per neuron, then per domain row: primitive row
    consts: tuple[int, ...]  # the constant c of each row (sign matters for zero rows)
    alpha: np.ndarray  # output map (object ints) at exponent ``out_exp``, full coordinates
    beta: np.ndarray
    out_exp: int
    #: ``raw`` as object-int arrays, (N, free) and (N,), for vectorised exact evaluation
    A: np.ndarray | None = None
    d: np.ndarray | None = None
    #: per neuron: identically zero on the region (zero row and zero constant)
    zero_mask: np.ndarray | None = None
    _last_values: tuple | None = field(default=None, repr=False, compare=False)
    # made on first use (plain attributes: functools.cached_property takes a lock in 3.11)
    _zero_list: list[int] | None = field(default=None, repr=False, compare=False)
    _model_text: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def zero_neurons(self) -> list[int]:
        """Neurons identically zero on the region (zero row and zero constant)."""
        z = self._zero_list
        if z is None:
            if self.zero_mask is not None:
                z = np.flatnonzero(self.zero_mask).tolist()
            else:
                z = [i for i in range(len(self.raw))
                     if self.keys[i] is None and self.consts[i] == 0]
            self._zero_list = z
        return z

    @property
    def model_text(self) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
        """``alpha`` and ``beta`` as canonical rational strings (:func:`dyadic_str`, what a
        certificate writes), made once for the certifier and the checker alike."""
        t = self._model_text
        if t is None:
            e = self.out_exp
            t = self._model_text = (
                tuple(tuple(dyadic_str(v, e) for v in row) for row in self.alpha.tolist()),
                tuple(dyadic_str(v, e) for v in self.beta.tolist()))
        return t

    def neuron_values(self, wn: list[int], q: int) -> np.ndarray:
        """``q * z_i(w)`` up to each layer's positive scale, exactly, for ``w = wn / q``. The
        last point's values are kept (a certifier and a checker test the same witness)."""
        key = (tuple(wn), q)
        if self._last_values is not None and self._last_values[0] == key:
            return self._last_values[1]
        if self.A is None or not len(self.raw):
            v = np.array([sum(x * y for x, y in zip(a, wn, strict=True)) + q * d
                          for a, d in self.raw], dtype=object)
        else:
            v = self.A.dot(np.array(wn, dtype=object)) + q * self.d
        v.flags.writeable = False
        self._last_values = (key, v)
        return v


class ExactRows:
    """:func:`pattern_rows` for many patterns of one network and domain.

    A layer's rows depend only on the bits of earlier layers and its primitive keys on its own
    bits too; both are memoised per layer, so patterns visited in sorted order (as the
    certifier and the checker do) recompute only the layers after their first difference.
    """

    def __init__(self, enet: ExactNet, edom: ExactDomain):
        self.enet, self.edom = enet, edom
        self.fixed = [i for i in range(edom.dim) if edom.fixed[i]]
        self._memo: list[OrderedDict] = [OrderedDict() for _ in enet.widths]
        self._stack: OrderedDict = OrderedDict()
        self._recent: OrderedDict = OrderedDict()
        dom_keys = [primitive([*h, c]) for h, c in edom.red_int]
        self._dom = (dom_keys, [c for _, c in edom.red_int])

    def _layer_maps(self, k: int, bits: np.ndarray) -> tuple:
        """Layer ``k``'s rows for ``bits`` and both orientations' primitive keys: they depend
        only on earlier layers (memoised by that prefix; an active neuron's key is the negated
        inactive one); :meth:`rows` chooses between the keys by the layer's own bits."""
        enet, edom = self.enet, self.edom
        lo = enet.offsets[k]
        key = np.packbits(bits[:lo]).tobytes()
        memo = self._memo[k]
        hit = memo.get(key)
        if hit is not None:
            memo.move_to_end(key)
        else:
            A, dv, _ = enet.layer_map(k, bits)
            if self.fixed:
                # d' = d + A[:, fixed] . x0 ; scale by the x0 denominator to stay integral
                x0 = np.array([edom.x0_num[i] for i in self.fixed], dtype=object)
                dv = dv * edom.x0_den + A[:, self.fixed].dot(x0)
                A = A[:, edom.free] * edom.x0_den
            raw = list(zip(A.tolist(), dv.tolist(), strict=True))
            off, on = _both_keys(raw)
            hit = (raw, off, on, A, dv)
            memo[key] = hit
            if len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        return hit

    def _hidden(self, bits: np.ndarray) -> tuple:
        """Every hidden layer's rows and both key orientations, concatenated: they depend only
        on the bits before the last hidden layer, so the concatenation is memoised by that
        prefix too (most regions in pattern order share it with their predecessor)."""
        widths = self.enet.widths
        last = len(widths) - 1
        key = np.packbits(bits[:self.enet.offsets[last]]).tobytes() if widths else b""
        hit = self._stack.get(key)
        if hit is not None:
            self._stack.move_to_end(key)
            return hit
        raw: list[tuple[list[int], int]] = []
        off: list[tuple[int, ...] | None] = []
        on: list[tuple[int, ...] | None] = []
        As, ds = [], []
        for k in range(len(widths)):
            r, o0, o1, A, dv = self._layer_maps(k, bits)
            raw += r
            off += o0
            on += o1
            As.append(A)
            ds.append(dv)
        A = np.vstack(As) if As else None
        d = np.concatenate(ds) if ds else None
        dvals = [dd for _, dd in raw]
        zero = np.array([k is None and dd == 0 for k, dd in zip(off, dvals, strict=True)],
                        dtype=bool)
        hit = (raw, off, on, dvals, A, d, zero, np.flatnonzero(zero).tolist())
        self._stack[key] = hit
        if len(self._stack) > MEMO_SIZE:
            self._stack.popitem(last=False)
        return hit

    def rows(self, bits: np.ndarray) -> PatternRows:
        """Every inequality of pattern ``bits`` (neurons first, then domain rows), exactly.
        The last few patterns' rows are kept (read-only: ``keys`` and ``consts`` are tuples), so
        a certifier and a checker sharing this object compute each region's rows once."""
        pkey = np.packbits(bits).tobytes()
        got = self._recent.get(pkey)
        if got is not None:
            return got
        raw, off, on, dvals, A, d, zero, zero_list = self._hidden(bits)
        own = bits.tolist()
        keys = (*[q1 if b else q0 for q0, q1, b in zip(off, on, own, strict=True)],
                *self._dom[0])
        consts = (*[dd if b else -dd for dd, b in zip(dvals, own, strict=True)], *self._dom[1])
        alpha, beta, eo = self.enet.layer_map(len(self.enet.layers) - 1, bits)
        got = PatternRows(raw, keys, consts, alpha, beta, eo, A, d, zero,
                          _zero_list=zero_list)
        self._recent[pkey] = got
        if len(self._recent) > RECENT_ROWS:
            self._recent.popitem(last=False)
        return got


def pattern_rows(enet: ExactNet, edom: ExactDomain, bits: np.ndarray) -> PatternRows:
    """Every inequality of pattern ``bits`` (neurons first, then domain rows), exactly."""
    return ExactRows(enet, edom).rows(bits)


@dataclass
class ExactPiece:
    """A network with its pattern fixed, exactly: pre-activation ``k`` is
    ``(A[k] x + d[k]) / 2^S[k]`` and the output ``(alpha x + beta) / 2^T``."""

    A: np.ndarray  # object (N, n)
    d: np.ndarray  # object (N,)
    S: np.ndarray  # int exponents (N,)
    alpha: np.ndarray  # object (m, n)
    beta: np.ndarray  # object (m,)
    T: int

    def output(self, j: int) -> tuple[list[Fraction], Fraction]:
        """Output ``j``'s exact affine map ``(coefficients, constant)``."""
        den = Fraction(2) ** self.T
        return [Fraction(int(v)) / den for v in self.alpha[j]], Fraction(int(self.beta[j])) / den


def exact_piece(net: ReLUNetwork | ExactNet, pattern: np.ndarray) -> ExactPiece:
    """Every pre-activation and the output of ``net`` with ``pattern`` fixed, exactly (the
    layer maps of :class:`ExactNet`, stacked)."""
    enet = net if isinstance(net, ExactNet) else exact_net(net)
    bits = np.asarray(pattern, dtype=bool)
    As, ds, Ss = [], [], []
    for k in range(len(enet.widths)):
        A, dv, E = enet.layer_map(k, bits)
        As.append(A)
        ds.append(dv)
        Ss.extend([-E] * A.shape[0])
    alpha, beta, E = enet.layer_map(len(enet.layers) - 1, bits)
    n = enet.input_dim
    return ExactPiece(np.vstack(As) if As else zeros((0, n)),
                      np.concatenate(ds) if ds else zeros((0,)),
                      np.array(Ss, dtype=np.int64), alpha, beta, -E)


def exact_net(net: ReLUNetwork) -> ExactNet:
    """The network's :class:`ExactNet`, built once and cached on the network."""
    cached = net.__dict__.get("_exact_net")
    if cached is None:
        cached = ExactNet(net)
        net.__dict__["_exact_net"] = cached
    return cached
