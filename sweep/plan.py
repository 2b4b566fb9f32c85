"""Plan a sweep: which cells are computed, and in which blocks.

An axis a rule does not read (β₂ for momentum, say) is planned with one
placeholder value (NaN, so that a rule that read it by mistake would fail
loudly) and broadcast when the dataset is assembled. Still no numba here.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from sweep.kernels.layout import ID_COLUMNS, SCHEDULE, SEED, START
from sweep.kernels.objectives import Problem
from sweep.kernels.rules import OPTIMIZERS
from sweep.kernels.schedules import SCHEDULES

from . import tunables
from .config import SweepConfig
from .objectives import resolve


def plan_dims(config: SweepConfig) -> tuple[str, ...]:
    """The dimensions of each optimizer's computed grid, in C order: schedule, start, seed
    (length 1 when the grid file does not list several), then every grid axis (the four
    of every grid, then those the grid file adds, in its order)."""
    return ("schedule", "start", "seed", *(axis.name for axis in config.axes))


@dataclass(frozen=True, kw_only=True)
class Block:
    """One chunk of an optimizer's computed grid: a box of it, aligned with the
    dataset's chunks, computed at once and (to a ``.zarr``) written at once.

    Attributes:
        optimizer: the rule.
        number: the block's place in the plan (its marker in a store).
        region: per dimension of :func:`plan_dims`, the slice of the optimizer's
            computed grid (an axis the rule does not read has length 1 there).
    """

    optimizer: str
    number: int
    region: tuple[slice, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(part.stop - part.start for part in self.region)

    @property
    def cells(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What to compute.

    Attributes:
        config: the validated grid file.
        problem: the objective made concrete.
        shapes: per optimizer, the computed grid's shape over :func:`plan_dims`,
            1 on the axes the rule does not read.
        chunks: the dataset's chunk shape over :func:`plan_dims`: ones, then a
            part of one axis, then whole axes, so a chunk is a box of the grid.
        blocks: the work units, in a fixed order: each optimizer's grid cut by ``chunks``.
        record_steps: the steps at which trajectories are recorded (empty if none).
        bound: the divergence bound in force.
    """

    config: SweepConfig
    problem: Problem
    shapes: dict[str, tuple[int, ...]]
    chunks: tuple[int, ...]
    blocks: tuple[Block, ...]
    record_steps: tuple[int, ...]
    bound: float

    @property
    def dims(self) -> tuple[str, ...]:
        """The dimensions of the computed grid (:func:`plan_dims`)."""
        return plan_dims(self.config)

    @property
    def computed_cells(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())

    @property
    def full_shape(self) -> tuple[int, ...]:
        """The grid over :func:`plan_dims` with every axis at full length."""
        return full_shape(self.config)

    @property
    def full_cells(self) -> int:
        """Cells of the dataset, unused axes broadcast."""
        return len(self.config.optimizers) * math.prod(self.full_shape)

    def hyperparameters(self, block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A block's start points (cells, dim), hyperparameters (cells, H), the rule's in
        its order (:attr:`sweep.kernels.rules.Optimizer.names`), and ids (cells, 3) int64, laid
        out as :mod:`sweep.kernels.layout` says (the ids: the seed, the start point's index, the
        schedule code). Cells in C order over the block's region."""
        config = self.config
        indices = np.meshgrid(*(np.arange(part.start, part.stop) for part in block.region),
                              indexing="ij")
        schedule, start, seed, *axes = (index.ravel() for index in indices)
        x0 = np.asarray(config.starts, dtype=np.float64)[start]
        training = self.problem.model
        if training is not None and training.start == "torch":  # drawn per (seed, start)
            seeds = np.asarray(config.seeds, dtype=np.int64)[seed]
            drawn = {pair: training.initial(*pair) for pair in set(zip(seeds.tolist(),
                                                                         start.tolist()))}
            x0 = np.stack([drawn[pair] for pair in zip(seeds.tolist(), start.tolist())])
        rule = OPTIMIZERS[block.optimizer]
        hyper = np.empty((block.cells, len(rule.names)))
        fixed = config.values(block.optimizer)
        for column, name in enumerate(rule.names):
            if name in fixed:
                hyper[:, column] = fixed[name]
        for axis, index in zip(config.axes, axes):
            if not axis.setting and config.reads(block.optimizer, axis.name):
                hyper[:, rule.names.index(axis.name)] = np.asarray(axis.values)[index]
        ids = np.empty((block.cells, len(ID_COLUMNS)), dtype=np.int64)
        ids[:, SEED] = np.asarray(config.seeds, dtype=np.int64)[seed]
        ids[:, START] = start
        ids[:, SCHEDULE] = np.asarray([SCHEDULES[name] for name in config.schedules])[schedule]
        return x0, hyper, ids

    def setting_values(self, block: Block) -> dict[str, float]:
        """The value of each setting axis (noise, batch_size, ...) in ``block``, by name."""
        return {axis.name: axis.values[part.start]
                for axis, part in zip(self.config.axes, block.region[3:]) if axis.setting}

    def dataset_regions(self, block: Block) -> list[tuple[slice, ...]]:
        """The chunks of the dataset (over :func:`plan_dims`) that ``block`` fills:
        one, or several where the rule does not read an axis cut by ``chunks``
        (its one computed value is broadcast into each of them)."""
        choices = []
        for part, size, full, computed in zip(block.region, self.chunks, self.full_shape,
                                              self.shapes[block.optimizer]):
            if computed < full:  # an axis the rule does not read: computed once
                choices.append([slice(lo, min(lo + size, full)) for lo in range(0, full, size)])
            else:
                choices.append([part])
        return list(itertools.product(*choices))


def full_shape(config: SweepConfig) -> tuple[int, ...]:
    """The grid over :func:`plan_dims` with every axis at full length."""
    return (len(config.schedules), len(config.starts), len(config.seeds),
            *(len(axis.values) for axis in config.axes))


def record_steps(steps: int, record_every: int) -> tuple[int, ...]:
    """0, k, 2k, … and always the last step; empty when ``record_every`` is 0."""
    if record_every <= 0:
        return ()
    recorded = list(range(0, steps + 1, record_every))
    if recorded[-1] != steps:
        recorded.append(steps)
    return tuple(recorded)


def make_plan(config: SweepConfig, n_jobs: int = 1, block_cells: int | None = None,
              chunks: tuple[int, ...] | None = None) -> Plan:
    """Cut the grid into blocks (its size was checked with the config).

    Args:
        config: the validated grid file.
        n_jobs: workers that will run the blocks (only sizes the blocks).
        block_cells: dataset cells per block at most; by default about
            :data:`tunables.BLOCK_TRAJECTORY_STEPS` trajectory-steps per block.
        chunks: the chunk shape to use (a store being resumed has its own);
            overrides ``block_cells``.
    """
    the_problem = resolve(config.spec)
    recorded = record_steps(config.steps, config.record_every)
    shapes = {}
    for name in config.optimizers:
        shapes[name] = (len(config.schedules), len(config.starts), len(config.seeds)) + tuple(
            len(axis.values) if config.reads(name, axis.name) else 1 for axis in config.axes)
    grid = full_shape(config)
    if chunks is None:
        if block_cells is None:
            block_cells = default_block_cells(config, sum(map(math.prod, shapes.values())), n_jobs,
                                              step_weight(the_problem))
        # A block holds one value of each setting axis: ones along them.
        settings = 3 + sum(axis.setting for axis in config.axes)
        chunks = (1,) * settings + chunk_shape(grid[settings:], block_cells)
    blocks = []
    for name, shape in shapes.items():
        # A rule's grid has length 1 on the axes it does not read: one block spans them.
        starts = [range(0, length, size) for length, size in zip(shape, chunks)]
        for corner in itertools.product(*starts):
            region = tuple(slice(lo, min(lo + size, length))
                           for lo, size, length in zip(corner, chunks, shape))
            blocks.append(Block(optimizer=name, number=len(blocks), region=region))
    bound = config.bound if config.bound is not None else the_problem.bound
    return Plan(config=config, problem=the_problem, shapes=shapes, chunks=tuple(chunks),
                blocks=tuple(blocks), record_steps=recorded, bound=bound)


def step_weight(problem: Problem) -> int:
    """What one step of one cell costs, in steps of a 2-D built-in objective (about 10
    floating-point operations): 1, or for a model about its parameters × batch."""
    if problem.model is None:
        return 1
    data = problem.model.data
    return max(1, problem.model.network.dim * data.batch_size // 10)


def default_block_cells(config: SweepConfig, computed_cells: int, n_jobs: int,
                        weight: int = 1) -> int:
    """About :data:`tunables.BLOCK_TRAJECTORY_STEPS` trajectory-steps per block, at least
    :data:`tunables.BLOCKS_PER_WORKER` blocks per worker, and none below
    :data:`tunables.MIN_BLOCK_TRAJECTORY_STEPS`; each step counting ``weight`` (a model's
    steps cost thousands of a Rosenbrock step's: without it a model grid was one block,
    on one core). A model's blocks hold at least the training kernel's lanes."""
    work = config.steps * weight
    cells = max(1, tunables.BLOCK_TRAJECTORY_STEPS // work)
    cells = min(cells, max(1, -(-computed_cells // (n_jobs * tunables.BLOCKS_PER_WORKER))))
    cells = max(cells, -(-tunables.MIN_BLOCK_TRAJECTORY_STEPS // work))
    return max(cells, tunables.MODEL_LANES) if weight > 1 else cells


def chunk_shape(grid: tuple[int, ...], cells: int) -> tuple[int, ...]:
    """The largest box of ``grid`` of at most ``cells`` cells (at least one) that is
    ones, then a part of one axis, then whole axes (C order): its blocks are
    contiguous in the dataset and line up with zarr's chunks."""
    for axis in range(len(grid)):
        inner = math.prod(grid[axis + 1:])
        if inner <= cells:
            return (1,) * axis + (max(1, min(grid[axis], cells // inner)),) + grid[axis + 1:]
    return (1,) * len(grid)  # cells < 1
