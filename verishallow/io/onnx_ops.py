"""Array geometry of the ONNX operators the loader folds: convolutions, pools, slices.

Pure numpy, no ONNX objects: each function acts on a *stack* of tensors (the constant part and
every coefficient of a traced affine tensor, see :mod:`verishallow.io.onnx`), so a linear
operator is applied to all of them at once. Shapes are ``(B, C, *spatial)`` where ``B`` merges
the stack with the (size-1) batch dimension.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """Where a sliding window (Conv, AveragePool, MaxPool) reads its input, per spatial axis."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pad_begin: tuple[int, ...]
    pad_end: tuple[int, ...]  # explicit end padding (what count_include_pad counts)
    extra_end: tuple[int, ...]  # more end padding that only ceil_mode needs (never counted)
    out: tuple[int, ...]

    def offsets(self):
        """Every kernel position: (index tuple, a slice per spatial axis of the padded input)."""
        for k in itertools.product(*(range(n) for n in self.kernel)):
            yield k, tuple(slice(ki * d, ki * d + (o - 1) * s + 1, s) for ki, d, o, s in
                           zip(k, self.dilations, self.out, self.strides, strict=True))

    def pad(self, X: np.ndarray, value: float = 0.0) -> np.ndarray:
        """``X`` (``(B, C, *spatial)``) padded at both ends, the ceil-mode extra included."""
        widths = [(0, 0), (0, 0)] + [(b, e + x) for b, e, x in
                                     zip(self.pad_begin, self.pad_end, self.extra_end, strict=True)]
        return np.pad(X, widths, constant_values=value)


