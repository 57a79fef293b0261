"""Points and replays: random domain samples, exact vertices rounded to float64 inputs, and the
replays (float64, exact, onnxruntime) that a counterexample must pass.

Why: an equivalence answer never reports a counterexample that does not replay; this module
is where "replays" is defined, for every method alike.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..domain import Domain
from ..network import ReLUNetwork
from .quantity import exact_value, quantity_kind, value
from .tolerances import ORT_REL_TOL


def sample_domain(domain: Domain, n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniform points of the domain's bounding box that lie in the domain, plus its
    centre (the Chebyshev centre when no sample lands inside)."""
    lo, hi = domain.bounding_box()
    rng = np.random.default_rng(seed)
    X = lo + (hi - lo) * rng.random((n, domain.dim))
    X = np.vstack([X, (lo + hi) / 2])
    inside = X[domain.contains(X, tol=0.0)]
    if inside.shape[0] == 0:
        inside = domain.chebyshev()[0][None, :]
    return inside


def _in_domain_exact(domain: Domain, x: np.ndarray) -> bool:
    if np.any(x < domain.lower) or np.any(x > domain.upper):
        return False
    xs = [Fraction(float(v)) for v in x]
    for row, b in zip(domain.A, domain.b, strict=True):
        if sum((Fraction(float(a)) * t for a, t in zip(row, xs, strict=True) if a != 0),
               Fraction(0)) > Fraction(float(b)):
            return False
    return True


def to_float_point(domain: Domain, v: list[Fraction]) -> np.ndarray:
    """The exact vertex rounded to float64, inside the domain exactly (nudged toward the
    domain's Chebyshev centre when rounding put it outside a polytope row)."""
    x = np.clip(np.array([float(t) for t in v[:domain.dim]]), domain.lower, domain.upper)
    if _in_domain_exact(domain, x):
        return x
    centre = domain.chebyshev()[0]
    tau = 1e-15
    while tau < 1.0:
        y = np.clip(x + tau * (centre - x), domain.lower, domain.upper)
        if _in_domain_exact(domain, y):
            return y
        tau *= 4
    return np.clip(centre, domain.lower, domain.upper)


def replay(net_a: ReLUNetwork, net_b: ReLUNetwork, x: np.ndarray, top1: bool = False) -> dict:
    """Both networks at ``x`` in float64 and in exact arithmetic, with the compared quantity
    (``|f_A - f_B|_inf``, or the top-1 disagreement) each way."""
    kind = quantity_kind(top1)
    ya, yb = net_a.forward(x), net_b.forward(x)
    ea, eb = net_a.exact_forward(x), net_b.exact_forward(x)
    ve = exact_value(kind, ea, eb)
    return {
        "output_a": ya.tolist(), "output_b": yb.tolist(),
        "float64_value": float(value(kind, ya[None, :], yb[None, :])[0]),
        "exact_value": str(ve), "exact_value_float": float(ve),
        "argmax_a": int(np.argmax(ya)), "argmax_b": int(np.argmax(yb)),
    }


def replay_onnxruntime(path: str, x: np.ndarray) -> np.ndarray | None:
    """``path``'s output at ``x`` through onnxruntime (batch 1, the model's own input shape
    and dtype), or None when onnxruntime is not installed or cannot run the model."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inputs = sess.get_inputs()
        if len(inputs) != 1:
            return None
        inp = inputs[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        dtype = np.float64 if inp.type == "tensor(double)" else np.float32
        out = sess.run(None, {inp.name: np.asarray(x).astype(dtype).reshape(shape)})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)
    except Exception:  # noqa: BLE001 - a replay that cannot run is reported as absent
        return None


def onnxruntime_check(path_a: str, path_b: str, net_a: ReLUNetwork, net_b: ReLUNetwork,
                      x: np.ndarray, epsilon: float, top1: bool = False) -> dict | None:
    """Replay ``x`` on both ONNX files with onnxruntime. ``agrees``: each runtime output
    matches the loaded network's float64 output at the runtime's (possibly float32-rounded)
    input within :data:`~verishallow.equiv.tolerances.ORT_REL_TOL`; ``exceeds``: the
    runtime's own quantity is > epsilon."""
    ra, rb = replay_onnxruntime(path_a, x), replay_onnxruntime(path_b, x)
    if ra is None or rb is None:
        return None
    agrees = True
    for path, net, r in ((path_a, net_a, ra), (path_b, net_b, rb)):
        try:
            import onnxruntime as ort

            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            f32 = sess.get_inputs()[0].type != "tensor(double)"
        except Exception:  # noqa: BLE001
            f32 = True
        xr = x.astype(np.float32).astype(np.float64) if f32 else x
        ref = net.forward(xr)
        if r.shape != ref.shape or np.max(np.abs(r - ref)) > ORT_REL_TOL * (1 + np.max(
                np.abs(ref))):
            agrees = False
    val = float(value(quantity_kind(top1), ra[None, :], rb[None, :])[0])
    return {"output_a": ra.tolist(), "output_b": rb.tolist(), "value": val,
            "exceeds_epsilon": val > epsilon, "agrees_with_float64": agrees}
