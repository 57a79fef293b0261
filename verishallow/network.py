"""The deep ReLU network: immutable dense affine layers with ReLU between them.

Everything downstream (bounds, regions, the shallow network, certificates) reads the network
only through this class, so loaders fold every supported ONNX/NNet/npz/torch construct into
plain ``(W, b)`` pairs here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from .errors import InputError
from .exact.maps import exact_layers


def _frozen(a: np.ndarray) -> np.ndarray:
    # "+ 0.0" turns -0.0 into +0.0: the same function must have the same fingerprint whatever
    # file format it came through
    a = np.array(a, dtype=np.float64, copy=True) + 0.0
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class ReLUNetwork:
    """``f(x) = W_{L+1} ReLU(... ReLU(W_1 x + b_1) ...) + b_{L+1}``.

    ``weights[k]`` has shape ``(out, in)``; ReLU follows every layer but the last.
    A network with no hidden layer is a plain affine map.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    def __init__(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]):
        if len(weights) == 0 or len(weights) != len(biases):
            raise InputError(
                f"a network needs as many weight matrices as bias vectors (>= 1); "
                f"got {len(weights)} and {len(biases)}"
            )
        ws, bs = [], []
        for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
            w = np.asarray(w, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64).reshape(-1)
            if w.ndim != 2:
                raise InputError(f"layer {k}: weight must be 2-D (out, in), got shape {w.shape}")
            if b.shape[0] != w.shape[0]:
                raise InputError(
                    f"layer {k}: bias has {b.shape[0]} entries but weight has {w.shape[0]} rows"
                )
            if ws and w.shape[1] != ws[-1].shape[0]:
                raise InputError(
                    f"layer {k}: weight expects {w.shape[1]} inputs but layer {k - 1} "
                    f"has {ws[-1].shape[0]} outputs"
                )
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise InputError(f"layer {k}: weights or biases contain NaN or infinity")
            if w.shape[0] == 0 or w.shape[1] == 0:
                raise InputError(f"layer {k}: empty weight matrix {w.shape}")
            ws.append(_frozen(w))
            bs.append(_frozen(b))
        object.__setattr__(self, "weights", tuple(ws))
        object.__setattr__(self, "biases", tuple(bs))

    # ----- shape facts -------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.weights[0].shape[1]

    @property
    def output_dim(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(w.shape[0] for w in self.weights[:-1])

    @property
    def n_hidden(self) -> int:
        """Total number of hidden (ReLU) neurons, N."""
        return int(sum(self.hidden_widths))

    @cached_property
    def layer_offsets(self) -> tuple[int, ...]:
        """Start of each hidden layer inside a flat pattern vector (plus the end)."""
        return tuple(int(v) for v in np.concatenate([[0], np.cumsum(self.hidden_widths)]))

    def neuron_name(self, flat: int) -> str:
        """Human name ``L<layer>N<index>`` (1-based layer) of a flat neuron index."""
        offs = self.layer_offsets
        layer = int(np.searchsorted(offs, flat, side="right")) - 1
        return f"L{layer + 1}N{flat - offs[layer]}"

    def __repr__(self) -> str:
        widths = "-".join(str(v) for v in (self.input_dim, *self.hidden_widths, self.output_dim))
        return f"ReLUNetwork({widths})"

    # ----- float evaluation --------------------------------------------------------------
    def _as_batch(self, X: np.ndarray) -> tuple[np.ndarray, bool]:
        X = np.asarray(X, dtype=np.float64)
        single = X.ndim == 1
        X = np.atleast_2d(X)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise InputError(f"expected inputs of dimension {self.input_dim}, got shape {X.shape}")
        return X, single

    def preactivations(self, X: np.ndarray) -> list[np.ndarray]:
        """Pre-activations ``z_l`` of every hidden layer, each of shape (n, n_l)."""
        X, _ = self._as_batch(X)
        zs, a = [], X
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = a @ w.T + b
            zs.append(z)
            a = np.maximum(z, 0.0)
        return zs

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Network output for a batch (n, d) -> (n, m); a single vector gives a vector."""
        X, single = self._as_batch(X)
        a = X
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            a = np.maximum(a @ w.T + b, 0.0)
        y = a @ self.weights[-1].T + self.biases[-1]
        return y[0] if single else y

    __call__ = forward

    def pattern(self, X: np.ndarray) -> np.ndarray:
        """Activation bits (z > 0; ReLU(0) = 0 counts as inactive), shape (n, N) bool."""
        X, single = self._as_batch(X)
        zs = self.preactivations(X)
        p = np.concatenate(zs, axis=1) > 0 if zs else np.zeros((X.shape[0], 0), dtype=bool)
        return p[0] if single else p

    # ----- affine pieces -----------------------------------------------------------------
    def local_affine(self, pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
        """With the activation pattern fixed, every pre-activation is affine in x.

        Returns ``(A, d, alpha, beta)``: ``z(x) = A x + d`` stacked over all hidden neurons
        (shapes (N, in), (N,)) and the output model ``f(x) = alpha x + beta``.
        """
        s = np.asarray(pattern, dtype=bool).reshape(-1)
        if s.shape[0] != self.n_hidden:
            raise InputError(f"pattern has {s.shape[0]} bits, network has {self.n_hidden} neurons")
        A_rows, d_rows = [], []
        M = np.eye(self.input_dim)  # a_{l-1} = M x + m
        m = np.zeros(self.input_dim)
        offs = self.layer_offsets
        for k, (w, b) in enumerate(zip(self.weights[:-1], self.biases[:-1], strict=True)):
            A = w @ M
            d = w @ m + b
            A_rows.append(A)
            d_rows.append(d)
            on = s[offs[k]:offs[k + 1]].astype(np.float64)
            M = A * on[:, None]
            m = d * on
        alpha = self.weights[-1] @ M
        beta = self.weights[-1] @ m + self.biases[-1]
        if A_rows:
            return np.vstack(A_rows), np.concatenate(d_rows), alpha, beta
        return np.zeros((0, self.input_dim)), np.zeros(0), alpha, beta

    def compose_input(self, M: np.ndarray, x0: np.ndarray) -> ReLUNetwork:
        """The network ``y -> f(x0 + M y)``, used to drop fixed input coordinates."""
        M = np.asarray(M, dtype=np.float64)
        x0 = np.asarray(x0, dtype=np.float64)
        w0 = self.weights[0] @ M
        b0 = self.weights[0] @ x0 + self.biases[0]
        return ReLUNetwork((w0, *self.weights[1:]), (b0, *self.biases[1:]))

    # ----- identity and exact arithmetic ---------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the exact weights (shapes and IEEE-754 bytes), stable across loaders."""
        return network_fingerprint(self.weights, self.biases)

    def exact_forward(self, x: Sequence[Fraction | int | float]) -> list[Fraction]:
        """Output at one point in exact rational arithmetic (every float is a rational)."""
        a = [Fraction(v) for v in x]
        if len(a) != self.input_dim:
            raise InputError(f"expected {self.input_dim} inputs, got {len(a)}")
        layers = exact_layers(self)
        for k, (w, b) in enumerate(layers):
            z = [sum((wi * ai for wi, ai in zip(row, a, strict=True)), bj)
                 for row, bj in zip(w, b, strict=True)]
            a = z if k == len(layers) - 1 else [v if v > 0 else Fraction(0) for v in z]
        return a


def network_fingerprint(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> str:
    """SHA-256 over shapes and little-endian float64 bytes of every layer."""
    h = hashlib.sha256(b"verishallow-relu-v1")
    for w, b in zip(weights, biases, strict=True):
        w = np.ascontiguousarray(w, dtype="<f8")
        b = np.ascontiguousarray(b, dtype="<f8")
        h.update(repr(w.shape).encode())
        h.update(w.tobytes())
        h.update(b.tobytes())
    return h.hexdigest()


def pattern_key(pattern: np.ndarray) -> bytes:
    """Hashable, compact key of an activation pattern."""
    return np.packbits(np.asarray(pattern, dtype=bool)).tobytes()
