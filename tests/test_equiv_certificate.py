"""Equivalence certificates (issue #5): the product network, the builder, the solver-free
checker and the CLI (``equiv --certificate``, ``check CERT A B``).

A valid certificate must pass; every tampering (another model, A and B swapped, a removed
region, an altered multiplier or bound, a lowered epsilon, a false maximum) must fail; nets that
differ get no certificate at ``epsilon = 0``; and the checker side loads no solver.
"""

from __future__ import annotations

import copy
import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, loaded_after

from verishallow.cli import main
from verishallow.domain import Box
from verishallow.equiv import check_equivalence
from verishallow.exact.numbers import rational_str
from verishallow.io import load, load_with_domain, save_npz
from verishallow.network import ReLUNetwork
from verishallow.product import product_network
from verishallow.proofs.document import CertificateError, load_certificate
from verishallow.proofs.equivalence import NotEquivalentError, certify_equivalence
from verishallow.proofs.equivalence_checker import check_equivalence_certificate
from verishallow.proofs.partition import certify, write_certificate
from verishallow.regions import enumerate_regions

SINE = ROOT / "models" / "sine.onnx"
BOX = Box([-1.0, -1.0], [1.0, 1.0])
CHECK_KEYS = {"valid", "failures", "checked", "seconds", "kind", "epsilon", "max_difference",
              "max_difference_bound"}


def _part(net, dom):
    """The partition a certificate is built from (the certificate is its coverage proof)."""
    return enumerate_regions(net, dom, prove_coverage=False)


def random_net(seed: int, sizes=(2, 6, 6, 2)) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)],
                       [rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)])


def rounded(net: ReLUNetwork, dtype=np.float16) -> ReLUNetwork:
    return ReLUNetwork([w.astype(dtype).astype(np.float64) for w in net.weights],
                       [b.astype(dtype).astype(np.float64) for b in net.biases])


def perturbed(net: ReLUNetwork, seed: int = 7, scale: float = 1e-3) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([w + scale * rng.normal(size=w.shape) for w in net.weights],
                       [b + scale * rng.normal(size=b.shape) for b in net.biases])


def fresh(cert: dict) -> dict:
    return copy.deepcopy(cert)


def assert_invalid(cert: dict, net_a, net_b, *fragments: str) -> str:
    res = check_equivalence_certificate(cert, net_a, net_b)
    assert not res.valid, "tampered certificate accepted"
    first = res.failures[0]
    assert any(f in first for f in fragments), first
    return first


@pytest.fixture(scope="module")
def sine():
    return load_with_domain(SINE)


@pytest.fixture(scope="module")
def pair():
    """Two nearby 2-6-6-2 nets on [-1, 1]^2 and a certificate with epsilon 1 (Farkas bounds)."""
    a = random_net(0)
    b = perturbed(a)
    return a, b, certify_equivalence(a, b, BOX, epsilon=1)


def bound_entry(cert: dict) -> tuple[int, int]:
    """(region, index) of some Farkas bound in the certificate."""
    for r, d in enumerate(cert["differences"]):
        if d["bounds"]:
            return r, 0
    raise AssertionError("no Farkas bound")


# ----- the product network ---------------------------------------------------------------------
@pytest.mark.parametrize("sa, sb", [((2, 6, 6, 2), (2, 5, 4, 2)),  # equal depths
                                    ((2, 4, 4, 4, 2), (2, 5, 2)),  # B padded by 2 layers
                                    ((2, 3), (2, 4, 4, 3)),  # an affine map padded
                                    ((3, 5, 1), (3, 2, 2, 2, 1))])
def test_product_network_is_both_networks(sa, sb):
    a, b = random_net(1, sa), random_net(2, sb)
    p = product_network(a, b)
    assert len(p.weights) == max(len(a.weights), len(b.weights))
    X = np.random.default_rng(0).uniform(-3, 3, size=(2000, sa[0]))
    np.testing.assert_allclose(p.forward(X), np.hstack([a.forward(X), b.forward(X)]),
                               rtol=1e-12, atol=1e-12)
    # and exactly (the padding y = relu(y) - relu(-y) is an identity in the rationals)
    for x in X[:5]:
        assert p.exact_forward(x) == a.exact_forward(x) + b.exact_forward(x)


