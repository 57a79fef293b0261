"""Parallel and distributed region search returns exactly the serial result."""

from __future__ import annotations

import numpy as np
import pytest

from verishallow.domain import Box
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions


def _net(seed=0):
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(8, 3)), rng.normal(size=(8, 8)), rng.normal(size=(1, 8))],
                       [rng.normal(size=8), rng.normal(size=8), rng.normal(size=1)])


def assert_identical(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.key == rb.key
        np.testing.assert_array_equal(ra.center, rb.center)
        assert [f.ids for f in ra.facets] == [f.ids for f in rb.facets]
        assert [f.neighbours for f in ra.facets] == [f.neighbours for f in rb.facets]
    assert set(a.graph.edges) == set(b.graph.edges)
    assert a.stats["lps"] == b.stats["lps"]


def test_process_pool_matches_serial():
    net, dom = _net(), Box([-2, -2, -2], [2, 2, 2])
    serial = enumerate_regions(net, dom, prove_coverage=False, workers=1)
    parallel = enumerate_regions(net, dom, prove_coverage=False, workers=2)
    assert len(serial) > 50
    assert_identical(serial, parallel)


def test_dask_local_cluster_matches_serial():
    distributed = pytest.importorskip("distributed")
    net, dom = _net(1), Box([-2, -2, -2], [2, 2, 2])
    serial = enumerate_regions(net, dom, prove_coverage=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = enumerate_regions(net, dom, prove_coverage=False, scheduler=client)
        by_address = enumerate_regions(net, dom, prove_coverage=False,
                                       scheduler=cluster.scheduler_address)
    assert_identical(serial, remote)
    assert_identical(serial, by_address)


def test_bad_worker_count():
    from verishallow.errors import InputError

    with pytest.raises(InputError, match="workers"):
        enumerate_regions(_net(), Box([-1] * 3, [1] * 3), prove_coverage=False, workers=0)
