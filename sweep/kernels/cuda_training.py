"""Models on the CUDA backend: one thread per cell, each running the training kernel's block.

Nothing about a training step is written here. Each thread runs
:func:`sweep.kernels.training.block_trainer`'s ``train_block`` with one lane, the
function the CPU's training kernel runs for its lane blocks (and its reference,
one lane, runs for every cell), with the network functions, the lane step and
the minibatch order registered for the CUDA target as :mod:`sweep.kernels.cuda` does
for the built-in objectives. The data are kernel arguments, so they live in the
device's global memory (digits does not fit the 64 KiB of constant memory).

A thread's lanes (θ, ∇f, state, per-lane scalars), activations and epoch
permutation are its column of a :class:`sweep.kernels.training.Storage` of device
arrays, the layout the CPU kernel allocates for its lane blocks (cut by the same
:func:`sweep.kernels.training.scratch_in`); the cell axis is last, so that warp
neighbours' accesses coalesce. The inputs and outputs keep the CPU kernel's
layout, cell axis first: they are read and written once per cell. The kernel's
arguments are named records (:class:`Cells`, :class:`sweep.kernels.layout.Settings`,
:class:`sweep.kernels.models.ModelData`, the storage, :class:`sweep.kernels.layout.Metrics`).

Bits: in numba-cuda's simulator the thread's Python runs with CPython's libm and
gives the CPU kernel's bits (``tests/test_cuda.py``). On a GPU NVVM contracts
``a * b + c`` into FMAs and libdevice's ``log`` is not glibc's: the last bits of a
step may move (see :mod:`sweep.kernels.cuda`); not measured on a GPU here.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from . import cuda as backend
from .cuda import cuda  # a module global: numba-cuda's simulator swaps it in kernels' globals
from .layout import ARRAY_FIELDS, INTEGER_FIELDS, REAL_FIELDS, Metrics, Settings
from .compile import registered_lane_step, registered_reporter
from .lanes import (clear_lanes, coordinate_step, group_runs, lane_float_rows, lane_rows,
                    lanes_in, sizes, spread_shared)
from .models import TILE, ModelData, Network, batch_of_step, batches_per_epoch, epoch_order, penalty
from .numba_support import cuda_compiling_for, forget_inlined_ir
from .schedules import SCHEDULES
from .training import (Storage, kernel_name, registered_block_trainer, registered_network,
                       scratch_in, storage_bytes_per_lane, storage_columns, storage_rows)

__all__ = ["cuda_training_kernel", "CudaTrainingKernel", "DeviceMemoryError", "data_bytes",
           "bytes_per_cell", "check_device_memory", "ptx"]


class DeviceMemoryError(ValueError):
    """The data (and one cell) do not fit the device's free memory; the message says how much."""


def data_bytes(data: ModelData) -> int:
    """Device memory the training and test sets take (bytes)."""
    return sum(array.nbytes for array in (data.x_train, data.y_train, data.x_test, data.y_test))


def bytes_per_cell(rule, network: Network, data: ModelData, records: int) -> int:
    """Device memory one cell of ``rule`` takes: its inputs, its :class:`sweep.kernels.training.
    Storage` column (with a permutation of its own) and its outputs (bytes)."""
    dim = network.dim
    inputs = 8 * (dim + len(rule.names) + 3)  # x0, hyper, ids
    outputs = 8 * (dim + 3 + 3 + 3 * max(records, 1)) + 1  # final_x, metrics, curves, diverged
    order = 8  # the cell's place in the order
    return (inputs + storage_bytes_per_lane(sizes(rule), network, data.x_train.shape[0],
                                            len(SCHEDULES)) + order + outputs)


def free_memory() -> float:
    """The current device's free memory (bytes)."""
    return cuda.current_context().get_memory_info()[0]


def check_device_memory(rule, network: Network, data: ModelData, records: int,
                        free_bytes: float | None = None) -> None:
    """Raise :class:`DeviceMemoryError` unless the data and at least one cell fit
    :data:`sweep.kernels.cuda.MEMORY_FRACTION` of the device's free memory.

    ``free_bytes``: the device's free memory (default: :func:`free_memory`)."""
    if free_bytes is None:
        free_bytes = free_memory()
    usable = backend.MEMORY_FRACTION * free_bytes
    needed = data_bytes(data) + bytes_per_cell(rule, network, data, records)
    if needed > usable:
        raise DeviceMemoryError(
            f"the data set and one cell need {needed / 2**20:,.1f} MiB of device memory; "
            f"the GPU has {free_bytes / 2**20:,.1f} MiB free, of which the CUDA backend uses "
            f"{backend.MEMORY_FRACTION:.0%}: use the CPU backend, or fewer samples")


