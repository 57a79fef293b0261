"""PyTorch ``nn.Sequential`` -> :class:`ReLUNetwork` (torch is optional and imported lazily).

Supported layers: ``Linear``, ``ReLU``, ``Flatten``, ``Identity``, ``Dropout`` (eval-mode
no-op) and nested ``Sequential``. Consecutive ``Linear`` layers (no ReLU between) fuse into one
affine layer, computed in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..network import ReLUNetwork


def _import_torch():
    try:
        import torch
    except ImportError:
        raise InputError("from_torch needs PyTorch, which is not installed "
                         "(pip install 'verishallow[torch]')") from None
    return torch


def _flat_layers(module: Any, prefix: str, nn) -> list[tuple[str, Any]]:
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out.extend(_flat_layers(child, f"{prefix}.{name}" if prefix else name, nn))
        return out
    return [(prefix or type(module).__name__, module)]


def from_torch(module: Any) -> ReLUNetwork:
    """Convert an ``nn.Sequential`` of Linear/ReLU/Flatten/Identity/Dropout layers."""
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise InputError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    W: np.ndarray | None = None  # current affine block: x -> W x + b (None: identity so far)
    b: np.ndarray | None = None
    width: int | None = None  # size of the current block's input, once known
    for name, layer in _flat_layers(module, "", nn):
        if isinstance(layer, nn.Linear):
            lw = layer.weight.detach().cpu().double().numpy()
            lb = (layer.bias.detach().cpu().double().numpy() if layer.bias is not None
                  else np.zeros(lw.shape[0]))
            cur = W.shape[0] if W is not None else width
            if cur is not None and cur != lw.shape[1]:
                raise InputError(f"layer {name!r}: Linear expects {lw.shape[1]} inputs but the "
                                 f"previous layer gives {cur}")
            if W is None:
                W, b = lw, lb
            else:
                W, b = lw @ W, lw @ b + lb
        elif isinstance(layer, nn.ReLU):
            if W is None:
                if width is None:
                    raise InputError(f"layer {name!r}: a ReLU before the first Linear layer "
                                     "leaves the input size unknown")
                W, b = np.eye(width), np.zeros(width)
            layers.append((W, b))
            width = W.shape[0]
            W = b = None
        elif isinstance(layer, (nn.Flatten, nn.Identity, nn.Dropout)):
            continue
        else:
            raise InputError(f"layer {name!r} of type {type(layer).__name__} is not supported by "
                             "from_torch (only Linear, ReLU, Flatten, Identity, Dropout, "
                             "Sequential)")
    if W is None:
        if width is None:
            raise InputError("the torch module has no Linear layer")
        W, b = np.eye(width), np.zeros(width)  # ends with a ReLU: identity output layer
    layers.append((W, b))
    return ReLUNetwork([w + 0.0 for w, _ in layers], [v + 0.0 for _, v in layers])
