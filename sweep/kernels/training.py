"""The kernel that trains models: lanes of cells on one minibatch at a time.

All cells of a lane block share their seed and start, so they see the same
minibatches (:func:`sweep.kernels.models.epoch_order`): the forward and backward
passes of :mod:`sweep.kernels.models` then run once per sample for every lane, the
lane loop innermost, and LLVM vectorizes them across cells. After the
gradient, a step is the lockstep kernel's (:mod:`sweep.kernels.lanes`): noise, α_t,
the rule's decay per (β₁, β₂) group, the update of every coordinate.

A step t of a block (``step`` = t − 1):

1. at an evaluation step (every ``eval_every`` steps, every recorded step and
   the last): the training objective f(θ_step) on the whole training set (the
   value the metrics see, :func:`sweep.kernels.step.observe`), the test loss and
   error, the training error;
2. the step's minibatch gradient, plus noise;
3. the rule's update, projection and divergence (:mod:`sweep.kernels.lanes`).

The reference is the same kernel with one lane (one cell at a time): each
lane's arithmetic does not depend on the lane count, so both give the same bits.
The steps are arranged once, in :func:`block_trainer`'s ``train_block``: the CPU
kernel calls it for each lane block, a CUDA thread for its one cell
(:mod:`sweep.kernels.cuda_training`).
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .compile import SOURCE_FINGERPRINT, registered_lane_step, registered_reporter
from .layout import SEED, START
from .lanes import LaneRows, Lanes, clear_lanes, lane_rows, lanes_in, scale_lanes, sizes
from .models import (TILE, ModelData, Network, batch_of_step, batches_per_epoch, epoch_order,
                     network_functions, penalty)
from .numba_support import InliningCompiler, cached_as, compiled_once, register_jitable
from .schedules import SCHEDULES
from .step import is_recorded, noise_key, observe, perturb, results

__all__ = ["training_kernel", "TrainingKernel", "lane_blocks", "block_trainer", "Scratch",
           "Storage", "storage_rows", "storage_bytes_per_lane", "storage_columns", "scratch_in"]

for _function in (batches_per_epoch, batch_of_step, epoch_order):
    register_jitable(_function)
register_jitable(inline="always")(penalty)


def lane_blocks(ids: np.ndarray, order: np.ndarray, lanes: int) -> np.ndarray:
    """``(first, count)`` rows (int64): runs of at most ``lanes`` consecutive cells of
    ``order`` that share a seed and a start (so, their minibatches)."""
    keys = ids[order][:, [SEED, START]]
    changes = np.flatnonzero((keys[1:] != keys[:-1]).any(axis=1)) + 1
    rows = []
    for lo, hi in zip(np.r_[0, changes], np.r_[changes, len(order)]):
        rows.extend((first, min(lanes, hi - first)) for first in range(lo, hi, lanes))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


class TrainingKernel:
    """``kernel(x0, hyper, ids, settings, out)`` of one rule training one model on its data.

    Cells are taken by (seed, start, β₁, β₂): lanes that share minibatches, and then
    their decay. ``out`` is a :class:`sweep.kernels.layout.Metrics` with its data fields
    (``empty_metrics(..., data=True)``).

    Attributes:
        dispatcher: the numba dispatcher ``(x0, hyper, ids, settings, out, order, blocks, data)``.
        data: the :class:`sweep.kernels.models.ModelData` every call trains on.
        lanes: cells per lane block.
    """

    def __init__(self, dispatcher, data: ModelData, lanes: int, rule):
        self.dispatcher = dispatcher
        self.rule = rule
        self.data = data
        self.lanes = lanes

    @property
    def signatures(self) -> list:
        return self.dispatcher.signatures

    @property
    def _cache(self):  # for sweep.kernels.numba_support.call_kernel
        return self.dispatcher._cache

    def __call__(self, x0, hyper, ids, settings, out) -> None:
        order = np.lexsort((*(hyper[:, column] for column in reversed(self.rule.shared_columns)),
                            ids[:, START], ids[:, SEED]))
        blocks = lane_blocks(ids, order, self.lanes)
        self.dispatcher(x0, hyper, ids, settings, out, order, blocks, self.data)


def training_kernel(rule, network: Network, data: ModelData, lanes: int) -> TrainingKernel:
    """The training kernel of ``rule`` on ``network`` with ``lanes`` lanes (1: the reference).

    One compiled kernel per (rule, network shape, lanes): the data are an argument,
    so another data set of the same shape, another batch size or λ compiles nothing.
    """
    return TrainingKernel(_training_dispatcher(rule, network, lanes), data, lanes, rule)


def _shape(network: Network) -> str:
    """A name for what a network's functions close over (so, their code)."""
    return (f"{'-'.join(map(str, network.sizes))}.{network.activation}.{network.loss}."
            f"{'bias' if network.bias else 'nobias'}")


