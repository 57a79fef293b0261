"""NumPy ``.npz`` archives with keys ``W0, b0, W1, b1, ...`` (``W`` of shape ``(out, in)``).

The simplest lossless format: float64 arrays stored as they are, so a save/load round trip
keeps every bit (and the fingerprint; only ``-0.0`` reads back as ``+0.0``, as in every loader).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..network import ReLUNetwork

_KEY = re.compile(r"^([Wb])(\d+)$")


def load_npz(path: str | Path) -> ReLUNetwork:
    """Read ``W0, b0, W1, b1, ...``; missing, extra or non-contiguous keys are errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except Exception as exc:  # BadZipFile, ValueError (pickled objects), OSError, ...
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"cannot read npz model {path}: {msg}") from None
    found: dict[str, set[int]] = {"W": set(), "b": set()}
    extra = []
    for key in arrays:
        m = _KEY.match(key)
        if m:
            found[m.group(1)].add(int(m.group(2)))
        else:
            extra.append(key)
    if extra:
        raise InputError(f"npz model {path} has unexpected keys {sorted(extra)}; expected only "
                         "W0, b0, W1, b1, ...")
    if not found["W"]:
        raise InputError(f"npz model {path} has no weight arrays (expected keys W0, b0, W1, b1, "
                         "...)")
    n = max(found["W"] | found["b"]) + 1
    for k in range(n):
        for kind in ("W", "b"):
            if k not in found[kind]:
                raise InputError(f"npz model {path} is missing key {kind}{k} (layers must be "
                                 f"numbered 0..{n - 1} with one W and one b each)")
    for key, a in arrays.items():
        if a.dtype.kind not in "fiu":
            raise InputError(f"npz model {path}: array {key} has non-numeric dtype {a.dtype}")
    try:
        # + 0.0 turns -0.0 into 0.0, as every loader does: fingerprints agree across formats
        return ReLUNetwork([arrays[f"W{k}"] + 0.0 for k in range(n)],
                           [arrays[f"b{k}"] + 0.0 for k in range(n)])
    except InputError as exc:
        raise InputError(f"npz model {path}: {exc}") from None


def npz_bytes(net: ReLUNetwork) -> bytes:
    """The archive contents (float64, uncompressed) as bytes."""
    buf = io.BytesIO()
    arrays = {}
    for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{k}"] = np.asarray(w, dtype=np.float64)
        arrays[f"b{k}"] = np.asarray(b, dtype=np.float64)
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_npz(net: ReLUNetwork, path: str | Path) -> None:
    """Write ``net`` as ``W0, b0, ...`` float64 arrays (atomically; exact round trip)."""
    from ..atomic import write_bytes

    write_bytes(path, npz_bytes(net))
