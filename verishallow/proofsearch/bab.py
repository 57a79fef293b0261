"""Branch and bound over input boxes and neuron phases: the proof search behind decisions.

A node is a box inside a case's root box plus phase fixings of some hidden neurons. Nodes are
bounded in fixed-size chunks (:func:`verishallow.proofsearch.bounds.batch_bounds`), cheapest
level first (interval, then ``"backward"``: symbolic bounds with back-substituted layer
bounds; ``"differential"`` for an equivalence of two same-shape networks). A node is closed
when every disjunct of its case has a row whose lower bound is positive (with the closing
margin), when its fixings contradict its bounds, or when an input row of the case excludes its
box. Otherwise its *candidate points* (the box centre and, per open disjunct, the box corner
that minimises the backward bound's linear function) are evaluated and any that violates the
goal is replayed exactly (:mod:`verishallow.proofsearch.counterexample`): a replayed point ends
the search. Otherwise the node is split:

- input split (at most ``INPUT_SPLIT_MAX_DIM`` free inputs), by lookahead: every free
  coordinate is halved, all the candidate children are bounded in one batch, and the
  coordinate whose two children have the best summed bound wins (ties within
  ``SPLIT_GAIN_TOL``: the relatively widest; never a coordinate ``MAX_ASPECT`` times thinner
  than the widest; a child bounded worse than its parent -- adaptive lower slopes are not
  monotone -- counts as its parent, whose bound holds on it: without that rule the lookahead
  halved ACAS 4_9 prop_3's two thin coordinates for ever, open at 60 s, now 7 nodes). Measured
  on ACAS Xu, this beats the one-pass sensitivity rule
  (``|coefficient| * width``, ReluVal/Neurify-style), which dived into one coordinate, and a
  shortlist of the 2-3 most sensitive coordinates (both left most instances open at 60 s);
- neuron split (more inputs, e.g. MNIST's 784): the unfixed unstable neuron with the largest
  relaxation gap weighted by its backward coefficient (BaBSR-style).

Order: the open nodes with the smallest bounds first (the most promising places for a
counterexample), one chunk per round; each popped node's children are then bounded together
by the lookahead. The chunks' composition depends only on the search itself, never
on the number of workers, and every chunk is bounded the same way in any process, so serial
and parallel runs build the same tree and give the same answer.

The tree is recorded (when asked) as the proof-tree certificate of ``docs/proof-search.md``.
Memory is bounded by the open nodes (plus the recorded tree when a certificate is wanted).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InputError
from ..forkpool import default_workers
from ..network import ReLUNetwork
from ..proofs.goals import Case, Goal, float_box
from .bounds import DiffSpec, Layer, batch_bounds, layers_of, refuted_rows
from .counterexample import holds_float, replay_goal, snap_into
from .tolerances import SPLIT_GAIN_TOL

#: Disjuncts of at most this many rows are also refuted by the sums of their row subsets.
COMBINE_MAX_ROWS = 4
#: Input splitting for at most this many free inputs, neuron splitting beyond.
INPUT_SPLIT_MAX_DIM = 12
#: Largest ratio of the widest to the narrowest coordinate that the lookahead may still split.
MAX_ASPECT = 1024.0
#: Nodes bounded together (and the unit of parallel work): identical in serial and parallel.
CHUNK = 32
#: Cap on the bounded batch's working set (floats), which limits the chunk for wide inputs.
MAX_CHUNK_FLOATS = 4_000_000
#: Random points per case sampled before the search starts.
SAMPLES = 2000
SEED = 0

Progress = Callable[[int, int, float], None]  # (nodes bounded, open nodes, best open bound)


@dataclass
class SearchResult:
    """``status``: ``"holds"``, ``"violated"`` or ``"unknown"``.

    ``counterexample``: ``(case, disjunct, x, y)`` for ``violated`` (replayed exactly);
    ``trees``: per case, the preorder node list of its proof tree (``holds`` with
    ``record=True``); ``best_bound``: the smallest lower bound among open nodes when unknown.
    """

    status: str
    counterexample: tuple[int, int, np.ndarray, np.ndarray] | None = None
    trees: list[list] | None = None
    reason: str = ""
    stats: dict = field(default_factory=dict)
    best_bound: float | None = None


@dataclass
class _Rows:
    """A case's disjuncts as one stack of unique rows."""

    C: np.ndarray  # (R, m)
    d: np.ndarray  # (R,)
    closed: np.ndarray  # (R,) bool
    members: list[np.ndarray]  # per disjunct: indices into the stack
    #: per disjunct, same order: the row's index inside the disjunct, or the list of the
    #: indices whose sum it is
    local: list[list]
    disC: list[tuple[np.ndarray, np.ndarray]]


