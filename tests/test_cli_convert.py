"""``verishallow convert`` and ``verishallow show``: exit codes, JSON keys, files, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

from verishallow.cli import convert as convert_mod
from verishallow.cli import main
from verishallow.domain import Box
from verishallow.network import ReLUNetwork
from verishallow.shallow import load_shallow, save_shallow, to_shallow

CONVERT_KEYS = {"regions", "hyperplanes", "function_pieces", "seconds", "output", "complete",
                "onnx"}
MOONS = ROOT / "models" / "moons.onnx"


def run(args, **kw):
    return CliRunner().invoke(main, args, catch_exceptions=False, **kw)


def random_net(seed=0, widths=(6, 6), d=2, out=2):
    rng = np.random.default_rng(seed)
    sizes = [d, *widths, out]
    return ReLUNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)],
                       [rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)])


@pytest.fixture
def fake_model(monkeypatch):
    """``convert`` on a random network without any model file (the loader is replaced)."""
    net = random_net()
    dom = Box([-1.0, -1.0], [1.0, 1.0])

    def loader(model, domain):
        if model != "random.onnx":
            from verishallow.errors import InputError

            raise InputError(f"model file not found: {model}")
        return net, dom

    monkeypatch.setattr(convert_mod, "load_model_and_domain", loader)
    return net, dom


def one_line_error(result):
    err = result.stderr.strip()
    assert err.startswith("error:"), err
    assert "\n" not in err and "Traceback" not in err
    return err


def test_convert_json_keys_and_files(tmp_path, monkeypatch, fake_model):
    net, dom = fake_model
    monkeypatch.chdir(tmp_path)
    res = run(["convert", "random.onnx", "--no-coverage-proof", "--json", "--onnx", "r.onnx",
               "--npz", "r.npz"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert set(rep) == CONVERT_KEYS
    assert rep["output"] == "random.shallow.json"  # default: model stem, current directory
    assert rep["onnx"] == "r.onnx" and rep["complete"] is False
    sh = load_shallow(tmp_path / "random.shallow.json")
    assert (rep["regions"], rep["hyperplanes"], rep["function_pieces"]) == \
        (sh.n_regions, sh.n_hyperplanes, sh.function_pieces)
    back = load_shallow(tmp_path / "r.npz")
    X = np.random.default_rng(0).uniform(-1, 1, size=(500, 2))
    assert np.array_equal(sh(X), back(X))
    assert np.abs(sh(X) - net.forward(X)).max() <= 1e-9 * max(1.0, np.abs(net.forward(X)).max())
    ort = pytest.importorskip("onnxruntime")
    Y, _ = ort.InferenceSession(str(tmp_path / "r.onnx")).run(None, {"X": X})
    assert np.allclose(Y, sh(X), rtol=1e-9, atol=1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz", "r.onnx",
                                                         "random.shallow.json"]


def test_convert_text_summary_and_milp_method(tmp_path, fake_model):
    out = tmp_path / "o.json"
    res = run(["convert", "random.onnx", "-o", str(out), "--method", "milp", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "regions" in res.stdout and f"wrote {out}" in res.stdout
    assert "coverage: proved complete" in res.stdout
    sh = load_shallow(out)
    assert sh.complete
    ref = to_shallow(*fake_model, prove_coverage=False)
    assert sh.n_regions == ref.n_regions and sh.n_hyperplanes == ref.n_hyperplanes


def test_convert_output_npz_by_suffix(tmp_path, fake_model):
    res = run(["convert", "random.onnx", "-o", str(tmp_path / "n.npz"), "--no-coverage-proof",
               "--json"])
    assert res.exit_code == 0, res.output
    assert load_shallow(tmp_path / "n.npz").n_regions == json.loads(res.stdout)["regions"]
    res = run(["show", str(tmp_path / "n.npz"), "--region", "0"])
    assert res.exit_code == 0 and res.stdout.startswith("region 0")


def test_convert_errors_exit_2_and_leave_no_file(tmp_path, monkeypatch, fake_model):
    monkeypatch.chdir(tmp_path)
    res = run(["convert", "missing.onnx", "--json"])
    assert res.exit_code == 2
    one_line_error(res)
    res = run(["convert", "random.onnx", "-o", str(tmp_path / "nodir" / "x.json")])
    assert res.exit_code == 2
    assert "output directory does not exist" in one_line_error(res)
    res = run(["convert", "random.onnx", "-o", "a.json", "--npz", "a.json"])
    assert res.exit_code == 2
    one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_convert_real_bad_file(tmp_path, monkeypatch):
    pytest.importorskip("verishallow.io")
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not an onnx model")
    res = run(["convert", str(bad), "0:1,0:1"])
    assert res.exit_code == 2
    one_line_error(res)
    res = run(["convert", str(tmp_path / "absent.onnx"), "0:1,0:1", "--json"])
    assert res.exit_code == 2
    one_line_error(res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


def test_convert_bad_domain(tmp_path, monkeypatch):
    if not MOONS.exists():
        pytest.skip("models/moons.onnx not bundled yet")
    monkeypatch.chdir(tmp_path)
    res = run(["convert", str(MOONS), "1:0,0:1"])
    assert res.exit_code == 2
    one_line_error(res)
    res = run(["convert", str(MOONS), "0:1"])  # one coordinate for a 2-input model
    assert res.exit_code == 2
    one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_convert_moons_default_invocation(tmp_path, monkeypatch):
    """The README's main job: ``verishallow convert models/moons.onnx``, no other flag."""
    if not MOONS.exists():
        pytest.skip("models/moons.onnx not bundled yet")
    io = pytest.importorskip("verishallow.io")
    monkeypatch.chdir(tmp_path)
    res = run(["convert", str(MOONS)])
    assert res.exit_code == 0, res.output
    assert "wrote moons.shallow.json" in res.stdout
    sh = load_shallow(tmp_path / "moons.shallow.json")
    assert sh.complete
    net, dom = io.load_with_domain(MOONS)
    X = np.random.default_rng(0).uniform(dom.lower, dom.upper, size=(2000, 2))
    Yd = net.forward(X)
    assert np.abs(sh(X) - Yd).max() <= 1e-9 * max(1.0, np.abs(Yd).max())


