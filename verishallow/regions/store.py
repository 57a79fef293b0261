"""On-disk region store: regions streamed to a directory in fixed-size chunks.

A store is a directory holding ``manifest.json``, numbered ``chunk-NNNNNN.npz`` files (finished
regions in id order; every chunk but the last holds exactly ``chunk_size`` regions) and, while a
run is unfinished, ``found-NNNNNNNNN.npz`` segments with the regions found since the chunks
(their neighbours not known yet). Every file is written atomically, data files before the
manifest that lists them, so the manifest always describes a consistent store: a crash, Ctrl-C
or ``kill -9`` at any moment leaves the store as it was at its last checkpoint. The format is
documented in ``docs/region-store.md``.

Reading goes chunk by chunk (:meth:`RegionStore.regions`), so a store of any size can be
scanned in the memory of one chunk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes, write_text
from ..domain import Domain
from ..errors import InputError
from ..network import ReLUNetwork
from .region import Facet, Region

FORMAT = "verishallow-region-store"
VERSION = 1
MANIFEST = "manifest.json"
#: Locked (``lockf``) by the one process writing the store; the OS drops the lock when that
#: process ends, however it ends, so a killed run leaves no stale lock.
LOCK = "writer.lock"
#: Regions per chunk file.
CHUNK_SIZE = 4096
_KINDS = ("neuron", "domain")
_OWN_FILE = re.compile(r"^(chunk|found|rejected)-\d+\.npz$")


# ----- chunk encoding ---------------------------------------------------------------------
def encode_regions(regions: list[Region], zero_neurons: list[np.ndarray], n_hidden: int,
                   input_dim: int, output_dim: int) -> dict[str, np.ndarray]:
    """The arrays of one chunk (see docs/region-store.md): per-region rows and facets in CSR."""
    n = len(regions)
    nbytes = (n_hidden + 7) // 8
    facets = [f for r in regions for f in r.facets]
    nf = len(facets)

    def ptr(lengths: Iterable[int]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(np.fromiter(lengths, dtype=np.int64))]
                              ).astype(np.int64)

    def packed(rows: list[np.ndarray]) -> np.ndarray:
        if not rows:
            return np.zeros((0, nbytes), dtype=np.uint8)
        return np.packbits(np.asarray(rows, dtype=bool).reshape(n, n_hidden), axis=1)

    return {
        "ids": np.array([r.id for r in regions], dtype=np.int64),
        "patterns": packed([r.pattern for r in regions]),
        "zero_neurons": packed(zero_neurons),
        "centers": np.array([r.center for r in regions], dtype=np.float64).reshape(n, input_dim),
        "radii": np.array([r.radius for r in regions], dtype=np.float64),
        "alpha": np.array([r.alpha for r in regions], dtype=np.float64
                          ).reshape(n, output_dim, input_dim),
        "beta": np.array([r.beta for r in regions], dtype=np.float64).reshape(n, output_dim),
        "facet_ptr": ptr(len(r.facets) for r in regions),
        "facet_kind": np.array([_KINDS.index(f.kind) for f in facets], dtype=np.uint8),
        "facet_ids_ptr": ptr(len(f.ids) for f in facets),
        "facet_ids": np.array([i for f in facets for i in f.ids], dtype=np.int64),
        "facet_normal": np.array([f.normal for f in facets], dtype=np.float64
                                 ).reshape(nf, input_dim),
        "facet_offset": np.array([f.offset for f in facets], dtype=np.float64),
        "facet_point": np.array([f.point for f in facets], dtype=np.float64
                                ).reshape(nf, input_dim),
        "facet_nb_ptr": ptr(len(f.neighbours) for f in facets),
        "facet_nb": np.array([j for f in facets for j in f.neighbours], dtype=np.int64),
    }


def decode_regions(a: Any, n_hidden: int) -> Iterator[tuple[Region, np.ndarray]]:
    """``(region, zero-neuron mask)`` for every region of a chunk's arrays, in id order."""
    ids, fptr, iptr, nptr = a["ids"], a["facet_ptr"], a["facet_ids_ptr"], a["facet_nb_ptr"]
    kind, fids, normal = a["facet_kind"], a["facet_ids"].tolist(), a["facet_normal"]
    offset, point, nb = a["facet_offset"].tolist(), a["facet_point"], a["facet_nb"].tolist()
    iptr_l, nptr_l = iptr.tolist(), nptr.tolist()
    patterns = np.unpackbits(a["patterns"], axis=1, count=n_hidden).astype(bool)
    zeros = np.unpackbits(a["zero_neurons"], axis=1, count=n_hidden).astype(bool)
    centers, radii, alpha, beta = a["centers"], a["radii"], a["alpha"], a["beta"]
    for i in range(len(ids)):
        facets = tuple(
            Facet(_KINDS[kind[k]], tuple(fids[iptr_l[k]:iptr_l[k + 1]]), normal[k].copy(),
                  offset[k], point[k].copy(), tuple(nb[nptr_l[k]:nptr_l[k + 1]]))
            for k in range(int(fptr[i]), int(fptr[i + 1]))
        )
        yield (Region(int(ids[i]), patterns[i].copy(), facets, centers[i].copy(),
                      float(radii[i]), alpha[i].copy(), beta[i].copy()), zeros[i].copy())


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_info(net: ReLUNetwork) -> dict:
    return {"fingerprint": net.fingerprint, "inputs": net.input_dim, "outputs": net.output_dim,
            "hidden": net.n_hidden}


