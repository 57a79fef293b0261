"""The NNet text format of the original ACAS Xu networks (Julian et al., sisl/NNet).

Layout after ``//`` comment lines: ``L, d, m, maxwidth``; the ``L + 1`` layer sizes; a
(unused) symmetric flag; ``d`` input minimums; ``d`` maximums; ``d + 1`` means and ``d + 1``
ranges (inputs, then one shared value for the outputs); then per layer its weight rows and its
biases. The file's network reads ``x_norm = (clip(x, min, max) - mean) / range`` and returns
``y = y_norm * range_out + mean_out``.

Loading folds the normalisation into the first layer and the de-normalisation into the last one
(in float64). Clipping would need an extra ReLU layer (``clip(x) = lo + ReLU(x - lo) -
ReLU(x - hi)``) that changes the network's layer structure, so the loaded network is the
**unclipped** one; the default domain of an NNet file is its min/max box
(see :func:`load_nnet_with_box`), on which clipping is a no-op, so on that domain the loaded
network and the file's network agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..domain import Box, Domain
from ..errors import InputError
from ..network import ReLUNetwork


def _tokens(path: Path) -> list[tuple[list[str], int]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"model file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read NNet model {path}: {exc}") from None
    lines = []
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("//"):
            continue
        lines.append(([t for t in s.replace(",", " ").split()], no))
    return lines


def _number(tok: str, path: Path, line: int, integer: bool = False) -> float:
    try:
        v = int(tok) if integer else float(tok)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise InputError(f"{path}:{line}: expected {kind}, found {tok!r}") from None
    if not integer and math.isnan(v):
        raise InputError(f"{path}:{line}: NaN in NNet file")
    return v


def _parse(path: Path):
    lines = _tokens(path)
    if len(lines) < 2:
        raise InputError(f"{path}: not an NNet file (missing the size lines)")
    head, no = lines[0]
    if len(head) < 4:
        raise InputError(f"{path}:{no}: expected 'layers, inputs, outputs, max width'")
    n_layers, d, m = (int(_number(t, path, no, integer=True)) for t in head[:3])
    sizes_tok, no2 = lines[1]
    sizes = [int(_number(t, path, no2, integer=True)) for t in sizes_tok]
    if n_layers < 1 or len(sizes) != n_layers + 1 or sizes[0] != d or sizes[-1] != m \
            or min(sizes) < 1:
        raise InputError(f"{path}:{no2}: layer sizes {sizes} do not match {n_layers} layers, "
                         f"{d} inputs and {m} outputs")
    stream = [(t, ln) for toks, ln in lines[2:] for t in toks]
    n_weights = sum(sizes[k + 1] * sizes[k] + sizes[k + 1] for k in range(n_layers))
    expected = 1 + 2 * d + 2 * (d + 1) + n_weights
    if len(stream) != expected:
        where = "ends early" if len(stream) < expected else "has extra values"
        raise InputError(f"{path}: file {where}: expected {expected} numbers after the size "
                         f"lines, found {len(stream)}")
    vals = np.array([_number(t, path, ln) for t, ln in stream], dtype=np.float64)
    pos = 1  # skip the symmetric flag

    def take(n: int) -> np.ndarray:
        nonlocal pos
        out = vals[pos:pos + n]
        pos += n
        return out

    mins, maxes, means, ranges = take(d), take(d), take(d + 1), take(d + 1)
    ws, bs = [], []
    for k in range(n_layers):
        ws.append(take(sizes[k + 1] * sizes[k]).reshape(sizes[k + 1], sizes[k]))
        bs.append(take(sizes[k + 1]))
    return ws, bs, mins, maxes, means, ranges


def load_nnet_with_box(path: str | Path) -> tuple[ReLUNetwork, Domain | None]:
    """The (unclipped, normalisation-folded) network and the file's min/max input box.

    The box is ``None`` when every bound is infinite (the file gives no domain).
    """
    path = Path(path)
    ws, bs, mins, maxes, means, ranges = _parse(path)
    if np.any(ranges == 0) or not np.all(np.isfinite(ranges)) \
            or not np.all(np.isfinite(means)):
        raise InputError(f"{path}: normalisation ranges must be finite and non-zero, "
                         "means finite")
    if np.any(mins > maxes):
        i = int(np.flatnonzero(mins > maxes)[0])
        raise InputError(f"{path}: input {i} has min {mins[i]} > max {maxes[i]}")
    mu, r = means[:-1], ranges[:-1]
    if np.any(mu != 0) or np.any(r != 1):  # skip the identity fold: keeps the file's bits
        w0 = ws[0] / r
        ws[0], bs[0] = w0, bs[0] - ws[0] @ (mu / r)
    mu_out, r_out = means[-1], ranges[-1]
    if mu_out != 0 or r_out != 1:
        ws[-1], bs[-1] = ws[-1] * r_out, bs[-1] * r_out + mu_out
    try:
        net = ReLUNetwork([w + 0.0 for w in ws], [b + 0.0 for b in bs])
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if np.all(np.isneginf(mins)) and np.all(np.isposinf(maxes)):
        return net, None
    return net, Box(mins, maxes)


def load_nnet(path: str | Path) -> ReLUNetwork:
    """The network of an NNet file, normalisation folded in, without input clipping."""
    return load_nnet_with_box(path)[0]


def nnet_text(net: ReLUNetwork, domain: Domain | None = None) -> str:
    """NNet text for ``net`` with zero means and unit ranges (so loading is bit-exact)."""
    d = net.input_dim
    if domain is None:
        lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
    else:
        if domain.dim != d:
            raise InputError(f"domain has {domain.dim} coordinates but the network has {d} "
                             "inputs")
        if domain.A.shape[0]:
            raise InputError("the NNet format stores only an input box, not linear constraints")
        lo, hi = domain.lower, domain.upper
    sizes = [d, *(w.shape[0] for w in net.weights)]

    def row(v) -> str:
        return ",".join(repr(float(t)) for t in v) + ","

    out = ["// Neural Network File Format by Kyle Julian, Stanford 2016",
           "// written by verishallow: inputs and outputs are not normalised",
           f"{len(net.weights)},{d},{net.output_dim},{max(sizes)},",
           ",".join(str(s) for s in sizes) + ",",
           "0,", row(lo), row(hi), row(np.zeros(d + 1)), row(np.ones(d + 1))]
    for w, b in zip(net.weights, net.biases, strict=True):
        out.extend(row(r) for r in w)
        out.extend(row([v]) for v in b)
    return "\n".join(out) + "\n"


def save_nnet(net: ReLUNetwork, path: str | Path, domain: Domain | None = None) -> None:
    """Write ``net`` as NNet (atomically); ``domain`` (a box) becomes the min/max lines."""
    from ..atomic import write_text

    write_text(path, nnet_text(net, domain))