def test_product_network_rejects_different_inputs():
    with pytest.raises(ValueError, match="inputs"):
        product_network(random_net(0, (2, 3, 1)), random_net(0, (3, 3, 1)))


# ----- building and checking -------------------------------------------------------------------
def test_reexport_is_certified_equal(sine, tmp_path):
    net, dom = sine
    save_npz(net, tmp_path / "sine.npz")
    other = load(tmp_path / "sine.npz")
    cert = certify_equivalence(net, other, dom)
    assert cert["kind"] == "equivalence" and cert["complete"] and cert["problems"] == []
    assert cert["epsilon"] == "0" and cert["max_difference"] == "0"
    assert all(d["bounds"] == [] for d in cert["differences"])  # differences identically 0
    assert cert["models"]["a"]["fingerprint"] == net.fingerprint
    res = check_equivalence_certificate(cert, net, other, domain=dom)
    assert res.valid, res.failures
    assert res.max_difference == "0" and res.checked["difference_bounds"] == 0
    assert res.checked["regions"] == len(cert["differences"])
    assert set(res.to_dict()) == CHECK_KEYS


def test_float16_copy_has_no_exact_certificate(sine):
    net, dom = sine
    net16 = rounded(net)
    with pytest.raises(NotEquivalentError, match="epsilon 0") as info:
        certify_equivalence(net, net16, dom)
    err = info.value
    assert err.value > 0
    if err.point is not None:  # an exact point of the domain where the difference is that big
        assert dom.lower[0] <= err.point[0] <= dom.upper[0]
        ya, yb = net.exact_forward(err.point), net16.exact_forward(err.point)
        assert max(abs(u - v) for u, v in zip(ya, yb, strict=True)) == err.value


@pytest.fixture(scope="module")
def sine16(sine):
    net, dom = sine
    net16 = rounded(net)
    return net, net16, certify_equivalence(net, net16, dom, epsilon=0.01)


def test_float16_copy_within_epsilon(sine, sine16):
    net, net16, cert = sine16
    assert cert["complete"]
    assert cert["epsilon"] == rational_str(Fraction(0.01))
    res = check_equivalence_certificate(cert, net, net16)
    assert res.valid, res.failures
    assert res.checked["difference_bounds"] > 0
    # the exact maximum agrees with the equivalence decision's exact maximum
    ref = check_equivalence(net, net16, sine[1], epsilon=0.01)
    assert res.max_difference == cert["max_difference"] == ref.exact
    # and bounds every sampled difference
    X = np.linspace(-3, 3, 5001)[:, None]
    assert np.max(np.abs(net(X) - net16(X))) <= float(Fraction(res.max_difference)) * (1 + 1e-9)


def test_lowered_epsilon_is_rejected(sine16):
    net, net16, cert = sine16
    bad = fresh(cert)
    bad["epsilon"] = rational_str(Fraction(cert["max_difference"]) / 2)
    assert_invalid(bad, net, net16, "exceeds epsilon")
    # a larger epsilon is a weaker claim: still proved
    ok = fresh(cert)
    ok["epsilon"] = "1"
    assert check_equivalence_certificate(ok, net, net16).valid


def test_epsilon_zero_claimed_for_different_nets(sine16):
    net, net16, cert = sine16
    bad = fresh(cert)
    bad["epsilon"] = "0"
    assert_invalid(bad, net, net16, "exceeds epsilon")


def test_different_depths_certified():
    a = random_net(3, (2, 4, 4, 4, 2))
    b = random_net(4, (2, 6, 2))
    cert = certify_equivalence(a, b, BOX, epsilon=1000)
    assert cert["complete"] and cert["product"]["padded"] == "b"
    assert cert["product"]["padding_layers"] == 2
    res = check_equivalence_certificate(cert, a, b)
    assert res.valid, res.failures
    X = np.random.default_rng(1).uniform(-1, 1, (4000, 2))
    assert np.max(np.abs(a(X) - b(X))) <= float(Fraction(res.max_difference_bound)) + 1e-9


