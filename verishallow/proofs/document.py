"""What every certificate file shares: its format name, reading, the failed-check exception and
the verdict (one implementation for the partition, equivalence and proof-tree checkers).

Part of the trusted base: the standard library and :mod:`verishallow.exact` only.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..exact.linalg import FarkasError
from ..exact.numbers import MalformedNumber

FORMAT = "verishallow.certificate"
VERSION = 1


class CertificateError(InputError):
    """The file is not a readable verishallow certificate (missing, truncated, wrong format)."""


class Invalid(Exception):
    """A check failed; the message says which (caught per region, leaf or bound)."""


#: Everything a check raises when the certificate is wrong (never when the checker is): a failed
#: check, a number that is not the exact rational promised, multipliers that prove nothing.
INVALID = (Invalid, MalformedNumber, FarkasError)


@dataclass
class CheckResult:
    """Verdict of :func:`check_certificate`; ``failures`` holds messages, first failure first."""

    valid: bool
    failures: list[str]
    checked: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def first_failure(self) -> str | None:
        return self.failures[0] if self.failures else None

    def to_dict(self) -> dict:
        return {"valid": self.valid, "failures": list(self.failures),
                "checked": dict(self.checked), "seconds": self.seconds}


def read_document(path: str | Path) -> dict:
    """A certificate document of any format (gzip detected by its magic bytes), not yet
    checked for its format; an unreadable file raises :class:`CertificateError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"certificate file not found: {path}") from None
    except OSError as exc:
        raise CertificateError(f"cannot read certificate {path}: {exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise CertificateError(f"certificate {path} is a damaged gzip file: {exc}") from None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CertificateError(f"certificate {path} is not valid JSON (truncated?): {exc}"
                               ) from None
    if not isinstance(doc, dict):
        raise CertificateError(f"{path} is not a verishallow certificate (not a JSON object)")
    return doc


def load_certificate(path: str | Path) -> dict:
    """Read a partition certificate; bad files raise CertificateError."""
    cert = read_document(path)
    check_header(cert, str(path))
    return cert


def check_header(cert: Any, where: str) -> None:
    """Raise CertificateError unless ``cert`` is a partition certificate of this version."""
    if not isinstance(cert, dict) or cert.get("format") != FORMAT:
        raise CertificateError(f"{where} is not a verishallow certificate (no "
                               f"\"format\": \"{FORMAT}\")")
    if cert.get("version") != VERSION:
        raise CertificateError(f"{where}: unsupported certificate version "
                               f"{cert.get('version')!r} (this checker reads {VERSION})")


def run_guarded(run: Any, fail: Any, *args: Any, invalid: Any = INVALID
                ) -> None:
    """``run(*args)``, turning a failed check (``invalid``, default :data:`INVALID`) or a
    structurally broken document that got past the per-region guards into a failure message
    (``fail(msg)``) instead of a traceback."""
    try:
        run(*args)
    except invalid as exc:
        fail(str(exc))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        fail(f"malformed certificate ({type(exc).__name__}: {exc})")