def _canonical(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (so dicts compare equal before and after a save)."""
    return json.loads(json.dumps(obj))


# ----- the store --------------------------------------------------------------------------
@contextmanager
def writer_lock(path: str | Path) -> Iterator[None]:
    """The exclusive right to write the store at ``path`` (an existing directory): a second
    process resuming the same store would interleave chunks and checkpoints. InputError when
    another process holds it. Where ``fcntl`` does not exist (not POSIX) there is no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(Path(path) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            # a POSIX record lock, not flock: forked pool workers do not inherit it, so a
            # killed run's lingering workers cannot keep its store locked
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"region store {path} is being written by another process; let "
                             "it finish (or stop it) before resuming") from None
        yield
    finally:
        os.close(fd)  # releases the lock


class RegionStore:
    """A region store directory: read it with :meth:`regions`; the search writes it."""

    def __init__(self, path: str | Path, manifest: dict):
        self.path = Path(path)
        self.manifest = manifest
        m = manifest["model"]
        self.n_hidden, self.input_dim, self.output_dim = m["hidden"], m["inputs"], m["outputs"]
        self.chunk_size = int(manifest["settings"]["chunk_size"])
        self._buffer: list[tuple[Region, np.ndarray]] = []  # finished, not yet in a chunk
        self._found: list[dict] = []  # found segments still needed (written, maybe unlisted)

    # ----- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> RegionStore:
        """An existing store (InputError if ``path`` is none)."""
        path = Path(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise InputError(f"{path} is not a region store (no {MANIFEST})") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read region store {path}: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise InputError(f"{path} is not a region store (format is not {FORMAT})")
        if manifest.get("version") != VERSION:
            raise InputError(f"region store {path} has format version "
                             f"{manifest.get('version')}; this verishallow reads {VERSION}")
        return cls(path, manifest)

    @classmethod
    def create(cls, path: str | Path, net: ReLUNetwork, domain: Domain, settings: dict,
               chunk_size: int = CHUNK_SIZE) -> RegionStore:
        """A new, empty store (the directory may exist but must hold no store)."""
        path = Path(path)
        if (path / MANIFEST).exists():
            raise InputError(f"{path} already holds a region store; pass resume (--resume) to "
                             "continue it, or remove it")
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} exists and is not a directory")
        if chunk_size < 1:
            raise InputError(f"chunk size must be at least 1, got {chunk_size}")
        path.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT, "version": VERSION,
            "model": model_info(net), "domain": _canonical(domain.to_dict()),
            "settings": _canonical({**settings, "chunk_size": int(chunk_size)}),
            "status": "running", "chunks": [], "state": None, "summary": None,
            "coverage": None,
        }
        store = cls(path, manifest)
        store._write_manifest()
        return store

    def check_matches(self, net: ReLUNetwork, domain: Domain, settings: dict | None = None
                      ) -> None:
        """InputError unless this store was made for ``net``, ``domain`` and (unless None)
        ``settings``."""
        m = self.manifest
        if m["model"]["fingerprint"] != net.fingerprint:
            raise InputError(f"region store {self.path} was made for another model "
                             f"(fingerprint {m['model']['fingerprint'][:16]}..., this model "
                             f"{net.fingerprint[:16]}...)")
        if m["domain"] != _canonical(domain.to_dict()):
            raise InputError(f"region store {self.path} was made for another domain")
        if settings is None:
            return
        mine = {k: v for k, v in m["settings"].items() if k != "chunk_size"}
        if mine != _canonical(settings):
            diff = sorted(k for k in set(mine) | set(settings)
                          if mine.get(k) != _canonical(settings).get(k))
            raise InputError(f"region store {self.path} was made with other settings "
                             f"({', '.join(diff)})")

    # ----- facts --------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """True once the search finished (every region is in a chunk)."""
        return self.manifest["status"] == "complete"

    @property
    def n_chunked(self) -> int:
        return sum(c["count"] for c in self.manifest["chunks"])

    def __len__(self) -> int:
        """Regions in the store: in chunks, plus those found since (unfinished runs)."""
        st = self.manifest.get("state") or {}
        return max(self.n_chunked, int(st.get("regions", 0)))

    def summary(self) -> dict:
        """The ``regions --json`` report of a complete store (as ``Partition.summary``)."""
        s = dict(self.manifest["summary"] or {})
        s.pop("lps", None)
        return s

    # ----- reading ------------------------------------------------------------------------
    def _load(self, name: str, sha: str) -> Any:
        data = (self.path / name).read_bytes()
        if _sha256(data) != sha:
            raise InputError(f"region store {self.path}: {name} is corrupt (sha256 mismatch)")
        return np.load(io.BytesIO(data), allow_pickle=False)

    def chunk(self, i: int) -> list[tuple[Region, np.ndarray]]:
        """``(region, zero-neuron mask)`` pairs of chunk ``i``."""
        c = self.manifest["chunks"][i]
        return list(decode_regions(self._load(c["file"], c["sha256"]), self.n_hidden))

    def records(self, include_found: bool = False) -> Iterator[tuple[Region, np.ndarray]]:
        """Every chunked ``(region, zero-neuron mask)`` in id order, one chunk in memory at a
        time; with ``include_found`` an unfinished run's later regions follow (from its
        ``found`` segments, facet neighbours not filled in)."""
        for i in range(len(self.manifest["chunks"])):
            yield from self.chunk(i)
        if include_found:
            n = self.n_chunked
            for seg in (self.manifest.get("state") or {}).get("found", []):
                for region, zero in decode_regions(self._load(seg["file"], seg["sha256"]),
                                                   self.n_hidden):
                    if region.id >= n:
                        yield region, zero

    def regions(self) -> Iterator[Region]:
        """Every finished region in id order, chunk by chunk (bounded memory): all of them
        once the store is complete."""
        for region, _ in self.records():
            yield region

    def patterns(self) -> Iterator[np.ndarray]:
        """Every finished region's activation pattern, in id order (decodes nothing else)."""
        for c in self.manifest["chunks"]:
            packed = self._load(c["file"], c["sha256"])["patterns"]
            yield from np.unpackbits(packed, axis=1, count=self.n_hidden).astype(bool)

    def rejected(self) -> list[tuple[np.ndarray, float | None]]:
        """Patterns the LP engine rejected near its tolerance (``Partition.stats``)."""
        rej = (self.manifest.get("state") or {}).get("rejected")
        if not rej:
            return []
        a = self._load(rej["file"], rej["sha256"])
        pats = np.unpackbits(a["patterns"], axis=1, count=self.n_hidden).astype(bool)
        return [(p.copy(), None if np.isnan(r) else float(r))
                for p, r in zip(pats, a["radii"].tolist(), strict=True)]

    def partition(self, net: ReLUNetwork, domain: Domain | None = None):
        """The whole store as a :class:`Partition` (every region in memory)."""
        import networkx as nx

        from ..domain import domain_from_dict
        from .builder import add_edge_label, prepare
        from .region import Partition

        if not self.complete:
            raise InputError(f"region store {self.path} is unfinished; resume it first")
        domain = domain_from_dict(self.manifest["domain"]) if domain is None else domain
        self.check_matches(net, domain)
        red, _, bounds, _ = prepare(net, domain)
        regions = list(self.regions())
        graph = nx.Graph()
        for r in regions:
            graph.add_node(r.id)
            for f in r.facets:
                for j in f.neighbours:
                    add_edge_label(graph, r.id, j, f.ids)
        s = self.manifest["summary"]
        stats: dict = {"lps": s["lps"], "rejected": self.rejected(), "store": str(self.path)}
        if self.manifest.get("coverage"):
            stats["coverage"] = self.manifest["coverage"]
        return Partition(net, domain, regions, graph, s["method"], bool(s["complete"]), bounds,
                         red, float(s["seconds"]), stats)

    # ----- writing (used by the search) ---------------------------------------------------
    def _write_manifest(self) -> None:
        write_text(self.path / MANIFEST, json.dumps(self.manifest, indent=1) + "\n")

    def append(self, region: Region, zero_neurons: np.ndarray) -> None:
        """Add a finished region (the next id); full chunks go to disk at once, but the
        manifest lists them only at the next :meth:`checkpoint`."""
        expected = self.n_chunked + len(self._buffer)
        if region.id != expected:
            raise RuntimeError(f"region {region.id} appended where {expected} was expected")
        self._buffer.append((region, zero_neurons))
        if len(self._buffer) >= self.chunk_size:
            self._flush_chunk()

    def _encode(self, recs: list[tuple[Region, np.ndarray]]) -> dict[str, np.ndarray]:
        return encode_regions([r for r, _ in recs], [z for _, z in recs], self.n_hidden,
                              self.input_dim, self.output_dim)

    def _flush_chunk(self) -> None:
        recs, self._buffer = self._buffer, []
        if not recs:
            return
        i = len(self.manifest["chunks"])
        name = f"chunk-{i:06d}.npz"
        data = _npz_bytes(self._encode(recs))
        write_bytes(self.path / name, data)
        hist = Counter(len(r.facets) for r, _ in recs)
        self.manifest["chunks"].append({
            "file": name, "first": recs[0][0].id, "count": len(recs), "sha256": _sha256(data),
            "facet_histogram": {str(k): v for k, v in sorted(hist.items())},
        })

    def stage(self, recs: list[tuple[Region, np.ndarray]]) -> None:
        """Write regions found since the last checkpoint (neighbours not known yet) as one
        ``found`` segment; the next :meth:`checkpoint` lists it."""
        if not recs:
            return
        first = recs[0][0].id
        name = f"found-{first:09d}.npz"
        data = _npz_bytes(self._encode(recs))
        write_bytes(self.path / name, data)
        self._found.append({"file": name, "first": first, "count": len(recs),
                            "sha256": _sha256(data)})

    def checkpoint(self, meta: dict, rejected: list[tuple[np.ndarray, float | None]]) -> None:
        """Make everything written so far durable: list the new chunks and ``found``
        segments (and the rejection list, if it grew) in the manifest, with the run's
        counters ``meta``; then delete the files the new manifest no longer needs."""
        old = self.manifest.get("state") or {}
        n = self.n_chunked
        found = [f for f in self._found if f["first"] + f["count"] > n]
        drop = [f["file"] for f in self._found if f["first"] + f["count"] <= n]
        rej = old.get("rejected")
        if len(rejected) != (rej["count"] if rej else 0):
            nbytes = (self.n_hidden + 7) // 8
            rp = [p for p, _ in rejected]
            data = _npz_bytes({
                "patterns": (np.packbits(np.asarray(rp, dtype=bool), axis=1) if rp
                             else np.zeros((0, nbytes), dtype=np.uint8)),
                "radii": np.array([np.nan if r is None else r for _, r in rejected],
                                  dtype=np.float64),
            })
            name = f"rejected-{len(rejected):09d}.npz"
            write_bytes(self.path / name, data)
            if rej and rej["file"] != name:
                drop.append(rej["file"])
            rej = {"file": name, "count": len(rejected), "sha256": _sha256(data)}
        self._found = found
        self.manifest["state"] = {**meta, "found": list(found), "rejected": rej}
        self._write_manifest()
        for name in drop:
            _unlink(self.path / name)

    def finish(self, meta: dict, rejected: list[tuple[np.ndarray, float | None]],
               summary: dict) -> None:
        """The search is over: last chunk, summary, and a final checkpoint."""
        self._flush_chunk()
        hist: Counter = Counter()
        for c in self.manifest["chunks"]:
            hist.update({int(k): v for k, v in c["facet_histogram"].items()})
        n = self.n_chunked
        summary = {
            "regions": n,
            "mean_facets": (sum(k * v for k, v in hist.items()) / n) if n else 0.0,
            "facet_histogram": {str(k): v for k, v in sorted(hist.items())},
            **summary,
        }
        self.manifest["status"] = "complete"
        self.manifest["summary"] = summary
        self.checkpoint(meta, rejected)

    def set_coverage(self, coverage: dict, complete: bool) -> None:
        self.manifest["coverage"] = coverage
        self.manifest["summary"]["complete"] = bool(complete)
        self._write_manifest()

    def resume_writing(self) -> None:
        """Prepare an unfinished store for more writes: forget files an interrupted write
        left behind (they would be rewritten anyway) and take over its segment list."""
        st = self.manifest.get("state") or {}
        self._found = list(st.get("found", []))
        listed = {c["file"] for c in self.manifest["chunks"]}
        listed |= {f["file"] for f in self._found}
        if st.get("rejected"):
            listed.add(st["rejected"]["file"])
        for p in self.path.iterdir():
            if (_OWN_FILE.match(p.name) and p.name not in listed) or \
                    (p.name.startswith(".") and p.name.endswith(".tmp")):
                _unlink(p)


def _unlink(p: Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def write_partition(path: str | Path, partition, chunk_size: int = CHUNK_SIZE) -> RegionStore:
    """Save a finished :class:`Partition` (any method) as a complete store."""
    net = partition.net
    store = RegionStore.create(path, net, partition.domain, {"method": partition.method},
                               chunk_size)
    zero = np.zeros(net.n_hidden, dtype=bool)  # not needed: a complete store is never resumed
    for r in partition.regions:
        store.append(r, zero)
    summary = {k: v for k, v in partition.summary().items()
               if k not in ("regions", "mean_facets", "facet_histogram")}
    summary["lps"] = partition.stats.get("lps", 0)
    store.finish({"regions": len(partition)}, partition.stats.get("rejected", []), summary)
    if partition.stats.get("coverage"):
        store.set_coverage(partition.stats["coverage"], partition.complete)
    return store
