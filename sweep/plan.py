"""Plan a sweep: which cells are computed, and in which blocks.

An axis a rule does not read (β₂ for momentum, say) is planned with one
placeholder value (NaN, so that a rule that read it by mistake would fail
loudly) and broadcast when the dataset is assembled. Still no numba here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels.objectives import Problem
from kernels.rules import AXES, OPTIMIZERS
from kernels.schedules import SCHEDULES

from . import tuning
from .config import SweepConfig
from .objectives import resolve


# The computed grid of each optimizer, in C order. ``schedule`` and ``seed``
# have length 1 when the grid file does not list several.
PLAN_DIMS = ("schedule", "start", "seed", *AXES)


@dataclass(frozen=True)
class Block:
    """Cells ``[start, stop)`` of one optimizer's computed grid (C order over
    :data:`PLAN_DIMS`)."""

    optimizer: str
    start: int
    stop: int

    @property
    def cells(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Plan:
    """What to compute.

    Attributes:
        config: the validated grid file.
        problem: the objective made concrete.
        shapes: per optimizer, the computed grid's shape over :data:`PLAN_DIMS`,
            1 on the axes the rule does not read.
        blocks: the work units, in a fixed order.
        record_steps: the steps at which trajectories are recorded (empty if none).
        bound: the divergence bound in force.
    """

    config: SweepConfig
    problem: Problem
    shapes: dict[str, tuple[int, ...]]
    blocks: tuple[Block, ...]
    record_steps: tuple[int, ...]
    bound: float

    @property
    def computed_cells(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())

    @property
    def full_shape(self) -> tuple[int, ...]:
        """The grid over :data:`PLAN_DIMS` with every axis at full length."""
        config = self.config
        return (len(config.schedules), len(config.starts), len(config.seeds),
                *(len(axis.values) for axis in config.axes))

    @property
    def full_cells(self) -> int:
        """Cells of the dataset, unused axes broadcast."""
        return len(self.config.optimizers) * math.prod(self.full_shape)

    def hyperparameters(self, block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A block's start points (cells, dim), hyperparameters (cells, 4) and
        ids (cells, 3): seed, random stream (the start's index), schedule code."""
        config = self.config
        shape = self.shapes[block.optimizer]
        schedule, start, seed, *axes = np.unravel_index(np.arange(block.start, block.stop), shape)
        x0 = np.asarray(config.starts, dtype=np.float64)[start]
        hyper = np.empty((block.cells, len(AXES)))
        used = OPTIMIZERS[block.optimizer].axes
        for column, (axis, index) in enumerate(zip(config.axes, axes)):
            # An axis the rule does not read gets NaN: a rule that read it by mistake would show.
            hyper[:, column] = np.asarray(axis.values)[index] if axis.name in used else np.nan
        ids = np.empty((block.cells, 3), dtype=np.int64)
        ids[:, 0] = np.asarray(config.seeds, dtype=np.int64)[seed]
        ids[:, 1] = start
        ids[:, 2] = np.asarray([SCHEDULES[name] for name in config.schedules])[schedule]
        return x0, hyper, ids


def record_steps(steps: int, record_every: int) -> tuple[int, ...]:
    """0, k, 2k, … and always the last step; empty when ``record_every`` is 0."""
    if record_every <= 0:
        return ()
    recorded = list(range(0, steps + 1, record_every))
    if recorded[-1] != steps:
        recorded.append(steps)
    return tuple(recorded)


def make_plan(config: SweepConfig, n_jobs: int = 1, block_cells: int | None = None) -> Plan:
    """Split the grid into blocks (its size was checked with the config).

    Args:
        config: the validated grid file.
        n_jobs: workers that will run the blocks (only sizes the blocks).
        block_cells: cells per block; by default about
            :data:`tuning.BLOCK_TRAJECTORY_STEPS` trajectory-steps per block.
    """
    the_problem = resolve(config.spec)
    recorded = record_steps(config.steps, config.record_every)
    shapes = {}
    for name in config.optimizers:
        used = OPTIMIZERS[name].axes
        shapes[name] = (len(config.schedules), len(config.starts), len(config.seeds)) + tuple(
            len(axis.values) if axis.name in used else 1 for axis in config.axes)
    total = sum(math.prod(s) for s in shapes.values())
    if block_cells is None:
        block_cells = max(1, tuning.BLOCK_TRAJECTORY_STEPS // config.steps)
        block_cells = min(block_cells, max(1, -(-total // (n_jobs * tuning.BLOCKS_PER_WORKER))))
        block_cells = max(block_cells, -(-tuning.MIN_BLOCK_TRAJECTORY_STEPS // config.steps))
    blocks = tuple(
        Block(name, lo, min(lo + block_cells, math.prod(shape)))
        for name, shape in shapes.items()
        for lo in range(0, math.prod(shape), block_cells)
    )
    bound = config.bound if config.bound is not None else the_problem.bound
    return Plan(config, the_problem, shapes, blocks, recorded, bound)