def test_fixed_coordinate_domain():
    a = random_net(5, (3, 5, 5, 2))
    b = perturbed(a)
    dom = Box([-1.0, 0.25, -1.0], [1.0, 0.25, 1.0])
    cert = certify_equivalence(a, b, dom, epsilon=1)
    res = check_equivalence_certificate(cert, a, b, domain=dom)
    assert res.valid, res.failures
    assert cert["max_point"][1] == "1/4"  # the fixed input keeps its value


def test_valid_pair_certificate(pair):
    a, b, cert = pair
    res = check_equivalence_certificate(cert, a, b, domain=BOX)
    assert res.valid, res.failures
    assert res.max_difference is not None and res.max_difference == cert["max_difference"]
    assert 0 < Fraction(res.max_difference) < 1


def test_not_equivalent_below_the_maximum(pair):
    a, b, cert = pair
    with pytest.raises(NotEquivalentError):
        certify_equivalence(a, b, BOX, epsilon=float(Fraction(cert["max_difference"])) / 2)


# ----- tampering -------------------------------------------------------------------------------
def test_rejects_a_different_model(pair):
    a, b, cert = pair
    other = random_net(9)
    assert_invalid(cert, other, b, "model A fingerprint differs")
    assert_invalid(cert, a, other, "model B fingerprint differs")
    assert_invalid(cert, b, a, "fingerprint differs")  # A and B swapped


def test_rejects_tampered_fingerprint_via_product(pair):
    """Fingerprints edited to name other models: the product network no longer matches."""
    a, b, cert = pair
    other = random_net(9)
    bad = fresh(cert)
    bad["models"]["b"]["fingerprint"] = other.fingerprint
    assert_invalid(bad, a, other, "partition of the product network", "fingerprint")


def test_rejects_removed_region(pair):
    a, b, cert = pair
    bad = fresh(cert)
    bad["partition"]["regions"].pop()
    bad["differences"].pop()
    assert_invalid(bad, a, b, "partition of the product network")
    bad = fresh(cert)
    bad["differences"].pop()
    assert_invalid(bad, a, b, "differences must list every region")
    bad = fresh(cert)
    bad["differences"][1]["region"] = 2
    assert_invalid(bad, a, b, "region ids")


def test_rejects_altered_multiplier(pair):
    a, b, cert = pair
    r, k = bound_entry(cert)
    bad = fresh(cert)
    m = bad["differences"][r]["bounds"][k]["multipliers"]
    m[0] = rational_str(Fraction(m[0]) * 2)
    assert_invalid(bad, a, b, "do not reproduce the difference", "recorded bound")
    bad = fresh(cert)
    bad["differences"][r]["bounds"][k]["multipliers"][0] = "-1"
    assert_invalid(bad, a, b, "negative")
    bad = fresh(cert)
    bad["differences"][r]["bounds"][k]["facets"][0] = 999
    assert_invalid(bad, a, b, "does not exist")
    bad = fresh(cert)
    bad["differences"][r]["bounds"][k]["multipliers"][0] = 0.5
    assert_invalid(bad, a, b, "not an exact rational")


def test_rejects_altered_bound_and_maximum(pair):
    a, b, cert = pair
    r, k = bound_entry(cert)
    bad = fresh(cert)
    bad["differences"][r]["bounds"][k]["bound"] = "0"
    assert_invalid(bad, a, b, "recorded bound")
    bad = fresh(cert)
    bad["max_difference_bound"] = rational_str(Fraction(cert["max_difference_bound"]) / 2)
    assert_invalid(bad, a, b, "max_difference_bound")
    bad = fresh(cert)
    bad["max_difference"] = "0"
    assert_invalid(bad, a, b, "max_difference")
    bad = fresh(cert)
    bad["max_point"] = ["0", "0"]
    assert_invalid(bad, a, b, "max_point")
    bad = fresh(cert)
    bad["max_point"] = ["2", "0"]
    assert_invalid(bad, a, b, "outside the domain")