def _chunk_cells(rule, network: Network, data: ModelData, records: int,
                 free_bytes: float) -> int:
    usable = backend.MEMORY_FRACTION * free_bytes - data_bytes(data)
    fits = usable / bytes_per_cell(rule, network, data, records)
    return int(max(1, min(backend.MAX_CHUNK_CELLS, fits)))


@functools.cache
def _register(rule, network: Network) -> None:
    """Register everything a training thread calls for CUDA, once per (rule, network)."""
    backend._register_shared()
    backend.register_rule(rule)
    _, _, network_functions = registered_network(network, 1)
    for function in (*network_functions, coordinate_step(rule), *registered_lane_step(rule, 1),
                     registered_reporter(rule),
                     group_runs, spread_shared, lane_float_rows, lane_rows, lanes_in,
                     clear_lanes, storage_rows, storage_columns, scratch_in,
                     batches_per_epoch, batch_of_step, epoch_order, penalty,
                     registered_block_trainer(rule, network, 1, "cuda")):
        backend._register_once(function)


class Cells(NamedTuple):
    """The cells of one launch (n of them), cell axis first: ``x0`` (n, dim) float64,
    ``hyper`` (n, H) float64 in the rule's order, ``ids`` (n, 3) int64."""

    x0: np.ndarray
    hyper: np.ndarray
    ids: np.ndarray


@functools.cache
def _kernel_function(rule, network: Network):
    """The device kernel's plain Python function for one rule and one network shape:
    ``kernel(cells, settings, data, test_rows, storage, rows, order, out)``.

    ``cells`` a :class:`Cells` of the launch's n cells; ``settings`` the
    :class:`sweep.kernels.layout.Settings` (its box on the device); ``data`` the
    :class:`sweep.kernels.models.ModelData` on the device, its test arrays at least one row long
    (device arrays cannot be empty) of which the first ``test_rows`` are the test set;
    ``storage`` a :class:`sweep.kernels.training.Storage` of n columns, each cell its own
    permutation; ``rows`` the identity (max(n_train, n_test),); ``order`` the identity
    (n,); ``out`` the :class:`sweep.kernels.layout.Metrics` of the n cells.
    """
    _register(rule, network)
    train_block = registered_block_trainer(rule, network, 1, "cuda")
    kinds = len(SCHEDULES)
    size = sizes(rule)

    def kernel(cells, settings, data, test_rows, storage, rows, order, out):
        data = ModelData(x_train=data.x_train, y_train=data.y_train,
                         x_test=data.x_test[:test_rows], y_test=data.y_test[:test_rows],
                         l2=data.l2, batch_size=data.batch_size, eval_every=data.eval_every,
                         signs=data.signs)
        dim = cells.x0.shape[1]
        for cell in range(cuda.grid(1), cells.x0.shape[0], cuda.gridsize(1)):
            scratch = scratch_in(storage_columns(storage, cell, 1), rows, size, dim, kinds)
            train_block(cells.x0, cells.hyper, cells.ids, settings, out, order, cell, 1, data,
                        scratch)

    kernel.__qualname__ = kernel_name(rule, network, 1).replace("training", "cuda_training", 1)
    return kernel


def launch_storage(rule, network: Network, data: ModelData, cells: int, empty) -> Storage:
    """The :class:`sweep.kernels.training.Storage` of a launch of ``cells`` cells, its arrays made
    by ``empty(shape, dtype)`` (``cuda.device_array``'s arguments): what
    :func:`bytes_per_cell` counts."""
    rows = storage_rows(sizes(rule), network.dim, len(SCHEDULES))
    return Storage(
        floats=empty((rows.floats, cells), np.float64),
        integers=empty((rows.integers, cells), np.int64),
        unsigned=empty((rows.unsigned, cells), np.uint64),
        flags=empty((rows.flags, cells), np.bool_),
        activations=empty((2, network.units, TILE, cells), np.float64),
        permutations=empty((data.x_train.shape[0], cells), np.int64))


