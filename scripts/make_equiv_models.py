#!/usr/bin/env python
"""Models for the equivalence benchmarks and tests (issue #11): near-copies of a network.

Two kinds of "should be almost the same function" pairs:

* ``float16``: :func:`float16_copy` rounds every weight and bias of a network to float16 (and
  back to float64), so the copy differs from the original by weight quantisation only.
  The CLI writes such copies of ONNX files to a folder (``NAME.f16.onnx``, with the source's
  default domain, if any, carried over)::

      python scripts/make_equiv_models.py float16 OUT_DIR MODEL.onnx [MODEL.onnx ...]

* ``student``: a 5-100-100-5 ReLU network of another architecture, distilled with numpy alone
  (fixed seeds, Adam on fresh and hard-mined samples, then an exact least-squares refit of the
  output layer) to mimic ACAS Xu network 1_1 on the input box of ACAS property 1. It is
  saved, float32-rounded, as ``models/acas_1_1_student.onnx`` with the box in a
  ``.domain.json`` sidecar and in the ONNX metadata; re-running on the same machine writes
  byte-identical files::

      python scripts/make_equiv_models.py student [--acas-dir DIR] [--out-dir DIR]

:data:`STUDENT_STATS` records the student's sampled distance to its teacher
(:func:`sampled_difference`, 100 000 uniform points of the box, fixed seed);
``docs/equiv-models.md`` quotes the same numbers and the tests check them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from verishallow.atomic import write_text
from verishallow.domain import Box, Domain
from verishallow.errors import InputError
from verishallow.io import load, load_with_domain, save_onnx, sidecar_path
from verishallow.network import ReLUNetwork

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
ACAS_DIR = ROOT.parent / "shared" / "benchmarks" / "vnncomp2021" / "acasxu"
TEACHER_FILE = "ACASXU_run2a_1_1_batch_2000.onnx"
PROPERTY_FILE = "prop_1.vnnlib"
STUDENT_NAME = "acas_1_1_student"
STUDENT_SIZES = (5, 100, 100, 5)

#: Sample size and seed of the recorded teacher/student statistics.
EVAL_POINTS = 100_000
EVAL_SEED = 2021

#: ``sampled_difference(student, teacher, box)`` of the committed student: the largest and the
#: mean absolute output difference over all outputs of the ``EVAL_POINTS`` sampled points.
STUDENT_STATS = {"max_abs_diff": 0.0012463456762701643, "mean_abs_diff": 2.948016579822901e-05}


# ----- float16 copies ---------------------------------------------------------------------

def float16_copy(net: ReLUNetwork) -> ReLUNetwork:
    """``net`` with every weight and bias rounded to the nearest float16 (round half to even).

    The values are stored as float64 again, so the copy is an ordinary network whose entries
    all happen to be float16 numbers (hence float32 numbers: the ONNX writer stores them as
    float32 and loading gives back the very same copy). Raises :class:`InputError` if a value
    is beyond float16's range (about 65504), where rounding would give an infinity.
    """
    def rounded(a: np.ndarray, what: str) -> np.ndarray:
        with np.errstate(over="ignore"):
            r = a.astype(np.float16)
        if not np.all(np.isfinite(r)):
            raise InputError(f"{what} has a value beyond float16's range "
                             f"(largest magnitude {np.max(np.abs(a)):g})")
        return r.astype(np.float64)

    return ReLUNetwork([rounded(w, f"layer {k} weight") for k, w in enumerate(net.weights)],
                       [rounded(b, f"layer {k} bias") for k, b in enumerate(net.biases)])


def write_float16_copy(src: str | Path, out_dir: str | Path) -> Path:
    """Write ``float16_copy`` of model file ``src`` to ``OUT_DIR/NAME.f16.onnx``.

    The source's default domain (sidecar or ONNX metadata), if any, goes into the copy's
    metadata and a ``NAME.f16.domain.json`` sidecar.
    """
    src, out_dir = Path(src), Path(out_dir)
    net, domain = load_with_domain(src)
    path = out_dir / f"{src.stem}.f16.onnx"
    save_onnx(float16_copy(net), path, domain, metadata={
        "verishallow.description": f"{src.name} with weights and biases rounded to float16",
        "verishallow.source": "scripts/make_equiv_models.py float16",
    })
    if domain is not None:
        write_text(sidecar_path(path), json.dumps(domain.to_dict(), indent=2, sort_keys=True)
                   + "\n")
    return path


# ----- the distilled student ----------------------------------------------------------------

def acas_teacher(acas_dir: str | Path = ACAS_DIR) -> tuple[ReLUNetwork, Box]:
    """ACAS Xu network 1_1 and the input box of property 1 (the student's domain)."""
    from verishallow.vnnlib import domain_from_vnnlib

    acas_dir = Path(acas_dir)
    teacher = load(acas_dir / TEACHER_FILE)
    domain = domain_from_vnnlib(acas_dir / PROPERTY_FILE)
    box = Box(domain.lower, domain.upper)
    return teacher, box


def sample_box(box: Domain, n: int, seed: int) -> np.ndarray:
    """``n`` points drawn uniformly from the (bounded) box."""
    rng = np.random.default_rng(seed)
    return box.lower + (box.upper - box.lower) * rng.random((n, box.dim))


def sampled_difference(a: ReLUNetwork, b: ReLUNetwork, box: Domain, n: int = EVAL_POINTS,
                       seed: int = EVAL_SEED) -> dict[str, float]:
    """Max and mean of ``|a(x) - b(x)|`` (over every output) at ``n`` uniform points of ``box``."""
    X = sample_box(box, n, seed)
    d = np.abs(a.forward(X) - b.forward(X))
    return {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean())}