def kernel_name(rule, network: Network, lanes: int) -> str:
    """The name of the training kernel of ``rule`` on ``network`` with ``lanes`` lanes."""
    return f"training{lanes}_kernel.{rule.name}.{_shape(network)}"


# The network functions that work on one lane (sweep.kernels.models.network_functions).
PER_LANE = ("sample_loss", "sample_wrong")


@functools.cache
def registered_network(network: Network, lanes: int):
    """``(gradient, evaluate, functions)`` of ``network`` on ``lanes`` lanes (functions: all
    it is made of), registered for CPU kernels once per process: every rule's kernel with
    that lane count calls the same functions, compiled once. Named after the network's
    shape and the lane count: the same name, the same code."""
    gradient, evaluate, parts = network_functions(network, lanes)
    for function in (*parts, gradient, evaluate):
        function.__qualname__ = f"network{lanes}.{_shape(network)}.{function.__name__}"
        # The per-lane pieces are inlined: a call in a lane loop costs more than its body.
        inline = "always" if function.__name__ in PER_LANE else "never"
        register_jitable(inline=inline)(function)
    return gradient, evaluate, (*parts, gradient, evaluate)


@functools.cache
def compiled_network(network: Network, lanes: int):
    """``(gradient, evaluate)`` of ``network`` on ``lanes`` lanes for CPU kernels, each
    compiled on its own and kept in numba's disk cache: they do not depend on the rule,
    so every rule's training kernel on that network loads them instead of compiling
    them again (the passes are most of a training kernel's compile time)."""
    gradient, evaluate, _ = registered_network(network, lanes)
    return tuple(compiled_once(function, function.__qualname__, error_model="numpy")
                 for function in (gradient, evaluate))


class Scratch(NamedTuple):
    """The arrays one lane block trains in (see :func:`block_trainer`), cut from a
    :class:`Storage` by :func:`scratch_in`.

    ``lanes``: the :class:`sweep.kernels.lanes.Lanes` of the rule's step; the network's
    activations and output errors (units, TILE, lanes); the epoch's permutation
    (n_train,) int64; ``rows``, the identity 0 … max(n_train, n_test) − 1 (an
    evaluation's order); per lane (lanes,) the train loss and error, the test loss and
    error.
    """

    lanes: Lanes
    acts: np.ndarray
    deltas: np.ndarray
    permutation: np.ndarray
    rows: np.ndarray
    train_loss: np.ndarray
    train_error: np.ndarray
    test_loss: np.ndarray
    test_error: np.ndarray


class Storage(NamedTuple):
    """The arrays lane blocks train in, one column per lane (rows: :func:`storage_rows`):
    made once per call of the CPU kernel for one block of lanes (:func:`cpu_scratch`), on
    a GPU for every cell of a launch (:mod:`sweep.kernels.cuda_training`).

    Attributes:
        floats, integers, unsigned, flags: (rows, lanes) float64, int64, uint64, bool: the
            :class:`sweep.kernels.lanes.Lanes` (:func:`sweep.kernels.lanes.lanes_in`), then the four
            per-lane metrics (floats).
        activations: (2, units, TILE, lanes) float64: activations and output errors.
        permutations: (n_train, columns) int64: the epochs' order of the samples (the CPU's
            lanes share theirs: one column; a GPU's cells one each).
    """

    floats: np.ndarray
    integers: np.ndarray
    unsigned: np.ndarray
    flags: np.ndarray
    activations: np.ndarray
    permutations: np.ndarray


METRICS_ROWS = 4  # train loss, train error, test loss, test error


def storage_rows(size, dim: int, kinds: int) -> LaneRows:
    """Rows of a :class:`Storage`'s floats, integers, unsigned and flags."""
    rows = lane_rows(size, dim, kinds)
    return LaneRows(floats=rows.floats + METRICS_ROWS, integers=rows.integers,
                    unsigned=rows.unsigned, flags=rows.flags)


