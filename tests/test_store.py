"""Region store: chunked round trip, checkpoints, resumed runs identical to uninterrupted ones."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from verishallow.domain import Box, Polytope
from verishallow.errors import InputError
from verishallow.io.npz import save_npz
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions
from verishallow.regions.search import SearchStatus, stream_regions
from verishallow.regions.store import MANIFEST, RegionStore

DOMAIN = Box([-2, -2, -2], [2, 2, 2])
MODELS = Path(__file__).resolve().parents[1] / "models"


def _net(seed: int = 0, width: int = 10) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(width, 3)), rng.normal(size=(width, width)),
                        rng.normal(size=(1, width))],
                       [rng.normal(size=width), rng.normal(size=width), rng.normal(size=1)])


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted in-memory graph search (about 450 regions)."""
    return enumerate_regions(_net(), DOMAIN, method="graph", prove_coverage=False)


def assert_same_partition(a, b) -> None:
    """Same regions in the same order with bit-identical geometry, neighbours and graph."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.id == rb.id and ra.key == rb.key
        np.testing.assert_array_equal(ra.pattern, rb.pattern)
        np.testing.assert_array_equal(ra.center, rb.center)
        assert ra.radius == rb.radius
        np.testing.assert_array_equal(ra.alpha, rb.alpha)
        np.testing.assert_array_equal(ra.beta, rb.beta)
        assert len(ra.facets) == len(rb.facets)
        for fa, fb in zip(ra.facets, rb.facets, strict=True):
            assert (fa.kind, fa.ids, fa.offset, fa.neighbours) == \
                (fb.kind, fb.ids, fb.offset, fb.neighbours)
            np.testing.assert_array_equal(fa.normal, fb.normal)
            np.testing.assert_array_equal(fa.point, fb.point)
    assert set(a.graph.nodes) == set(b.graph.nodes)
    assert set(a.graph.edges) == set(b.graph.edges)
    for e in a.graph.edges:
        assert a.graph.edges[e]["neurons"] == b.graph.edges[e]["neurons"]
    assert a.stats["lps"] == b.stats["lps"]
    assert len(a.stats["rejected"]) == len(b.stats["rejected"])


def _interrupt_at(n: int):
    def progress(found: int, queued: int) -> None:
        if found >= n:
            raise KeyboardInterrupt
    return progress


def test_round_trip_in_chunks(tmp_path, reference, monkeypatch):
    from verishallow.regions import store as store_module

    monkeypatch.setattr(store_module, "CHUNK_SIZE", 100)
    path = tmp_path / "store"
    # enumerate_regions with a store returns the same Partition, read back from the store
    part = enumerate_regions(_net(), DOMAIN, method="graph", prove_coverage=False, store=path)
    assert_same_partition(reference, part)
    rs = RegionStore.open(path)
    assert rs.complete and len(rs) == len(reference)
    m = json.loads((path / MANIFEST).read_text())
    assert m["format"] == "verishallow-region-store" and m["version"] == 1
    assert m["model"]["fingerprint"] == _net().fingerprint
    assert [c["count"] for c in m["chunks"]] == [100] * (len(reference) // 100) + \
        [len(reference) % 100]
    assert m["summary"]["regions"] == len(reference)
    assert rs.summary()["facet_histogram"] == \
        {str(k): v for k, v in reference.facet_histogram().items()}
    # reading streams chunk by chunk and gives back the partition's regions
    reread = RegionStore.open(path)
    for ra, rb in zip(reference, reread.regions(), strict=True):
        assert ra.key == rb.key and [f.neighbours for f in ra.facets] == \
            [f.neighbours for f in rb.facets]
    assert_same_partition(reference, reread.partition(_net(), DOMAIN))


def test_corrupt_chunk_is_refused(tmp_path):
    path = tmp_path / "store"
    stream_regions(_net(1, 6), DOMAIN, path, prove_coverage=False, chunk_size=20)
    chunk = path / "chunk-000001.npz"
    data = bytearray(chunk.read_bytes())
    data[-40] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt"):
        list(RegionStore.open(path).regions())


def test_resume_after_keyboard_interrupts(tmp_path, reference, monkeypatch):
    """Deterministic interruptions (from the progress callback) at several points, the last
    resume on a process pool: the result is the uninterrupted run's."""
    from verishallow.regions import search

    monkeypatch.setattr(search, "BATCH", 16)  # several batches per wave: mid-wave checkpoints
    path = tmp_path / "store"
    net = _net()
    saved = []
    for k, stop in enumerate((1, 60, 200, 201, 380)):
        with pytest.raises(KeyboardInterrupt):
            stream_regions(net, DOMAIN, path, resume=k > 0, prove_coverage=False,
                           progress=_interrupt_at(stop), chunk_size=64, checkpoint_seconds=0)
        m = json.loads((path / MANIFEST).read_text())
        assert m["status"] == "running"
        saved.append((m["state"]["regions"], m["state"]["decided"]))
    assert saved == sorted(saved) and saved[-1][0] < len(reference)
    assert any(decided > 0 for _, decided in saved)  # some checkpoint fell inside a wave
    rs = stream_regions(net, DOMAIN, path, resume=True, prove_coverage=False, workers=2)
    assert_same_partition(reference, rs.partition(net, DOMAIN))
    names = [p.name for p in path.iterdir()]
    assert not [n for n in names if n.endswith(".tmp") or n.startswith("found-")]


