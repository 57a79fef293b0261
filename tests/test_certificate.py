"""Certificates and the independent checker: valid certificates pass, every tampering fails.

The checker (``verishallow.proofs.partition_checker``) must accept what ``certify`` writes and
reject a removed
region, a flipped pattern bit, an altered affine model, a moved witness, a missing facet, a
wrong neighbour, a different model and a changed domain. A truncated or garbled file is *bad
input* (``CertificateError``, CLI exit 2), not an invalid certificate (exit 1): the checker
cannot tell what such a file claims.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, loaded_after

from verishallow.cli import main
from verishallow.domain import Box, Whole
from verishallow.io import save_npz
from verishallow.network import ReLUNetwork, network_fingerprint
from verishallow.proofs.document import CertificateError, load_certificate
from verishallow.proofs.partition import certify, write_certificate
from verishallow.proofs.partition_checker import check_certificate
from verishallow.regions import enumerate_regions

MOONS = ROOT / "models" / "moons.onnx"
CERTIFY_KEYS = {"regions", "complete", "output", "seconds", "problems", "z3", "timings"}
CHECK_KEYS = {"valid", "failures", "checked", "seconds"}
BOX = Box([-1.0, -1.0], [1.0, 1.0])


def _part(net, dom):
    """The partition a certificate is built from (the certificate is its coverage proof)."""
    return enumerate_regions(net, dom, prove_coverage=False)


def random_net(seed=0, sizes=(2, 6, 6, 1)) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)],
                       [rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)])


@pytest.fixture(scope="module")
def small():
    """A 2-6-6-1 net on [-1, 1]^2 and its certificate (no z3: fast)."""
    net = random_net()
    cert = certify(net, BOX, partition=_part(net, BOX), z3=False)
    return net, cert


def fresh(cert: dict) -> dict:
    return copy.deepcopy(cert)


def assert_invalid(cert: dict, net: ReLUNetwork, *fragments: str, domain=None) -> str:
    res = check_certificate(cert, net, domain=domain)
    assert not res.valid, "tampered certificate accepted"
    assert res.failures
    first = res.failures[0]
    assert any(f in first for f in fragments), first
    return first


def inner_facet(cert: dict) -> tuple[int, int]:
    """(region, facet index) of some neuron facet with a neighbour."""
    for r, reg in enumerate(cert["regions"]):
        for k, f in enumerate(reg["facets"]):
            if f["neighbour"] is not None:
                return r, k
    raise AssertionError("no inner facet")


# ----- the valid certificate ---------------------------------------------------------------
def test_certificate_is_valid_and_complete(small):
    net, cert = small
    assert cert["complete"] and cert["problems"] == []
    res = check_certificate(cert, net, domain=BOX)
    assert res.valid, res.failures
    part = enumerate_regions(net, BOX, prove_coverage=False)
    assert res.checked["regions"] == len(part) == len(cert["regions"])
    assert res.checked["witnesses"] == res.checked["models"] == len(part)
    assert res.checked["neighbours"] > 0
    assert {r["pattern"] for r in cert["regions"]} == {
        "".join("1" if b else "0" for b in r.pattern) for r in part.regions}
    # every witness lies in its region according to the float network too
    for reg in cert["regions"]:
        w = np.array([float(Fraction(v)) for v in reg["witness"]])
        got = "".join("1" if b else "0" for b in net.pattern(w[None])[0])
        assert got == reg["pattern"]
    assert res.seconds > 0 and cert["seconds"]["certify"] > 0


def test_certificate_header_and_exact_strings(small):
    _, cert = small
    assert cert["format"] == "verishallow.certificate" and cert["version"] == 1
    assert cert["model"]["fingerprint"]
    assert cert["domain"]["exact"]["lower"] == ["-1", "-1"]
    for reg in cert["regions"]:
        for v in reg["witness"] + reg["beta"] + [a for row in reg["alpha"] for a in row]:
            assert isinstance(v, str)
            Fraction(v)  # exact rational strings, never floats


def test_roundtrip_json_and_gzip(small, tmp_path):
    net, cert = small
    for name in ("c.json", "c.json.gz"):
        path = tmp_path / name
        write_certificate(cert, path)
        raw = path.read_bytes()
        assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
        assert load_certificate(path)["regions"] == json.loads(json.dumps(cert["regions"]))
        assert check_certificate(path, net).valid


# ----- tampering ---------------------------------------------------------------------------
def test_rejects_removed_last_region(small):
    net, cert = small
    c = fresh(cert)
    c["regions"].pop()
    assert_invalid(c, net, "no neighbour", "neighbour")


def test_rejects_removed_region_renumbered(small):
    """Remove a region and renumber everything consistently: a neighbour is still missing."""
    net, cert = small
    c = fresh(cert)
    gone = 3
    c["regions"].pop(gone)
    for reg in c["regions"]:
        if reg["id"] > gone:
            reg["id"] -= 1
        for f in reg["facets"]:
            nb = f["neighbour"]
            if nb is None:
                continue
            f["neighbour"] = None if nb == gone else (nb - 1 if nb > gone else nb)
    assert_invalid(c, net, "no neighbour")


def test_rejects_flipped_pattern_bit(small):
    net, cert = small
    for bit in (0, 7):
        c = fresh(cert)
        p = c["regions"][2]["pattern"]
        c["regions"][2]["pattern"] = p[:bit] + ("0" if p[bit] == "1" else "1") + p[bit + 1:]
        # named as region 2 itself, or as the neighbour whose pattern is wrong
        assert_invalid(c, net, "region 2", "same pattern", "neighbour 2 does not have")


def test_rejects_altered_affine_model(small):
    net, cert = small
    c = fresh(cert)
    a = Fraction(c["regions"][1]["alpha"][0][1])
    c["regions"][1]["alpha"][0][1] = str(a + Fraction(1, 2**60))
    assert_invalid(c, net, "affine model differs")
    c = fresh(cert)
    c["regions"][0]["beta"][0] = str(Fraction(c["regions"][0]["beta"][0]) * 2 + 1)
    assert_invalid(c, net, "affine model differs")
    # the same values in other spellings (not lowest terms) are the same model
    c = fresh(cert)
    for reg in c["regions"][:3]:
        a, b = Fraction(reg["alpha"][0][0]), Fraction(reg["beta"][0])
        reg["alpha"][0][0] = f"{a.numerator * 6}/{a.denominator * 6}"
        reg["beta"][0] = f"{b.numerator * 2}/{b.denominator * 2}"
    assert check_certificate(c, net).valid


def test_rejects_moved_witness(small):
    net, cert = small
    c = fresh(cert)
    c["regions"][0]["witness"] = list(cert["regions"][1]["witness"])
    assert_invalid(c, net, "witness does not satisfy the pattern")
    c = fresh(cert)
    c["regions"][0]["witness"] = ["3", "0"]  # outside the box
    assert_invalid(c, net, "witness")


def drop_facet(reg: dict, k: int) -> None:
    """Remove facet ``k`` and, consistently, every piece of evidence that uses it."""
    del reg["facets"][k]
    for key in ("box", "implied"):
        kept = []
        for e in reg[key]:
            if k in e["facets"]:
                continue
            e["facets"] = [i - 1 if i > k else i for i in e["facets"]]
            kept.append(e)
        reg[key] = kept


def test_rejects_missing_facet(small):
    net, cert = small
    r, k = inner_facet(cert)
    c = fresh(cert)
    drop_facet(c["regions"][r], k)
    assert_invalid(c, net, "is not shown implied by the facets")
    # without re-indexing, the evidence no longer adds up
    c = fresh(cert)
    del c["regions"][r]["facets"][k]
    assert_invalid(c, net, f"region {r}")
    # a missing domain facet
    for r, reg in enumerate(cert["regions"]):
        ks = [k for k, f in enumerate(reg["facets"]) if f["domain"]]
        if ks:
            c = fresh(cert)
            drop_facet(c["regions"][r], ks[0])
            assert_invalid(c, net, "is not shown implied by the facets")
            break
    else:
        raise AssertionError("no region touches the domain boundary")


def test_rejects_facet_missing_a_member_or_wrong_group(small):
    net, cert = small
    r, k = inner_facet(cert)
    c = fresh(cert)
    f = c["regions"][r]["facets"][k]
    other = next(i for i in range(net.n_hidden) if i not in f["neurons"])
    f["neurons"] = f["neurons"] + [other]
    assert_invalid(c, net, "not on the same hyperplane", "repeats a row")


def test_rejects_wrong_neighbour(small):
    net, cert = small
    r, k = inner_facet(cert)
    nb = cert["regions"][r]["facets"][k]["neighbour"]
    c = fresh(cert)
    c["regions"][r]["facets"][k]["neighbour"] = next(
        j for j in range(len(cert["regions"])) if j not in (nb, r))
    assert_invalid(c, net, "does not have the pattern beyond the facet")
    c = fresh(cert)
    c["regions"][r]["facets"][k]["neighbour"] = r
    assert_invalid(c, net, "does not have the pattern beyond the facet")
    c = fresh(cert)
    c["regions"][r]["facets"][k]["neighbour"] = None
    assert_invalid(c, net, "no neighbour")


@pytest.fixture(scope="module")
def small3d():
    """A 3-5-5-1 net on [-1, 1]^3 and its certificate: explicit Farkas multipliers."""
    net = random_net(seed=3, sizes=(3, 5, 5, 1))
    box = Box(-np.ones(3), np.ones(3))
    return net, certify(net, box, partition=_part(net, box), z3=False)


def test_rejects_altered_farkas_evidence(small3d):
    net, cert = small3d
    assert check_certificate(cert, net).valid
    regs = [(r, key, k) for r, reg in enumerate(cert["regions"]) for key in ("implied", "box")
            for k, e in enumerate(reg[key]) if "multipliers" in e]
    assert regs, "no explicit multipliers to tamper with"
    r, key, k = regs[0]
    c = fresh(cert)
    e = c["regions"][r][key][k]
    e["multipliers"][0] = str(Fraction(e["multipliers"][0]) + 1)
    assert_invalid(c, net, "multipliers do not reproduce", "weaker than needed")
    c = fresh(cert)
    c["regions"][r][key][k]["multipliers"][0] = "-1"
    assert_invalid(c, net, "negative")


def test_a_basis_without_multipliers_checks_in_any_dimension(small3d):
    """An explicit implication over n facets (a basis) still checks when its multipliers are
    dropped: the checker solves them itself (elimination from 3-D on)."""
    net, cert = small3d
    n = 3
    hits = [(r, k) for r, reg in enumerate(cert["regions"]) for k, e in enumerate(reg["implied"])
            if "multipliers" in e and len(e["facets"]) == n]
    assert hits, "no three-facet implication"
    c = fresh(cert)
    for r, k in hits:
        del c["regions"][r]["implied"][k]["multipliers"]
    assert check_certificate(c, net).valid
    r, k = hits[0]
    e = c["regions"][r]["implied"][k]
    e["facets"] = e["facets"][:2]
    assert_invalid(c, net, "a basis needs 3 facets")


def test_plane_certificates_name_bases(small):
    """In the plane most implications are a vertex's two facets, the multipliers left to the
    checker (Cramer's rule); rows sharing a basis share one entry."""
    net, cert = small
    implied = [e for reg in cert["regions"] for e in reg["implied"]]
    box = [e for reg in cert["regions"] for e in reg["box"]]
    assert box and all("multipliers" not in e and len(e["facets"]) == 2 for e in box)
    assert any("rows" in e for e in implied)
    rows = [i for reg in cert["regions"] for e in reg["implied"]
            for i in e.get("rows", [e.get("row")])]
    assert cert["evidence"]["farkas"] == len(rows)


def _basis_entry(cert: dict, key: str) -> tuple[int, int]:
    for r, reg in enumerate(cert["regions"]):
        for k, e in enumerate(reg[key]):
            if "multipliers" not in e and len(reg["facets"]) >= 3:
                return r, k
    raise AssertionError(f"no basis-form {key} entry in a region with 3+ facets")


def test_rejects_altered_plane_basis(small):
    net, cert = small
    for key in ("implied", "box"):
        r, k = _basis_entry(cert, key)
        nf = len(cert["regions"][r]["facets"])
        basis = cert["regions"][r][key][k]["facets"]
        # another pair of the region's facets: a negative multiplier or a weaker bound
        for other in ([a, b] for a in range(nf) for b in range(a + 1, nf)):
            if sorted(other) == sorted(basis):
                continue
            c = fresh(cert)
            c["regions"][r][key][k]["facets"] = other
            res = check_certificate(c, net)
            if not res.valid:
                assert any(w in res.failures[0] for w in
                           ("negative", "weaker than needed", "parallel")), res.failures[0]
                break
        else:
            raise AssertionError(f"no other basis of region {r} was rejected")
        for bad, why in (([basis[0]], "basis names two"), ([basis[0], basis[0]], "parallel"),
                         ([basis[0], nf], "basis names two")):
            c = fresh(cert)
            c["regions"][r][key][k]["facets"] = bad
            assert_invalid(c, net, why)
    # a shared basis may not carry multipliers; a row listed twice is rejected
    r, k = _basis_entry(cert, "implied")
    c = fresh(cert)
    e = c["regions"][r]["implied"][k]
    if "rows" not in e:
        e["rows"] = [e.pop("row")]
    e["multipliers"] = ["1", "1"]
    assert_invalid(c, net, "take no multipliers")
    c = fresh(cert)
    e = c["regions"][r]["implied"][k]
    if "rows" not in e:
        e["rows"] = [e.pop("row")]
    e["rows"].append(e["rows"][0])
    assert_invalid(c, net, "given twice")


def test_rejects_tightened_plane_box_bound(small):
    net, cert = small
    r, k = _basis_entry(cert, "box")
    c = fresh(cert)
    e = c["regions"][r]["box"][k]
    step = Fraction(1, 10 ** 6) * (1 if e["side"] == "lower" else -1)
    e["bound"] = str(Fraction(e["bound"]) + step)
    assert_invalid(c, net, "weaker than needed")


def test_rejects_duplicate_region(small):
    net, cert = small
    c = fresh(cert)
    dup = copy.deepcopy(c["regions"][0])
    dup["id"] = len(c["regions"])
    c["regions"].append(dup)
    assert_invalid(c, net, "same pattern as region 0")


def test_rejects_different_model(small):
    net, cert = small
    other = random_net(seed=1)
    assert_invalid(fresh(cert), other, "fingerprint differs")
    # even with a forged fingerprint the exact checks fail
    c = fresh(cert)
    c["model"]["fingerprint"] = network_fingerprint(other.weights, other.biases)
    assert_invalid(c, other, "region")
    # a network differing in one weight by one ulp
    W = [np.array(w) for w in net.weights]
    W[1][2, 3] = np.nextafter(W[1][2, 3], np.inf)
    nudged = ReLUNetwork(W, [np.array(b) for b in net.biases])
    c = fresh(cert)
    c["model"]["fingerprint"] = network_fingerprint(nudged.weights, nudged.biases)
    assert_invalid(c, nudged, "region")


def test_rejects_changed_domain(small):
    net, cert = small
    # a bigger box, consistently in the float and the exact form: the facets are wrong now
    c = fresh(cert)
    c["domain"]["upper"][0] = 3.0
    c["domain"]["exact"]["upper"][0] = "3"
    assert_invalid(c, net, "region")
    # exact and float forms disagree
    c = fresh(cert)
    c["domain"]["exact"]["upper"][0] = "3"
    assert_invalid(c, net, "differs from its float form")
    # the certificate is valid, but about another domain than the one asked for
    assert_invalid(fresh(cert), net, "domain differs", domain=Box([-1.0, -1.0], [1.0, 2.0]))
    # the whole plane instead of the box
    c = fresh(cert)
    c["domain"] = {"kind": "whole", "lower": [None, None], "upper": [None, None],
                   "exact": {"lower": [None, None], "upper": [None, None]}}
    assert_invalid(c, net, "region")


@pytest.mark.parametrize("mutate", [
    lambda c: c.__setitem__("regions", "nope"),
    lambda c: c.__setitem__("regions", []),
    lambda c: c["regions"][0].__setitem__("facets", [{"neurons": "x"}]),
    lambda c: c["regions"][0].__setitem__("witness", None),
    lambda c: c["regions"][0].__setitem__("alpha", 5),
    lambda c: c["regions"][0]["witness"].__setitem__(0, 0.5),
    lambda c: c["regions"][0]["facets"][0].__setitem__("neighbour", True),
    lambda c: c["domain"].__setitem__("exact", []),
    lambda c: c.__setitem__("domain", None),
    lambda c: c.__setitem__("model", {}),
    lambda c: c["regions"][0].__setitem__("box", [{"coord": [1]}]),
    lambda c: c["regions"][0].__setitem__("implied", [{"row": 10**6}]),
])
def test_malformed_structure_is_invalid_not_a_crash(small, mutate):
    net, cert = small
    c = fresh(cert)
    mutate(c)
    res = check_certificate(c, net)
    assert not res.valid and res.failures


def test_random_mutations_are_rejected(small):
    """Any single scalar of a region or the domain replaced by junk: the checker answers
    "invalid" and never raises (every such field is checked)."""
    net, cert = small
    rng = np.random.default_rng(5)
    leaves: list[tuple[list, object]] = []

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, [*path, k])
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, [*path, i])
        else:
            leaves.append((path, obj))

    walk(cert["regions"][:3], ["regions"])
    walk(cert["domain"], ["domain"])
    tried = 0
    for idx in rng.choice(len(leaves), size=30, replace=False):
        path, old = leaves[idx]
        new = {0: "1/0", 1: None, 2: -7, 3: "abc", 4: [], 5: 1e300}[int(rng.integers(6))]
        if new == old:
            continue
        c = fresh(cert)
        target = c
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = new
        res = check_certificate(c, net)
        assert not res.valid and res.failures, (path, old, new)
        tried += 1
    assert tried > 20