def test_rejects_removed_bound(pair):
    a, b, cert = pair
    r, k = bound_entry(cert)
    bad = fresh(cert)
    del bad["differences"][r]["bounds"][k]
    assert_invalid(bad, a, b, "no multipliers are given")
    bad = fresh(cert)
    entry = bad["differences"][r]["bounds"][k]
    bad["differences"][r]["bounds"].append(dict(entry))
    assert_invalid(bad, a, b, "two bounds")


def test_rejects_altered_partition(pair):
    a, b, cert = pair
    bad = fresh(cert)
    bad["partition"]["regions"][0]["alpha"][0][0] = "12345"
    assert_invalid(bad, a, b, "partition of the product network: region 0")
    bad = fresh(cert)
    del bad["partition"]
    assert_invalid(bad, a, b, "no embedded partition")


def test_malformed_entries_are_invalid_not_a_crash(pair):
    a, b, cert = pair
    for mutate in (lambda c: c.__setitem__("differences", "x"),
                   lambda c: c["differences"].__setitem__(0, []),
                   lambda c: c["differences"][0].__setitem__("bounds", None),
                   lambda c: c.__setitem__("epsilon", 0.5),
                   lambda c: c.__setitem__("models", None)):
        bad = fresh(cert)
        mutate(bad)
        assert not check_equivalence_certificate(bad, a, b).valid


def test_kind_mismatch_is_bad_input(pair):
    a, b, cert = pair
    with pytest.raises(CertificateError, match="partition certificate"):
        check_equivalence_certificate(cert["partition"], a, b)
    bad = fresh(cert)
    bad["version"] = 99
    with pytest.raises(CertificateError):
        check_equivalence_certificate(bad, a, b)


# ----- imports of the trusted base -------------------------------------------------------------
@pytest.mark.parametrize("module", ["verishallow.proofs.equivalence_checker",
                                    "verishallow.product"])
def test_checker_side_imports_no_solver(module):
    assert loaded_after(f"import {module}") == []


def test_check_command_on_equivalence_certificate_imports_no_solver(pair, tmp_path):
    a, b, cert = pair
    write_certificate(cert, tmp_path / "e.json")
    save_npz(a, tmp_path / "a.npz")
    save_npz(b, tmp_path / "b.npz")
    args = [str(tmp_path / "e.json"), str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]
    code = ("from click.testing import CliRunner\nfrom verishallow.cli import main\n"
            f"r = CliRunner().invoke(main, ['check', *{args!r}])\n"
            "assert r.exit_code == 0, r.output")
    assert loaded_after(code) == []


# ----- command line ----------------------------------------------------------------------------
def run(args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, sine):
    d = tmp_path_factory.mktemp("models")
    net, _ = sine
    save_npz(net, d / "same.npz")
    save_npz(rounded(net), d / "f16.npz")
    return SINE, d / "same.npz", d / "f16.npz"


