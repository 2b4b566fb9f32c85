"""The semantics of one step, written once: every kernel only arranges these functions.

A step t of one cell (``step`` = t − 1 counts from 0; f and ∇f at θ_step are
those of step t):

1. ``value = f(θ, grad, t, objective_key(...))``: the objective writes ∇f.
2. :func:`observe`: divergence of f, the best loss, the first step within tol.
3. :func:`is_recorded`: whether θ and f are recorded at this step.
4. :func:`perturb`: gradient noise, one draw per coordinate.
5. α_t = α·s(t) (:func:`sweep.kernels.schedules.schedule_scale`), the rule's step
   coefficients, then for each coordinate the rule's update and :func:`constrain`
   (projection onto the box, divergence of θ).
6. At the end, :func:`results`.

Plain Python on scalars, like the rules: :mod:`sweep.kernels.compile` inlines them
into the CPU kernels and :mod:`sweep.kernels.cuda` compiles them as device functions.
They are written as selects, not branches, so that the lockstep kernel's lane
loops vectorize; a kernel that handles one cell at a time simply stops at the
first step where ``alive`` is False (the results are the same).
"""
from __future__ import annotations

import math

from .random import counter_key, normal
from . import records
from .schedules import schedule_scale

# Random streams of a cell: the objective's own draws (minibatches), and the gradient noise.
OBJECTIVE_STREAM, NOISE_STREAM = 0, 1


def objective_key(seed, start, step):
    """The key of the objective's draws at step t = step + 1 (a pure function of the cell's
    seed and start index: every cell from one start sees the same draws)."""
    return counter_key(seed, start, step + 1, OBJECTIVE_STREAM)


def noise_key(seed, start, step):
    """The key of the gradient noise at step t = step + 1."""
    return counter_key(seed, start, step + 1, NOISE_STREAM)


def perturb(grad, noise, scale, key, i):
    """∂f/∂θ_i plus (σ·cᵢ)·z: σ = ``noise``, cᵢ = ``scale`` (1 but for an objective whose
    noise has a shape, :attr:`sweep.kernels.objectives.Problem.noise_scale`), z the i-th
    standard normal of ``key``."""
    return grad + (noise * scale) * normal(key, i)


def observe(value, step, alive, best, reached, minimum, tol):
    """The metrics after f(θ_step) = ``value``: ``(alive, best, reached)``.

    A non-finite f marks the cell diverged (not alive) and changes nothing else.
    ``best`` is the lowest f so far (``math.inf`` before any), ``reached`` the
    first step with f − f* ≤ tol (−1 before; a float, so that lanes vectorize).
    """
    ok = alive & math.isfinite(value)
    best = value if ok & (value < best) else best
    reached = float(step) if ok & (reached < 0.0) & (value - minimum <= tol) else reached
    return ok, best, reached


def is_recorded(step, steps, record_every):
    """Whether θ_step and f(θ_step) are recorded: every ``record_every`` steps and the last."""
    return record_every > 0 and (step % record_every == 0 or step == steps)


def constrain(theta, lower, upper, bound, alive):
    """θ_i after the update: projected onto [lower, upper] (NaN stays NaN), and whether the
    cell is still alive (|θ_i| ≤ bound, written so that NaN fails it too)."""
    theta = lower if theta < lower else (upper if theta > upper else theta)
    return theta, alive & (abs(theta) <= bound)


def results(alive, value, best, reached):
    """A cell's metrics at the end: ``(diverged, final_loss, best_loss, steps_to_tol)``.

    NaN where there is nothing to report: the final loss of a diverged cell, a best
    loss before any finite f, steps to tol never reached.
    """
    return (not alive, value if alive else math.nan, best if best < math.inf else math.nan,
            reached if reached >= 0.0 else math.nan)