def storage_bytes_per_lane(size, network: Network, samples: int, kinds: int) -> int:
    """Bytes of :class:`Storage` one lane takes, with a permutation of ``samples`` of its own."""
    rows = storage_rows(size, network.dim, kinds)
    return (8 * (rows.floats + rows.integers + rows.unsigned) + rows.flags
            + 8 * 2 * network.units * TILE + 8 * samples)


def storage_columns(storage: Storage, first, count) -> Storage:
    """Lanes ``first … first + count − 1`` of ``storage`` (each a cell's permutation)."""
    end = first + count
    return Storage(floats=storage.floats[:, first:end], integers=storage.integers[:, first:end],
                   unsigned=storage.unsigned[:, first:end], flags=storage.flags[:, first:end],
                   activations=storage.activations[:, :, :, first:end],
                   permutations=storage.permutations[:, first:end])


def scratch_in(storage: Storage, rows, size, dim: int, kinds: int) -> Scratch:
    """The :class:`Scratch` of ``storage``'s lanes (its first permutation), with ``rows``
    the identity; the lanes cleared (:func:`sweep.kernels.lanes.clear_lanes`)."""
    lanes = lanes_in(storage.floats, storage.integers, storage.unsigned, storage.flags, size,
                     dim, kinds)
    clear_lanes(lanes)
    metrics = lane_rows(size, dim, kinds).floats
    return Scratch(lanes=lanes, acts=storage.activations[0], deltas=storage.activations[1],
                   permutation=storage.permutations[:, 0], rows=rows,
                   train_loss=storage.floats[metrics], train_error=storage.floats[metrics + 1],
                   test_loss=storage.floats[metrics + 2], test_error=storage.floats[metrics + 3])


def cpu_scratch(size, dim, lanes, units, samples, rows, kinds):
    """A :class:`Scratch` of new arrays for ``lanes`` lanes (compiled code: np.empty; CPU only)."""
    identity = np.empty(rows, dtype=np.int64)
    for row in range(rows):
        identity[row] = row
    counts = storage_rows(size, dim, kinds)
    storage = Storage(
        floats=np.zeros((counts.floats, lanes)),
        integers=np.zeros((counts.integers, lanes), dtype=np.int64),
        unsigned=np.zeros((counts.unsigned, lanes), dtype=np.uint64),
        flags=np.zeros((counts.flags, lanes), dtype=np.bool_),
        activations=np.empty((2, units, TILE, lanes)),
        permutations=np.empty((samples, 1), dtype=np.int64))
    return scratch_in(storage, identity, size, dim, kinds)


for _function in (storage_rows, scratch_in, cpu_scratch):
    register_jitable(_function)


