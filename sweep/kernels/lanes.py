"""The step of :mod:`sweep.kernels.step` arranged over lanes: the parts every lane kernel shares.

A lane kernel advances ``lanes`` cells together, each array laid out (rows,
lanes) so that the lane loop is innermost and LLVM vectorizes it across cells.
The kernel of the built-in objectives (:func:`sweep.kernels.compile.lockstep_kernel`)
and the kernel that trains models (:mod:`sweep.kernels.training`) differ in how they
get the gradient; the rest is written here once, on a :class:`Lanes` record:

* ``lane_loader(rule)``: a block's cells into the lanes (start points, the rule's
  hyperparameters and initial state, seeds), each lane into the group of lanes
  with its ``shared_by`` values (:func:`join_group`), whose shared step
  coefficients (``rule.shared``: the divisions and roots of β and t alone) are
  computed once per step for the whole group, and the lanes cut into runs of one
  group (:func:`group_runs`);
* :func:`scale_lanes`: α_t = α·s(t) per lane, each schedule evaluated once per step;
* ``lane_step(rule)``'s ``share_lanes`` (each group's shared coefficients, copied to
  its lanes a run at a time) and ``update_lanes`` (:func:`coordinate_step` over every
  coordinate of every lane);
* ``coordinate_step(rule)``: one coordinate of one lane advanced by a step (the
  rule's coefficients and update, the projection, divergence), frozen where the
  lane has diverged (selects, not branches: a branch would stop the vectorizer).
  Scalars in and out: every lane loop inlines it and keeps only its loads and stores.

Plain Python, registered and inlined by :mod:`sweep.kernels.compile`.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import records
from .layout import SCHEDULE, SEED, START
from .schedules import CONSTANT, schedule_scale
from .step import constrain


class Lanes(NamedTuple):
    """The arrays ``lanes`` cells advance in (S state values, H hyperparameters, G
    ``shared_by`` values, C carried and F shared values per the rule's declaration).

    Attributes:
        theta, grad: (dim, lanes) θ and ∇f.
        point, spare: (dim, lanes) the reported point and the gradient there (unused) of a
            rule that reports another point than θ (:func:`reporter`).
        states: (S·dim, lanes): state value j of coordinate i in row i + j·dim.
        hyper: (H, lanes) the cells' hyperparameters, in the rule's order.
        alpha_t: (lanes,) α·s(t).
        value, best, reached: (lanes,) f, the best f, the first step within tol.
        alive: (lanes,) bool.
        schedule, seed, start: (lanes,) int64: the cells' ids.
        group: (lanes,) int64: each lane's group of ``shared_by`` values.
        group_rows, group_carry, group_shared: (G, lanes), (C, lanes), (F, lanes): per
            group, its values, its carried products and its shared coefficients.
        lane_shared: (F, lanes): each lane's copy of its group's shared coefficients.
        run_start, run_end: (lanes,) uint64, run_group (lanes,) int64: the runs of lanes
            of one group (see :func:`group_runs`).
        scales: (kinds,) each schedule's scale at this step; scheduled: (kinds,) bool,
            whether a lane uses it.
    """

    theta: np.ndarray
    grad: np.ndarray
    point: np.ndarray
    spare: np.ndarray
    states: np.ndarray
    hyper: np.ndarray
    alpha_t: np.ndarray
    value: np.ndarray
    best: np.ndarray
    reached: np.ndarray
    alive: np.ndarray
    schedule: np.ndarray
    seed: np.ndarray
    start: np.ndarray
    group: np.ndarray
    group_rows: np.ndarray
    group_carry: np.ndarray
    group_shared: np.ndarray
    lane_shared: np.ndarray
    run_start: np.ndarray
    run_end: np.ndarray
    run_group: np.ndarray
    scales: np.ndarray
    scheduled: np.ndarray


class Sizes(NamedTuple):
    """The row counts of a rule's :class:`Lanes` (each at least 1: no empty arrays)."""

    states: int
    hyper: int
    group: int
    carry: int
    shared: int


def sizes(rule) -> Sizes:
    """The :class:`Sizes` of ``rule``'s declaration."""
    return Sizes(states=max(1, len(rule.state)), hyper=len(rule.names),
                 group=max(1, len(rule.shared_by)), carry=max(1, len(rule.carry)),
                 shared=max(1, records.shared_size(rule)))


class LaneRows(NamedTuple):
    """The rows of the four arrays a :class:`Lanes` is cut from (:func:`lanes_in`), each
    (rows, lanes): float64, int64, uint64 and bool."""

    floats: int
    integers: int
    unsigned: int
    flags: int


# The per-lane ids and runs (integers), the runs' bounds (unsigned).
_SCHEDULE, _SEED, _START, _GROUP, _RUN_GROUP = range(5)
_RUN_START, _RUN_END = range(2)


def lane_float_rows(size: Sizes, dim: int) -> int:
    """Rows of the per-lane floats: θ, ∇f, the reported point and its gradient, the
    states, the hyperparameters, α_t, f, the best f, the step within tol, the shared
    coefficients."""
    return (4 + size.states) * dim + size.hyper + 4 + size.shared


def lane_rows(size: Sizes, dim: int, kinds: int) -> LaneRows:
    """The :class:`LaneRows` of a rule of :class:`Sizes` ``size`` on ``dim`` coordinates
    with ``kinds`` schedules: what every kernel allocates, and what the CUDA kernels count
    as a cell's memory."""
    return LaneRows(
        floats=lane_float_rows(size, dim) + size.group + size.carry + size.shared + kinds,
        integers=5, unsigned=2, flags=1 + kinds)


def lanes_in(floats, integers, unsigned, flags, size: Sizes, dim: int, kinds: int) -> Lanes:
    """The :class:`Lanes` cut from four arrays of :func:`lane_rows`' rows, one column per
    lane (the one place the layout is written). The per-block values (``scales``,
    ``scheduled``) are in column 0. Each lane's floats are rows of one array, at offsets
    LLVM can compute: it then proves that the lane loops' loads and stores do not
    overlap, and vectorizes them without run-time checks."""
    state_end = (4 + size.states) * dim
    row = state_end + size.hyper
    group = lane_float_rows(size, dim)
    carry = group + size.group
    shared = carry + size.carry
    scales = shared + size.shared
    return Lanes(
        theta=floats[0:dim], grad=floats[dim:2 * dim], point=floats[2 * dim:3 * dim],
        spare=floats[3 * dim:4 * dim], states=floats[4 * dim:state_end],
        hyper=floats[state_end:row], alpha_t=floats[row], value=floats[row + 1],
        best=floats[row + 2], reached=floats[row + 3],
        lane_shared=floats[row + 4:row + 4 + size.shared],
        alive=flags[0], schedule=integers[_SCHEDULE], seed=integers[_SEED],
        start=integers[_START], group=integers[_GROUP], group_rows=floats[group:carry],
        group_carry=floats[carry:shared], group_shared=floats[shared:scales],
        run_start=unsigned[_RUN_START], run_end=unsigned[_RUN_END],
        run_group=integers[_RUN_GROUP], scales=floats[scales:scales + kinds, 0],
        scheduled=flags[1:1 + kinds, 0])


# lane_arrays takes lanes_in into its own IR before typing (numba's inline="always" of a
# jitted function), so that the lanes' rows are one allocation LLVM sees; elsewhere
# lanes_in is registered as a call.
_lanes_in_inlined = njit(inline="always")(lanes_in)


def clear_lanes(lanes_record) -> None:
    """Every schedule's scale 1 and unused, every lane's shared coefficients 0: what a
    kernel starts from (the rest is loaded with the cells)."""
    for kind in range(lanes_record.scales.shape[0]):
        lanes_record.scales[kind] = 1.0
        lanes_record.scheduled[kind] = False
    for row in range(lanes_record.lane_shared.shape[0]):
        for lane in range(lanes_record.lane_shared.shape[1]):
            lanes_record.lane_shared[row, lane] = 0.0


def lane_arrays(size: Sizes, dim: int, lanes: int, kinds: int) -> Lanes:
    """A :class:`Lanes` of new arrays for ``lanes`` lanes (CPU, compiled code)."""
    rows = lane_rows(size, dim, kinds)
    work = _lanes_in_inlined(
        np.zeros((rows.floats, lanes)), np.zeros((rows.integers, lanes), np.int64),
        np.zeros((rows.unsigned, lanes), np.uint64), np.zeros((rows.flags, lanes), np.bool_),
        size, dim, kinds)
    for kind in range(kinds):  # the rest is cleared by np.zeros (clear_lanes's other work)
        work.scales[kind] = 1.0
    return work


def same(a, b):
    """a and b are the same hyperparameter: equal, or both NaN (an axis the rule ignores)."""
    return (a == b) | ((a != a) & (b != b))


def group_runs(group, lanes, run_start, run_end, run_group):
    """Cut the lanes into runs of consecutive lanes of one group: run r is lanes
    [run_start[r], run_end[r]), all of group ``run_group[r]``. Sorted by the shared
    values, a block's lanes make one run or a few. The bounds are unsigned, so that a
    loop over a run indexes without numba's negative-index wraparound (which stops the
    vectorizer). Returns the number of runs."""
    runs = 0
    for lane in range(lanes):
        if runs == 0 or group[lane] != run_group[runs - 1]:
            run_group[runs] = group[lane]
            run_start[runs] = lane
            runs += 1
        run_end[runs - 1] = lane + 1
    return runs


def spread_shared(runs, run_start, run_end, run_group, group_shared, lane_shared):
    """Each lane's copy of its group's shared coefficients, a run of lanes at a time: the
    stores of one value to a run of lanes become whole vectors (a gather per lane stays
    scalar, and the update loop's vector loads then waited for scalar stores)."""
    for row in range(group_shared.shape[0]):
        for run in range(runs):
            value = group_shared[row, run_group[run]]
            for lane in range(run_start[run], run_end[run]):
                lane_shared[row, lane] = value


def scale_lanes(alpha, alpha_t, schedule, scheduled, scales, t, settings):
    """α_t = α·s(t) for every lane; each schedule in use is evaluated once (it is the same
    for every lane), then gathered here, not in the update loop, where a gather would
    stop the vectorizer."""
    for kind in range(scales.shape[0]):
        if scheduled[kind]:
            scales[kind] = schedule_scale(kind, t, float(settings.steps), settings.warmup,
                                          settings.step_every, settings.step_factor)
    for lane in range(alpha.shape[0]):
        alpha_t[lane] = alpha[lane] * scales[schedule[lane]]


@functools.cache
def lane_loader(rule, lanes: int):
    """``load_lanes(x0, hyper, ids, order, first, count, lanes_record) -> (groups, runs,
    constant)``: cells ``order[first:first + count]`` into the lanes of ``lanes_record``
    (lanes past ``count`` repeat the last cell: computed, never written), their
    initial state, their groups and runs; ``constant`` is whether no lane's α is
    scheduled (α_t is then α: no per-step work). ``hyper`` (n, H) in the rule's order."""
    init = records.init_function(rule)
    count_state = len(rule.state)
    store_state = records.store(count_state)
    record_of = records.hyperparameters(rule)
    key_of = records.shared_key(rule)
    key_size = len(rule.shared_by)
    store_key = records.store(key_size)
    load_key = records.load(key_size)
    store_carry = records.store(len(rule.carry))
    carry0 = tuple(rule.carry)
    columns = len(rule.names)
    shares = rule.shares

    def load_lanes(x0, hyper, ids, order, first, count, lanes_record, constant_warmup):
        dim = lanes_record.theta.shape[0]
        scheduled = lanes_record.scheduled
        for kind in range(scheduled.shape[0]):
            scheduled[kind] = False
        groups = 0
        for lane in range(lanes):
            cell = order[first + min(lane, count - 1)]
            for column in range(columns):
                lanes_record.hyper[column, lane] = hyper[cell, column]
            lanes_record.seed[lane] = ids[cell, SEED]
            lanes_record.start[lane] = ids[cell, START]
            lanes_record.schedule[lane] = ids[cell, SCHEDULE]
            scheduled[ids[cell, SCHEDULE]] = True
            lanes_record.best[lane] = math.inf
            lanes_record.reached[lane] = -1.0
            lanes_record.alive[lane] = True
            initial = record_of(lanes_record.hyper, 0, lane, lanes_record.hyper[0, lane])
            for i in range(dim):
                lanes_record.theta[i, lane] = x0[cell, i]
                store_state(lanes_record.states, i, dim, lane, init(initial, x0[cell, i]))
            if shares:
                key = key_of(lanes_record.hyper, 0, lane)
                found = -1
                for known in range(groups):  # NaN (an axis the rule does not read) matches NaN
                    match = True
                    stored = load_key(lanes_record.group_rows, 0, 1, known)
                    for j in range(key_size):
                        match = match & same(stored[j], key[j])
                    if match:
                        found = known
                        break
                if found < 0:
                    found = groups
                    groups += 1
                    store_key(lanes_record.group_rows, 0, 1, found, key)
                    store_carry(lanes_record.group_carry, 0, 1, found, carry0)
                lanes_record.group[lane] = found
            else:
                lanes_record.group[lane] = 0
        runs = group_runs(lanes_record.group, lanes, lanes_record.run_start,
                          lanes_record.run_end, lanes_record.run_group)
        constant = constant_warmup
        for kind in range(scheduled.shape[0]):
            if scheduled[kind] and kind != CONSTANT:
                constant = False
        return groups, runs, constant

    load_lanes.__qualname__ = f"lanes{lanes}.{rule.name}.load_lanes"
    return load_lanes


@functools.cache
def reporter(rule):
    """``report_lanes(lanes_record, begin, end)``: the point lanes ``begin … end − 1`` report,
    into ``lanes_record.point`` (``rule.report`` of each coordinate; θ for a rule without)."""
    report = records.report_function(rule)
    load_state = records.load(len(rule.state))

    def report_lanes(lanes_record, begin, end):
        theta, states, point = lanes_record.theta, lanes_record.states, lanes_record.point
        dim = theta.shape[0]
        for i in range(dim):
            for lane in range(begin, end):
                point[i, lane] = report(theta[i, lane], load_state(states, i, dim, lane))

    report_lanes.__qualname__ = f"lanes.{rule.name}.report_lanes"
    return report_lanes


@functools.cache
def coordinate_step(rule):
    """``advance(theta, grad, state, k, lower, upper, bound, alive) -> (theta, state,
    alive)``: coordinate i of one lane after the step.

    ``theta`` and ``grad`` are θ_i and (∂f/∂θ)_i, ``state`` the rule's state values of
    coordinate i (a tuple), ``k`` the lane's coefficients (``rule.coefficients``),
    ``lower``/``upper`` coordinate i's box and ``bound`` the divergence bound. The rule's
    update, then :func:`sweep.kernels.step.constrain`; θ_i and the state come back unchanged
    where the lane was not ``alive``, and ``alive`` becomes False where θ_i leaves the bound.
    """
    update = rule.update
    keep = records.select(len(rule.state))

    def advance(theta, grad, state, k, lower, upper, bound, alive):
        new, updated = update(theta, grad, state, k)
        new, inside = constrain(new, lower, upper, bound, alive)
        return (new if alive else theta), keep(alive, updated, state), inside

    advance.__qualname__ = f"coordinate.{rule.name}.advance"
    return advance


@functools.cache
def lane_step(rule, lanes: int):
    """``(share_lanes, update_lanes)`` of one rule for ``lanes`` lanes (see the module doc;
    the lane count is a compile-time constant: LLVM then knows the vector loops' trip count).


    ``share_lanes(lanes_record, groups, runs, t)``: step t's shared coefficients of each
    group, then each lane's copy of its group's. Nothing for rules without.

    ``update_lanes(lanes_record, alpha_t, t, settings, begin, end)``: the step's update of
    every coordinate of lanes ``begin … end − 1`` (``alpha_t`` (lanes,) the lanes' α_t); θ
    and the state change only where ``alive``, which becomes False where θ leaves the bound.
    """
    shared, coefficients = rule.shared, rule.coefficients
    advance = coordinate_step(rule)
    shares = rule.shares
    count_state = len(rule.state)
    load_state, store_state = records.load(count_state), records.store(count_state)
    carried, factors = len(rule.carry), records.shared_size(rule)
    load_carry, store_carry = records.load(carried), records.store(carried)
    store_shared, load_shared = records.store(factors), records.load(factors)
    group_of = records.group(rule)
    record_of = records.hyperparameters(rule)

    def share_lanes(lanes_record, groups, runs, t):
        if shares:
            for known in range(groups):
                values, carry = shared(group_of(lanes_record.group_rows, 0, known), t,
                                       load_carry(lanes_record.group_carry, 0, 1, known))
                store_carry(lanes_record.group_carry, 0, 1, known, carry)
                store_shared(lanes_record.group_shared, 0, 1, known, values)
            spread_shared(runs, lanes_record.run_start, lanes_record.run_end,
                          lanes_record.run_group, lanes_record.group_shared,
                          lanes_record.lane_shared)

    def update_lanes(lanes_record, alpha_t, t, settings, begin, end):
        theta, grad, states = lanes_record.theta, lanes_record.grad, lanes_record.states
        hyper, alive, lane_shared = lanes_record.hyper, lanes_record.alive, lanes_record.lane_shared
        dim = theta.shape[0]
        for i in range(dim):
            lower = settings.lower[i]
            upper = settings.upper[i]
            for lane in range(begin, end):
                k = coefficients(record_of(hyper, 0, lane, alpha_t[lane]), t,
                                 load_shared(lane_shared, 0, 1, lane))
                theta[i, lane], state, alive[lane] = advance(
                    theta[i, lane], grad[i, lane], load_state(states, i, dim, lane), k,
                    lower, upper, settings.bound, alive[lane])
                store_state(states, i, dim, lane, state)

    share_lanes.__qualname__ = f"lanes{lanes}.{rule.name}.share_lanes"
    update_lanes.__qualname__ = f"lanes{lanes}.{rule.name}.update_lanes"
    return share_lanes, update_lanes
