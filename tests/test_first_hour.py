"""Issue #13, "a newcomer's first hour": shallow exports read back, exact deep-vs-shallow
equality, opt-in z3, truthful progress bars, clear numbers and one-line errors."""

from __future__ import annotations

import io
import json
import re
import sys

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from conftest import ROOT

from verishallow.cli import main
from verishallow.cli.common import ProgressBar
from verishallow.domain import Box
from verishallow.errors import InputError
from verishallow.io import load, load_with_domain, save_npz
from verishallow.network import ReLUNetwork

MOONS = str(ROOT / "models" / "moons.onnx")
SINE = str(ROOT / "models" / "sine.onnx")
BLOBS = str(ROOT / "models" / "blobs3d.onnx")


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(res) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip()
    assert err.startswith("error:") and "\n" not in err and "Usage" not in err, err
    return err


@pytest.fixture(scope="module")
def moons_exports(tmp_path_factory):
    d = tmp_path_factory.mktemp("exports")
    res = run(["convert", MOONS, "-q", "-o", d / "moons.shallow.json", "--onnx",
               d / "moons.shallow.onnx", "--npz", d / "moons.shallow.npz"])
    assert res.exit_code == 0, res.output
    return d


# ----- 3: our own shallow ONNX export loads back --------------------------------------------
def test_shallow_onnx_export_loads_as_its_network(moons_exports):
    path = moons_exports / "moons.shallow.onnx"
    net, dom = load_with_domain(path)
    deep, deep_dom = load_with_domain(MOONS)
    assert net.fingerprint == deep.fingerprint and dom == deep_dom
    assert load(path).fingerprint == deep.fingerprint
    res = run(["info", path, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["hidden_widths"] == [16, 16]


def test_equiv_with_shallow_onnx_export(moons_exports):
    res = run(["equiv", MOONS, moons_exports / "moons.shallow.onnx", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["equivalent"] is True and data["max_difference"] == 0.0


def test_shallow_export_still_runs_in_onnxruntime(moons_exports):
    ort = pytest.importorskip("onnxruntime")
    from verishallow.shallow import load_shallow

    sh = load_shallow(moons_exports / "moons.shallow.json")
    X = np.random.default_rng(1).uniform([-1.5, -1], [2.5, 1.5], size=(200, 2))
    Y, region = ort.InferenceSession(str(moons_exports / "moons.shallow.onnx")).run(None,
                                                                                     {"X": X})
    assert np.array_equal(Y, sh(X)) and (region >= 0).all()


def test_modified_shallow_export_is_refused(moons_exports, tmp_path):
    model = onnx.load(str(moons_exports / "moons.shallow.onnx"))
    for init in model.graph.initializer:
        if init.name == "beta":
            arr = onnx.numpy_helper.to_array(init).copy()
            arr[0, 0] += 1.0
            init.CopyFrom(onnx.numpy_helper.from_array(arr, "beta"))
    bad = tmp_path / "bad.shallow.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(InputError, match="not the export of the shallow network"):
        load(bad)
    err = one_line_error(run(["info", bad]))
    assert "modified" in err


# ----- 4: a network and its own shallow network are equal, exactly ----------------------------
def test_equiv_own_shallow_npz_exactly_zero(moons_exports):
    res = run(["equiv", MOONS, moons_exports / "moons.shallow.npz"])
    assert res.exit_code == 0, res.output
    assert "equivalent" in res.stdout and "(exactly 0)" in res.stdout
    res = run(["equiv", MOONS, moons_exports / "moons.shallow.json", "--json"])
    data = json.loads(res.stdout)
    assert data["equivalent"] is True and data["max_difference"] == 0.0
    assert data["max_difference_exact"] == "0" and data["bounds"] == [0.0, 0.0]


def test_shallow_equivalence_exact_in_python(moons_exports):
    from verishallow.equiv import check_shallow_equivalence
    from verishallow.shallow import load_shallow
    from verishallow.shallow.serialise import from_dict, to_dict

    net = load(MOONS)
    sh = load_shallow(moons_exports / "moons.shallow.npz")
    res = check_shallow_equivalence(net, sh)
    assert res.equivalent is True and res.exact == "0" and res.max_difference == 0.0
    assert res.details["regions_exact"] == sh.n_regions
    # the stored float64 coefficients are roundings, and the report says by how much
    assert 0.0 < res.details["float_rounding_bound"] < 1e-12
    # a model off by more than rounding is a different function: found and replayed
    data = to_dict(sh)
    data["regions"][3]["beta"][0] += 1e-9
    res = check_shallow_equivalence(net, from_dict(data))
    assert res.equivalent is False and res.details["suspect_regions"] == [3]
    assert res.details["replay"]["exact_value_float"] > 1e-10


# ----- 5: z3 is opt-in ------------------------------------------------------------------------
def test_certify_z3_is_opt_in(tmp_path):
    res = run(["certify", MOONS, "-o", tmp_path / "c.json", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["z3"] is None and data["timings"]["z3"] == 0.0
    help_text = " ".join(run(["certify", "--help"]).stdout.split())
    assert "--z3 / --no-z3" in help_text and "Off by default" in help_text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--z3" in readme


def test_certify_bar_names_the_z3_stage(tmp_path):
    net = ReLUNetwork([np.array([[1.0, -1.0], [0.5, 1.0]]), np.array([[1.0, 1.0]])],
                      [np.array([0.1, -0.2]), np.array([0.0])])
    save_npz(net, tmp_path / "n.npz")
    res = run(["certify", tmp_path / "n.npz", "-o", tmp_path / "c.json", "--z3", "--",
               "-1:1,-1:1"])
    assert res.exit_code == 0, res.output
    assert "z3 double-check" in res.stderr and "exact evidence" in res.stderr
    assert "z3: witnesses" in res.stdout
    res = run(["certify", tmp_path / "n.npz", "-o", tmp_path / "c.json", "--", "-1:1,-1:1"])
    assert "z3 double-check" not in res.stderr and "z3: not run" in res.stdout


# ----- 6: progress bars move and tell the truth -----------------------------------------------
def _bar_text(monkeypatch, **kw) -> tuple[ProgressBar, io.StringIO]:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    return ProgressBar(enabled=True, **kw), buf


def test_search_bar_draws_every_report_and_claims_no_time_left(monkeypatch):
    bar, buf = _bar_text(monkeypatch)
    bar.detail(type("S", (), {"wave": 7})())
    bar(5, 40)
    bar(6, 39)  # within tqdm's minimum interval: still drawn
    text = buf.getvalue()
    assert "6 regions" in text and "wave 7, queue 39" in text
    assert "left" not in text
    bar.phase("coverage proof")
    assert "regions: coverage proof" in buf.getvalue()
    bar.close()


def test_counted_bar_shows_total(monkeypatch):
    bar, buf = _bar_text(monkeypatch, desc="certify")
    bar.count(10, 40)
    bar.count(40, 40)
    assert "40/40" in buf.getvalue()
    bar.close()


def test_disabled_bar_is_silent(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    bar = ProgressBar(enabled=False)
    bar(1, 2)
    bar.count(1, 2)
    bar.phase("x")
    bar.close()
    assert buf.getvalue() == ""


def test_subdivision_reports_stages_and_its_final_count():
    from verishallow.regions import enumerate_regions

    net, dom = load_with_domain(MOONS)
    calls, phases = [], []

    class Recorder:
        def __call__(self, found, queued):
            calls.append((found, queued))

        def phase(self, text):
            phases.append(text)

    part = enumerate_regions(net, dom, method="subdivision", progress=Recorder(),
                             prove_coverage=False)
    assert calls[-1] == (len(part), 0)
    assert any(p.startswith("splitting by layer 1/2") for p in phases)
    assert any(p.startswith("splitting by layer 2/2") for p in phases)
    assert phases[-1] == "search done"


def test_regions_bar_ends_at_the_region_count_and_is_off_when_quiet():
    res = run(["regions", MOONS, "--no-coverage-proof"])
    assert res.exit_code == 0, res.output
    n = res.stdout.split()[0]
    assert f"search done: {n} regions" in res.stderr
    for flag in ("--quiet", "--json"):
        res = run(["regions", MOONS, "--no-coverage-proof", flag])
        assert res.exit_code == 0 and res.stderr == ""


# ----- 8: numbers that mean what they say -----------------------------------------------------
def test_regions_times_apart_and_facet_means_tied_to_show(tmp_path):
    res = run(["regions", MOONS, "--quiet"])
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert "enumeration" in first and "coverage proof" in first
    assert "mean facets 4.000 per region (3.763 on neurons" in first
    run(["convert", MOONS, "-q", "--no-coverage-proof", "-o", tmp_path / "s.json"])
    res = run(["show", tmp_path / "s.json"])
    assert "neuron facets: 986 (mean 3.763 per region; the domain's sides are not counted)" \
        in res.stdout


def test_exact_coverage_cost_agrees_with_benchmarks():
    """The per-region cost README and --help quote is the benchmark's one-worker row."""
    bench = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    row = re.search(r"\| 30% of the box \| [\d,]+ \| [\d.]+ \| 1 \| [\d.]+ \| [\d.]+ \| "
                    r"([\d.]+) \| ([\d.]+) \|", bench)
    assert row, "docs/benchmarks.md has no one-worker ACAS certificate row"
    cert_ms, check_ms = float(row.group(1)), float(row.group(2))
    total = round(cert_ms + check_ms)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (f"about {total} ms of CPU per region ({cert_ms:.1f} ms to certify and "
            f"{check_ms:.1f} ms to check") in readme
    help_text = " ".join(run(["regions", "--help"]).stdout.split())
    assert (f"about {total} ms of CPU per region (certify {cert_ms:.1f} ms + check "
            f"{check_ms:.1f} ms") in help_text


# ----- 9: small ones --------------------------------------------------------------------------
def test_lower_upper_errors_are_one_line():
    err = one_line_error(run(["regions", MOONS, "--lower", "0", "--upper", "1,1"]))
    assert "--lower has 1 value but --upper 2 values" in err
    err = one_line_error(run(["regions", MOONS, "--lower", "a,b", "--upper", "1,1"]))
    assert "'a'" in err and "'a,b'" in err and "a:1" not in err
    err = one_line_error(run(["regions", MOONS, "--lower", "0", "--upper", "1"]))
    assert "1 coordinate but the model has 2 inputs" in err
    err = one_line_error(run(["regions", MOONS, "--whole-space", "--lower", "0,0",
                              "--upper", "1,1"]))
    assert "give the domain once" in err


def test_empty_onnx_file(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    err = one_line_error(run(["info", empty]))
    assert "empty" in err
    with pytest.raises(InputError, match="empty"):
        load(empty)


def test_method_hint_in_cli_terms():
    err = one_line_error(run(["regions", BLOBS, "--method", "subdivision", "--quiet"]))
    assert "--method graph" in err and "method='graph'" not in err


def test_npz_layout_documented():
    formats = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for key in ("W0", "b0", "domain"):
        assert key in formats
    assert "docs/formats.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_plurals(tmp_path):
    net = ReLUNetwork([np.array([[1.0, -1.0]]), np.array([[1.0]])],
                      [np.array([0.0]), np.array([0.0])])
    sh_path = tmp_path / "one.json"
    res = run(["convert", _save(net, tmp_path), "-q", "--no-coverage-proof", "-o", sh_path,
               "--", "-1:1,-1:1"])
    assert res.exit_code == 0, res.output
    res = run(["show", sh_path])
    assert "(1 neuron facet," in res.stdout and "1 neuron facets" not in res.stdout


def _save(net, d):
    save_npz(net, d / "net.npz")
    return d / "net.npz"


def test_box_domain_still_works():
    res = run(["regions", MOONS, "--lower", "-1,-1", "--upper", "1,1", "--json",
               "--no-coverage-proof"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["regions"] > 0
    assert Box([-1, -1], [1, 1]).dim == 2
