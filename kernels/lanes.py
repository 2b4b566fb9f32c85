"""The step of :mod:`kernels.step` arranged over lanes: the parts every lockstep kernel shares.

A lockstep kernel advances ``lanes`` cells together, each array laid out
(rows, lanes) so that the lane loop is innermost and LLVM vectorizes it across
cells. The kernel of the built-in objectives (:func:`kernels.compile.lockstep_kernel`)
and the kernel that trains models (:mod:`kernels.training`) differ in how they
get the gradient; after it, both call these:

* :func:`join_group`: a lane joins the group of lanes with its (β₁, β₂), whose
  step coefficients of β and t alone (``rule.decay``: the divisions and roots)
  are computed once per step for the whole group; :func:`group_runs` then cuts the
  lanes into runs of one group, and :func:`spread_decay` copies each group's decay
  to its lanes a run at a time;
* :func:`scale_lanes`: α_t = α·s(t) per lane, each schedule evaluated once per step;
* ``coordinate_step(rule)``: one coordinate of one lane advanced by a step (the
  rule's coefficients and update, the projection, divergence), frozen where the
  lane has diverged (selects, not branches: a branch would stop the vectorizer).
  Scalars in and out: every lane loop inlines it and keeps only its loads and stores;
* ``lane_step(rule)``'s ``decay_lanes`` and ``update_lanes``: the groups' decay,
  then :func:`coordinate_step` over every coordinate of every lane.

Plain Python, registered and inlined by :mod:`kernels.compile`.
"""
from __future__ import annotations

import functools

from . import rules
from .rules import Decay, Powers
from .schedules import schedule_scale
from .step import constrain


def same(a, b):
    """a and b are the same hyperparameter: equal, or both NaN (an axis the rule ignores)."""
    return (a == b) | ((a != a) & (b != b))


def join_group(lane, beta1, beta2, groups, group, group_beta1, group_beta2, group_powers):
    """Put ``lane`` in the group of its (β₁, β₂), a new one (powers from 1) if none has them.

    Returns the number of groups now."""
    found = -1
    for known in range(groups):  # NaN (an axis the rule does not read) matches NaN
        if same(group_beta1[known], beta1) and same(group_beta2[known], beta2):
            found = known
            break
    if found < 0:
        found = groups
        groups += 1
        group_beta1[found] = beta1
        group_beta2[found] = beta2
        group_powers[0, found] = 1.0
        group_powers[1, found] = 1.0
    group[lane] = found
    return groups


def group_runs(group, lanes, run_start, run_end, run_group):
    """Cut the lanes into runs of consecutive lanes of one group: run r is lanes
    [run_start[r], run_end[r]), all of group ``run_group[r]``. Sorted by β, a block's
    lanes make one run or a few. The bounds are unsigned, so that a loop over a run
    indexes without numba's negative-index wraparound (which stops the vectorizer).
    Returns the number of runs."""
    runs = 0
    for lane in range(lanes):
        if runs == 0 or group[lane] != run_group[runs - 1]:
            run_group[runs] = group[lane]
            run_start[runs] = lane
            runs += 1
        run_end[runs - 1] = lane + 1
    return runs


