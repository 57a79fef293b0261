"""Random ReLU networks for the studies, reproducible from a seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..network import ReLUNetwork

#: Bias initialisations: PyTorch's default for ``nn.Linear`` (uniform on +-1/sqrt(fan_in)),
#: a normal with a given scale, or zero.
BIAS_KINDS = ("torch", "normal", "zero")


def he_network(input_dim: int, widths: Sequence[int], output_dim: int = 1,
               seed: int | np.random.Generator = 0, bias: str = "torch",
               bias_scale: float = 1.0) -> ReLUNetwork:
    """He-initialised network: ``W ~ N(0, 2 / fan_in)`` (``kaiming_normal_``), every layer.

    Biases (``bias``): ``"torch"`` draws ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, what
    ``nn.Linear`` leaves when only the weights are re-initialised (the usual "He with nonzero
    bias" setting); ``"normal"`` draws ``N(0, bias_scale^2)``; ``"zero"`` gives a positively
    homogeneous network whose regions are all cones at the origin.
    """
    if bias not in BIAS_KINDS:
        raise InputError(f"unknown bias kind {bias!r}; choose one of {', '.join(BIAS_KINDS)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sizes = [int(input_dim), *(int(w) for w in widths), int(output_dim)]
    ws, bs = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        ws.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)))
        if bias == "torch":
            r = 1.0 / np.sqrt(fan_in)
            bs.append(rng.uniform(-r, r, size=fan_out))
        elif bias == "normal":
            bs.append(rng.normal(0.0, bias_scale, size=fan_out))
        else:
            bs.append(np.zeros(fan_out))
    return ReLUNetwork(ws, bs)