def block_trainer(rule, network: Network, lanes: int, target: str = "cpu"):
    """``train_block(x0, hyper, ids, settings, out, order, first, count, data, scratch)``:
    the whole run of cells ``order[first:first + count]`` (at most ``lanes``, sharing a seed
    and a start) on ``data``, their results into ``out``: the steps of the module doc.

    Plain Python, the one place a training step is arranged: the CPU kernel calls it for
    each lane block, a CUDA thread for its cell (one lane). ``scratch`` is a
    :class:`Scratch` for ``lanes`` lanes. ``target``: ``"cpu"`` calls the network's
    passes compiled once (:func:`compiled_network`), ``"cuda"`` the plain functions
    (registered for CUDA by :mod:`sweep.kernels.cuda_training`).
    """
    if target == "cpu":
        gradient, evaluate = compiled_network(network, lanes)
    else:
        gradient, evaluate, _ = registered_network(network, lanes)
    load_lanes, share_lanes, update_lanes = registered_lane_step(rule, lanes)
    report_lanes = registered_reporter(rule)
    reports = rule.report is not None  # evaluated at the reported point (see sweep.kernels.step)

    def train_block(x0, hyper, ids, settings, out, order, first, count, data, scratch):
        work = scratch.lanes
        theta, grad, alive, value = work.theta, work.grad, work.alive, work.value
        best, reached = work.best, work.reached
        train_loss, train_error = scratch.train_loss, scratch.train_error
        test_loss, test_error = scratch.test_loss, scratch.test_error
        dim = x0.shape[1]
        steps = settings.steps
        samples = data.x_train.shape[0]
        groups, runs, constant = load_lanes(x0, hyper, ids, order, first, count, work,
                                            settings.warmup <= 0.0)
        seed = work.seed[0]  # every lane's: the block shares its minibatches
        start = work.start[0]
        epoch_loaded = -1
        record = 0
        for step in range(steps + 1):
            t = float(step + 1)
            recorded = is_recorded(step, steps, settings.record_every)
            if recorded or step == steps or step % data.eval_every == 0:
                if reports:
                    report_lanes(work, 0, lanes)
                shown = work.point if reports else theta
                evaluate(shown, scratch.acts, data.x_train, data.y_train, scratch.rows,
                         data.signs, train_loss, train_error)
                evaluate(shown, scratch.acts, data.x_test, data.y_test, scratch.rows,
                         data.signs, test_loss, test_error)
                for lane in range(lanes):
                    value[lane] = train_loss[lane] + 0.5 * data.l2 * penalty(shown, lane)
                    alive[lane], best[lane], reached[lane] = observe(
                        value[lane], step, alive[lane], best[lane], reached[lane],
                        settings.minimum, settings.tol)
            if recorded:
                for lane in range(count):
                    cell = order[first + lane]
                    kept = alive[lane]
                    out.loss[cell, record] = value[lane] if kept else math.nan
                    out.test_loss_curve[cell, record] = test_loss[lane] if kept else math.nan
                    out.test_error_curve[cell, record] = test_error[lane] if kept else math.nan
                record += 1
            if step == steps:
                break
            epoch, offset, size = batch_of_step(step, samples, data.batch_size)
            if epoch != epoch_loaded:
                epoch_order(scratch.permutation, seed, start, epoch, data.batch_size)
                epoch_loaded = epoch
            gradient(theta, grad, scratch.acts, scratch.deltas, data.x_train, data.y_train,
                     scratch.permutation, offset, size, data.l2)
            if settings.noise > 0.0:
                noise = noise_key(seed, start, step)
                for i in range(dim):
                    for lane in range(lanes):
                        grad[i, lane] = perturb(grad[i, lane], settings.noise,
                                                settings.noise_scale[i], noise, i)
            if not constant:
                scale_lanes(work.hyper[0], work.alpha_t, work.schedule, work.scheduled,
                            work.scales, t, settings)
            share_lanes(work, groups, runs, t)
            update_lanes(work, work.hyper[0] if constant else work.alpha_t, t, settings, 0,
                         lanes)
        if reports:
            report_lanes(work, 0, lanes)
        final = work.point if reports else theta
        for lane in range(count):
            cell = order[first + lane]
            kept = alive[lane]
            (out.diverged[cell], out.final_loss[cell], out.best_loss[cell],
             out.steps_to_tol[cell]) = results(kept, value[lane], best[lane], reached[lane])
            out.test_loss[cell] = test_loss[lane] if kept else math.nan
            out.test_error[cell] = test_error[lane] if kept else math.nan
            out.train_error[cell] = train_error[lane] if kept else math.nan
            for i in range(dim):
                out.final_x[cell, i] = final[i, lane] if kept else math.nan

    # One name per (rule, network, lanes, target): closures share a qualified name, and
    # separately compiled ones would share a linker symbol (see
    # sweep.kernels.compile._simple_kernel).
    train_block.__qualname__ = f"{kernel_name(rule, network, lanes)}.{target}.train_block"
    return train_block


@functools.cache
def registered_block_trainer(rule, network: Network, lanes: int, target: str = "cpu"):
    """:func:`block_trainer` for ``target``; for the CPU, registered once per process
    (:mod:`sweep.kernels.cuda_training` registers the CUDA one)."""
    train_block = block_trainer(rule, network, lanes, target)
    if target == "cpu":
        register_jitable(train_block)
    return train_block


@functools.cache
def _training_dispatcher(rule, network: Network, lanes: int):
    fingerprint = SOURCE_FINGERPRINT
    name = kernel_name(rule, network, lanes)
    train_block = registered_block_trainer(rule, network, lanes)
    units = network.units
    kinds = len(SCHEDULES)
    size = sizes(rule)

    @njit(nogil=True, cache=True, error_model="numpy", pipeline_class=InliningCompiler)
    @cached_as(name)
    def kernel(x0, hyper, ids, settings, out, order, blocks, data):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        samples = data.x_train.shape[0]
        scratch = cpu_scratch(size, x0.shape[1], lanes, units, samples,
                              max(samples, data.x_test.shape[0]), kinds)
        for block in range(blocks.shape[0]):
            train_block(x0, hyper, ids, settings, out, order, blocks[block, 0],
                        blocks[block, 1], data, scratch)

    return kernel
