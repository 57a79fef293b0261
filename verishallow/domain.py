"""Input domains: where the network is analysed.

Every domain is ``{x : lower <= x <= upper, A x <= b}`` (bounds may be infinite, ``A`` may have no
rows). ``Box``, ``Polytope`` and ``Whole`` are the three ways users describe one. Coordinates
with ``lower == upper`` are fixed inputs: :meth:`Domain.reduce` removes them, so the rest of the
package only ever sees full-dimensional domains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

#: A domain must contain a ball of at least this radius (in its free coordinates).
MIN_DOMAIN_RADIUS = 1e-9
#: Domains of more coordinates are described by a summary instead of every interval.
DESCRIBE_MAX_DIM = 12


def _vec(v, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if np.any(np.isnan(a)):
        raise InputError(f"{name} contains NaN")
    return a


class Domain:
    """``{x : lower <= x <= upper, A x <= b}``; construct through a subclass."""

    kind = "domain"

    def __init__(self, lower, upper, A=None, b=None):
        lower = _vec(lower, "lower bound")
        upper = _vec(upper, "upper bound")
        if lower.shape != upper.shape:
            raise InputError(
                f"lower bound has {lower.size} entries but upper bound has {upper.size}"
            )
        if lower.size == 0:
            raise InputError("a domain needs at least one coordinate")
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"lower > upper in coordinate {i}: {lower[i]} > {upper[i]}")
        if np.any(lower == np.inf) or np.any(upper == -np.inf):
            raise InputError("a lower bound of +inf or an upper bound of -inf is empty")
        d = lower.size
        if A is None:
            A = np.zeros((0, d))
            b = np.zeros(0)
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        if A.size == 0:
            A = np.zeros((0, d))
        b = _vec(b if b is not None else [], "polytope offsets b")
        if A.shape[1] != d:
            raise InputError(f"constraint matrix has {A.shape[1]} columns, domain has {d} inputs")
        if A.shape[0] != b.shape[0]:
            raise InputError(f"constraint matrix has {A.shape[0]} rows but b has {b.shape[0]}")
        if not np.all(np.isfinite(A)) or np.any(np.isnan(b)):
            raise InputError("polytope constraints contain NaN or infinity")
        for arr in (lower, upper, A, b):
            arr.setflags(write=False)
        self.lower, self.upper, self.A, self.b = lower, upper, A, b

    # ----- facts -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.lower.size

    @property
    def fixed(self) -> np.ndarray:
        """Mask of coordinates pinned by ``lower == upper``."""
        return self.lower == self.upper

    @property
    def is_bounded_box(self) -> bool:
        return bool(np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper)))

    def constraints(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All finite constraints as ``G x <= h`` with a label per row (``x3<=``, ``row2``)."""
        d = self.dim
        rows, rhs, labels = [], [], []
        eye = np.eye(d)
        for i in range(d):
            if np.isfinite(self.upper[i]):
                rows.append(eye[i])
                rhs.append(self.upper[i])
                labels.append(f"x{i}<=")
            if np.isfinite(self.lower[i]):
                rows.append(-eye[i])
                rhs.append(-self.lower[i])
                labels.append(f"x{i}>=")
        for k in range(self.A.shape[0]):
            rows.append(self.A[k])
            rhs.append(self.b[k])
            labels.append(f"row{k}")
        if not rows:
            return np.zeros((0, d)), np.zeros(0), []
        return np.array(rows), np.array(rhs), labels

    def contains(self, X: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Which rows of ``X`` lie in the domain, up to an absolute slack ``tol``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.dim:
            raise InputError(f"points have dimension {X.shape[1]}, domain has {self.dim}")
        ok = np.all(X >= self.lower - tol, axis=1) & np.all(X <= self.upper + tol, axis=1)
        if self.A.shape[0]:
            ok &= np.all(X @ self.A.T <= self.b + tol, axis=1)
        return ok

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Tightest axis box around the domain (LPs for polytope rows; may be infinite)."""
        lo, hi = self.lower.copy(), self.upper.copy()
        if self.A.shape[0] == 0:
            return lo, hi
        from .solvers import lp  # lazily: the certificate checker reads domains without any solver

        G, h, _ = self.constraints()
        for i in range(self.dim):
            e = np.zeros(self.dim)
            e[i] = 1.0
            up = lp.maximize_linear(e, G, h)
            if up.ok:
                hi[i] = min(hi[i], up.objective)
            dn = lp.maximize_linear(-e, G, h)
            if dn.ok:
                lo[i] = max(lo[i], -dn.objective)
        return lo, hi

    def chebyshev(self) -> tuple[np.ndarray, float]:
        """Centre and radius of the largest ball in the domain's free coordinates."""
        from .solvers import lp

        red = self.reduce()
        G, h, _ = red.domain.constraints()
        res = lp.chebyshev_center(G, h)
        if res is None:
            raise InputError(f"the domain {self.describe()} is empty")
        return red.lift(res[0]), res[1]

    def validate_for(self, input_dim: int) -> None:
        """Raise a clear error unless this domain suits a network with ``input_dim`` inputs."""
        if self.dim != input_dim:
            raise InputError(f"domain has {self.dim} coordinates but the model has "
                             f"{input_dim} inputs")
        _, r = self.chebyshev()
        if r < MIN_DOMAIN_RADIUS:
            raise InputError(
                f"the domain {self.describe()} has no interior (largest ball radius {r:.3g}); "
                "pin fixed inputs with lower == upper bounds instead"
            )

    def reduce(self) -> Reduction:
        """Drop fixed coordinates: ``x = x0 + E y`` with ``y`` ranging over a smaller domain."""
        free = np.flatnonzero(~self.fixed)
        x0 = np.where(self.fixed, self.lower, 0.0)
        E = np.eye(self.dim)[:, free]
        if free.size == self.dim:
            return Reduction(self, free, x0, E, self)
        if free.size == 0:
            raise InputError("every input coordinate is fixed (lower == upper): nothing to analyse")
        b = self.b - self.A @ x0
        A = self.A[:, free]
        keep = np.any(A != 0, axis=1)
        if np.any(b[~keep] < 0):
            raise InputError("the domain's linear constraints exclude its fixed coordinates")
        sub = Polytope(A[keep], b[keep], self.lower[free], self.upper[free]) if keep.any() \
            else Box(self.lower[free], self.upper[free])
        return Reduction(self, free, x0, E, sub)

    # ----- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict:
        def enc(v):
            return [None if not np.isfinite(t) else float(t) for t in v]
        out: dict = {"kind": self.kind, "lower": enc(self.lower), "upper": enc(self.upper)}
        if self.A.shape[0]:
            out["A"] = self.A.tolist()
            out["b"] = self.b.tolist()
        return out

    def describe(self) -> str:
        if self.kind == "whole":
            return f"R^{self.dim}"
        if self.dim > DESCRIBE_MAX_DIM:  # an image's box: a summary, not 784 intervals
            fixed = int(np.sum(self.fixed))
            width = self.upper - self.lower
            s = (f"a box in R^{self.dim} ({fixed} fixed, {self.dim - fixed} free inputs, "
                 f"widths up to {float(np.max(width)):g})")
        else:
            parts = [f"[{lo:g}, {hi:g}]" for lo, hi in zip(self.lower, self.upper, strict=True)]
            s = " x ".join(parts)
        if self.A.shape[0]:
            s += f" with {self.A.shape[0]} linear constraints"
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Domain) and self.dim == other.dim
                and np.array_equal(self.lower, other.lower)
                and np.array_equal(self.upper, other.upper)
                and np.array_equal(self.A, other.A) and np.array_equal(self.b, other.b))

    __hash__ = None  # type: ignore[assignment]