def _example_arguments(rule, network: Network) -> tuple:
    """Host arguments of the device kernel's types (small arrays), for its signature."""
    dim, columns = network.dim, len(rule.names)
    matrix, vector = np.zeros((1, 1)), np.zeros(1)
    rows = storage_rows(sizes(rule), dim, len(SCHEDULES))
    return (Cells(x0=np.zeros((1, dim)), hyper=np.zeros((1, columns)),
                  ids=np.zeros((1, 3), dtype=np.int64)),
            device_settings(Settings(steps=1, record_every=0, tol=0.0, minimum=0.0, bound=1.0,
                                     noise=0.0, warmup=0.0, step_every=1.0, step_factor=1.0,
                                     lower=np.zeros(dim), upper=np.zeros(dim),
                                     noise_scale=np.zeros(dim)), np.asarray),
            ModelData(x_train=matrix, y_train=matrix, x_test=matrix, y_test=matrix, l2=0.0,
                      batch_size=1, eval_every=1, signs=False),
            1,
            Storage(floats=np.zeros((rows.floats, 1)),
                    integers=np.zeros((rows.integers, 1), dtype=np.int64),
                    unsigned=np.zeros((rows.unsigned, 1), dtype=np.uint64),
                    flags=np.zeros((rows.flags, 1), dtype=np.bool_),
                    activations=np.zeros((2, 1, TILE, 1)),
                    permutations=np.zeros((1, 1), dtype=np.int64)),
            np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
            Metrics(final_x=matrix, final_loss=vector, best_loss=vector, steps_to_tol=vector,
                    diverged=np.zeros(1, dtype=np.bool_), trajectory=np.zeros((1, 1, 1)),
                    loss=matrix, test_loss=vector, test_error=vector, train_error=vector,
                    test_loss_curve=matrix, test_error_curve=matrix))


def kernel_signature(rule, network: Network) -> tuple:
    """The numba types of the device kernel's arguments (see :func:`_kernel_function`)."""
    from numba import typeof

    return tuple(typeof(argument) for argument in _example_arguments(rule, network))


def device_settings(settings: Settings, send) -> Settings:
    """``settings`` with its arrays sent by ``send`` and its numbers as Python's (one type
    whatever the host gave: a kernel's signature does not change with them)."""
    return Settings(
        **{name: int(getattr(settings, name)) for name in INTEGER_FIELDS},
        **{name: float(getattr(settings, name)) for name in REAL_FIELDS},
        **{name: send(np.asarray(getattr(settings, name), dtype=np.float64))
           for name in ARRAY_FIELDS})


def ptx(rule, network: Network, cc: tuple[int, int] = (9, 0)) -> str:
    """The training kernel of one rule on one network shape as PTX; no device needed."""
    backend._require_cuda()
    forget_inlined_ir()
    with cuda_compiling_for(tuple(cc)):
        text, _ = cuda.compile_ptx(_kernel_function(rule, network),
                                   kernel_signature(rule, network), cc=tuple(cc))
    return text


