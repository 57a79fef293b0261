"""Output paths that cannot be written fail at once (one line, exit 2), before any work:
``convert`` (-o, --onnx, --npz, --certificate, its default output), ``plot -o``,
``certify -o``; and :func:`verishallow.cli.common.ensure_writable` itself."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner
from conftest import ROOT

import verishallow.cli.common as common
from verishallow.cli import main
from verishallow.errors import InputError

MOONS = str(ROOT / "models" / "moons.onnx")
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def one_line_error(res) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def no_work(monkeypatch):
    """Any region search, plot or certificate fails the test: the check comes first."""
    def boom(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")

    import verishallow.plot
    import verishallow.proofs.partition
    import verishallow.regions

    monkeypatch.setattr(verishallow.regions, "enumerate_regions", boom)
    monkeypatch.setattr(verishallow.plot, "plot_partition", boom)
    monkeypatch.setattr(verishallow.proofs.partition, "certify", boom)


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch):
    """A directory nobody may write to. As root, permission bits do not stop writes (and
    ``os.access`` says so), so there the check's ``os.access`` answer is faked for it."""
    d = tmp_path / "ro"
    d.mkdir()
    if ROOT_USER:
        real = os.access

        def access(path, mode, *args, **kwargs):
            if os.path.realpath(path) == os.path.realpath(d) and mode & os.W_OK:
                return False
            return real(path, mode, *args, **kwargs)

        monkeypatch.setattr(common.os, "access", access)
    else:
        d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield d
    d.chmod(stat.S_IRWXU)


def bad_targets(tmp_path):
    """(path, words the error must contain) that no user can write, root included."""
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    return [(tmp_path / "no" / "such" / "dir" / "out.x", "does not exist"),
            (a_file / "out.x", "is not a directory"),
            (tmp_path, "is a directory")]


OPTIONS = {
    "convert -o": ["convert", MOONS, "-o", "{}"],
    "convert --onnx": ["convert", MOONS, "--onnx", "{}"],
    "convert --npz": ["convert", MOONS, "--npz", "{}"],
    "convert --certificate": ["convert", MOONS, "--certificate", "{}"],
    "plot -o": ["plot", MOONS, "-o", "{}"],
    "certify -o": ["certify", MOONS, "-o", "{}"],
}


@pytest.mark.parametrize("name", OPTIONS)
def test_unwritable_output_fails_before_the_work(name, tmp_path, monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    for target, words in bad_targets(tmp_path):
        suffix = ".png" if name.startswith("plot") else ".json"
        path = target.with_suffix(suffix) if target.name == "out.x" else target
        res = run([a.format(path) for a in OPTIONS[name]])
        err = one_line_error(res)
        assert words in err and str(path) in err, err


@pytest.mark.parametrize("name", OPTIONS)
def test_read_only_directory_fails_before_the_work(name, tmp_path, read_only_dir,
                                                   monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    path = read_only_dir / ("x.png" if name.startswith("plot") else "x.json")
    err = one_line_error(run([a.format(path) for a in OPTIONS[name]]))
    assert "not writable" in err and str(read_only_dir) in err
    assert list(read_only_dir.iterdir()) == []


def test_convert_default_output_in_read_only_cwd(read_only_dir, monkeypatch, no_work):
    monkeypatch.chdir(read_only_dir)
    err = one_line_error(run(["convert", MOONS]))
    assert "not writable" in err and "moons.shallow.json" in err
    err = one_line_error(run(["certify", MOONS]))
    assert "not writable" in err and "moons.cert.json" in err


@pytest.mark.skipif(ROOT_USER, reason="root writes through permission bits")
def test_read_only_directory_really_refuses(tmp_path):
    """Without any faking: a chmod 0500 directory (non-root users only)."""
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(InputError, match="not writable"):
            common.ensure_writable(d / "x.json")
    finally:
        d.chmod(stat.S_IRWXU)


def test_ensure_writable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert common.ensure_writable("new.json") == common.Path("new.json")
    assert common.ensure_writable(tmp_path / "new.json") == tmp_path / "new.json"
    for target, words in bad_targets(tmp_path):
        with pytest.raises(InputError, match=words) as info:
            common.ensure_writable(target)
        assert "\n" not in str(info.value)
    ro = tmp_path / "ro.json"
    ro.write_text("{}")
    real = os.access
    monkeypatch.setattr(common.os, "access", lambda p, m, *a, **k: False
                        if os.path.realpath(p) == os.path.realpath(ro) else real(p, m, *a, **k))
    with pytest.raises(InputError, match="read-only"):
        common.ensure_writable(ro)