class Box(Domain):
    """Axis-aligned box ``lower <= x <= upper``; ``lower[i] == upper[i]`` pins input i."""

    kind = "box"

    def __init__(self, lower, upper):
        super().__init__(lower, upper)


class Polytope(Domain):
    """``{x : A x <= b}`` (H-representation, possibly unbounded), optionally within bounds."""

    kind = "polytope"

    def __init__(self, A, b, lower=None, upper=None):
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        d = A.shape[1]
        lower = np.full(d, -np.inf) if lower is None else lower
        upper = np.full(d, np.inf) if upper is None else upper
        super().__init__(lower, upper, A, b)


class Whole(Domain):
    """All of R^d."""

    kind = "whole"

    def __init__(self, d: int):
        if int(d) < 1:
            raise InputError(f"Whole(d) needs d >= 1, got {d}")
        super().__init__(np.full(int(d), -np.inf), np.full(int(d), np.inf))


@dataclass(frozen=True)
class Reduction:
    """``x = x0 + E y``: the original domain, its free coordinates, and the reduced domain."""

    original: Domain
    free: np.ndarray
    x0: np.ndarray
    E: np.ndarray
    domain: Domain

    @property
    def trivial(self) -> bool:
        return self.free.size == self.original.dim

    def lift(self, Y: np.ndarray) -> np.ndarray:
        """Points of the reduced space back in full input coordinates."""
        Y = np.asarray(Y, dtype=np.float64)
        if self.trivial:  # E = I, x0 = 0: the same bits as the product (-0.0 becomes 0.0)
            return Y + 0.0
        return self.x0 + Y @ self.E.T

    def project(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)[..., self.free]

    def lift_rows(self, H: np.ndarray) -> np.ndarray:
        """Normals in reduced coordinates as normals in full coordinates (zeros where fixed)."""
        H = np.asarray(H, dtype=np.float64)
        if self.trivial:
            return H + 0.0
        return H @ self.E.T


def domain_from_dict(data: dict) -> Domain:
    """Inverse of :meth:`Domain.to_dict` (``None`` bounds mean infinite)."""
    try:
        kind = data["kind"]
        lo = np.array([-np.inf if v is None else v for v in data["lower"]], dtype=np.float64)
        hi = np.array([np.inf if v is None else v for v in data["upper"]], dtype=np.float64)
    except (KeyError, TypeError) as exc:
        raise InputError(f"domain description is missing a field: {exc}") from None
    if kind == "whole":
        return Whole(lo.size)
    if kind == "box":
        return Box(lo, hi)
    if kind == "polytope":
        return Polytope(data.get("A", np.zeros((0, lo.size))), data.get("b", []), lo, hi)
    raise InputError(f"unknown domain kind {kind!r} (expected box, polytope or whole)")


def load_domain_json(path: str | Path) -> Domain:
    """Read a ``NAME.domain.json`` file (the format of :meth:`Domain.to_dict`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"domain file not found: {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read domain file {path}: {exc}") from None
    return domain_from_dict(data)
