"""Read a VNN-LIB file of either version into one normal form (:class:`VnnlibProperty`).

VNN-LIB 1.0 is read by :mod:`verishallow.vnnlib1` (which also holds the normal form), 2.0
queries of one network by :mod:`verishallow.vnnlib2`; the version is told by the text's first
command. See docs/vnnlib.md.
"""

from __future__ import annotations

from pathlib import Path

from .domain import Domain
from .errors import InputError
from .vnnlib1 import (
    MAX_DNF_TERMS,
    InputRegion,
    LinearConstraints,
    VnnlibProperty,
    is_vnnlib2,
    parse_vnnlib1_text,
)
from .vnnlib2 import parse_vnnlib2_text

__all__ = ["MAX_DNF_TERMS", "InputRegion", "LinearConstraints", "VnnlibProperty",
           "domain_from_vnnlib", "is_vnnlib2", "parse_vnnlib", "parse_vnnlib_text"]


def parse_vnnlib_text(text: str, path: str = "<vnnlib>", n_inputs: int | None = None,
                      n_outputs: int | None = None) -> VnnlibProperty:
    """Parse VNN-LIB source text of either version; see :func:`parse_vnnlib`."""
    if is_vnnlib2(text):
        return parse_vnnlib2_text(text, path, n_inputs, n_outputs)
    return parse_vnnlib1_text(text, path, n_inputs, n_outputs)


def parse_vnnlib(path: str | Path, n_inputs: int | None = None,
                 n_outputs: int | None = None) -> VnnlibProperty:
    """Parse a ``.vnnlib`` file; ``n_inputs``/``n_outputs`` check it against a model.

    Reads VNN-LIB 1.0 and single-network VNN-LIB 2.0 queries (see :mod:`verishallow.vnnlib2`;
    a 2.0 query over several networks raises ``InputError``: use ``vnnlib2.parse_query``).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"VNN-LIB file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read VNN-LIB file {path}: {exc}") from None
    return parse_vnnlib_text(text, str(path), n_inputs, n_outputs)


def domain_from_vnnlib(path: str | Path) -> Domain:
    """The single input region of a VNN-LIB file, as a domain to analyse a network on."""
    prop = parse_vnnlib(path)
    if len(prop.cases) != 1:
        raise InputError(f"{path} has {len(prop.cases)} input regions (an 'or' over inputs); a "
                         "domain must be one region: split the file or use the property itself")
    return prop.cases[0][0].domain
