"""Model files -> :class:`~verishallow.network.ReLUNetwork`, and back.

Every loader folds its format's extras (ONNX normalisation and batch-norm nodes, NNet input and
output scaling) into plain dense layers, so the rest of the package sees one representation.
Negative zeros are written as ``+0.0`` so a network's fingerprint does not depend on the format
it came from.
"""

from __future__ import annotations

from pathlib import Path

from ..domain import Domain, load_domain_json
from ..errors import InputError
from ..network import ReLUNetwork
from .npz import load_npz, save_npz
from .torch import from_torch

#: File suffixes :func:`load` understands.
SUPPORTED_SUFFIXES = (".onnx", ".nnet", ".npz")

__all__ = [
    "SUPPORTED_SUFFIXES", "from_torch", "load", "load_with_domain", "save_nnet", "save_npz",
    "save_onnx", "sidecar_path",
]


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"cannot load {path}: unknown model format {path.suffix or '(none)'!r}; "
                         f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.exists():
        raise InputError(f"model file not found: {path}")
    if not path.is_file():
        raise InputError(f"model path is not a file: {path}")
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        raise InputError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if empty:
        raise InputError(f"model file is empty (0 bytes): {path}")
    return path


def _onnx_network(path: Path, model, prefixed: type[Exception] = InputError) -> ReLUNetwork:
    """The network of a parsed ONNX file: traced (errors of type ``prefixed`` get the path in
    front), or read back from verishallow's own export of a shallow network
    (:mod:`.shallow_onnx`)."""
    from .onnx import network_from_onnx
    from .shallow_onnx import is_shallow_export, network_from_shallow_export

    if is_shallow_export(model):
        return network_from_shallow_export(model, path)
    try:
        return network_from_onnx(model)
    except prefixed as exc:
        raise type(exc)(f"{path}: {exc}") from None


def load(path: str | Path) -> ReLUNetwork:
    """Load a network, choosing the reader by file suffix (.onnx, .nnet, .npz)."""
    path = _check_path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from ..errors import UnsupportedModelError
        from .onnx import read_model

        return _onnx_network(path, read_model(path), UnsupportedModelError)
    if suffix == ".nnet":
        from .nnet import load_nnet

        return load_nnet(path)
    return load_npz(path)


def sidecar_path(path: str | Path) -> Path:
    """Where a model's default domain lives: ``NAME.domain.json`` beside ``NAME.onnx``."""
    path = Path(path)
    return path.with_name(path.stem + ".domain.json")


def load_with_domain(path: str | Path) -> tuple[ReLUNetwork, Domain | None]:
    """The network and the default domain shipped with it, if any.

    Looked up in order: a ``NAME.domain.json`` sidecar, ONNX metadata ``verishallow.domain``,
    an NNet file's own input min/max box; otherwise ``None``.
    """
    path = _check_path(path)
    suffix = path.suffix.lower()
    side = sidecar_path(path)
    has_sidecar = side.is_file()
    domain: Domain | None = None
    if suffix == ".onnx":
        from .onnx import onnx_domain, read_model

        model = read_model(path)
        net = _onnx_network(path, model)
        if not has_sidecar:
            domain = onnx_domain(model)
    elif suffix == ".nnet":
        from .nnet import load_nnet_with_box

        net, domain = load_nnet_with_box(path)
    else:
        net = load_npz(path)
    if has_sidecar:
        domain = load_domain_json(side)
        where = str(side)
    else:
        where = f"{path} (embedded domain)"
    if domain is not None and domain.dim != net.input_dim:
        raise InputError(f"default domain in {where} has {domain.dim} coordinates but the "
                         f"model has {net.input_dim} inputs")
    return net, domain


def save_onnx(net: ReLUNetwork, path: str | Path, domain: Domain | None = None,
              metadata: dict[str, str] | None = None) -> None:
    """Write ``net`` as a Gemm/Relu ONNX model; see :func:`verishallow.io.onnx.save_onnx`."""
    from .onnx import save_onnx as _save

    _save(net, path, domain, metadata)


def save_nnet(net: ReLUNetwork, path: str | Path, domain: Domain | None = None) -> None:
    """Write ``net`` in NNet format; see :func:`verishallow.io.nnet.save_nnet`."""
    from .nnet import save_nnet as _save

    _save(net, path, domain)