@pytest.mark.parametrize("dom", [Box([-2, 0.3, -2], [2, 0.3, 2]),
                                 Polytope([[1.0, 1.0, 1.0]], [1.0], [-2] * 3, [2] * 3)],
                         ids=["fixed-input", "polytope"])
def test_resume_on_reduced_and_polytope_domains(tmp_path, dom):
    net = _net(7, 7)
    reference = enumerate_regions(net, dom, method="graph", prove_coverage=False)
    path = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        stream_regions(net, dom, path, prove_coverage=False, checkpoint_seconds=0,
                       progress=_interrupt_at(len(reference) // 2), chunk_size=16)
    rs = stream_regions(net, dom, path, resume=True, prove_coverage=False)
    assert_same_partition(reference, rs.partition(net, dom))


def test_resume_refuses_other_model_domain_settings(tmp_path, monkeypatch):
    path = tmp_path / "store"
    net = _net(2, 6)
    with pytest.raises(KeyboardInterrupt):
        stream_regions(net, DOMAIN, path, prove_coverage=False, progress=_interrupt_at(10),
                       checkpoint_seconds=0)
    with pytest.raises(InputError, match="another model"):
        stream_regions(_net(3, 6), DOMAIN, path, resume=True, prove_coverage=False)
    with pytest.raises(InputError, match="another domain"):
        stream_regions(net, Box([-1] * 3, [1] * 3), path, resume=True, prove_coverage=False)
    from verishallow.regions import tolerances

    monkeypatch.setattr(tolerances, "REGION_RADIUS_TOL", 1e-7)
    with pytest.raises(InputError, match="other settings .*tolerances"):
        stream_regions(net, DOMAIN, path, resume=True, prove_coverage=False)
    monkeypatch.undo()
    with pytest.raises(InputError, match="already holds a region store"):
        stream_regions(net, DOMAIN, path, prove_coverage=False)
    with pytest.raises(InputError, match="not a region store"):
        stream_regions(net, DOMAIN, tmp_path / "nothing", resume=True, prove_coverage=False)
    with pytest.raises(InputError, match="needs a region store"):
        enumerate_regions(net, DOMAIN, resume=True)
    # the CLI reports a refused resume on one line, exit code 2
    from click.testing import CliRunner

    from verishallow.cli import main

    other = tmp_path / "other.npz"
    save_npz(_net(3, 6), other)
    res = CliRunner().invoke(main, ["regions", "--store", str(path), "--resume", str(other),
                                    "--", "-2:2,-2:2,-2:2"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "another model" in lines[0]


def test_finished_store_resume_and_coverage(tmp_path):
    """Resuming a finished store runs only the missing coverage proof."""
    path = tmp_path / "store"
    net = _net(4, 5)
    rs = stream_regions(net, DOMAIN, path, prove_coverage=False)
    assert rs.manifest["coverage"] is None and not rs.summary()["complete"]
    rs = stream_regions(net, DOMAIN, path, resume=True, progress=_interrupt_at(0))
    assert rs.summary()["complete"] and rs.manifest["coverage"]["status"] == "covered"
    part = enumerate_regions(net, DOMAIN, store=path, resume=True)
    assert part.complete and len(part) == rs.summary()["regions"]


def test_other_methods_write_a_finished_store(tmp_path):
    net = _net(5, 6)
    box2 = Box([-2, -2, 0.5], [2, 2, 0.5])  # two free inputs: subdivision applies
    part = enumerate_regions(net, box2, method="subdivision", prove_coverage=False,
                             store=tmp_path / "s")
    again = enumerate_regions(net, box2, method="subdivision", store=tmp_path / "s",
                              resume=True)
    assert [r.key for r in part] == [r.key for r in again]
    assert [[f.neighbours for f in r.facets] for r in part] == \
        [[f.neighbours for f in r.facets] for r in again]


def test_progress_detail_reports_rate_and_eta(tmp_path):
    seen: list[SearchStatus] = []

    class Bar:
        def __call__(self, found, queued):
            pass

        def detail(self, status):
            seen.append(status)

    stream_regions(_net(6, 6), DOMAIN, tmp_path / "s", prove_coverage=False, progress=Bar())
    assert seen and seen[-1].found >= seen[0].found
    assert seen[-1].rate > 0 and seen[-1].eta is not None and seen[-1].decided > 0


# ----- real interruptions of a separate process ---------------------------------------------
def _wait_for_checkpoint(proc: subprocess.Popen, store: Path, regions: int,
                         timeout: float = 60.0) -> dict:
    """Poll the manifest until the run has checkpointed at least ``regions`` regions."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            m = json.loads((store / MANIFEST).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            m = None
        if m and m.get("state") and m["state"]["regions"] >= regions:
            return m
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.01)
    raise AssertionError("no checkpoint appeared")


def _cli(*args: str) -> list[str]:
    # the ``verishallow`` command, run by this interpreter
    return [sys.executable, "-c", "from verishallow.cli import main; main()", *args]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_cli_sigint_then_resume(tmp_path):
    """Ctrl-C on ``verishallow regions --store``: exit 130, a one-line resume command that
    finishes the run, with the uninterrupted run's regions."""
    # big enough (about 2,400 regions) that the run cannot finish before the signal lands
    net = _net(seed=1, width=14)
    model = tmp_path / "net.npz"
    save_npz(net, model)
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cli("regions", "--store", str(store), "--no-coverage-proof",
                                 "--checkpoint-every", "0", "--workers", "1", "--lower",
                                 "-2,-2,-2", "--upper", "2,2,2", str(model)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            # a shell that ran us in the background (CI) may have left SIGINT
                            # ignored; Python then installs no Ctrl-C handler in the child
                            preexec_fn=_default_sigint)
    _wait_for_checkpoint(proc, store, 20)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "resume with" in err and "Traceback" not in err
    cmd = shlex.split(err.strip().splitlines()[-1])
    assert cmd[:2] == ["verishallow", "regions"] and "--resume" in cmd
    assert "--no-coverage-proof" in cmd
    done = subprocess.run(_cli(cmd[1], "--json", *cmd[2:]),
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    reference = enumerate_regions(net, DOMAIN, method="graph", prove_coverage=False)
    assert json.loads(done.stdout)["regions"] == len(reference)
    assert_same_partition(reference, RegionStore.open(store).partition(net, DOMAIN))


def _start_writer(tmp_path: Path) -> tuple[ReLUNetwork, Path, subprocess.Popen]:
    """A ``stream_regions`` run in another process, writing ``tmp_path/store`` with a
    checkpoint after every batch; its network has about 2,400 regions, so it is still running
    when the caller acts on its first checkpoint."""
    net = _net(seed=1, width=14)
    model = tmp_path / "net.npz"
    save_npz(net, model)
    store = tmp_path / "store"
    script = ("import sys; from verishallow.io import load; from verishallow.domain import Box;"
              "from verishallow.regions.search import stream_regions;"
              "stream_regions(load(sys.argv[1]), Box([-2]*3, [2]*3), sys.argv[2], "
              "prove_coverage=False, chunk_size=50, checkpoint_seconds=0)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(model), str(store)])
    return net, store, proc


def test_sigkill_then_resume(tmp_path):
    """``kill -9`` part way (no chance to clean up): the last checkpoint resumes exactly."""
    net, store, proc = _start_writer(tmp_path)
    m = _wait_for_checkpoint(proc, store, 150)
    proc.kill()
    proc.wait(timeout=30)
    assert m["status"] == "running"
    rs = stream_regions(net, DOMAIN, store, resume=True, prove_coverage=False)
    reference = enumerate_regions(net, DOMAIN, method="graph", prove_coverage=False)
    assert_same_partition(reference, rs.partition(net, DOMAIN))


def test_a_store_being_written_cannot_be_resumed_by_another_process(tmp_path):
    """Two writers would interleave chunks and checkpoints: while a run writes its store, a
    resume of the same store from another process is refused with one clear line; once the
    writer is gone (killed: no clean-up), the resume works and gives the uninterrupted result."""
    net, store, proc = _start_writer(tmp_path)
    try:
        _wait_for_checkpoint(proc, store, 20)
        with pytest.raises(InputError, match="being written by another process"):
            stream_regions(net, DOMAIN, store, resume=True, prove_coverage=False)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    rs = stream_regions(net, DOMAIN, store, resume=True, prove_coverage=False)
    reference = enumerate_regions(net, DOMAIN, method="graph", prove_coverage=False)
    assert_same_partition(reference, rs.partition(net, DOMAIN))