def window(spatial: tuple[int, ...], attrs: dict, kernel: tuple[int, ...] | None = None,
           ceil_mode: bool = False) -> Window:
    """The ONNX sliding-window geometry: kernel_shape, strides, dilations, pads and auto_pad."""
    r = len(spatial)
    kernel = tuple(int(k) for k in (kernel if kernel is not None else attrs["kernel_shape"]))
    strides = tuple(int(s) for s in attrs.get("strides", [1] * r))
    dil = tuple(int(d) for d in attrs.get("dilations", [1] * r))
    if not (len(kernel) == len(strides) == len(dil) == r):
        raise ValueError(f"kernel {kernel}, strides {strides} and dilations {dil} do not match "
                         f"the {r} spatial dimensions {spatial}")
    if min(kernel + strides + dil, default=1) < 1:
        raise ValueError("kernel sizes, strides and dilations must be positive")
    span = tuple((k - 1) * d + 1 for k, d in zip(kernel, dil, strict=True))
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = tuple(-(-n // s) for n, s in zip(spatial, strides, strict=True))
        total = [max(0, (o - 1) * s + w - n) for o, s, w, n in
                 zip(out, strides, span, spatial, strict=True)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        pb, pe = (small, big) if auto == "SAME_UPPER" else (big, small)
        return Window(kernel, strides, dil, tuple(pb), tuple(pe), (0,) * r, out)
    if auto == "VALID":
        pb = pe = [0] * r
    elif auto in ("NOTSET", ""):
        pads = [int(p) for p in attrs.get("pads", [0] * (2 * r))]
        if len(pads) != 2 * r:
            raise ValueError(f"pads {pads} do not match the {r} spatial dimensions")
        pb, pe = pads[:r], pads[r:]
    else:
        raise ValueError(f"unknown auto_pad {auto!r}")
    if min(pb + pe, default=0) < 0:
        raise ValueError(f"negative pads {pb + pe}")
    out, extra = [], []
    for n, b, e, w, s in zip(spatial, pb, pe, span, strides, strict=True):
        room = n + b + e - w
        if room < 0:
            raise ValueError(f"the window ({w}) is larger than the padded input ({n + b + e})")
        o = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (o - 1) * s >= n + b:  # the last window would start in the end padding
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s + w - (n + b + e)))
    return Window(kernel, strides, dil, tuple(pb), tuple(pe), tuple(extra), tuple(out))


def conv(X: np.ndarray, W: np.ndarray, win: Window, group: int) -> np.ndarray:
    """Cross-correlation of ``X`` ``(B, C_in, *S)`` with ``W`` ``(C_out, C_in/group, *K)``."""
    B, cin = X.shape[:2]
    cout, cig = W.shape[:2]
    if cin != cig * group or cout % group:
        raise ValueError(f"Conv with group={group}: input has {cin} channels, weight "
                         f"{tuple(W.shape)}")
    cog = cout // group
    Xp = win.pad(X)
    P = int(np.prod(win.out))
    acc = np.zeros((group, cog, B * P))
    Wg = W.reshape((group, cog, cig) + tuple(win.kernel))
    for k, sl in win.offsets():
        patch = Xp[(slice(None), slice(None)) + sl].reshape(B, group, cig, P)
        patch = patch.transpose(1, 2, 0, 3).reshape(group, cig, B * P)
        acc += np.matmul(Wg[(slice(None), slice(None), slice(None)) + k], patch)
    return acc.reshape(cout, B, *win.out).swapaxes(0, 1)


def pool_sum(X: np.ndarray, win: Window) -> np.ndarray:
    """Sum of every window of ``X`` ``(B, C, *S)`` (zero padding), shape ``(B, C, *out)``."""
    Xp = win.pad(X)
    acc = np.zeros(X.shape[:2] + tuple(win.out))
    for _, sl in win.offsets():
        acc += Xp[(slice(None), slice(None)) + sl]
    return acc


def pool_counts(spatial: tuple[int, ...], win: Window, include_pad: bool) -> np.ndarray:
    """How many elements each AveragePool window divides by, shape ``out``.

    Without count_include_pad only real input elements count; with it the explicit pads count
    too, but never the extra end padding ceil_mode adds (as onnxruntime and PyTorch do).
    """
    if include_pad:
        grown = tuple(n + b + e for n, b, e in zip(spatial, win.pad_begin, win.pad_end,
                                                    strict=True))
        ones = np.pad(np.ones((1, 1) + grown),
                      [(0, 0), (0, 0)] + [(0, x) for x in win.extra_end])
        flat = Window(win.kernel, win.strides, win.dilations, (0,) * len(spatial),
                      (0,) * len(spatial), (0,) * len(spatial), win.out)
        return pool_sum(ones, flat)[0, 0]
    return pool_sum(np.ones((1, 1) + tuple(spatial)), win)[0, 0]


def pool_windows(shape: tuple[int, ...], win: Window) -> np.ndarray:
    """For MaxPool: flat indices into ``shape`` (``(N, C, *S)``) each output window reads.

    Returns an int array ``(outputs, kernel elements)``; padding positions are -1 and come
    last in each row (every window holds at least one real element).
    """
    N, C, *S = shape
    spatial = tuple(S)
    strides = np.array([int(np.prod(spatial[i + 1:])) for i in range(len(spatial))],
                       dtype=np.int64)
    grids = np.meshgrid(*(np.arange(o) for o in win.out), indexing="ij")
    cols, valid = [], []
    for k, _ in win.offsets():
        flat = np.zeros(win.out, dtype=np.int64)
        ok = np.ones(win.out, dtype=bool)
        for ax, (g, ki) in enumerate(zip(grids, k, strict=True)):
            pos = g * win.strides[ax] - win.pad_begin[ax] + ki * win.dilations[ax]
            ok &= (pos >= 0) & (pos < spatial[ax])
            flat += pos * strides[ax]
        cols.append(flat.reshape(-1))
        valid.append(ok.reshape(-1))
    idx = np.stack(cols, axis=1)
    ok = np.stack(valid, axis=1)
    if not ok.any(axis=1).all():
        raise ValueError("a MaxPool window lies entirely in the padding")
    # real elements first, in kernel order
    order = np.argsort(~ok, axis=1, kind="stable")
    idx = np.take_along_axis(np.where(ok, idx, -1), order, axis=1)
    per_plane = int(np.prod(spatial))
    base = np.arange(N * C, dtype=np.int64)[:, None, None] * per_plane
    full = np.where(idx[None] >= 0, idx[None] + base, -1)
    return full.reshape(-1, idx.shape[1])


def slice_bounds(dim: int, start: int, end: int, step: int) -> slice:
    """The Python slice for ONNX Slice's (start, end, step) on an axis of size ``dim``."""
    if step == 0:
        raise ValueError("Slice step must not be 0")
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
        return slice(start, end, step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    return slice(start, end if end >= 0 else None, step)
