#!/usr/bin/env python
"""Train the small bundled example networks in ``models/`` with numpy only.

Each model is tiny on purpose (the region engine enumerates it in seconds) and ships with its
input domain twice: a ``NAME.domain.json`` sidecar and ONNX metadata ``verishallow.domain``.
Training is full-batch Adam with fixed seeds, and weights are rounded to float32 at the end, so
re-running the script on the same machine writes byte-identical files, and the float32 ONNX
file loads back to exactly the trained network.

    python scripts/train_models.py [OUT_DIR]      # default: models/ beside this script
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verishallow.atomic import write_text
from verishallow.domain import Box, Domain
from verishallow.io import save_onnx, sidecar_path
from verishallow.network import ReLUNetwork

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


# ----- data -----------------------------------------------------------------------------

def make_moons(n: int, seed: int, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's make_moons), labels 0/1."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n - n0)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)],
                        np.c_[1.0 - np.cos(t1), 0.5 - np.sin(t1)]])
    X += noise * rng.standard_normal(X.shape)
    y = np.r_[np.zeros(n0, dtype=int), np.ones(n - n0, dtype=int)]
    return X, y


def sine_target(x: np.ndarray) -> np.ndarray:
    """The sine-like curve of ``sine.onnx``."""
    return np.sin(1.5 * x) + 0.25 * x


def make_sine(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, (n, 1))
    return x, sine_target(x)


BLOB_CENTERS = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 1.0], [0.0, 2.0, 1.0]])
BLOB_STD = 0.4


def make_blobs3d(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three gaussian blobs in R^3, labels 0/1/2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = BLOB_CENTERS[y] + BLOB_STD * rng.standard_normal((n, 3))
    return X, y


# ----- training ---------------------------------------------------------------------------

def _forward(params, X):
    acts = [X]
    for k, (W, b) in enumerate(params):
        z = acts[-1] @ W.T + b
        acts.append(z if k == len(params) - 1 else np.maximum(z, 0.0))
    return acts


def _xent_grad(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    z = out - out.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -float(np.mean(np.log(p[np.arange(n), y] + 1e-300)))
    p[np.arange(n), y] -= 1.0
    return loss, p / n


def _mse_grad(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    r = out - y
    return float(np.mean(r ** 2)), 2.0 * r / r.size


def train(sizes: list[int], X: np.ndarray, y: np.ndarray, loss: str, steps: int, seed: int,
          lr: float = 0.01) -> ReLUNetwork:
    """Full-batch Adam (cosine-decayed step size) on a ReLU MLP; float32-rounded weights."""
    rng = np.random.default_rng(seed)
    params = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i), np.zeros(o))
              for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    W0 = params[0][0]  # first-layer hyperplanes through random data points, not all through 0
    params[0] = (W0, -np.einsum("ij,ij->i", W0, X[rng.integers(0, len(X), W0.shape[0])]))
    grad_fn: Callable = _xent_grad if loss == "xent" else _mse_grad
    m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        step = lr * 0.5 * (1.0 + np.cos(np.pi * (t - 1) / steps))
        acts = _forward(params, X)
        _, g = grad_fn(acts[-1], y)
        for k in range(len(params) - 1, -1, -1):
            W, b = params[k]
            gW, gb = g.T @ acts[k], g.sum(axis=0)
            if k:
                g = (g @ W) * (acts[k] > 0)
            new = []
            for j, (p, gp) in enumerate(((W, gW), (b, gb))):
                m[k][j][...] = b1 * m[k][j] + (1 - b1) * gp
                v[k][j][...] = b2 * v[k][j] + (1 - b2) * gp ** 2
                mh = m[k][j] / (1 - b1 ** t)
                vh = v[k][j] / (1 - b2 ** t)
                new.append(p - step * mh / (np.sqrt(vh) + eps))
            params[k] = (new[0], new[1])
    return ReLUNetwork([W.astype(np.float32) for W, _ in params],
                       [b.astype(np.float32) for _, b in params])


def train_moons(steps: int = 2000) -> ReLUNetwork:
    X, y = make_moons(1000, seed=0)
    return train([2, 16, 16, 2], X, y, "xent", steps, seed=1)


def train_sine(steps: int = 3000) -> ReLUNetwork:
    X, y = make_sine(500, seed=2)
    return train([1, 16, 16, 1], X, y, "mse", steps, seed=3)


def train_blobs3d(steps: int = 1000) -> ReLUNetwork:
    X, y = make_blobs3d(900, seed=4)
    return train([3, 8, 8, 3], X, y, "xent", steps, seed=5)


@dataclass(frozen=True)
class Spec:
    train: Callable[..., ReLUNetwork]
    domain: Domain
    description: str


SPECS: dict[str, Spec] = {
    "moons": Spec(train_moons, Box([-1.5, -1.0], [2.5, 1.5]),
                  "2-16-16-2 two-moons classifier (logits of class 0 and 1)"),
    "sine": Spec(train_sine, Box([-3.0], [3.0]),
                 "1-16-16-1 regression of sin(1.5 x) + 0.25 x on [-3, 3]"),
    "blobs3d": Spec(train_blobs3d, Box([-1.5, -1.5, -1.5], [3.5, 3.5, 3.5]),
                    "3-8-8-3 classifier of three gaussian blobs (logits)"),
}


def write_model(name: str, net: ReLUNetwork, out_dir: Path) -> Path:
    """``NAME.onnx`` (domain in metadata) and its ``NAME.domain.json`` sidecar."""
    spec = SPECS[name]
    path = out_dir / f"{name}.onnx"
    save_onnx(net, path, spec.domain, metadata={
        "verishallow.description": spec.description,
        "verishallow.source": "scripts/train_models.py",
    })
    write_text(sidecar_path(path), json.dumps(spec.domain.to_dict(), indent=2, sort_keys=True)
               + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else MODELS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, spec in SPECS.items():
        t0 = time.perf_counter()
        net = spec.train()
        path = write_model(name, net, out_dir)
        print(f"{path}: {net!r} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
