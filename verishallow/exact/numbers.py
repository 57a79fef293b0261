"""Exact numbers: rational strings and dyadic integers (every float64 is ``n * 2**e``).

The one place that turns floats into exact integers and exact rationals into text, for the
checkers, the certifiers and the exact equivalence alike. Imports the standard library and
numpy only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InputError


class MalformedNumber(ValueError):
    """A string that is not the exact rational a certificate promised (a checker turns it into
    a failed check, never a crash)."""


_RATIONAL = re.compile(r"-?[0-9]+(/[0-9]+)?")


def parse_ratio(text: Any) -> tuple[int, int]:
    """Strict ``"p"`` or ``"p/q"`` (q > 0) as the integers ``(p, q)``, not reduced; anything
    else (floats, ``inf``) is rejected. For checkers that stay in integers."""
    if not isinstance(text, str) or not _RATIONAL.fullmatch(text):
        raise MalformedNumber(f"not an exact rational string: {text!r}")
    if "/" in text:
        p, q = text.split("/")
        if int(q) == 0:
            raise MalformedNumber(f"zero denominator in {text!r}")
        return int(p), int(q)
    return int(text), 1


def parse_rational(text: Any) -> Fraction:
    """Strict ``"p"`` or ``"p/q"`` (q > 0); anything else (floats, ``inf``) is rejected."""
    p, q = parse_ratio(text)
    return Fraction(p, q)


def rational_str(x: Fraction | int) -> str:
    """``"p/q"`` (or ``"p"`` for an integer) of an exact rational."""
    return str(x) if isinstance(x, (int, Fraction)) else str(Fraction(x))


def dyadic_str(n: int, e: int) -> str:
    """``n * 2**e`` as a rational string (in lowest terms, as ``str(Fraction)`` writes it)."""
    n = int(n)
    if e >= 0 or n == 0:
        return str(n << e) if n else "0"
    tz = min((n & -n).bit_length() - 1, -e)  # powers of two that cancel
    n >>= tz
    e += tz
    return str(n) if e == 0 else f"{n}/{1 << -e}"


def dyadic(values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, int]:
    """Exact ``values = ints * 2**e`` with one shared exponent (``ints`` an object array): ``e``
    is the least exponent of the values' odd mantissas (zeros aside), so the integers are as
    short as they can be."""
    a0 = np.asarray(values, dtype=np.float64)
    if not np.isfinite(a0).all():
        raise InputError("cannot represent a non-finite value exactly")
    a = a0.reshape(-1)
    m, ex = np.frexp(a)  # a = m 2**ex, 0.5 <= |m| < 1 (subnormals included)
    mant = (m * 9007199254740992.0).astype(np.int64)  # m 2**53: exact
    nz = mant != 0
    low = mant & -mant  # lowest set bit, a power of two
    tz = np.zeros(a.shape, dtype=np.int64)
    tz[nz] = np.frexp(low[nz].astype(np.float64))[1] - 1  # exact: a power of two
    odd = mant >> tz
    exps = ex.astype(np.int64) - 53 + tz
    if not nz.any():
        return zeros(a0.shape), 0
    E = int(exps[nz].min())
    sh = np.where(nz, exps - E, 0)
    out = odd.astype(object) << sh.astype(object)  # Python integers: no overflow
    return out.reshape(a0.shape), E


def shift(a: np.ndarray, k: int) -> np.ndarray:
    """``a * 2**k`` for an object int array and ``k >= 0``."""
    return a if k == 0 else a * (1 << k)


def zeros(shape: tuple[int, ...]) -> np.ndarray:
    """An object array of Python integer zeros (numpy's own zeros would be float or int64)."""
    out = np.empty(shape, dtype=object)
    out.fill(0)
    return out


# ----- arithmetic on (integer array, exponent) pairs ---------------------------------------
def align(a: np.ndarray, ea: int, b: np.ndarray, eb: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``a * 2**ea`` and ``b * 2**eb`` over one exponent (the smaller)."""
    if ea == eb:
        return a, b, ea
    if ea > eb:
        return a * (1 << (ea - eb)), b, eb
    return a, b * (1 << (eb - ea)), ea


def add(a: np.ndarray, ea: int, b: np.ndarray, eb: int) -> tuple[np.ndarray, int]:
    """``a * 2**ea + b * 2**eb`` as one (array, exponent) pair."""
    x, y, e = align(a, ea, b, eb)
    return x + y, e


def normalise(arrays: list[np.ndarray], e: int) -> tuple[list[np.ndarray], int]:
    """Divide out the power of two common to every entry (keeps integers short)."""
    tz = None
    for a in arrays:
        for v in a.ravel().tolist():
            if v:
                t = (v & -v).bit_length() - 1
                if tz is None or t < tz:
                    tz = t
                    if tz == 0:
                        return arrays, e
    if not tz:
        return arrays, e
    return [a // (1 << tz) for a in arrays], e + tz


def to_double(n: int, e: int, up: bool) -> float:
    """The nearest float64 at or beyond ``n * 2**e`` (above when ``up``)."""
    if n == 0:
        return 0.0
    try:
        if e >= 0:
            v = n << e
            f = float(v)
            g = int(f)
            if up and g < v:
                f = math.nextafter(f, math.inf)
            elif not up and g > v:
                f = math.nextafter(f, -math.inf)
            return f + 0.0
        k = -e
        f = n / (1 << k)  # correctly rounded
        p, q = f.as_integer_ratio()
        lhs, rhs = p << k, n * q
        if up and lhs < rhs:
            f = math.nextafter(f, math.inf)
        elif not up and lhs > rhs:
            f = math.nextafter(f, -math.inf)
        return f + 0.0
    except OverflowError:
        raise ValueError("a bound exceeds the float64 range") from None


def fraction(n: int, e: int) -> Fraction:
    """``n * 2**e`` as a Fraction."""
    return Fraction(n << e) if e >= 0 else Fraction(n, 1 << -e)
