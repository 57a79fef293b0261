"""Exact products of integer arrays through float64 BLAS, and integers held as int64 limbs.

The exact kernel holds dyadic numbers as Python integers (numpy object arrays); a product with
many multiply-adds is cheaper as one float64 BLAS product of 16-bit digit ("limb") matrices,
exact because every dot product of two limbs' columns stays below ``2**53``. The helpers below
also serve :mod:`.back_substitution`, which keeps its numbers as limbs throughout.
"""

from __future__ import annotations

import numpy as np

#: Bits per limb: a product of two limbs is below 2**32, so a float64 dot product of up to 2**20
#: of them, and the sum over a few limb pairs, is an exact integer.
LIMB = 16
#: Products with fewer multiply-adds than this use numpy's object (Python int) matmul.
BLAS_MIN = 2000


def limbs(a: np.ndarray) -> np.ndarray:
    """Signed base-``2**16`` digits of an integer array: shape ``(T, *a.shape)`` float64 with
    ``a = sum_t digits[t] * 2**(16 t)``, every digit in ``[0, 2**16)`` except the top one,
    which is in ``[-2**15, 2**15)`` (two's complement)."""
    flat = a.ravel().tolist()
    mb = max(abs(max(flat, default=0)), abs(min(flat, default=0))).bit_length() + 1
    T = max(1, -(-mb // LIMB))
    off = 1 << (LIMB * T - 1)
    nb = LIMB * T // 8
    buf = b"".join((v + off).to_bytes(nb, "little") for v in flat)
    D = np.frombuffer(buf, dtype="<u2").reshape(len(flat), T).astype(np.int64)
    D[:, -1] -= 1 << (LIMB - 1)
    return np.ascontiguousarray(D.T.reshape((T, *a.shape)).astype(np.float64))


def imatmul(A: np.ndarray, B: np.ndarray, LA: np.ndarray | None = None) -> np.ndarray:
    """Exact ``A @ B`` of integer (object) arrays, ``B`` 1-D or 2-D; ``LA`` = ``limbs(A)``
    when known. Large products run as one float64 BLAS product of the digit matrices (exact:
    see :data:`LIMB`), the digits' carries are then propagated in int64 and the Python ints
    rebuilt from bytes."""
    n, k = A.shape
    vec = B.ndim == 1
    m = 1 if vec else B.shape[1]
    if n * k * m < BLAS_MIN or k >= 1 << 20:
        return A @ B
    if LA is None:
        LA = limbs(A)
    B2 = B[:, None] if vec else B
    LB = limbs(B2)
    TA, TB = LA.shape[0], LB.shape[0]
    R = LA.reshape(TA * n, k) @ LB.transpose(1, 0, 2).reshape(k, TB * m)
    R = R.astype(np.int64).reshape(TA, n, TB, m)
    S = TA + TB - 1
    D = np.zeros((S, n, m), dtype=np.int64)
    for i in range(TA):
        D[i:i + TB] += R[i].transpose(1, 0, 2)
    if S > 1:
        carry(D)
    low = np.ascontiguousarray(D[:S - 1].transpose(1, 2, 0)).astype("<u2").tobytes()
    top = D[S - 1].ravel().tolist()
    w = (S - 1) * LIMB // 8
    sh = (S - 1) * LIMB
    fb = int.from_bytes
    out = np.empty(n * m, dtype=object)
    out[:] = [fb(low[o * w:(o + 1) * w], "little") + (t << sh) for o, t in enumerate(top)]
    return out if vec else out.reshape(n, m)


# ----- integers as int64 limbs ---------------------------------------------------------------
#: Powers ``2**(16 p)`` as Python integers, for rebuilding integers from limbs.
_POW = [1 << (LIMB * p) for p in range(256)]


def split_small(M: np.ndarray) -> np.ndarray:
    """Limbs ``(3, *M.shape)`` float64 of a float64 array of integers below ``2**47`` in
    magnitude: ``M = D0 + D1 2**16 + D2 2**32``, ``D0, D1`` in ``[0, 2**16)``, ``D2`` signed."""
    Mi = M.astype(np.int64)
    return np.stack([Mi & 0xFFFF, (Mi >> 16) & 0xFFFF, Mi >> 32]).astype(np.float64)


def carry(D: np.ndarray) -> np.ndarray:
    """Carries propagated in place in int64 limbs ``D`` (axis 0, lowest first): every limb but
    the top one ends in ``[0, 2**16)``, the top one keeps the sign; the value is unchanged
    (the caller leaves the top limb room enough)."""
    for p in range(D.shape[0] - 1):  # one sweep, lowest limb first: each carry lands once
        D[p + 1] += D[p] >> LIMB
        D[p] &= 0xFFFF
    return D


def limb_ints(D: np.ndarray) -> np.ndarray:
    """The Python integers ``sum_p D[p] 2**(16 p)`` (an object array) of int64 limbs ``D``
    (P, R), one per column (carried or not)."""
    w = np.array(_POW[:D.shape[0]], dtype=object)
    return np.ascontiguousarray(D.T).astype(object) @ w


def floor_rows(D: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row rounded down to ``bits`` significant bits: for carried int64 limbs ``D``
    (P, R, m) of integers ``v``, returns ``M`` (R, m) float64 and ``drop`` (R,) int64 with
    ``M = floor(v / 2**drop)`` exactly and ``|M| < 2**bits`` (``bits <= 47``).

    ``drop`` comes from a float64 estimate of each row's largest magnitude (with a bit to
    spare; rows beyond the float range start from the limb count); the integers then decide:
    the kept limbs are accumulated in int64 only while they cannot wrap (a row whose kept part
    would reach ``2**46`` before its last limb is redone 16 bits coarser), ``|M| < 2**bits``
    is checked exactly, and rows that miss it are redone with a larger ``drop``."""
    D = _canonical_top(D)
    P, R, m = D.shape
    with np.errstate(over="ignore", invalid="ignore"):
        f = D[P - 1].astype(np.float64)
        for p in range(P - 2, -1, -1):
            f = f * 65536.0 + D[p]
        big = np.abs(f).max(axis=1) if m else np.zeros(R)
    finite = np.isfinite(big)
    _, ex = np.frexp(np.where(finite, big, 0.0))
    drop = np.where(finite, np.maximum(ex.astype(np.int64) + 1 - bits, 0),
                    max(LIMB * P + 1 - bits, 0))
    rows = np.arange(R)
    lim = 1 << bits
    safe = 1 << 46  # |acc| below this: acc * 2**16 + limb stays below 2**62
    while True:
        q, rb = drop // LIMB, drop % LIMB
        acc = np.zeros((R, m), dtype=np.int64)
        over = np.zeros(R, dtype=bool)
        qq = q[:, None]
        for p in range(P - 1, int(q.min()) if R else P, -1):
            take = p > qq  # rows whose kept limbs start below p take limb p in
            over |= (take & (np.abs(acc) >= safe)).any(axis=1)
            acc = np.where(take & ~over[:, None], acc * 65536 + D[p], acc)
        over |= (np.abs(acc) >= safe).any(axis=1)  # and acc * 2**(16 - rb) cannot wrap
        Dq = D.transpose(1, 0, 2)[rows, np.minimum(q, P - 1)]
        Dq = np.where((q < P)[:, None], Dq, np.where(D[P - 1] < 0, -1, 0))
        M = acc * (1 << (LIMB - rb))[:, None] + (Dq >> rb[:, None])
        bad = (np.abs(M) >= lim).any(axis=1) if m else np.zeros(R, dtype=bool)
        bad |= over
        if not bad.any():
            return M.astype(np.float64), drop
        drop = np.where(over, drop + LIMB, np.where(bad, drop + 1, drop))


def _canonical_top(D: np.ndarray) -> np.ndarray:
    """Carried limbs whose top limb is a signed 16-bit digit (more limbs while it is not), so
    that ``|v| < 2**(16 P - 1)``."""
    half = 1 << (LIMB - 1)
    while ((D[-1] < -half) | (D[-1] >= half)).any():
        D = np.concatenate([D, np.zeros((1, *D.shape[1:]), dtype=np.int64)])
        carry(D)
    return D