def _training_batch(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Normalised inputs in ``[-1, 1]^d``: uniform, with a quarter of the points pushed onto
    faces of the box (each coordinate snapped to a bound with probability 1/3), where the
    largest errors otherwise show up."""
    Z = rng.uniform(-1.0, 1.0, (n, d))
    k = n // 4
    snap = rng.random((k, d)) < 1.0 / 3.0
    Z[:k][snap] = np.sign(Z[:k][snap])
    return Z


def _student_forward(params: list, Z: np.ndarray) -> list[np.ndarray]:
    acts = [Z]
    for k, (W, b) in enumerate(params):
        z = acts[-1] @ W.T + b
        acts.append(z if k == len(params) - 1 else np.maximum(z, 0.0))
    return acts


def train_student(teacher: ReLUNetwork, box: Domain, steps: int = 4000, batch: int = 2048,
                  lr: float = 3e-3, seed: int = 11, refresh: int = 50, candidates: int = 16_384,
                  refit_points: int = 60_000, first_lr: float = 30.0) -> ReLUNetwork:
    """Distil ``teacher`` on ``box`` into a fresh ReLU network of widths ``STUDENT_SIZES``.

    Works in normalised coordinates (the box mapped to ``[-1, 1]^d``, each teacher output
    standardised on a sample) and folds both maps into the first and last layer at the end.
    Adam with a cosine-decayed step, MSE loss, on batches of which half are fresh samples and
    half the worst-fitted of ``candidates`` samples (re-mined every ``refresh`` steps: the
    teacher has sharp ridges, near heading angle 0, that uniform samples rarely hit). Then the
    output layer is refitted by exact least squares on ``refit_points`` points drawn the same
    way. The first layer takes ``first_lr`` times the step size: the ridges need steep
    first-layer neurons, which Adam's bounded steps would otherwise not reach in time.
    Weights are rounded to float32.
    """
    rng = np.random.default_rng(seed)
    lo, hi = np.asarray(box.lower, float), np.asarray(box.upper, float)
    centre, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    d = len(lo)

    def target(Z: np.ndarray) -> np.ndarray:
        return (teacher.forward(centre + half * Z) - y_mean) / y_std

    y_mean, y_std = 0.0, 1.0
    Y0 = target(rng.uniform(-1.0, 1.0, (20_000, d)))
    y_mean, y_std = Y0.mean(axis=0), Y0.std(axis=0)

    def hardest(n: int) -> tuple[np.ndarray, np.ndarray]:
        Z = _training_batch(rng, candidates, d)
        Y = target(Z)
        err = np.abs(_student_forward(params, Z)[-1] - Y).max(axis=1)
        idx = np.argsort(err, kind="stable")[-n:]
        return Z[idx], Y[idx]

    sizes = STUDENT_SIZES
    params = [[rng.standard_normal((o, i)) * np.sqrt(2.0 / i), np.zeros(o)]
              for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    # first-layer hyperplanes through random points of the box, not all through its centre
    W0 = params[0][0]
    params[0][1] = -np.einsum("ij,ij->i", W0, rng.uniform(-1.0, 1.0, (W0.shape[0], d)))
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    n_layers = len(params)
    n_hard = batch // 2
    for t in range(1, steps + 1):
        step = lr * 0.5 * (1.0 + np.cos(np.pi * (t - 1) / steps))
        if (t - 1) % refresh == 0:
            Z_hard, Y_hard = hardest(n_hard)
        Z_new = _training_batch(rng, batch - n_hard, d)
        Z = np.concatenate([Z_new, Z_hard])
        Y = np.concatenate([target(Z_new), Y_hard])
        acts = _student_forward(params, Z)
        g = 2.0 * (acts[-1] - Y) / Y.size
        for k in range(n_layers - 1, -1, -1):
            W, _ = params[k]
            grads = (g.T @ acts[k], g.sum(axis=0))
            if k:
                g = (g @ W) * (acts[k] > 0)
            for j, gp in enumerate(grads):
                m[k][j] = b1 * m[k][j] + (1 - b1) * gp
                v[k][j] = b2 * v[k][j] + (1 - b2) * gp ** 2
                mh = m[k][j] / (1 - b1 ** t)
                vh = v[k][j] / (1 - b2 ** t)
                scale = first_lr if k == 0 else 1.0
                params[k][j] = params[k][j] - scale * step * mh / (np.sqrt(vh) + eps)

    if refit_points:
        # exact least-squares refit of the output layer on the last hidden layer's features
        parts = [hardest(candidates // 8) for _ in range(refit_points // (2 * candidates // 8))]
        Z_new = _training_batch(rng, refit_points - sum(len(z) for z, _ in parts), d)
        Z = np.concatenate([Z_new, *(z for z, _ in parts)])
        Y = np.concatenate([target(Z_new), *(y for _, y in parts)])
        H = _student_forward(params, Z)[-2]
        coef, *_ = np.linalg.lstsq(np.c_[H, np.ones(len(H))], Y, rcond=None)
        params[-1] = [coef[:-1].T, coef[-1]]

    # fold the input normalisation z = (x - centre) / half and the output scaling
    W_first = params[0][0] / half
    params[0] = [W_first, params[0][1] - W_first @ centre]
    params[-1] = [params[-1][0] * y_std[:, None], params[-1][1] * y_std + y_mean]
    return ReLUNetwork([W.astype(np.float32) for W, _ in params],
                       [b.astype(np.float32) for _, b in params])


def write_student(net: ReLUNetwork, box: Box, out_dir: str | Path = MODELS_DIR) -> Path:
    """``acas_1_1_student.onnx`` (box in metadata) and its ``.domain.json`` sidecar."""
    path = Path(out_dir) / f"{STUDENT_NAME}.onnx"
    save_onnx(net, path, box, metadata={
        "verishallow.description": "5-100-100-5 student distilled from ACAS Xu 1_1 "
                                   "(ACASXU_run2a_1_1_batch_2000.onnx) on the box of property 1",
        "verishallow.source": "scripts/make_equiv_models.py student",
    })
    write_text(sidecar_path(path), json.dumps(box.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


# ----- CLI ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p16 = sub.add_parser("float16", help="write float16-rounded copies of model files")
    p16.add_argument("out_dir", type=Path)
    p16.add_argument("models", type=Path, nargs="+")
    pst = sub.add_parser("student", help="train the 5-100-100-5 student of ACAS Xu 1_1")
    pst.add_argument("--acas-dir", type=Path, default=ACAS_DIR)
    pst.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    pst.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args(argv)

    if args.cmd == "float16":
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for src in args.models:
            print(write_float16_copy(src, args.out_dir))
        return 0

    t0 = time.perf_counter()
    teacher, box = acas_teacher(args.acas_dir)
    student = train_student(teacher, box, steps=args.steps)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = write_student(student, box, args.out_dir)
    stats = sampled_difference(student, teacher, box)
    print(f"{path}: {student!r} ({time.perf_counter() - t0:.1f} s)")
    print(f"max |student - teacher| = {stats['max_abs_diff']!r}, "
          f"mean = {stats['mean_abs_diff']!r} ({EVAL_POINTS} points, seed {EVAL_SEED})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