def test_cli_round_trip(model_files, tmp_path):
    """The partition certificate (--method regions; the default proof search writes a proof
    tree, tests/test_cli_proofsearch.py)."""
    a, same, f16 = model_files
    out = tmp_path / "eq.json"
    r = run(["equiv", a, same, "--method", "regions", "--certificate", out, "-q"])
    assert r.exit_code == 0, r.output
    assert f"wrote certificate {out}" in r.stdout
    r = run(["check", out, a, same])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("valid: max |f_A - f_B| = 0.0 <= epsilon 0.0")
    # gzip, epsilon, --json on both sides
    out = tmp_path / "eq16.json.gz"
    r = run(["equiv", a, f16, "--method", "regions", "--epsilon", "0.01", "--certificate", out,
             "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["equivalent"] is True and rep["certificate"] == str(out)
    assert rep["certificate_max_difference"] == rep["max_difference_exact"]
    r = run(["check", out, a, f16, "--json"])
    assert r.exit_code == 0, r.output
    chk = json.loads(r.stdout)
    assert set(chk) == CHECK_KEYS and chk["valid"] and chk["kind"] == "equivalence"
    assert chk["max_difference"] == rep["certificate_max_difference"]
    # the domain it was made for, and another one
    assert run(["check", out, a, f16, "--", "-3:3"]).exit_code == 0
    r = run(["check", out, a, f16, "--", "-3:2"])
    assert r.exit_code == 1 and "domain differs" in r.stdout


def test_cli_not_equivalent_writes_nothing(model_files, tmp_path):
    a, _, f16 = model_files
    out = tmp_path / "eq.json"
    r = run(["equiv", a, f16, "--certificate", out, "-q"])
    assert r.exit_code == 1 and r.stdout.startswith("NOT equivalent")
    r = run(["equiv", a, f16, "--certificate", out, "--json", "--epsilon", "1e-4"])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["certificate"] is None
    assert list(tmp_path.iterdir()) == []


def test_cli_check_invalid_prints_one_line(model_files, sine16, tmp_path):
    a, _, f16 = model_files
    _, _, cert = sine16
    bad = fresh(cert)
    bad["epsilon"] = "0"
    write_certificate(bad, tmp_path / "bad.json")
    r = run(["check", tmp_path / "bad.json", a, f16])
    assert r.exit_code == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("invalid: region ")
    assert "exceeds epsilon" in lines[0]
    r = run(["check", tmp_path / "bad.json", a, f16, "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["valid"] is False
    # another model B
    write_certificate(cert, tmp_path / "good.json")
    r = run(["check", tmp_path / "good.json", a, a])
    assert r.exit_code == 1 and "model B fingerprint differs" in r.stdout


def test_cli_bad_input_exit_2(model_files, sine16, tmp_path):
    a, same, f16 = model_files
    net, _, cert = sine16
    write_certificate(cert, tmp_path / "eq.json")
    box = Box([-3.0], [3.0])
    write_certificate(certify(net, box, partition=_part(net, box), z3=False),
                      tmp_path / "part.json")
    (tmp_path / "trunc.json").write_bytes((tmp_path / "eq.json").read_bytes()[:-20])
    cases = [
        (["check", tmp_path / "eq.json", a], "give both models"),
        (["check", tmp_path / "part.json", a, f16], "give one model"),
        (["check", tmp_path / "trunc.json", a, f16], "not valid JSON"),
        (["check", tmp_path / "eq.json", a, tmp_path / "missing.npz"], "error:"),
        # a top-1 certificate is a proof tree: the partition path refuses it
        (["equiv", a, f16, "--method", "regions", "--top1", "--certificate",
          tmp_path / "x.json"], "proof search"),
        (["equiv", a, f16, "--certificate", tmp_path / "nodir" / "x.json"], "does not exist"),
    ]
    for args, fragment in cases:
        r = run(args)
        assert r.exit_code == 2, (args, r.output)
        err = r.stderr.strip()
        assert err.startswith("error:") and "\n" not in err and fragment in err, err
    assert not (tmp_path / "x.json").exists()
    # the partition certificate still checks with one model (and a positional domain)
    assert run(["check", tmp_path / "part.json", a]).exit_code == 0
    assert run(["check", tmp_path / "part.json", a, "--", "-3:3"]).exit_code == 0
    assert load_certificate(tmp_path / "eq.json")["kind"] == "equivalence"


@pytest.mark.slow
def test_moons_float16_copy():
    """The bundled 2-16-16-2 classifier against its float16 copy (about 1000 product regions):
    no certificate at epsilon 0, a valid one at 0.05 whose maximum is the decision's."""
    net, dom = load_with_domain(ROOT / "models" / "moons.onnx")
    net16 = rounded(net)
    with pytest.raises(NotEquivalentError):
        certify_equivalence(net, net16, dom)
    cert = certify_equivalence(net, net16, dom, epsilon=0.05)
    res = check_equivalence_certificate(cert, net, net16, domain=dom)
    assert res.valid, res.failures
    assert res.max_difference == check_equivalence(net, net16, dom, epsilon=0.05).exact