def _combinations(r: int) -> list[tuple[int, ...]]:
    """The row subsets whose sums a disjunct of ``r`` rows is also refuted by: every subset of
    two or more rows when ``r <= COMBINE_MAX_ROWS``, else none."""
    if not 2 <= r <= COMBINE_MAX_ROWS:
        return []
    return [S for size in range(2, r + 1) for S in itertools.combinations(range(r), size)]


def _rows(case: Case) -> _Rows:
    """The case's rows, each disjunct's own rows followed by the sums of its row subsets
    (:func:`_combinations`): all rows of a disjunct hold on it, so a positive bound of a sum
    refutes it as well, where no single row's bound may (ACAS Xu's "Y_0 is minimal")."""
    index: dict[tuple, int] = {}
    Cs, ds, cl = [], [], []
    members, local, disC = [], [], []
    for dis in case.disjuncts:
        C, d = dis.float_rows()
        disC.append((C, d))
        mem = []
        names: list = []
        rows = [(row, dis.d[i], i) for i, row in enumerate(dis.C)]
        for S in _combinations(len(dis.C)):
            rows.append((*dis.row_sum(S), list(S)))
        for row, di, name in rows:
            key = (row, di, dis.closed)
            if key not in index:
                index[key] = len(Cs)
                Cs.append([float(v) for v in row])
                ds.append(float(di))
                cl.append(dis.closed)
            mem.append(index[key])
            names.append(name)
        members.append(np.array(mem, dtype=np.int64))
        local.append(names)
    m = len(case.disjuncts[0].C[0]) if case.disjuncts and case.disjuncts[0].C else 0
    C = np.array(Cs, dtype=np.float64).reshape(len(Cs), m)
    return _Rows(C, np.array(ds, dtype=np.float64), np.array(cl, dtype=bool), members, local,
                 disC)


class _Bounder:
    """Bounds chunks of nodes, in this process, on forked workers or on a Dask cluster (the
    same arithmetic everywhere: the tree does not depend on where a chunk was bounded)."""

    def __init__(self, layers: list[Layer], workers: int, scheduler: Any = None):
        self.layers = layers
        self.workers = workers
        self.pool = None
        self.client = None
        if scheduler is not None:
            from ..cluster import dask_client

            self.client, self.owned = dask_client(scheduler)
            # the network once to the cluster (workers fetch it on first use); then only the
            # chunks travel. Not broadcast: replicating right after a cluster starts hung a
            # worker-to-worker transfer here (distributed 2026.8, a local cluster)
            self.remote_layers = self.client.scatter(layers, hash=False)
        elif workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if "fork" in multiprocessing.get_all_start_methods():
                global _WORKER_LAYERS
                _WORKER_LAYERS = layers
                self.pool = ProcessPoolExecutor(workers,
                                                mp_context=multiprocessing.get_context("fork"))

    def run(self, jobs: list[tuple]) -> list:
        if self.client is not None and len(jobs) > 1:
            futures = self.client.map(_dask_job, jobs, layers=self.remote_layers, pure=False)
            return self.client.gather(futures)
        if self.pool is None or len(jobs) <= 1:
            return [_bound_job(self.layers, *job) for job in jobs]
        return list(self.pool.map(_pool_job, jobs))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.client is not None:
            if self.owned:  # a client we connected ourselves; a caller's client stays open
                self.client.close()
            self.client = None


_WORKER_LAYERS: list[Layer] | None = None


def _bound_job(layers: list[Layer], lo, hi, fix, level, C, d, gaps, diff):
    return batch_bounds(layers, lo, hi, fix, level, C, d, want_gaps=gaps, diff=diff)


def _pool_job(job: tuple):
    return _bound_job(_WORKER_LAYERS, *job)


def _dask_job(job: tuple, layers: list[Layer]):
    return _bound_job(layers, *job)


class _Tree:
    """The recorded search tree: node id -> split (kind, payload, child ids) or leaf."""

    def __init__(self) -> None:
        self.nodes: dict[int, list] = {}

    def preorder(self, root: int) -> list:
        out, stack = [], [root]
        while stack:
            rec = self.nodes[stack.pop()]
            out.append(rec[0])
            if len(rec) > 1:
                stack.extend(reversed(rec[1]))
        return out


