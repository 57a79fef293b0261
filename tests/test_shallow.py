"""The shallow network against the deep one: values, boundary rule, both paths, files, ONNX."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, shared_file

from verishallow.domain import Box, Polytope, Whole
from verishallow.errors import InputError
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions
from verishallow.shallow import (
    BOUNDARY_TOL,
    ShallowBuilder,
    ShallowNetwork,
    ext_mul,
    load_shallow,
    save_onnx,
    save_shallow,
    shallow_from_partition,
    to_onnx,
    to_shallow,
)

#: The shallow network must equal ``net.forward`` to this relative tolerance; "relative" is
#: against the output scale of the test set, ``max(1, max |y|)``, so outputs near 0 (where a
#: pointwise relative error is meaningless) are held to the same absolute bar.
RTOL = 1e-9
MODELS = ROOT / "models"


def random_net(rng, widths, d, out=2):
    sizes = [d, *widths, out]
    Ws = [rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    bs = [rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)]
    return ReLUNetwork(Ws, bs)


def build(net, dom):
    """(partition, shallow network built incrementally through ``on_region``)."""
    builder = ShallowBuilder(net, dom)
    part = enumerate_regions(net, dom, prove_coverage=False, on_region=builder.add_region)
    return part, builder.build(part)


def sample(dom, rng, n):
    lo, hi = dom.bounding_box()
    lo = np.where(np.isfinite(lo), lo, -6.0)
    hi = np.where(np.isfinite(hi), hi, 6.0)
    X = rng.uniform(lo, hi, size=(4 * n, dom.dim))
    X = X[dom.contains(X, tol=0.0)]
    assert len(X) >= n // 2
    return X[:n]


def corners(dom):
    """Box corners, or the vertices of a bounded polytope (brute force over d-subsets)."""
    if dom.A.shape[0] == 0:
        return np.array(list(itertools.product(*zip(dom.lower, dom.upper, strict=True))))
    G, h, _ = dom.constraints()
    pts = []
    for rows in itertools.combinations(range(len(G)), dom.dim):
        M = G[list(rows)]
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        x = np.linalg.solve(M, h[list(rows)])
        if dom.contains(x[None], tol=1e-12)[0]:
            pts.append(x)
    return np.array(pts)


def facet_points(part, project: bool):
    """Relative-interior points of every neuron facet; ``project`` moves each onto its
    hyperplane (the facet LP leaves it off by up to its feasibility tolerance)."""
    pts = []
    for r in part:
        for f in r.facets:
            if f.kind != "neuron":
                continue
            p = np.array(f.point, dtype=np.float64)
            if project:
                p = p - (f.normal @ p - f.offset) * f.normal
            pts.append(p)
    return np.array(pts).reshape(-1, part.net.input_dim)


def assert_equal_to_deep(sh, net, X, method="auto"):
    Y = sh(X, method=method)
    Yd = net.forward(X)
    scale = max(1.0, float(np.abs(Yd).max()))
    err = float(np.abs(Y - Yd).max())
    assert err <= RTOL * scale, f"max error {err:.3g} at output scale {scale:.3g}"


def assert_paths_identical(sh, X):
    fast = sh(X, method="fast")
    faithful = sh(X, method="faithful")
    assert np.array_equal(fast, faithful)
    assert np.array_equal(sh.locate(X, method="fast"), sh.locate(X, method="faithful"))


def brute_force_region(sh, x):
    """Smallest region id whose facet inequalities hold at ``x`` (tolerance as the rule)."""
    xmax = np.abs(x).max()
    for r in range(sh.n_regions):
        ok = True
        for k, s in sh.selector(r):
            h = sh.H[k] @ x + sh.c[k]
            thr = BOUNDARY_TOL * (np.abs(sh.H[k]).sum() * xmax + abs(sh.c[k]))
            if abs(h) > thr and s * h > 0:
                ok = False
                break
        if ok:
            return r
    return -1


CASES = {
    "1d-1layer-box": (1, [8], lambda: Box([-3.0], [3.0])),
    "1d-3layer-box": (1, [5, 5, 5], lambda: Box([-3.0], [3.0])),
    "2d-2layer-box": (2, [8, 8], lambda: Box([-2.0, -1.5], [2.0, 1.0])),
    "2d-3layer-box": (2, [6, 6, 6], lambda: Box([-1.0, -1.0], [1.0, 1.0])),
    "3d-1layer-box": (3, [8], lambda: Box([-1.0, -1.0, -1.0], [1.0, 1.0, 1.0])),
    "3d-2layer-box": (3, [6, 5], lambda: Box([-1.0, -1.0, -1.0], [1.0, 1.0, 1.0])),
    "3d-fixed-coord": (3, [7, 6], lambda: Box([-1.0, -1.0, 0.25], [1.0, 1.0, 0.25])),
    "2d-polytope": (2, [7, 6], lambda: Polytope([[1.0, 1.0], [-1.0, 0.2], [0.3, -1.0]],
                                                 [1.5, 1.0, 1.2])),
    "2d-whole-1layer": (2, [7], lambda: Whole(2)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    d, widths, mk = CASES[request.param]
    rng = np.random.default_rng(sorted(CASES).index(request.param) + 11)
    net = random_net(rng, widths, d)
    dom = mk()
    part, sh = build(net, dom)
    return request.param, net, dom, part, sh


def test_equal_on_random_points(case):
    name, net, dom, part, sh = case
    X = sample(dom, np.random.default_rng(1), 3000)
    assert_equal_to_deep(sh, net, X, "fast")
    assert_equal_to_deep(sh, net, X, "faithful")
    assert_paths_identical(sh, X)
    sel = sh.select(X)
    assert np.all(sel.n_selected >= 1)  # the nearest-region fallback is never needed
    assert sh.n_regions == len(part)


@pytest.mark.parametrize("project", [False, True])
def test_equal_on_region_boundaries(case, project):
    name, net, dom, part, sh = case
    X = facet_points(part, project)
    if len(X) == 0:
        pytest.skip("no neuron facets")
    assert_equal_to_deep(sh, net, X, "fast")
    assert_equal_to_deep(sh, net, X, "faithful")
    assert_paths_identical(sh, X)
    sel = sh.select(X)
    assert np.all(sel.n_selected >= 1)
    if project:
        # projected facet points sit on the shared boundary: both sides' selectors fire
        assert np.mean(sel.n_selected >= 2) > 0.5


def test_equal_on_domain_corners(case):
    name, net, dom, part, sh = case
    if not dom.is_bounded_box and dom.A.shape[0] == 0:
        pytest.skip("unbounded domain has no corners")
    X = corners(dom)
    assert_equal_to_deep(sh, net, X)
    assert_paths_identical(sh, X)
    assert np.all(sh.select(X).n_selected >= 1)


def region_vertices(part):
    """Vertices of every region (facets meeting in a point; neuron and domain facets): where
    three or more regions meet, the hardest points for the boundary rule. Fixed inputs are
    pinned, so vertices are found in the free coordinates."""
    red = part.domain.reduce()
    free = red.free
    pts = []
    for r in part:
        H = np.array([f.normal for f in r.facets])
        c = np.array([f.offset for f in r.facets]) - H @ red.x0
        H = H[:, free]
        d = free.size
        for rows in itertools.combinations(range(len(H)), d):
            M = H[list(rows)]
            if abs(np.linalg.det(M)) < 1e-9:
                continue
            y = np.linalg.solve(M, c[list(rows)])
            if np.all(H @ y <= c + 1e-9):
                pts.append(red.lift(y))
    return np.array(pts).reshape(-1, part.net.input_dim)


def test_equal_on_region_vertices(case):
    name, net, dom, part, sh = case
    V = region_vertices(part)
    V = V[sh.contains(V)]
    assert len(V) > 0
    assert_equal_to_deep(sh, net, V)
    assert_paths_identical(sh, V)
    sel = sh.select(V)
    assert np.all(sel.n_selected >= 1)
    if int((~dom.fixed).sum()) > 1:
        assert np.mean(sel.n_selected >= 2) > 0.5  # really on shared boundaries


def test_tie_rule_is_smallest_region_id(case):
    name, net, dom, part, sh = case
    X = np.vstack([facet_points(part, True)[:60], sample(dom, np.random.default_rng(3), 60)])
    got = sh.locate(X, method="faithful")
    want = np.array([brute_force_region(sh, x) for x in X])
    assert np.array_equal(got, want)


def test_hyperplanes_shared_across_facets(case):
    """Adjacent regions refer to the same layer-1 row with opposite signs (exact dedupe)."""
    name, net, dom, part, sh = case
    assert sh.edges is not None and len(sh.edges) == part.graph.number_of_edges()
    for a, b in sh.edges:
        sa = dict(sh.selector(int(a)))
        sb = dict(sh.selector(int(b)))
        assert any(sb.get(k) == -s for k, s in sa.items())
    # rows are unit normals with a positive first non-zero entry, and pairwise distinct
    assert np.allclose(np.linalg.norm(sh.H, axis=1), 1.0)
    first = np.array([row[np.flatnonzero(row)[0]] for row in sh.H])
    assert np.all(first > 0)
    assert len({np.r_[h, c].tobytes() for h, c in zip(sh.H, sh.c, strict=True)}) == len(sh.H)


def test_one_layer_whole_space_has_one_hyperplane_per_neuron():
    rng = np.random.default_rng(5)
    net = random_net(rng, [9], 2)
    part, sh = build(net, Whole(2))
    assert sh.n_hyperplanes == 9
    assert sorted(n for ids in sh.hyperplane_neurons for n in ids) == list(range(9))


def test_incremental_builder_exact_after_each_region():
    rng = np.random.default_rng(21)
    net = random_net(rng, [6, 6], 2)
    dom = Box([-1.5, -1.5], [1.5, 1.5])
    builder = ShallowBuilder(net, dom)
    centers: list[np.ndarray] = []
    checks = []

    def hook(region):
        builder.add_region(region)
        centers.append(region.center)
        partial = builder.network()
        C = np.array(centers)
        assert partial.n_regions == len(centers)
        assert np.array_equal(partial.locate(C, method="faithful"), np.arange(len(C)))
        assert_equal_to_deep(partial, net, C, "faithful")
        assert_paths_identical(partial, C)
        checks.append(len(C))

    part = enumerate_regions(net, dom, prove_coverage=False, on_region=hook)
    assert checks == list(range(1, len(part) + 1))
    # a point of a region not yet added is uncovered, never given a wrong value
    partial = ShallowBuilder(net, dom)
    partial.add_region(part[0])
    p1 = partial.network()
    far = np.array([r.center for r in part.regions[1:]])
    assert np.all(p1.locate(far, outside="nan") == -1)
    assert np.all(np.isnan(p1(far, outside="nan")))
    with pytest.raises(InputError, match="no region covers it"):
        p1(far)


def test_empty_partial_network_covers_nothing(tmp_path):
    net = random_net(np.random.default_rng(2), [4], 2)
    sh = ShallowBuilder(net, Box([-1.0, -1.0], [1.0, 1.0])).network()
    X = np.array([[0.1, 0.2], [3.0, 0.0]])
    assert sh.n_regions == 0 and sh.function_pieces == 0
    assert np.isnan(sh(X, outside="nan")).all()
    with pytest.raises(InputError, match="no region covers it"):
        sh(X[:1])
    for suffix in (".json", ".npz"):
        save_shallow(sh, tmp_path / f"e{suffix}")
        assert load_shallow(tmp_path / f"e{suffix}").n_regions == 0
    ort = pytest.importorskip("onnxruntime")
    Y, region = ort.InferenceSession(to_onnx(sh).SerializeToString()).run(None, {"X": X})
    assert np.isnan(Y).all() and np.array_equal(region, [-1, -1])


def test_builder_rejects_out_of_order_regions():
    rng = np.random.default_rng(2)
    net = random_net(rng, [4], 1)
    part, _ = build(net, Box([-3.0], [3.0]))
    b = ShallowBuilder(net, part.domain)
    b.add_region(part[0])
    with pytest.raises(InputError):
        b.add_region(part[0])
    if len(part) > 2:
        with pytest.raises(InputError):
            b.add_region(part[2])


def test_from_partition_and_to_shallow_agree():
    rng = np.random.default_rng(8)
    net = random_net(rng, [6, 5], 2)
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    part, a = build(net, dom)
    b = shallow_from_partition(part)
    c = to_shallow(net, dom, prove_coverage=False)
    for other in (b, c):
        for attr in ("H", "c", "selector_ptr", "selector_index", "selector_sigma", "alpha",
                     "beta", "patterns", "edges"):
            assert np.array_equal(getattr(a, attr), getattr(other, attr)), attr


def test_outside_domain_error_and_nan_flag():
    rng = np.random.default_rng(4)
    net = random_net(rng, [5], 2)
    dom = Box([-1.0, -1.0], [1.0, 1.0])
    _, sh = build(net, dom)
    X = np.array([[0.0, 0.0], [1.5, 0.0], [np.nan, 0.0], [np.inf, 0.0], [0.5, -0.5],
                  [1.0 + 1e-12, -1.0]])
    for method in ("fast", "faithful"):
        with pytest.raises(InputError, match="outside the domain"):
            sh(X, method=method)
        Y = sh(X, outside="nan", method=method)
        bad = np.array([False, True, True, True, False, False])
        assert np.all(np.isnan(Y[bad])) and not np.any(np.isnan(Y[~bad]))
        assert np.allclose(Y[~bad], net.forward(X[~bad]), rtol=0, atol=RTOL * 10)
        assert np.array_equal(sh.locate(X, outside="nan", method=method) == -1, bad)
    # a single vector gives a vector; wrong dimension is an input error
    assert sh(np.array([0.1, 0.2])).shape == (2,)
    with pytest.raises(InputError):
        sh(np.zeros((3, 3)))
    with pytest.raises(InputError):
        sh(X, outside="clip")
    # a polytope's rows are checked too
    poly = Polytope([[1.0, 1.0]], [0.5], [-1.0, -1.0], [1.0, 1.0])
    _, sp = build(net, poly)
    with pytest.raises(InputError, match="outside"):
        sp(np.array([[0.4, 0.4]]))
    assert np.isnan(sp(np.array([[0.4, 0.4]]), outside="nan")).all()


def test_immutable():
    rng = np.random.default_rng(4)
    net = random_net(rng, [3], 1)
    _, sh = build(net, Box([-2.0], [2.0]))
    with pytest.raises(AttributeError):
        sh.H = None
    with pytest.raises(ValueError):
        sh.H[0, 0] = 1.0
    with pytest.raises(ValueError):
        sh.alpha[0, 0, 0] = 1.0


def test_extended_real_conventions():
    assert ext_mul(np.inf, 0.0) == 0.0
    assert ext_mul(np.inf, -0.0) == 0.0
    assert ext_mul(0.0, np.inf) == 0.0
    assert ext_mul(np.inf, 1e-300) == np.inf
    assert ext_mul(-np.inf, 2.0) == -np.inf
    assert ext_mul(3.0, 2.0) == 6.0


def _tiny_net(w1, b1, w2, b2):
    return ReLUNetwork([np.array(w1, float), np.array(w2, float)],
                       [np.array(b1, float), np.array(b2, float)])


def test_function_pieces_zero_outgoing_weight():
    # n0 = ReLU(x), n1 = ReLU(x - 1) with outgoing weight 0: its hyperplane x = 1 splits a
    # region, but the function 2 n0 + 0.5 does not change across it.
    net = _tiny_net([[1.0], [1.0]], [0.0, -1.0], [[2.0, 0.0]], [0.5])
    _, sh = build(net, Box([-2.0], [2.0]))
    assert sh.n_regions == 3
    assert sh.n_hyperplanes == 2
    assert sh.function_pieces == 2
    assert sh.connected_pieces == 2
    s = sh.summary()
    assert (s["regions"], s["hyperplanes"], s["function_pieces"]) == (3, 2, 2)


def test_function_pieces_non_adjacent_equal_models():
    # ReLU(x) - 2 ReLU(x - 1) + ReLU(x - 2): 0, x, 2 - x, 0 on four intervals
    net = _tiny_net([[1.0], [1.0], [1.0]], [0.0, -1.0, -2.0], [[1.0, -2.0, 1.0]], [0.0])
    _, sh = build(net, Box([-1.0], [3.0]))
    assert sh.n_regions == 4
    assert sh.n_hyperplanes == 3
    assert sh.function_pieces == 3
    assert sh.connected_pieces == 4


def test_no_hidden_neuron_facets_single_region():
    # every neuron stable on the domain: one region with an empty selector
    net = _tiny_net([[1.0], [-1.0]], [10.0, -10.0], [[1.0, 1.0]], [0.0])
    _, sh = build(net, Box([-1.0], [1.0]))
    assert sh.n_regions == 1 and sh.n_hyperplanes == 0
    X = np.linspace(-1, 1, 11)[:, None]
    assert_equal_to_deep(sh, net, X, "faithful")
    assert_paths_identical(sh, X)


# ----- files --------------------------------------------------------------------------------
ARRAYS = ("H", "c", "selector_ptr", "selector_index", "selector_sigma", "selector_weight",
          "alpha", "beta", "patterns", "edges")


def assert_same_network(a, b):
    for attr in ARRAYS:
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr
    assert a.hyperplane_neurons == b.hyperplane_neurons
    assert a.domain == b.domain
    assert a.complete == b.complete
    assert a.hidden_widths == b.hidden_widths
    for wa, wb in zip(a.source.weights + a.source.biases, b.source.weights + b.source.biases,
                      strict=True):
        assert np.array_equal(wa, wb)
    assert a.source.fingerprint == b.source.fingerprint


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("name", ["2d-polytope", "3d-fixed-coord", "2d-whole-1layer"])
def test_save_load_round_trip_exact(tmp_path, suffix, name):
    d, widths, mk = CASES[name]
    net = random_net(np.random.default_rng(31), widths, d)
    _, sh = build(net, mk())
    path = tmp_path / f"net{suffix}"
    save_shallow(sh, path)
    back = load_shallow(path)
    assert_same_network(sh, back)
    X = sample(sh.domain, np.random.default_rng(0), 500)
    assert np.array_equal(sh(X), back(X))
    assert back.summary() == sh.summary()
    if suffix == ".json":
        text = path.read_text()
        data = json.loads(text)
        assert data["format"] == "verishallow.shallow" and data["version"] == 1
        assert "Infinity" not in text and '"inf"' in text
        assert all(w == "inf" for reg in data["regions"] for _, _, w in reg["selector"])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary behind


def test_json_floats_are_repr_exact(tmp_path):
    net = _tiny_net([[0.1], [1 / 3]], [0.2, -0.7], [[np.pi, -np.e]], [1e-300])
    _, sh = build(net, Box([-5.0], [5.0]))
    save_shallow(sh, tmp_path / "a.json")
    back = load_shallow(tmp_path / "a.json")
    assert np.array_equal(back.beta, sh.beta) and np.array_equal(back.H, sh.H)
    assert np.array_equal(back.c, sh.c)


@pytest.mark.parametrize("content", [
    b"", b"{", b"not json at all", b'{"format": "something else"}',
    b'{"format": "verishallow.shallow", "version": 99}',
    b'{"format": "verishallow.shallow", "version": 1}',
    b"PK\x03\x04garbage",
])
def test_bad_files_raise_one_line_input_error(tmp_path, content):
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(InputError) as exc:
        load_shallow(p)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_truncated_and_tampered_files(tmp_path, suffix):
    net = random_net(np.random.default_rng(3), [5], 2)
    _, sh = build(net, Box([-1.0, -1.0], [1.0, 1.0]))
    p = tmp_path / f"n{suffix}"
    save_shallow(sh, p)
    raw = p.read_bytes()
    for cut in (len(raw) // 3, len(raw) - 7):
        q = tmp_path / f"cut{cut}{suffix}"
        q.write_bytes(raw[:cut])
        with pytest.raises(InputError) as exc:
            load_shallow(q)
        assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="not found"):
        load_shallow(tmp_path / "missing.json")
    if suffix == ".json":
        data = json.loads(raw)
        data["source"]["weights"][0][0][0] += 1.0
        q = tmp_path / "tampered.json"
        q.write_text(json.dumps(data))
        with pytest.raises(InputError, match="fingerprint"):
            load_shallow(q)
        data = json.loads(raw)
        data["regions"][0]["selector"][0][2] = 1e6  # a finite big-M is not allowed
        q.write_text(json.dumps(data))
        with pytest.raises(InputError, match="inf"):
            load_shallow(q)


def test_loaded_without_source_uses_faithful_path(tmp_path):
    net = random_net(np.random.default_rng(6), [5], 2)
    _, sh = build(net, Box([-1.0, -1.0], [1.0, 1.0]))
    p = tmp_path / "n.json"
    save_shallow(sh, p)
    data = json.loads(p.read_text())
    data["source"] = None
    p.write_text(json.dumps(data))
    back = load_shallow(p)
    assert not back.has_fast_path
    X = sample(back.domain, np.random.default_rng(0), 300)
    assert np.array_equal(back(X), sh(X))
    with pytest.raises(InputError, match="fast path"):
        back(X, method="fast")


# ----- ONNX -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["1d-3layer-box", "2d-2layer-box", "3d-fixed-coord",
                                  "2d-polytope", "2d-whole-1layer"])
def test_onnx_export_matches(tmp_path, name):
    ort = pytest.importorskip("onnxruntime")
    d, widths, mk = CASES[name]
    net = random_net(np.random.default_rng(41), widths, d)
    part, sh = build(net, mk())
    path = tmp_path / "s.onnx"
    save_onnx(sh, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    inside = np.vstack([sample(sh.domain, rng, 1000), facet_points(part, True),
                        facet_points(part, False), region_vertices(part)]
                       + ([corners(sh.domain)] if sh.domain.is_bounded_box
                          or sh.domain.A.shape[0] else []))
    lo, hi = sh.domain.bounding_box()
    lo = np.where(np.isfinite(lo), lo, -5.0)
    hi = np.where(np.isfinite(hi), hi, 5.0)
    outside = rng.uniform(lo - 2, hi + 2, size=(300, d))
    odd = np.full((2, d), np.nan)
    odd[1] = np.inf
    X = np.vstack([inside, outside, odd])
    Y, region = sess.run(None, {"X": X})
    want = sh(X, outside="nan")
    nan = np.isnan(want).any(axis=1)
    assert np.array_equal(np.isnan(Y).any(axis=1), nan)
    scale = max(1.0, float(np.abs(want[~nan]).max()))
    assert np.abs(Y[~nan] - want[~nan]).max() <= RTOL * scale
    assert np.array_equal(region == -1, nan)
    clear = sh.select(X[:1000]).n_selected == 1  # random interior points: unique region
    assert np.array_equal(region[:1000][clear], sh.locate(X[:1000])[clear])
    assert not nan[:len(inside)].any()


def test_onnx_opset_and_no_big_m():
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    net = random_net(np.random.default_rng(2), [5, 5], 2)
    _, sh = build(net, Box([-1.0, -1.0], [1.0, 1.0]))
    model = to_onnx(sh)
    assert model.opset_import[0].version == 17
    onnx.checker.check_model(model)
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype.kind == "f":
            finite = a[np.isfinite(a)]
            # no huge constant standing in for infinity
            assert finite.size == 0 or np.abs(finite).max() < 1e6, init.name


# ----- bundled models and ACAS Xu ----------------------------------------------------------
@pytest.mark.parametrize("model", ["moons", "sine", "blobs3d"])
def test_bundled_models(model):
    path = MODELS / f"{model}.onnx"
    if not path.exists():
        pytest.skip(f"{path} not bundled yet")
    io = pytest.importorskip("verishallow.io")
    net, dom = io.load_with_domain(path)
    part, sh = build(net, dom)
    rng = np.random.default_rng(0)
    for X in (sample(dom, rng, 2000), facet_points(part, False), facet_points(part, True),
              corners(dom), region_vertices(part)):
        assert_equal_to_deep(sh, net, X, "fast")
        assert_equal_to_deep(sh, net, X, "faithful")
        assert_paths_identical(sh, X)
        assert np.all(sh.select(X).n_selected >= 1)


def _acas_case(frac):
    io = pytest.importorskip("verishallow.io")
    vnnlib = pytest.importorskip("verishallow.vnnlib")
    onnx_path = shared_file("benchmarks", "vnncomp2021", "acasxu",
                            "ACASXU_run2a_1_1_batch_2000.onnx")
    prop = shared_file("benchmarks", "vnncomp2021", "acasxu", "prop_4.vnnlib")
    net = io.load(onnx_path)
    dom = vnnlib.domain_from_vnnlib(prop)
    mid, half = (dom.lower + dom.upper) / 2, (dom.upper - dom.lower) / 2 * frac
    return net, Box(mid - half, mid + half)  # prop_4 pins X_2 = 0: a fixed coordinate


@pytest.mark.parametrize("frac", [0.04, pytest.param(0.1, marks=pytest.mark.slow)])
def test_acasxu_sub_box_of_prop4(frac):
    net, dom = _acas_case(frac)
    part, sh = build(net, dom)
    assert sh.n_regions == len(part) > 1
    rng = np.random.default_rng(0)
    for X in (sample(dom, rng, 2000), facet_points(part, False), facet_points(part, True),
              corners(dom), region_vertices(part)):
        assert_equal_to_deep(sh, net, X, "fast")
        assert_equal_to_deep(sh, net, X, "faithful")
        assert_paths_identical(sh, X)
        assert np.all(sh.select(X).n_selected >= 1)


def test_exports_from_package_root():
    import verishallow

    assert verishallow.ShallowNetwork is ShallowNetwork
    assert verishallow.to_shallow is to_shallow
    assert verishallow.load_shallow is load_shallow
    assert Path(verishallow.__file__).parent.name == "verishallow"