# ----- show ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    net = random_net(3, (5, 4))
    sh = to_shallow(net, Box([-1.0, -1.0], [1.0, 1.0]), prove_coverage=False)
    path = tmp_path_factory.mktemp("show") / "s.json"
    save_shallow(sh, path)
    return sh, path


def test_show_text(saved):
    sh, path = saved
    res = run(["show", str(path)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert f"regions: {sh.n_regions}, hyperplanes: {sh.n_hyperplanes}" in out
    assert f"function pieces: {sh.function_pieces}" in out
    assert out.count("\nregion ") == sh.n_regions
    assert "<=" in out and "[L1N" in out and "y0 = " in out and "y1 = " in out


def test_show_one_region_json(saved):
    sh, path = saved
    k = sh.n_regions - 1
    res = run(["show", str(path), "--region", str(k), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert set(rep) == {"summary", "domain", "regions"}
    assert rep["summary"]["regions"] == sh.n_regions
    assert rep["summary"]["function_pieces"] == sh.function_pieces
    (reg,) = rep["regions"]
    assert reg["id"] == k and reg["facets"] == len(sh.selector(k))
    assert np.array_equal(np.array(reg["alpha"]), sh.alpha[k])
    for q, (kk, s) in zip(reg["inequalities"], sh.selector(k), strict=True):
        assert q["hyperplane"] == kk and q["sigma"] == s
        assert np.array_equal(q["normal"], s * sh.H[kk])
        assert q["neurons"] and all(n.startswith("L") for n in q["neurons"])
        assert q["text"].endswith(f"<= {q['bound']:.6g}")
    # every input feature has a weight in the model text, even a zero one
    assert all(line.count("*x") == sh.input_dim for line in reg["model"])


def test_show_inequalities_hold_in_their_region(saved):
    sh, path = saved
    res = run(["show", str(path), "--json"])
    assert res.exit_code == 0
    regions = json.loads(res.stdout)["regions"]
    X = np.random.default_rng(1).uniform(-1, 1, size=(3000, 2))
    ids = sh.locate(X)
    for rep in regions:
        pts = X[ids == rep["id"]]
        for q in rep["inequalities"]:
            assert np.all(pts @ np.array(q["normal"]) <= q["bound"] + 1e-12)


@pytest.mark.parametrize("k", ["-1", "100000"])
def test_show_region_out_of_range(saved, k):
    _, path = saved
    res = run(["show", str(path), "--region", k])
    assert res.exit_code == 2
    assert "does not exist" in one_line_error(res)


def test_show_bad_files(tmp_path, saved):
    _, path = saved
    res = run(["show", str(tmp_path / "missing.json")])
    assert res.exit_code == 2
    one_line_error(res)
    cut = tmp_path / "cut.json"
    cut.write_bytes(path.read_bytes()[:200])
    res = run(["show", str(cut), "--json"])
    assert res.exit_code == 2
    one_line_error(res)
    assert res.stdout == ""
