"""Saving and loading shallow networks: a versioned JSON schema and ``.npz``.

JSON schema, ``"format": "verishallow.shallow", "version": 1`` (one object)::

    format, version      "verishallow.shallow", 1
    input_dim, output_dim
    domain               {"kind": "box"|"polytope"|"whole", "lower": [..], "upper": [..],
                          "A": [[..]..], "b": [..]}   (A, b only for polytope rows)
    complete             true iff the region engine proved coverage (SCIP)
    hidden_widths        widths of the source network's hidden layers (neuron names), or null
    rule                 {"boundary_tol", "fast_margin", "gap_tol", "domain_tol",
                          "tie_break": "smallest region id"}   (informational)
    hyperplanes          layer 1: {"H": [[..] * K], "c": [..], "neurons": [[flat ids] * K]}
                         h_k(x) = sum_j H[k][j] x_j + c[k]
    regions              layers 2-3, one object per region, in id order:
                         {"id": r, "pattern": "0110..." (activation bits, flat neuron order),
                          "selector": [[k, sigma, weight], ..]  (needs sigma * h_k(x) <= 0;
                                                                  weight is "inf"),
                          "alpha": [[..] * output_dim], "beta": [..]}
                         model on region r: y = alpha x + beta
    edges                region adjacency [[r, q], ..] (r < q), or null if unknown
    source               the deep network {"fingerprint", "weights": [W_1..], "biases": [..]}
                         (W_k as (out, in) nested lists), or null
    meta                 free-form provenance (method, seconds, ...)

Every float is written with ``repr`` (shortest round-trip form, so reading gives back the same
bits); infinities are the strings ``"inf"`` / ``"-inf"`` (plain JSON has no infinity).

``.npz`` holds the same content as arrays (see :func:`to_npz_bytes`); both formats round-trip
exactly. Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import write_bytes, write_text
from ..domain import Domain, domain_from_dict
from ..errors import InputError
from ..network import ReLUNetwork
from . import model as M
from .model import ShallowNetwork

FORMAT = "verishallow.shallow"
VERSION = 1


# ----- float encoding ---------------------------------------------------------------------
def _enc(v):
    """Floats (nested lists) with non-finite values as strings; finite floats stay floats
    (the json module writes them with repr, which round-trips exactly)."""
    if isinstance(v, list):
        return [_enc(t) for t in v]
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        if math.isnan(v):
            raise ValueError("NaN cannot be saved")
        return "inf" if v > 0 else "-inf"
    return v


def _dec(v):
    if isinstance(v, list):
        return [_dec(t) for t in v]
    if isinstance(v, str):
        if v == "inf":
            return math.inf
        if v == "-inf":
            return -math.inf
        raise InputError(f"unexpected string {v!r} where a number belongs")
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InputError(f"unexpected value {v!r} where a number belongs")
    return float(v)


def _arr(v, name: str) -> np.ndarray:
    try:
        return np.array(_dec(v), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(f"field {name!r} is not a numeric array: {exc}") from None


def _domain_dict(dom: Domain) -> dict:
    out: dict = {"kind": dom.kind, "lower": _enc(dom.lower.tolist()),
                 "upper": _enc(dom.upper.tolist())}
    if dom.A.shape[0]:
        out["A"] = dom.A.tolist()
        out["b"] = dom.b.tolist()
    return out


def _domain_from(data: dict) -> Domain:
    if not isinstance(data, dict):
        raise InputError("field 'domain' must be an object")
    d = dict(data)
    for key in ("lower", "upper"):
        d[key] = [None if not math.isfinite(t) else t for t in _dec(d.get(key, []))]
    return domain_from_dict(d)


# ----- JSON -------------------------------------------------------------------------------
def to_dict(net: ShallowNetwork) -> dict:
    src = None
    if net.source is not None:
        src = {"fingerprint": net.source.fingerprint,
               "weights": [w.tolist() for w in net.source.weights],
               "biases": [b.tolist() for b in net.source.biases]}
    regions = []
    for r in range(net.n_regions):
        a, b = net.selector_ptr[r], net.selector_ptr[r + 1]
        sel = [[int(k), int(s), _enc(float(w))] for k, s, w in
               zip(net.selector_index[a:b], net.selector_sigma[a:b], net.selector_weight[a:b],
                   strict=True)]
        reg = {"id": r}
        if net.patterns is not None:
            reg["pattern"] = "".join("1" if t else "0" for t in net.patterns[r])
        reg.update({"selector": sel, "alpha": net.alpha[r].tolist(),
                    "beta": net.beta[r].tolist()})
        regions.append(reg)
    return {
        "format": FORMAT,
        "version": VERSION,
        "input_dim": net.input_dim,
        "output_dim": net.output_dim,
        "domain": _domain_dict(net.domain),
        "complete": net.complete,
        "hidden_widths": None if net.hidden_widths is None else list(net.hidden_widths),
        "rule": {"boundary_tol": M.BOUNDARY_TOL, "fast_margin": M.FAST_MARGIN,
                 "gap_tol": M.GAP_TOL, "domain_tol": M.DOMAIN_TOL,
                 "tie_break": "smallest region id"},
        "hyperplanes": {"H": net.H.tolist(), "c": net.c.tolist(),
                        "neurons": [list(t) for t in net.hyperplane_neurons]},
        "regions": regions,
        "edges": None if net.edges is None else net.edges.tolist(),
        "source": src,
        "meta": net.meta,
    }


def to_json(net: ShallowNetwork) -> str:
    """The JSON text: one top-level key per line, one region per line."""
    data = to_dict(net)

    def dump(v) -> str:
        return json.dumps(v, allow_nan=False, separators=(",", ":"))

    lines = []
    for key, value in data.items():
        if key == "regions":
            body = ",\n".join("  " + dump(r) for r in value)
            lines.append(f'"regions": [\n{body}\n ]' if value else '"regions": []')
        else:
            lines.append(f"{json.dumps(key)}: {dump(value)}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


def from_dict(data: dict) -> ShallowNetwork:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"not a shallow network file (expected \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise InputError(f"unsupported shallow network version {data.get('version')!r} "
                         f"(this verishallow reads version {VERSION})")
    try:
        d, m = int(data["input_dim"]), int(data["output_dim"])
        domain = _domain_from(data["domain"])
        hp = data["hyperplanes"]
        H = _arr(hp["H"], "H").reshape(-1, d)
        c = _arr(hp["c"], "c").reshape(-1)
        neurons = [[int(i) for i in ids] for ids in hp["neurons"]]
        regs = data["regions"]
        R = len(regs)
        ptr, ks, sig, wgt, alpha, beta, pats = [0], [], [], [], [], [], []
        for r, reg in enumerate(regs):
            if int(reg["id"]) != r:
                raise InputError(f"regions must be listed in id order (found id {reg['id']} "
                                 f"at position {r})")
            for entry in reg["selector"]:
                k, s, w = entry
                ks.append(int(k))
                sig.append(float(_dec(s)))
                wgt.append(float(_dec(w)))
            ptr.append(len(ks))
            alpha.append(_arr(reg["alpha"], "alpha").reshape(m, d))
            beta.append(_arr(reg["beta"], "beta").reshape(m))
            if "pattern" in reg:
                p = reg["pattern"]
                if not isinstance(p, str) or set(p) - {"0", "1"}:
                    raise InputError(f"region {r}: pattern must be a string of 0 and 1")
                pats.append(np.array([ch == "1" for ch in p], dtype=bool))
        patterns = None
        if pats:
            if len(pats) != R or len({p.size for p in pats}) != 1:
                raise InputError("every region needs a pattern of the same length")
            patterns = np.array(pats)
        elif R == 0 and data.get("hidden_widths") is not None:
            patterns = np.zeros((0, sum(int(w) for w in data["hidden_widths"])), dtype=bool)
        source = None
        if data.get("source") is not None:
            s = data["source"]
            source = ReLUNetwork([_arr(w, "weights") for w in s["weights"]],
                                 [_arr(b, "biases") for b in s["biases"]])
            if source.fingerprint != s.get("fingerprint"):
                raise InputError("the stored source network does not match its fingerprint")
        edges = data.get("edges")
        return ShallowNetwork(
            domain=domain, H=H, c=c, hyperplane_neurons=neurons,
            selector_ptr=np.array(ptr), selector_index=np.array(ks, dtype=np.int64),
            selector_sigma=np.array(sig), selector_weight=np.array(wgt),
            alpha=np.array(alpha).reshape(R, m, d), beta=np.array(beta).reshape(R, m),
            patterns=patterns, source=source, hidden_widths=data.get("hidden_widths"),
            complete=bool(data.get("complete", False)),
            edges=None if edges is None else np.array(edges, dtype=np.int64).reshape(-1, 2),
            meta=data.get("meta") or {},
        )
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(f"malformed shallow network: {what}") from None


# ----- npz --------------------------------------------------------------------------------
def to_npz_bytes(net: ShallowNetwork) -> bytes:
    """Arrays: H, c, hp_ptr/hp_ids (neurons per hyperplane, CSR), sel_ptr, sel_index,
    sel_sigma, sel_weight (+inf), alpha, beta, patterns, dom_lower/upper/A/b, W0.., b0..,
    edges; ``header`` is the JSON of the scalar fields."""
    counts = [len(t) for t in net.hyperplane_neurons]
    arrays = {
        "H": net.H, "c": net.c,
        "hp_ptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "hp_ids": np.array([i for t in net.hyperplane_neurons for i in t], dtype=np.int64),
        "sel_ptr": net.selector_ptr, "sel_index": net.selector_index,
        "sel_sigma": net.selector_sigma, "sel_weight": net.selector_weight,
        "alpha": net.alpha, "beta": net.beta,
        "dom_lower": net.domain.lower, "dom_upper": net.domain.upper,
        "dom_A": net.domain.A, "dom_b": net.domain.b,
    }
    if net.patterns is not None:
        arrays["patterns"] = net.patterns
    if net.edges is not None:
        arrays["edges"] = net.edges
    n_layers = 0
    if net.source is not None:
        n_layers = len(net.source.weights)
        for k, (w, b) in enumerate(zip(net.source.weights, net.source.biases, strict=True)):
            arrays[f"W{k}"] = w
            arrays[f"b{k}"] = b
    header = {
        "format": FORMAT, "version": VERSION, "domain_kind": net.domain.kind,
        "complete": net.complete, "source_layers": n_layers,
        "source_fingerprint": None if net.source is None else net.source.fingerprint,
        "hidden_widths": None if net.hidden_widths is None else list(net.hidden_widths),
        "meta": net.meta,
    }
    arrays["header"] = np.array(json.dumps(header))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _from_npz(path: Path) -> ShallowNetwork:
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise InputError(f"cannot read shallow network {path}: {exc}") from None
    try:
        header = json.loads(str(a["header"]))
        if header.get("format") != FORMAT:
            raise InputError(f"{path} is not a shallow network file")
        if header.get("version") != VERSION:
            raise InputError(f"unsupported shallow network version {header.get('version')!r}")
        lo, hi, A, b = a["dom_lower"], a["dom_upper"], a["dom_A"], a["dom_b"]
        kind = header["domain_kind"]
        dd = {"kind": kind, "lower": [None if not np.isfinite(t) else float(t) for t in lo],
              "upper": [None if not np.isfinite(t) else float(t) for t in hi]}
        if A.shape[0]:
            dd["A"], dd["b"] = A, b
        domain = domain_from_dict(dd)
        ptr = a["hp_ptr"]
        neurons = [a["hp_ids"][ptr[k]:ptr[k + 1]].tolist() for k in range(len(ptr) - 1)]
        source = None
        if header.get("source_layers"):
            n = int(header["source_layers"])
            source = ReLUNetwork([a[f"W{k}"] for k in range(n)], [a[f"b{k}"] for k in range(n)])
            if source.fingerprint != header.get("source_fingerprint"):
                raise InputError("the stored source network does not match its fingerprint")
        return ShallowNetwork(
            domain=domain, H=a["H"], c=a["c"], hyperplane_neurons=neurons,
            selector_ptr=a["sel_ptr"], selector_index=a["sel_index"],
            selector_sigma=a["sel_sigma"], selector_weight=a["sel_weight"],
            alpha=a["alpha"], beta=a["beta"], patterns=a.get("patterns"), source=source,
            hidden_widths=header.get("hidden_widths"), complete=bool(header.get("complete")),
            edges=a.get("edges"), meta=header.get("meta") or {},
        )
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, json.JSONDecodeError) as exc:
        what = f"missing array {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(f"malformed shallow network {path}: {what}") from None


# ----- entry points -----------------------------------------------------------------------
def save_shallow(net: ShallowNetwork, path: str | Path) -> None:
    """Write ``net`` to ``path`` atomically: ``.npz`` by suffix, the JSON schema otherwise."""
    path = Path(path)
    if path.suffix == ".npz":
        write_bytes(path, to_npz_bytes(net))
    else:
        write_text(path, to_json(net))


def load_shallow(path: str | Path) -> ShallowNetwork:
    """Read a shallow network saved as JSON or ``.npz`` (sniffed from the file's first bytes).

    Any unreadable, truncated or inconsistent file raises :class:`InputError` (one line).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise InputError(f"shallow network file not found: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(b"PK"):
        return _from_npz(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read shallow network {path}: not valid JSON "
                         f"({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return from_dict(data)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