def _split_value(lo: float, hi: float) -> float | None:
    v = lo + (hi - lo) / 2
    if not (lo < v < hi):
        v = float(np.nextafter(lo, hi))
        if not (lo < v < hi):
            return None
    return v


class _CaseSearch:
    def __init__(self, net: ReLUNetwork, layers: list[Layer], case: Case, k: int,
                 record: bool, bounder: _Bounder, diff: DiffSpec | None = None):
        self.net, self.layers, self.case, self.k = net, layers, case, k
        self.diff = diff
        self.top = "differential" if diff is not None else "backward"
        self.rows = _rows(case)
        self.record = record
        self.bounder = bounder
        self.lo0, self.hi0 = float_box(case)
        self.free = self.lo0 < self.hi0
        self.d = net.input_dim
        self.N = net.n_hidden
        self.input_split = int(self.free.sum()) <= INPUT_SPLIT_MAX_DIM
        self.A = np.array([[float(v) for v in r] for r in case.A], dtype=np.float64
                          ).reshape(len(case.A), self.d)
        self.b = np.array([float(v) for v in case.b], dtype=np.float64)
        widest = max([self.d] + [w for w in net.hidden_widths])
        per_node = widest * (self.d + 1) * 8 + len(self.rows.d) * (self.d + widest) * 2
        self.chunk = int(max(1, min(CHUNK, MAX_CHUNK_FLOATS // max(per_node, 1))))
        self.tree = _Tree()
        self.next_id = 0
        self.bounded = 0
        self.leaves = 0
        self.max_depth = 0

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    # ----- counterexamples --------------------------------------------------------------
    def try_points(self, X: np.ndarray):
        """The first point of ``X`` that violates the case in float64 and exactly."""
        if len(X) == 0 or not self.rows.members:
            return None
        Y = self.net.forward(X)
        hit = np.zeros(len(X), dtype=bool)
        for dis, (C, d) in zip(self.case.disjuncts, self.rows.disC, strict=True):
            hit |= holds_float(dis, C, d, Y)
        for i in np.flatnonzero(hit)[:16]:
            x = snap_into(self.case, X[i])
            got = replay_goal(self.net, self.case, x)
            if got is not None:
                return (self.k, got[0], x, got[1])
        return None

    def sample(self) -> tuple | None:
        rng = np.random.default_rng(SEED + self.k)
        X = self.lo0 + (self.hi0 - self.lo0) * rng.random((SAMPLES, self.d))
        X = np.vstack([(self.lo0 + self.hi0) / 2, X])
        return self.try_points(X)

    # ----- the search ---------------------------------------------------------------------
    def _outside(self, lo: np.ndarray, hi: np.ndarray) -> int | None:
        if not len(self.A):
            return None
        mins = np.maximum(self.A, 0) @ lo + np.minimum(self.A, 0) @ hi
        scale = np.abs(self.A) @ np.maximum(np.abs(lo), np.abs(hi)) + np.abs(self.b)
        out = np.flatnonzero(mins - self.b > 1e-12 * (1 + scale))
        return int(out[0]) if out.size else None

    def _bound(self, lo, hi, fix, level):
        jobs = []
        for s in range(0, len(lo), self.chunk):
            sl = slice(s, s + self.chunk)
            jobs.append((lo[sl], hi[sl], None if fix is None else fix[sl], level,
                         self.rows.C, self.rows.d, not self.input_split, self.diff))
        return self.bounder.run(jobs)

    def _evidence(self, ok: np.ndarray, lower: np.ndarray) -> list | None:
        ev = []
        for k, (mem, loc) in enumerate(zip(self.rows.members, self.rows.local, strict=True)):
            good = ok[mem]
            if not good.any():
                return None
            best = int(np.argmax(np.where(good, lower[mem], -np.inf)))
            ev.append([k, loc[best]])
        return ev

    def _assess(self, lo: np.ndarray, hi: np.ndarray, fix: np.ndarray | None,
                pre: list | None = None) -> list:
        """Bound nodes, cheapest level first. Per node: ``("leaf", record)`` or ``("open",
        value, coef_rows, gaps)`` where ``value`` is the smallest best-row bound over the open
        disjuncts and ``coef_rows`` the backward coefficients of their best rows. ``pre``: per
        node, its top-level bound from the lookahead (``(batch, row, ok)``), reused."""
        B = len(lo)
        out: list = [None] * B
        for i in range(B):
            r = self._outside(lo[i], hi[i])
            if r is not None:
                out[i] = ("leaf", ["o", r])
        for level in ("interval", self.top):
            todo = [i for i in range(B) if out[i] is None]
            if level == self.top and pre is not None:
                for i in todo:
                    self._judge(out, i, level, *pre[i])
                break
            idx = np.array(todo, dtype=np.int64)
            if not idx.size:
                break
            parts = self._bound(lo[idx], hi[idx], None if fix is None else fix[idx], level)
            self.bounded += idx.size
            off = 0
            for bt in parts:
                n = len(bt.empty)
                sub = idx[off:off + n]
                off += n
                ok = refuted_rows(bt, self.rows.closed)
                for j, i in enumerate(sub):
                    self._judge(out, int(i), level, bt, j, ok[j])
        return out

    def _judge(self, out: list, i: int, level: str, bt, j: int, ok: np.ndarray) -> None:
        """Node ``i``'s verdict from row ``j`` of a bounded batch: a leaf, open (at the top
        level), or left for the next level."""
        if bt.empty[j]:
            out[i] = ("leaf", ["e", level])
            return
        ev = self._evidence(ok, bt.rows_lower[j])
        if ev is not None:
            out[i] = ("leaf", ["l", level, ev])
        elif level == self.top:
            out[i] = self._open(bt, j, ok)

    def _open(self, bt, j: int, ok: np.ndarray) -> tuple:
        lower = bt.rows_lower[j]
        value, rows = math.inf, []
        for mem in self.rows.members:
            if ok[mem].any():
                continue
            r = int(mem[np.argmax(lower[mem])])
            rows.append(r)
            value = min(value, float(lower[r]))
        coef = bt.rows_coef[j, rows]
        gaps = None
        if bt.gaps is not None:
            gaps = (np.concatenate([g[j] for g in bt.gaps]),
                    np.concatenate([v[j] for v in bt.lower]),
                    np.concatenate([v[j] for v in bt.upper]))
        return ("open", value, coef, gaps)

    def _attack(self, lo: np.ndarray, hi: np.ndarray, coef: np.ndarray):
        """Candidate points of an open node: its centre and, per open disjunct, the corner
        that minimises the best row's backward linear bound."""
        pts = np.vstack([(lo + hi) / 2, np.where(coef > 0, lo, hi)])
        return self.try_points(pts)

    def run(self, deadline: float, progress: Progress | None, counter: list[int]
            ) -> SearchResult:
        found = self.sample()
        if found is not None:
            return SearchResult("violated", found, reason="a sampled point")
        root = self._new_id()
        fix0 = None if self.input_split else np.full((1, self.N), -1, np.int8)
        heap: list = []
        res = self._settle([root], self.lo0[None], self.hi0[None], fix0, [0], heap)
        while res is None and heap:
            if time.perf_counter() > deadline:
                best = heap[0][0]
                return SearchResult("unknown", reason=f"time limit reached with {len(heap)} "
                                    f"open nodes (smallest bound {best:.4g})",
                                    best_bound=float(best))
            take = [heapq.heappop(heap) for _ in range(min(len(heap), self.chunk))]
            res = self._expand(take, heap)
            counter[0] += len(take)
            if progress is not None:
                progress(counter[0], len(heap), heap[0][0] if heap else 0.0)
        if res is not None:
            return res
        trees = [self.tree.preorder(root)] if self.record else None
        return SearchResult("holds", trees=trees)

    def _settle(self, ids, lo, hi, fix, depth, heap, pre: list | None = None,
                parents: list[float] | None = None) -> SearchResult | None:
        """Bound new nodes: record leaves, attack open ones and queue them; an open node is
        queued with the larger of its bound and its parent's (``parents``: a child's inputs
        are its parent's, so the parent's bound holds for it; adaptive relaxations are not
        monotone, and a child can come out bounded worse)."""
        got = self._assess(lo, hi, fix, pre)
        for i, g in enumerate(got):
            if g[0] == "leaf":
                self.leaves += 1
                if self.record:
                    self.tree.nodes[ids[i]] = [g[1]]
                continue
            _, value, coef, gaps = g
            if parents is not None:
                value = max(value, parents[i])
            found = self._attack(lo[i], hi[i], coef)
            if found is not None:
                return SearchResult("violated", found,
                                    reason="a branch-and-bound candidate point")
            self.max_depth = max(self.max_depth, depth[i])
            heapq.heappush(heap, (value, ids[i], lo[i], hi[i],
                                  None if fix is None else fix[i], depth[i], coef, gaps))
        return None

    def _expand(self, take: list, heap: list) -> SearchResult | None:
        kids_lo, kids_hi, kids_fix, kids_id, kids_depth = [], [], [], [], []
        kids_pre: list | None = None
        kids_parent: list[float] = []
        if self.input_split:
            splits = self._lookahead(take)
            kids_pre = []
        else:
            splits = [self._neuron_split(t) for t in take]
        for t, sp in zip(take, splits, strict=True):
            if sp is None:
                return SearchResult("unknown", reason="a node cannot be split further (box at "
                                    "float64 resolution, every unstable neuron fixed)",
                                    best_bound=t[0])
            split, kids = sp
            ids = [self._new_id() for _ in kids]
            if self.record:
                self.tree.nodes[t[1]] = [split, ids]
            for cid, (clo, chi, cfix, *pre) in zip(ids, kids, strict=True):
                if kids_pre is not None:
                    kids_pre.append(pre[0])
                kids_lo.append(clo)
                kids_hi.append(chi)
                kids_fix.append(cfix)
                kids_id.append(cid)
                kids_depth.append(t[5] + 1)
                kids_parent.append(t[0])
        fix = None if self.input_split else np.array(kids_fix, dtype=np.int8)
        return self._settle(kids_id, np.array(kids_lo), np.array(kids_hi), fix, kids_depth,
                            heap, kids_pre, kids_parent)

    def _lookahead(self, take: list) -> list:
        """Per node, the input split whose two children have the best bounds (the sum of their
        open bounds, a refuted child counting 0; when no split gains more than
        ``SPLIT_GAIN_TOL``, the relatively widest coordinate):
        every free coordinate is tried (halved), all children bounded in one batch. Each
        chosen child carries its bound (``(batch, row, ok)``), which settling reuses."""
        cand_lo, cand_hi, owner = [], [], []
        for q, t in enumerate(take):
            lo, hi = t[2], t[3]
            free = np.flatnonzero(lo < hi)
            rel = (hi[free] - lo[free]) / (self.hi0[free] - self.lo0[free])
            # no coordinate more than 1/MAX_ASPECT as wide (relative to the root) as the widest:
            # a split that keeps gaining a little along one thin direction would otherwise
            # starve the others (a hyperplane nearly parallel to a box face)
            free = free[rel >= rel.max() / MAX_ASPECT] if free.size else free
            for i in free:
                v = _split_value(float(lo[i]), float(hi[i]))
                if v is None:
                    continue
                hi1, lo2 = hi.copy(), lo.copy()
                hi1[i] = v
                lo2[i] = v
                cand_lo += [lo, lo2]
                cand_hi += [hi1, hi]
                owner.append((q, int(i), v))
        if not owner:
            return [None] * len(take)
        raw, refs = self._child_scores(np.array(cand_lo), np.array(cand_hi))
        scores = np.minimum(raw, 0.0)
        best: dict[int, tuple[bool, float, float, int]] = {}
        for c, (q, i, _v) in enumerate(owner):
            # both children count: the worse one alone can stay as bad as the parent when the
            # looseness sits in a corner, and then the same coordinate would be halved forever
            t = take[q]
            # a child's box lies in its parent's, so the parent's bound holds there too: a
            # child bounded worse (adaptive slopes are not monotone) counts as the parent
            pv = min(t[0], 0.0)
            sc = max(scores[2 * c], pv) + max(scores[2 * c + 1], pv)
            parent = 2.0 * min(t[0], 0.0)
            # an improvement within rounding noise is no improvement: then the relatively
            # widest coordinate is halved (else noise can pick one coordinate to zero width)
            gain = sc - parent > SPLIT_GAIN_TOL * (1.0 + abs(parent))
            rel = (t[3][i] - t[2][i]) / (self.hi0[i] - self.lo0[i])
            key = (gain, sc if gain else rel, rel, c)
            if q not in best or key[:3] > best[q][:3]:
                best[q] = key
        out = []
        for q in range(len(take)):
            if q not in best:
                out.append(None)
                continue
            c = best[q][3]
            _q, i, v = owner[c]
            out.append((["x", i, str(Fraction(v))],
                        [(cand_lo[2 * c], cand_hi[2 * c], None, refs[2 * c]),
                         (cand_lo[2 * c + 1], cand_hi[2 * c + 1], None, refs[2 * c + 1])]))
        return out

    def _child_scores(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, list]:
        """Per node its score (+inf when refuted, else its smallest open best-row bound) and
        its bound ``(batch, row, ok)``."""
        parts = self._bound(lo, hi, None, self.top)
        self.bounded += len(lo)
        scores, refs = [], []
        for bt in parts:
            ok = refuted_rows(bt, self.rows.closed)
            for j in range(len(bt.empty)):
                refs.append((bt, j, ok[j]))
                if bt.empty[j]:
                    scores.append(math.inf)
                    continue
                val = math.inf
                for mem in self.rows.members:
                    if not ok[j, mem].any():
                        val = min(val, float(bt.rows_lower[j, mem].max()))
                scores.append(val)
        return np.array(scores), refs

    def _neuron_split(self, t: tuple):
        lo, hi, fix, gaps = t[2], t[3], t[4], t[7]
        g, low, up = gaps
        free = (fix < 0) & (low < 0) & (up > 0)
        if not free.any():
            return None
        n = int(np.argmax(np.where(free, g + 1e-12 * (up - low), -np.inf)))
        f0, f1 = fix.copy(), fix.copy()
        f0[n], f1[n] = 0, 1
        return (["n", n], [(lo, hi, f0), (lo, hi, f1)])


def search(net: ReLUNetwork, goal: Goal, time_limit: float | None = None,
           workers: int | None = 1,
           record: bool = False, progress: Progress | None = None,
           diff: DiffSpec | None = None, scheduler: Any = None) -> SearchResult:
    """Decide ``goal`` on ``net`` by branch and bound (see the module doc); ``diff`` (for an
    equivalence goal on a product of two networks of one architecture) adds the differential
    bounds of :mod:`verishallow.proofsearch.bounds`. The chunks are bounded on ``workers``
    forked processes (``None``: every core), or on a Dask cluster with ``scheduler`` (an
    address or a ``distributed.Client``); the tree and the answer are the same."""
    if goal.n_inputs != net.input_dim or goal.n_outputs != net.output_dim:
        raise InputError(f"the goal is for {goal.n_inputs} inputs and {goal.n_outputs} outputs, "
                         f"the network has {net.input_dim} and {net.output_dim}")
    from threadpoolctl import threadpool_limits

    # one BLAS thread: the matrices are small (tens to hundreds of rows), and OpenBLAS's own
    # threads cost more than they give there, many times more on a loaded machine (ACAS x
    # student product, 32 nodes: 150 ms -> 27 ms); parallelism comes from --workers instead
    with threadpool_limits(limits=1, user_api="blas"):
        return _search(net, goal, time_limit, workers, record, progress, diff, scheduler)


def _search(net: ReLUNetwork, goal: Goal, time_limit: float | None, workers: int, record: bool,
            progress: Progress | None, diff: DiffSpec | None, scheduler: Any) -> SearchResult:
    t0 = time.perf_counter()
    deadline = math.inf if time_limit is None else t0 + time_limit
    layers = layers_of(net)
    nw = default_workers() if workers is None else max(1, int(workers))
    bounder = _Bounder(layers, nw, scheduler)
    trees: list[list] = []
    stats = {"nodes": 0, "leaves": 0, "bounded": 0, "max_depth": 0}
    counter = [0]
    try:
        for k, case in enumerate(goal.cases):
            if not case.disjuncts:
                trees.append([["l", "interval", []]])
                continue
            cs = _CaseSearch(net, layers, case, k, record, bounder, diff)
            res = cs.run(deadline, progress, counter)
            stats["nodes"] += cs.next_id
            stats["leaves"] += cs.leaves
            stats["bounded"] += cs.bounded
            stats["max_depth"] = max(stats["max_depth"], cs.max_depth)
            if res.status != "holds":
                res.stats = {**stats, "seconds": time.perf_counter() - t0}
                return res
            if record:
                trees.extend(res.trees)
    finally:
        bounder.close()
    stats["seconds"] = time.perf_counter() - t0
    return SearchResult("holds", trees=trees if record else None, stats=stats)
