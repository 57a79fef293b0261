"""Reading back verishallow's own ONNX export of a shallow network.

``verishallow convert --onnx OUT.onnx`` writes the three-layer network as an ONNX graph (region
selection by ``ArgMin``/``Gather``, outputs ``Y`` and ``region``; see
:mod:`verishallow.shallow.onnx_export`). That graph is not a chain of affine maps and ReLUs, so
the ONNX loader cannot trace it; but the export carries the shallow network itself in its
metadata (``verishallow.shallow``, the ``convert`` JSON with the source network), and
:func:`network_from_shallow_export` turns it back into a :class:`ReLUNetwork`:

1. the graph must be, byte for byte, what the exporter writes for the embedded shallow network
   (so the file computes that network, not something else under the same metadata);
2. the embedded shallow network must be proved equal to its source network in exact arithmetic
   (:func:`verishallow.equiv.check_shallow_equivalence`, epsilon 0: complete coverage and
   every region's model the source's exact piece);
3. then the source network *is* the file's function on its domain, and is returned; the
   domain is the default domain of the file (``verishallow.domain`` metadata).

Anything else is one clear :class:`InputError`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..network import ReLUNetwork

#: Same keys as :mod:`verishallow.shallow.onnx_export` (not imported: keeps this module light).
KIND_KEY = "verishallow.kind"
KIND = "shallow-network"
SHALLOW_KEY = "verishallow.shallow"


def _props(model) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def is_shallow_export(model) -> bool:
    """Is this ``ModelProto`` verishallow's export of a shallow network?"""
    props = _props(model)
    if props.get(KIND_KEY) == KIND:
        return True
    # exports written before the metadata existed: the exporter's graph name and outputs
    return (model.graph.name == "verishallow_shallow"
            and [o.name for o in model.graph.output] == ["Y", "region"])


def shallow_from_export(model, path: str | Path):
    """The :class:`~verishallow.shallow.ShallowNetwork` embedded in a shallow export, checked
    against the file's graph."""
    import json

    from ..shallow.onnx_export import to_onnx
    from ..shallow.serialise import from_dict

    text = _props(model).get(SHALLOW_KEY)
    if text is None:
        raise InputError(f"{path} is a verishallow shallow-network export without the network "
                         "in its metadata (written by an older version); load the .json or "
                         ".npz file that 'verishallow convert' wrote, or convert again")
    try:
        shallow = from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{path}: the embedded shallow network is unreadable "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                         ) from None
    except InputError as exc:
        raise InputError(f"{path}: the embedded shallow network: {exc}") from None
    if to_onnx(shallow, metadata=False).graph.SerializeToString() != \
            model.graph.SerializeToString():
        raise InputError(f"{path}: the ONNX graph is not the export of the shallow network in "
                         "its metadata (the file was modified)")
    return shallow


def network_from_shallow_export(model, path: str | Path) -> ReLUNetwork:
    """The deep network a shallow export provably equals on its domain (see module doc)."""
    from ..equiv import check_shallow_equivalence

    shallow = shallow_from_export(model, path)
    if shallow.source is None:
        raise InputError(f"{path}: the shallow network carries no source network, so it "
                         "cannot be read as a ReLU network")
    res = check_shallow_equivalence(shallow.source, shallow, epsilon=0.0)
    if res.equivalent is not True or res.exact != "0":
        why = res.details.get("reason") or "a sampled point differs"
        raise InputError(f"{path}: the shallow network is not proved equal to its source "
                         f"network ({why}); convert again (with the coverage proof)")
    return shallow.source
