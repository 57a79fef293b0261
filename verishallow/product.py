"""The product network ``P(x) = [f_A(x); f_B(x)]`` of two ReLU networks, as one ReLU network.

An equivalence certificate (:mod:`verishallow.proofs.equivalence`) is a partition certificate of
this network plus, per region, a bound on ``f_A - f_B``; the independent checker
(:mod:`verishallow.proofs.equivalence_checker`) rebuilds the network from the two model files with
this
module, so the construction is part of the trusted base and kept small: it imports only numpy
and the network class, never a solver.

Construction. Both networks read the same input; hidden layer ``l`` of ``P`` stacks hidden
layer ``l`` of A above that of B (first layer: the two weight matrices stacked; later layers:
block-diagonal), and the output layer is block-diagonal, so ``P``'s outputs are A's outputs
followed by B's. When the depths differ, the shallower network is first made as deep as the
other without changing its function: its output layer ``y = W a + b`` becomes a hidden layer of
``2m`` neurons ``relu(y)``, ``relu(-y)`` (weights ``[W; -W]``, biases ``[b; -b]``), each further
padding layer maps ``(p, q) -> (relu(p - q), relu(q - p))`` (weights ``+-1``), and the new
output layer is ``p - q``. Since ``y = relu(y) - relu(-y)`` for every real ``y`` this is the same
function in exact arithmetic; every weight is a float64 copy, a negation or ``+-1``, so the
checker's exact (rational) view of ``P`` is exactly A's and B's weights.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .network import ReLUNetwork


def check_pair(net_a: ReLUNetwork, net_b: ReLUNetwork, domain, epsilon: float) -> None:
    """One-line errors for a two-network question that cannot be asked: other input or output
    sizes, a domain of another dimension, an epsilon that is negative or not finite, an
    unbounded domain. Shared by every equivalence method."""
    import math

    if net_a.input_dim != net_b.input_dim:
        raise InputError(f"the networks have {net_a.input_dim} and {net_b.input_dim} inputs")
    if net_a.output_dim != net_b.output_dim:
        raise InputError(f"the networks have {net_a.output_dim} and {net_b.output_dim} outputs")
    if domain.dim != net_a.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the networks have "
                         f"{net_a.input_dim} inputs")
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise InputError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    lo, hi = domain.bounding_box()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError(f"equivalence needs a bounded domain, got {domain.describe()}")


def padded_layers(net: ReLUNetwork, hidden_layers: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``net``'s layers, padded with exact identity layers to ``hidden_layers`` hidden layers.

    Why: the product of two networks needs equal depths; ``y = relu(y) - relu(-y)`` lengthens
    the shallower one without changing its function (see the module doc).
    """
    k = len(net.hidden_widths)
    if hidden_layers < k:
        raise InputError(f"cannot pad a network with {k} hidden layers to {hidden_layers}")
    layers = [(np.array(w), np.array(b)) for w, b in zip(net.weights, net.biases, strict=True)]
    if hidden_layers == k:
        return layers
    m = net.output_dim
    W, b = layers.pop()
    layers.append((np.vstack([W, -W]), np.concatenate([b, -b])))
    eye = np.eye(m)
    for _ in range(hidden_layers - k - 1):
        layers.append((np.block([[eye, -eye], [-eye, eye]]), np.zeros(2 * m)))
    layers.append((np.hstack([eye, -eye]), np.zeros(m)))
    return layers


def product_network(net_a: ReLUNetwork, net_b: ReLUNetwork) -> ReLUNetwork:
    """One ReLU network computing ``[f_A(x); f_B(x)]`` (A's outputs first) on a shared input.

    Why: the activation regions of this network are the cells on which *both* networks are
    affine, so one partition certificate of it bounds ``f_A - f_B`` region by region. Hidden
    neurons are ordered per layer: A's (padded) neurons, then B's.
    """
    if net_a.input_dim != net_b.input_dim:
        raise InputError(f"the networks have {net_a.input_dim} and {net_b.input_dim} inputs; "
                         "a product needs the same input")
    depth = max(len(net_a.hidden_widths), len(net_b.hidden_widths))
    la, lb = padded_layers(net_a, depth), padded_layers(net_b, depth)
    Ws, bs = [], []
    for k, ((wa, ba), (wb, bb)) in enumerate(zip(la, lb, strict=True)):
        if k == 0:
            W = np.vstack([wa, wb])
        else:
            W = np.zeros((wa.shape[0] + wb.shape[0], wa.shape[1] + wb.shape[1]))
            W[:wa.shape[0], :wa.shape[1]] = wa
            W[wa.shape[0]:, wa.shape[1]:] = wb
        Ws.append(W)
        bs.append(np.concatenate([ba, bb]))
    return ReLUNetwork(Ws, bs)


def product_description(net_a: ReLUNetwork, net_b: ReLUNetwork) -> dict:
    """How :func:`product_network` combines A and B (which side is padded, by how many
    layers), for certificates and messages; informative only, the checker rebuilds ``P``."""
    ka, kb = len(net_a.hidden_widths), len(net_b.hidden_widths)
    padded = None if ka == kb else ("a" if ka < kb else "b")
    return {"construction": "shared input, block-diagonal layers, outputs [f_A; f_B]; the "
                            "shallower network padded with y = relu(y) - relu(-y)",
            "padded": padded, "padding_layers": abs(ka - kb)}