def test_bad_files_are_input_errors(small, tmp_path):
    net, cert = small
    path = tmp_path / "c.json"
    write_certificate(cert, path)
    data = path.read_bytes()
    (tmp_path / "trunc.json").write_bytes(data[: len(data) // 2])
    gz = gzip.compress(data)
    (tmp_path / "trunc.json.gz").write_bytes(gz[: len(gz) // 2])
    (tmp_path / "garbage.json").write_bytes(b"\x00\xff garbage")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    (tmp_path / "v99.json").write_text(json.dumps({**cert, "version": 99}))
    for name, msg in [("trunc.json", "not valid JSON"), ("trunc.json.gz", "damaged gzip"),
                      ("garbage.json", "not valid JSON"), ("other.json", "not a verishallow"),
                      ("v99.json", "unsupported certificate version"),
                      ("missing.json", "not found")]:
        with pytest.raises(CertificateError, match=msg):
            check_certificate(tmp_path / name, net)


# ----- special networks and domains --------------------------------------------------------
def test_fixed_coordinate_box():
    net = random_net(seed=3, sizes=(3, 5, 5, 2))
    dom = Box([-1.0, 0.25, -1.0], [1.0, 0.25, 1.0])
    cert = certify(net, dom, partition=_part(net, dom), z3=False)
    assert cert["complete"], cert["problems"]
    res = check_certificate(cert, net, domain=dom)
    assert res.valid, res.failures
    assert all(reg["witness"][1] == "1/4" for reg in cert["regions"])
    c = fresh(cert)
    c["regions"][0]["witness"][1] = "1/3"
    assert_invalid(c, net, "fixed input value")


def test_whole_space():
    net = random_net(seed=2, sizes=(2, 5, 4, 1))
    cert = certify(net, Whole(2), partition=_part(net, Whole(2)), z3=False)
    assert cert["complete"], cert["problems"]
    assert cert["domain"]["kind"] == "whole"
    res = check_certificate(cert, net, domain=Whole(2))
    assert res.valid, res.failures
    # unbounded regions: no facet is a domain facet, every facet has a neighbour
    assert all(not f["domain"] for reg in cert["regions"] for f in reg["facets"])
    c = fresh(cert)
    c["regions"].pop()
    assert not check_certificate(c, net).valid


def degenerate_net() -> ReLUNetwork:
    """Layer 1: a dead neuron (zero weights, negative bias), an identically zero neuron, a
    duplicate and a negated duplicate of neuron 0; layer 2: a copy of ReLU(neuron 0), whose
    hyperplane coincides with neuron 0's (ambiguous bits across that facet)."""
    rng = np.random.default_rng(11)
    W1 = rng.normal(size=(6, 2))
    b1 = rng.normal(size=6) * 0.3
    W1[3], b1[3] = 0.0, -1.0  # dead
    W1[4], b1[4] = 0.0, 0.0  # identically zero
    W1[5], b1[5] = W1[0], b1[0]  # duplicate of neuron 0
    W1 = np.vstack([W1, -2.0 * W1[0]])
    b1 = np.append(b1, -2.0 * b1[0])  # negated, scaled duplicate
    W2 = rng.normal(size=(4, 7))
    b2 = rng.normal(size=4) * 0.3
    W2[0], b2[0] = 0.0, 0.0
    W2[0, 0] = 1.0  # ReLU(z_0)
    W3 = rng.normal(size=(1, 4))
    return ReLUNetwork([W1, W2, W3], [b1, b2, np.zeros(1)])


def test_dead_and_duplicated_neurons():
    net = degenerate_net()
    cert = certify(net, BOX, partition=_part(net, BOX), z3=False)
    assert cert["complete"], cert["problems"]
    res = check_certificate(cert, net)
    assert res.valid, res.failures
    assert res.checked["zero_rows"] > 0  # the dead and the zero neuron
    assert res.checked["ambiguous_bits"] > 0  # the layer-2 copy of neuron 0
    groups = [sorted(f["neurons"]) for reg in cert["regions"] for f in reg["facets"]]
    assert [0, 5, 6] in groups  # duplicates share one facet
    assert all(reg["pattern"][3] == "0" and reg["pattern"][4] == "0"
               for reg in cert["regions"])
    # declaring the identically zero neuron active is caught
    c = fresh(cert)
    p = c["regions"][0]["pattern"]
    c["regions"][0]["pattern"] = p[:4] + "1" + p[5:]
    assert_invalid(c, net, "region 0")
    # splitting a duplicate group hides a row on the facet's hyperplane
    c = fresh(cert)
    for reg in c["regions"]:
        for f in reg["facets"]:
            if sorted(f["neurons"]) == [0, 5, 6]:
                f["neurons"] = [0, 6]
                break
        else:
            continue
        break
    assert_invalid(c, net, "is not listed in it")


def test_incomplete_partition_gives_incomplete_certificate():
    """A partition missing a region cannot be certified, and the checker rejects the result."""
    net = random_net(seed=4, sizes=(2, 8, 2))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    cut = dataclasses.replace(part, regions=part.regions[:-1])
    cert = certify(net, BOX, partition=cut, z3=True, z3_coverage_timeout=20)
    assert not cert["complete"]
    assert any("no region beyond facet" in p for p in cert["problems"])
    assert cert["z3"]["coverage"]["status"] == "uncovered"
    assert cert["z3"]["missed_regions"] == [
        "".join("1" if b else "0" for b in part.regions[-1].pattern)]
    assert not check_certificate(cert, net).valid


def test_z3_double_checks_recorded():
    net = random_net(seed=4, sizes=(2, 8, 2))
    cert = certify(net, BOX, partition=_part(net, BOX), z3=True)
    z = cert["z3"]
    assert cert["complete"], cert["problems"]
    n = len(cert["regions"])
    assert z["witnesses"]["exact"] + z["witnesses"]["z3"] == n
    assert z["affine"]["equal"] == n
    assert z["coverage"]["status"] == "covered"
    assert all(reg["z3"]["affine"] == "equal" for reg in cert["regions"])
    assert check_certificate(cert, net).valid


def test_certify_rejects_mismatched_partition():
    net = random_net(seed=4, sizes=(2, 8, 2))
    part = enumerate_regions(net, BOX, prove_coverage=False)
    with pytest.raises(ValueError, match="different network"):
        certify(random_net(seed=5, sizes=(2, 8, 2)), partition=part, z3=False)
    with pytest.raises(ValueError, match="different domain"):
        certify(net, Box([-1.0, -1.0], [1.0, 2.0]), partition=part, z3=False)


def test_certify_reports_progress():
    net = random_net(seed=4, sizes=(2, 8, 2))
    calls = []
    cert = certify(net, BOX, partition=_part(net, BOX), z3=False,
                   progress=lambda done, total: calls.append((done, total)))
    n = len(cert["regions"])
    assert calls == [(k, n) for k in range(1, n + 1)]


# ----- the exact linear algebra used to find evidence ----------------------------------------
def test_exact_simplex_against_linprog():
    """``_simplex`` (the exact fallback for Farkas multipliers) agrees with scipy's linprog."""
    from scipy.optimize import linprog

    from verishallow.exact.linalg import simplex as _simplex

    rng = np.random.default_rng(0)
    feasible = 0
    for trial in range(120):
        n, k = int(rng.integers(1, 4)), int(rng.integers(1, 7))
        M = rng.integers(-5, 6, size=(n, k))
        t = M @ (rng.integers(0, 3, size=k) * (rng.random(k) < 0.6))
        if trial % 3 == 0:
            t = t + rng.integers(-2, 3, size=n)  # often infeasible
        cost = rng.integers(0, 5, size=k)
        ref = linprog(cost, A_eq=M, b_eq=t, bounds=[(0, None)] * k, method="highs")
        got = _simplex([[Fraction(int(v)) for v in row] for row in M],
                       [Fraction(int(v)) for v in t], [Fraction(int(v)) for v in cost])
        if ref.status == 2:
            assert got is None
            continue
        assert ref.status == 0 and got is not None
        feasible += 1
        assert all(v >= 0 for v in got)
        assert [sum(int(M[j, i]) * got[i] for i in range(k)) for j in range(n)] == t.tolist()
        assert float(sum(int(c) * v for c, v in zip(cost, got, strict=True))) == \
            pytest.approx(ref.fun, abs=1e-7)
    assert feasible > 50


def test_solve_support_exact():
    from verishallow.exact.linalg import solve_support as _solve_support

    rng = np.random.default_rng(1)
    for _ in range(100):
        m = int(rng.integers(1, 6))
        keys = [tuple(int(v) * 2**60 + 1 for v in rng.integers(-4, 5, size=4)) for _ in range(m)]
        lam0 = rng.integers(0, 3, size=m)
        target = [sum(int(lam0[i]) * keys[i][j] for i in range(m)) for j in range(3)]
        sol = _solve_support(keys, list(range(m)), target)
        assert sol is not None
        assert [sum(v * keys[i][j] for i, v in sol.items()) for j in range(3)] == target
    # inconsistent: the target is not in the span
    assert _solve_support([(1, 0, 0, 0)], [0], [0, 1, 0]) is None


# ----- imports of the trusted base ---------------------------------------------------------
def test_checker_imports_no_enumeration_code():
    assert loaded_after("import verishallow.proofs.partition_checker") == []


def test_check_command_imports_no_enumeration_code(small, tmp_path):
    """Running ``verishallow check`` loads the checker and the model loaders only: no solver."""
    net, cert = small
    write_certificate(cert, tmp_path / "c.json")
    save_npz(net, tmp_path / "m.npz")
    code = ("from click.testing import CliRunner\nfrom verishallow.cli import main\n"
            f"r = CliRunner().invoke(main, ['check', {str(tmp_path / 'c.json')!r}, "
            f"{str(tmp_path / 'm.npz')!r}])\nassert r.exit_code == 0, r.output")
    assert loaded_after(code) == []


# ----- command line ------------------------------------------------------------------------
def run(args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    net = random_net(seed=4, sizes=(2, 8, 2))
    save_npz(net, d / "net.npz")
    return net, d / "net.npz"


def test_cli_certify_and_check(model_file, tmp_path):
    net, path = model_file
    cert = tmp_path / "c.json.gz"
    r = run(["certify", path, "-o", cert, "--json", "--workers", "1", "--z3", "--",
             "-1:1,-1:1"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert set(rep) == CERTIFY_KEYS
    assert rep["complete"] and rep["problems"] == 0 and rep["output"] == str(cert)
    assert rep["z3"]["coverage"] == "covered" and rep["z3"]["affine_equal"] == rep["regions"]
    r = run(["check", cert, path, "--json"])
    assert r.exit_code == 0, r.output
    chk = json.loads(r.stdout)
    assert set(chk) == CHECK_KEYS and chk["valid"] and chk["failures"] == []
    assert chk["checked"]["regions"] == rep["regions"]
    r = run(["check", cert, path])
    assert r.exit_code == 0 and r.stdout.startswith("valid:")
    # the domain it was made for, and another one
    assert run(["check", cert, path, "--", "-1:1,-1:1"]).exit_code == 0
    r = run(["check", cert, path, "--", "-1:1,-1:2"])
    assert r.exit_code == 1 and "domain differs" in r.stdout


def test_cli_check_invalid_prints_one_line(model_file, tmp_path):
    net, path = model_file
    cert = certify(net, BOX, partition=_part(net, BOX), z3=False)
    cert["regions"][1]["alpha"][0][0] = "12345"
    write_certificate(cert, tmp_path / "bad.json")
    r = run(["check", tmp_path / "bad.json", path])
    assert r.exit_code == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("invalid: region 1: affine model differs")
    r = run(["check", tmp_path / "bad.json", path, "--json"])
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    assert set(rep) == CHECK_KEYS and rep["valid"] is False and rep["failures"]


def test_cli_check_bad_input_exit_2(model_file, tmp_path):
    net, path = model_file
    good = tmp_path / "c.json"
    write_certificate(certify(net, BOX, partition=_part(net, BOX), z3=False), good)
    data = good.read_bytes()
    (tmp_path / "trunc.json").write_bytes(data[:-10])
    (tmp_path / "notcert.json").write_text("[1, 2, 3]")
    for cert, model in [(tmp_path / "trunc.json", path), (tmp_path / "notcert.json", path),
                        (tmp_path / "missing.json", path), (good, tmp_path / "missing.npz"),
                        (good, tmp_path / "c.json")]:
        r = run(["check", cert, model])
        assert r.exit_code == 2, (cert, model, r.output)
        err = r.stderr.strip()
        assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_cli_certify_bad_input_exit_2(model_file, tmp_path):
    _, path = model_file
    for args in (["certify", tmp_path / "missing.npz", "whole", "-o", tmp_path / "c.json"],
                 ["certify", path, "-o", tmp_path / "nodir" / "c.json", "whole"],
                 ["certify", path, "-o", tmp_path / "c.json", "--", "-1:1"]):
        r = run(args)
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("error:")
    assert not (tmp_path / "c.json").exists()


def test_cli_convert_certificate(model_file, tmp_path, monkeypatch):
    net, path = model_file
    monkeypatch.chdir(tmp_path)
    r = run(["convert", path, "-o", "s.json", "--certificate", "c.json", "--json",
             "--workers", "1", "--", "-1:1,-1:1"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["certificate"] == "c.json" and rep["certificate_complete"]
    cert = load_certificate(tmp_path / "c.json")
    assert len(cert["regions"]) == rep["regions"]
    assert run(["check", "c.json", path]).exit_code == 0


def test_cli_certify_incomplete_exit_3(model_file, tmp_path, monkeypatch):
    """An incomplete certificate is still written (for diagnosis), with exit code 3."""
    import verishallow.proofs.partition as certificate_mod

    real = certificate_mod.certify

    def broken(*args, **kwargs):
        cert = real(*args, **kwargs)
        cert["complete"] = False
        cert["problems"] = ["region 0: no region beyond facet L1N0"]
        return cert

    monkeypatch.setattr(certificate_mod, "certify", broken)
    _, path = model_file
    out = tmp_path / "c.json"
    r = run(["certify", path, "-o", out, "--no-z3", "--", "-1:1,-1:1"])
    assert r.exit_code == 3
    assert "INCOMPLETE" in r.stdout and "no region beyond facet" in r.stdout
    assert load_certificate(out)["complete"] is False


@pytest.mark.slow
def test_cli_moons_certify_and_check(tmp_path):
    cert = tmp_path / "moons.cert.json.gz"
    r = run(["certify", MOONS, "-o", cert, "--no-z3", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["complete"] and rep["z3"] is None
    r = run(["check", cert, MOONS, "--json"])
    assert r.exit_code == 0, r.output
    chk = json.loads(r.stdout)
    assert chk["valid"] and chk["checked"]["regions"] == rep["regions"]


# ----- the speed-ups must not change a single fact ---------------------------------------------
def _strip_times(cert: dict) -> dict:
    out = copy.deepcopy(cert)
    out.pop("seconds")
    out["enumeration"].pop("seconds")
    return out


def test_parallel_certify_and_check_equal_serial():
    """Forked workers certify and check exactly what one process does (5-D, 3 layers)."""
    net = random_net(seed=7, sizes=(3, 7, 6, 5, 2))
    box = Box([-1.0, -2.0, -1.0], [1.0, 1.0, 2.0])
    part = enumerate_regions(net, box, prove_coverage=False)
    serial = certify(net, box, partition=part, z3=False)
    parallel = certify(net, box, partition=part, z3=False, workers=2)
    assert serial["complete"] and len(serial["regions"]) > 20
    assert _strip_times(parallel) == _strip_times(serial)
    a = check_certificate(serial, net)
    b = check_certificate(serial, net, workers=2)
    assert a.valid and b.valid and a.checked == b.checked
    # a tampering deep in the list is found by the workers too, reported the same way
    bad = fresh(serial)
    r, k = inner_facet(bad)
    bad["regions"][-1]["witness"] = bad["regions"][0]["witness"]
    assert check_certificate(bad, net, workers=2).failures == check_certificate(bad, net).failures


def test_exact_rows_memo_equals_fresh_computation():
    """ExactRows' layer memo (pattern order) gives the rows an unmemoised computation gives."""
    from verishallow.exact.maps import ExactDomain, ExactNet, ExactRows, pattern_rows, primitive

    net = random_net(seed=3, sizes=(3, 6, 6, 4, 1))
    lo, up = [Fraction(-1), Fraction(0), Fraction(-2)], [Fraction(1), Fraction(0), Fraction(2)]
    edom = ExactDomain(lo, up, [], [])  # one fixed input: rows are reduced
    rng = np.random.default_rng(0)
    pats = rng.integers(0, 2, size=(40, 16)).astype(bool)
    pats[20:] = pats[:20]  # revisits hit the memo
    xr = ExactRows(ExactNet(net), edom)
    for p in pats:
        got, want = xr.rows(p), pattern_rows(ExactNet(net), edom, p)
        assert got.raw == want.raw and got.keys == want.keys and got.consts == want.consts
        assert got.alpha.tolist() == want.alpha.tolist() and got.out_exp == want.out_exp
        # exact values at a point, kept for the next ask of the same point only
        for wn, q in (([1, 3], 4), ([1, 3], 4), ([-5, 2], 7), ([1, 3], 4)):
            v = got.neuron_values(wn, q)
            assert not v.flags.writeable
            assert v.tolist() == [sum(x * y for x, y in zip(a, wn, strict=True)) + q * d
                                  for a, d in got.raw]
        # each neuron's key is the primitive row of its pattern's inequality (sigma z <= 0)
        for i, (a, d) in enumerate(got.raw):
            s = -1 if p[i] else 1
            assert got.keys[i] == primitive([s * v for v in a] + [-s * d])



def test_layer_map_updates_equal_fractions():
    """ExactNet.layer_map's incremental products (a miss one or two bits from the last one,
    as in pattern order) equal the pattern-fixed network computed in Fractions."""
    from verishallow.exact.maps import ExactNet, exact_layers

    net = random_net(seed=4, sizes=(3, 7, 6, 5, 2))
    layers = exact_layers(net)
    rng = np.random.default_rng(1)
    p = rng.integers(0, 2, size=18).astype(bool)
    walk = []
    for _ in range(60):  # a walk of one- and two-bit flips, some revisits, some jumps
        q = p.copy()
        q[rng.choice(18, size=int(rng.integers(1, 3)), replace=False)] ^= True
        if rng.random() < 0.1:
            q = rng.integers(0, 2, size=18).astype(bool)
        walk.append(q)
        p = q if rng.random() < 0.8 else p
    enet = ExactNet(net)
    for bits in walk + walk[:10]:
        A = [[Fraction(int(i == j)) for j in range(3)] for i in range(3)]  # x -> x
        d = [Fraction(0)] * 3
        off = 0
        for k, (W, b) in enumerate(layers):
            zA = [[sum((w * A[t][j] for t, w in enumerate(row)), Fraction(0)) for j in range(3)]
                  for row in W]
            zd = [sum((w * d[t] for t, w in enumerate(row)), bj)
                  for row, bj in zip(W, b, strict=True)]
            IA, Id, e = enet.layer_map(k, bits)
            scale = Fraction(2) ** e
            assert [[v * scale for v in row] for row in IA.tolist()] == zA
            assert [v * scale for v in Id.tolist()] == zd
            if k < len(layers) - 1:
                on = bits[off:off + len(W)]
                A = [row if on[i] else [Fraction(0)] * 3 for i, row in enumerate(zA)]
                d = [v if on[i] else Fraction(0) for i, v in enumerate(zd)]
                off += len(W)

def test_bounds_from_vertices_match_lp():
    """Multipliers read off the region's vertices prove the same (tight) coordinate bounds as
    the LP-found ones, and an implication holds exactly when the LP says it does."""
    from verishallow.proofs.farkas import FarkasFinder as _Farkas

    rng = np.random.default_rng(5)
    n = 3
    for _ in range(20):
        # a random polytope around the origin: h.x <= c with c > 0
        # bounded: a box of half-width 30 plus random cuts
        keys = [tuple(s * int(u == t) for u in range(n)) + (30,) for t in range(n)
                for s in (1, -1)]
        for h in rng.integers(-9, 10, size=(12, n)):
            if any(h):
                keys.append((*(int(v) for v in h), int(rng.integers(1, 20))))
        fk = _Farkas(keys, n)
        fk.use_vertices(np.zeros(n))
        got = {(t, sgn): fk.prove_at_vertex([sgn * int(u == t) for u in range(n)],
                                            Fraction(10) ** 300)
               for t in range(n) for sgn in (1, -1)}
        assert sum(v is not None for v in got.values()) >= n  # most directions, no LP
        for (t, sgn), lam in got.items():
            if lam is None:
                continue
            target = [sgn * int(u == t) for u in range(n)]
            assert all(v >= 0 for v in lam.values())
            assert all(sum(lam.get(k, 0) * keys[k][j] for k in lam) == target[j] for j in range(n))
            bound = sum(v * keys[k][n] for k, v in lam.items())
            ref = fk.prove(target, Fraction(10) ** 300, exact_fallback=True)
            assert bound == sum(v * keys[k][n] for k, v in ref.items())  # both tight
        for h in rng.integers(-5, 6, size=(10, n)):
            if not any(h):
                continue
            target = [int(v) for v in h]
            for tc in (Fraction(1), Fraction(10), Fraction(40)):
                at_v = fk.prove_at_vertex(target, tc)
                lp_ = fk.prove(target, tc)
                if at_v is not None:  # a vertex proof is a proof: the LP agrees it holds
                    assert lp_ is not None
                    assert sum(v * keys[k][n] for k, v in at_v.items()) <= tc


def test_row_bounds_family_matches_fresh_lps():
    """Warm-started LPs that differ in their row bounds agree with fresh solves."""
    from verishallow.solvers import lp

    rng = np.random.default_rng(2)
    A = rng.normal(size=(4, 9))
    cost = rng.uniform(0.5, 2.0, size=9)
    fam = lp.RowBoundsFamily(cost, A, np.zeros(9), np.full(9, lp.INF))
    for _ in range(10):
        t = rng.normal(size=4)
        a = fam.solve(t, t)
        b = lp.solve_lp(cost, A, t, t, np.zeros(9), np.full(9, lp.INF))
        assert a.status == b.status
        if a.ok:
            assert abs(a.objective - b.objective) <= 1e-9 * max(1.0, abs(b.objective))


def test_thin_region_beyond_a_facet_is_added_to_the_certificate():
    """A triangle with inradius ~3e-10 (below REGION_RADIUS_TOL, so not in the partition) is
    still full-dimensional: the coverage proof needs it, and certify adds it as a thin region
    with its own exact evidence."""
    from verishallow.regions.tolerances import REGION_RADIUS_TOL

    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    net = ReLUNetwork([W, np.ones((1, 3))], [np.array([0.0, 0.0, -1e-9]), np.zeros(1)])
    part = enumerate_regions(net, BOX, prove_coverage=False)
    tri = "110"
    assert tri not in {"".join("1" if b else "0" for b in r.pattern) for r in part.regions}
    seen = []
    cert = certify(net, BOX, partition=part, z3=False, on_thin_region=seen.append)
    assert cert["complete"], cert["problems"]
    assert cert["enumeration"]["thin_regions"] == 1 and len(seen) == 1
    thin = cert["regions"][-1]
    assert thin["thin"] and thin["pattern"] == tri and thin["id"] == len(part)
    assert 0 < thin["radius"] <= REGION_RADIUS_TOL and 0 < seen[0].radius <= REGION_RADIUS_TOL
    assert sorted(f["neighbour"] for f in thin["facets"]) == sorted(
        r.id for r in part.regions if sum(a != b for a, b in zip(
            "".join("1" if b else "0" for b in r.pattern), tri, strict=True)) == 1)
    assert check_certificate(cert, net).valid
    # without it the regions do not cover the box: the checker says so
    cut = fresh(cert)
    cut["regions"].pop()
    assert not check_certificate(cut, net).valid


# ----- the coverage proof's staged check: the checker beside the certifier -----------------
def _staged(net, dom, part, workers, corrupt=None):
    """certify with a StagedCheck alongside; ``corrupt(rid, entry)`` plays a certifier bug."""
    from verishallow.proofs import partition as P
    from verishallow.proofs.partition_checker import StagedCheck

    made = []

    def alongside(skeleton):
        made.append(StagedCheck(skeleton, net))
        return made[-1]

    if corrupt is None:
        cert = certify(net, dom, partition=part, workers=workers, check_alongside=alongside)
    else:
        region = P._Certifier.region

        def bad_region(self, reg):
            entry, probs = region(self, reg)
            corrupt(reg.id, entry)
            return entry, probs
        P._Certifier.region = bad_region
        try:
            cert = certify(net, dom, partition=part, workers=workers, check_alongside=alongside)
        finally:
            P._Certifier.region = region
    return cert, made[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_staged_check_equals_check_from_scratch(workers):
    """Checking each region beside the certifier finds exactly what the checker finds on the
    finished certificate: same verdict, same counts (3 layers, a fixed input)."""
    net = random_net(seed=7, sizes=(3, 7, 6, 5, 2))
    box = Box([-1.0, 0.25, -1.0], [1.0, 0.25, 2.0])
    part = enumerate_regions(net, box, prove_coverage=False)
    cert, staged = _staged(net, box, part, workers)
    got = staged.finish(cert)
    want = check_certificate(cert, net)
    assert got.valid and want.valid and got.checked == want.checked
    assert _strip_times(cert) == _strip_times(certify(net, box, partition=part))


@pytest.mark.parametrize("workers", [1, 2])
def test_staged_check_catches_a_certifier_bug(workers):
    """A wrong entry from the certifier fails the staged check with the checker's own
    message, as a check from scratch of the written certificate does."""
    net = random_net()
    part = _part(net, BOX)
    victim = len(part.regions) // 2

    def corrupt(rid, entry):
        if rid == victim:
            entry["witness"] = ["40", "40"]  # far outside the region
    cert, staged = _staged(net, BOX, part, workers, corrupt)
    got, want = staged.finish(cert), check_certificate(cert, net)
    assert not got.valid and got.failures == want.failures
    assert f"region {victim}:" in got.failures[0] and "witness" in got.failures[0]


def test_staged_check_rechecks_a_changed_certificate():
    """An entry replaced after it was checked (a copy, then a tampered copy) is not taken on
    trust: the finished certificate is checked from scratch."""
    net = random_net()
    part = _part(net, BOX)
    cert, staged = _staged(net, BOX, part, 1)
    cert["regions"][0] = copy.deepcopy(cert["regions"][0])
    assert staged.finish(cert).valid
    cert, staged = _staged(net, BOX, part, 1)
    r, k = inner_facet(cert)
    cert["regions"][r] = copy.deepcopy(cert["regions"][r])
    cert["regions"][r]["facets"][k]["neighbour"] = r
    res = staged.finish(cert)
    assert not res.valid and res.failures == check_certificate(cert, net).failures



def test_flipped_key_is_the_far_patterns_key():
    """The certifier's shortcut for the pattern beyond a one-neuron facet (a bit flipped in
    the packed key) is the key of the full construction, and it steps aside when a later
    neuron vanishes on the region (dead neurons: a zero weight row)."""
    from verishallow.network import pattern_key
    from verishallow.proofs.partition import _Certifier

    net = random_net(seed=5, sizes=(2, 6, 6, 4, 1))
    W = [w.copy() for w in net.weights]
    W[1][2] = 0.0  # a second-layer neuron with only its bias: constant
    b = [v.copy() for v in net.biases]
    b[1][2] = 0.0  # ... and zero: identically zero, inactive
    net = ReLUNetwork(W, b)
    part = _part(net, BOX)
    cf = _Certifier(part)
    shortcut = stepped_aside = 0
    for reg in part.regions:
        bits = np.asarray(reg.pattern, dtype=bool)
        rows = cf.xrows.rows(bits)
        for f in reg.facets:
            if f.kind != "neuron":
                continue
            J = [i for i, k in enumerate(rows.keys) if k == rows.keys[f.ids[0]]]
            got = cf._flipped_key(reg.key, rows, J)
            if got is None:
                stepped_aside += 1
                continue
            shortcut += 1
            assert got == pattern_key(cf.far_pattern(bits, rows, J, rows.keys[J[0]]))
    assert shortcut > 20 and stepped_aside > 0


def test_strict_sign_failures_follows_the_rule_at_random_points():
    """Neurons failing the witness rule (active: z > 0; inactive: z < 0, or z = 0 when the
    neuron is identically zero on the region), against Fractions at random rational points."""
    from verishallow.exact.maps import ExactDomain, ExactNet, ExactRows
    from verishallow.proofs.partition_checker import strict_sign_failures

    net = random_net(seed=6, sizes=(2, 5, 5, 1))
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    W[1][1], b[1][1] = 0.0, 0.0  # identically zero in the second layer
    net = ReLUNetwork(W, b)
    xr = ExactRows(ExactNet(net), ExactDomain([None] * 2, [None] * 2, [], []))
    rng = np.random.default_rng(2)
    seen_zero_ok = False
    for _ in range(200):
        bits = rng.integers(0, 2, size=10).astype(bool)
        rows = xr.rows(bits)
        w = [Fraction(int(v), 8) for v in rng.integers(-16, 17, size=2)]
        q = math.lcm(*(v.denominator for v in w))
        want = []
        for i, (a, d) in enumerate(rows.raw):
            z = sum(Fraction(x) * y for x, y in zip(a, w, strict=True)) + d
            zero_neuron = not any(a) and d == 0
            ok = z > 0 if bits[i] else (z < 0 or (z == 0 and zero_neuron))
            seen_zero_ok |= zero_neuron and not bits[i] and ok
            if not ok:
                want.append(i)
        got = strict_sign_failures(rows, bits, [int(v * q) for v in w], q)
        assert got.tolist() == want
    assert seen_zero_ok


@pytest.mark.parametrize("workers", [1, 2])
def test_staged_check_with_a_thin_region_rechecks_only_what_changed(workers, monkeypatch):
    """A thin region added after the first pass (and its neighbours re-certified): the staged
    check checks those again and keeps the rest, with the verdict and counts of a check from
    scratch, and without checking every region twice."""
    from verishallow.proofs import partition_checker as C

    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    net = ReLUNetwork([W, np.ones((1, 3))], [np.array([0.0, 0.0, -1e-9]), np.zeros(1)])
    part = enumerate_regions(net, BOX, prove_coverage=False)
    cert, staged = _staged(net, BOX, part, workers)
    assert cert["enumeration"]["thin_regions"] == 1
    calls = []
    part_check = C._Checker.regions_part

    def counting(self, ids):
        calls.extend(ids)
        return part_check(self, ids)
    monkeypatch.setattr(C._Checker, "regions_part", counting)
    got = staged.finish(cert)
    monkeypatch.setattr(C._Checker, "regions_part", part_check)
    want = check_certificate(cert, net)
    assert got.valid and want.valid and got.checked == want.checked
    # the thin region and the regions beside it, nothing else
    again = {f["neighbour"] for f in cert["regions"][-1]["facets"]} | {len(part)}
    assert set(calls) == again and len(calls) == len(again)
    # and a tampered thin region is caught
    cert2, staged2 = _staged(net, BOX, part, workers)
    cert2["regions"][-1]["witness"] = cert2["regions"][0]["witness"]
    res = staged2.finish(cert2)
    assert not res.valid and res.failures == check_certificate(cert2, net).failures