class CudaTrainingKernel:
    """``kernel(x0, hyper, ids, settings, out)`` of one rule training one model on the GPU,
    with the interface of :class:`sweep.kernels.training.TrainingKernel`.

    The cells run in chunks that fit the current device's free memory, one thread each;
    the results do not depend on the chunking (a cell's minibatches depend only on its
    seed and start).

    Attributes:
        rule, network, data: what the kernel trains.
    """

    def __init__(self, rule, network: Network, data: ModelData):
        self.rule, self.network, self.data = rule, network, data

    @property
    def dispatcher(self):
        return _dispatcher(self.rule, self.network)

    @property
    def signatures(self) -> list:
        """The argument types compiled so far (empty in the simulator)."""
        return list(getattr(self.dispatcher, "overloads", {}) or ())

    def __call__(self, x0, hyper, ids, settings: Settings, out: Metrics) -> None:
        cells = x0.shape[0]
        if cells == 0:
            return
        records = out.loss.shape[1]
        free = free_memory()
        check_device_memory(self.rule, self.network, self.data, records, free)
        chunk = _chunk_cells(self.rule, self.network, self.data, records, free)
        dispatcher = self.dispatcher
        if not getattr(dispatcher, "overloads", True):  # compiled at the first launch
            forget_inlined_ir()
        stream = cuda.stream()
        shared = self._shared_arguments(settings, stream)
        for start in range(0, cells, chunk):
            stop = min(cells, start + chunk)
            self._run_chunk(dispatcher, shared, x0, hyper, ids, out, start, stop, stream)

    def _shared_arguments(self, settings: Settings, stream) -> dict:
        """The settings, the data, the test rows and the identity on the device: every
        chunk's (named as the kernel's arguments)."""
        data = self.data

        def send(array, dtype=np.float64):
            return cuda.to_device(np.ascontiguousarray(array, dtype=dtype), stream=stream)

        test_rows = data.x_test.shape[0]
        # No zero-size device arrays: without a test set, one row of zeros the kernel never
        # reads (it slices the test arrays to test_rows).
        x_test = data.x_test if test_rows else np.zeros((1, data.x_test.shape[1]))
        y_test = data.y_test if test_rows else np.zeros((1, data.y_test.shape[1]))
        return dict(
            settings=device_settings(settings, send),
            data=ModelData(x_train=send(data.x_train), y_train=send(data.y_train),
                           x_test=send(x_test), y_test=send(y_test), l2=float(data.l2),
                           batch_size=int(data.batch_size), eval_every=int(data.eval_every),
                           signs=bool(data.signs)),
            test_rows=int(test_rows),
            rows=send(np.arange(max(data.x_train.shape[0], test_rows)), np.int64))

    def _run_chunk(self, dispatcher, shared: dict, x0, hyper, ids, out: Metrics, start: int,
                   stop: int, stream) -> None:
        n, dim = stop - start, x0.shape[1]
        records = out.loss.shape[1]

        def send(array, dtype=np.float64):
            return cuda.to_device(np.ascontiguousarray(array, dtype=dtype), stream=stream)

        def empty(shape, dtype=np.float64):
            return cuda.device_array(shape, dtype=dtype, stream=stream)

        def curve(array):  # recorded entries a cell never reaches keep their value
            return send(array[start:stop] if records else np.full((n, 1), np.nan))

        device_out = Metrics(
            final_x=empty((n, dim)), final_loss=empty(n), best_loss=empty(n),
            steps_to_tol=empty(n), diverged=empty(n, np.bool_),
            trajectory=empty((1, 1, 1)),  # models record no θ
            loss=curve(out.loss), test_loss=empty(n), test_error=empty(n),
            train_error=empty(n), test_loss_curve=curve(out.test_loss_curve),
            test_error_curve=curve(out.test_error_curve))
        storage = launch_storage(self.rule, self.network, self.data, n, empty)
        blocks, threads = backend._launch_shape(n)
        dispatcher[blocks, threads, stream](
            Cells(x0=send(x0[start:stop]), hyper=send(hyper[start:stop]),
                  ids=send(ids[start:stop], np.int64)),
            shared["settings"], shared["data"], shared["test_rows"], storage, shared["rows"],
            send(np.arange(n), np.int64), device_out)
        host = {name: getattr(device_out, name).copy_to_host(stream=stream)
                for name in Metrics._fields if name != "trajectory"}
        stream.synchronize()
        for name in ("final_x", "final_loss", "best_loss", "steps_to_tol", "diverged",
                     "test_loss", "test_error", "train_error"):
            getattr(out, name)[start:stop] = host[name]
        if records:
            for name in ("loss", "test_loss_curve", "test_error_curve"):
                getattr(out, name)[start:stop] = host[name]


@functools.cache
def _dispatcher(rule, network: Network):
    """One ``cuda.jit`` dispatcher per (rule, network shape): every kernel object of them
    (one per block, as :func:`sweep.kernels.training.training_kernel`'s) shares its compilation."""
    return cuda.jit(_kernel_function(rule, network))


def cuda_training_kernel(rule, network: Network, data: ModelData) -> CudaTrainingKernel:
    """The CUDA training kernel of ``rule`` on ``network`` and ``data`` (compiled at the
    first call, for the device at hand).

    Raises:
        sweep.kernels.cuda.CudaUnavailableError: numba-cuda is not installed.
    """
    backend._require_cuda()
    _register(rule, network)
    return CudaTrainingKernel(rule, network, data)