def cell_runner(rule, value_and_grad, keyed: bool):
    """``run_cell(...)``: one cell's whole run, the steps above in order (plain Python).

    The simple CPU kernel and the CUDA kernel call it once per cell; the
    lockstep kernel arranges the same functions across lanes instead.

    ``run_cell(theta, grad, point, spare, states, hyper, seed, start, schedule, settings,
    trajectory, loss) -> (alive, value, best, reached)``: ``theta`` (dim,) holds the start
    point; ``grad`` (dim,) and ``states`` (S·dim, 1), the rule's S state values per
    coordinate (value j of coordinate i in row i + j·dim), are scratch; ``hyper`` (H, 1)
    holds the cell's hyperparameters in the rule's order
    (:attr:`sweep.kernels.rules.Optimizer.names`). ``point`` (dim,) ends as the point the rule
    reports (θ, or its ``report``: then the metrics and records are f there, an objective
    evaluation more per step, with ``spare`` (dim,) for its unused gradient);
    ``trajectory`` (records, dim) and ``loss`` (records,) receive the recorded steps (left
    as they are after a divergence); a ``trajectory`` of fewer rows than ``loss`` records
    f alone (``sweep.record = "loss"``). The result goes through :func:`results`.

    Args:
        rule: a :class:`sweep.kernels.rules.Optimizer`.
        value_and_grad: the objective ``(x, grad, t, key) -> f``.
        keyed: whether the objective reads its key (if not, none is computed: a
            call the CPU's vectorizer could not remove).
    """
    shared, coefficients, update = rule.shared, rule.coefficients, rule.update
    init, report = records.init_function(rule), records.report_function(rule)
    reports = rule.report is not None
    count = len(rule.state)
    load, store = records.load(count), records.store(count)
    record_of = records.hyperparameters(rule)
    group_of = records.group(rule, True)
    carry0 = tuple(rule.carry)

    def run_cell(theta, grad, point, spare, states, hyper, seed, start, schedule, settings,
                 trajectory, loss):
        dim = theta.shape[0]
        steps = settings.steps
        records_theta = trajectory.shape[0] == loss.shape[0]  # else f alone is recorded
        alpha = hyper[0, 0]
        initial = record_of(hyper, 0, 0, alpha)
        for i in range(dim):
            store(states, i, dim, 0, init(initial, theta[i]))
        carry = carry0
        group = group_of(hyper, 0, 0)
        alive = True
        best = math.inf
        reached = -1.0
        value = math.nan
        record = 0
        for step in range(steps + 1):
            t = float(step + 1)
            key = objective_key(seed, start, step) if keyed else 0
            value = value_and_grad(theta, grad, t, key)
            if reports:  # the metrics at the reported point; the gradient stays θ's
                for i in range(dim):
                    point[i] = report(theta[i], load(states, i, dim, 0))
                value = value_and_grad(point, spare, t, key)
            alive, best, reached = observe(value, step, alive, best, reached, settings.minimum,
                                           settings.tol)
            if not alive:
                break
            if is_recorded(step, steps, settings.record_every):
                if records_theta:
                    for i in range(dim):
                        trajectory[record, i] = point[i] if reports else theta[i]
                loss[record] = value
                record += 1
            if step == steps:
                break
            if settings.noise > 0.0:
                noise = noise_key(seed, start, step)
                for i in range(dim):
                    grad[i] = perturb(grad[i], settings.noise, settings.noise_scale[i], noise, i)
            alpha_t = alpha * schedule_scale(schedule, t, float(steps), settings.warmup,
                                             settings.step_every, settings.step_factor)
            factors, carry = shared(group, t, carry)
            k = coefficients(record_of(hyper, 0, 0, alpha_t), t, factors)
            for i in range(dim):
                new, state = update(theta[i], grad[i], load(states, i, dim, 0), k)
                theta[i], alive = constrain(new, settings.lower[i], settings.upper[i],
                                            settings.bound, alive)
                store(states, i, dim, 0, state)
            if not alive:
                break
        for i in range(dim):
            point[i] = report(theta[i], load(states, i, dim, 0))
        return alive, value, best, reached

    return run_cell