def spread_decay(runs, run_start, run_end, run_group, group_decay, lane_decay):
    """Each lane's copy of its group's decay (``lane_decay`` (3, lanes)), a run of lanes
    at a time. The stores of one value to a run of lanes become whole vectors: a loop
    per row was unrolled into scalar stores (numba leaves LLVM's SLP vectorizer off),
    and a gather per lane stays scalar; the update loop's vector loads of these rows
    then waited for the scalar stores (no store-to-load forwarding)."""
    for run in range(runs):
        known = run_group[run]
        first = group_decay[0, known]
        second = group_decay[1, known]
        root = group_decay[2, known]
        for lane in range(run_start[run], run_end[run]):
            lane_decay[0, lane] = first
            lane_decay[1, lane] = second
            lane_decay[2, lane] = root


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
def coordinate_step(rule):
    """``advance(theta, grad, state, alpha_t, beta1, beta2, eps, option, decay, lower, upper,
    bound, alive) -> (theta, state, alive)``: coordinate i of one lane after the step.

    ``theta`` and ``grad`` are θ_i and (∂f/∂θ)_i, ``state`` the rule's three state values
    of coordinate i (those past ``rule.states`` are never read), ``alpha_t`` α·s(t),
    ``decay`` the lane's :class:`kernels.rules.Decay`, ``lower``/``upper`` coordinate i's
    box and ``bound`` the divergence bound. The rule's coefficients, its update, then
    :func:`kernels.step.constrain`; θ_i and the state come back unchanged where the lane
    was not ``alive``, and ``alive`` becomes False where θ_i leaves the bound.

    One function per rule (a closure over its functions, the same object at every call),
    registered and inlined by :func:`kernels.compile.registered_coordinate_step`: its
    arguments are scalars, so inlining adds no reference counting to the lane loops.
    """
    _, coefficients, update, _ = rule.functions

    def advance(theta, grad, state, alpha_t, beta1, beta2, eps, option, decay, lower, upper,
                bound, alive):
        k = coefficients(alpha_t, beta1, beta2, eps, option, decay)
        new, updated = update(theta, grad, k, state)
        new, inside = constrain(new, lower, upper, bound, alive)
        return (new if alive else theta,
                (updated[0] if alive else state[0], updated[1] if alive else state[1],
                 updated[2] if alive else state[2]),
                inside)

    return advance


def lane_step(rule, lanes: int):
    """``(decay_lanes, update_lanes)`` of one rule for ``lanes`` lanes (see the module doc;
    the lane count is a compile-time constant: LLVM then knows the vector loops' trip count,
    ~6 % on sgd).

    ``decay_lanes(groups, group_beta1, group_beta2, group_powers, group_decay, runs,
    run_start, run_end, run_group, lane_decay, option, t)``: step t's decay of each
    group, then each lane's copy of its group's (``lane_decay`` (3, lanes); the runs of
    :func:`group_runs`). Nothing for rules without one.

    ``update_lanes(theta, grad, state0, state1, state2, alpha_t, beta1, beta2, eps,
    lane_decay, alive, settings)``: the step's update of every coordinate of every
    lane; θ and the rule's state values (``rule.states`` of the three; the others are
    never loaded nor stored) change only where ``alive``, which becomes False where
    θ leaves the bound.
    """
    decay = rule.decay
    advance = coordinate_step(rule)
    # Rules whose coefficients do not depend on β and t alone (sgd … rmsprop) have no
    # decay to share: their lanes' decay stays 0 and nothing is copied per step.
    decays = rule.decay is not rules.no_decay
    states = rule.states

    def decay_lanes(groups, group_beta1, group_beta2, group_powers, group_decay, runs,
                    run_start, run_end, run_group, lane_decay, option, t):
        if decays:
            for known in range(groups):
                factors, powers = decay(group_beta1[known], group_beta2[known], option, t,
                                        Powers(first=group_powers[0, known],
                                               second=group_powers[1, known]))
                group_powers[0, known], group_powers[1, known] = powers
                group_decay[0, known], group_decay[1, known], group_decay[2, known] = factors
            spread_decay(runs, run_start, run_end, run_group, group_decay, lane_decay)

    def update_lanes(theta, grad, state0, state1, state2, alpha_t, beta1, beta2, eps,
                     lane_decay, alive, settings):
        dim = theta.shape[0]
        option = settings.option
        for i in range(dim):
            lower = settings.lower[i]
            upper = settings.upper[i]
            for lane in range(lanes):
                theta[i, lane], state, alive[lane] = advance(
                    theta[i, lane], grad[i, lane],
                    (state0[i, lane] if states > 0 else 0.0,
                     state1[i, lane] if states > 1 else 0.0,
                     state2[i, lane] if states > 2 else 0.0),
                    alpha_t[lane], beta1[lane], beta2[lane], eps[lane], option,
                    Decay(first=lane_decay[0, lane], second=lane_decay[1, lane],
                          root=lane_decay[2, lane]),
                    lower, upper, settings.bound, alive[lane])
                if states > 0:
                    state0[i, lane] = state[0]
                if states > 1:
                    state1[i, lane] = state[1]
                if states > 2:
                    state2[i, lane] = state[2]

    return decay_lanes, update_lanes
