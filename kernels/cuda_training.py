"""Models on the CUDA backend: one thread per cell, each running the training kernel's block.

Nothing about a training step is written here. Each thread runs
:func:`kernels.training.block_trainer`'s ``train_block`` with one lane, the
function the CPU's training kernel runs for its lane blocks (and its reference,
one lane, runs for every cell), with the network functions, the lane step and
the minibatch order registered for the CUDA target as :mod:`kernels.cuda` does
for the built-in objectives. The data are kernel arguments, so they live in the
device's global memory (digits does not fit the 64 KiB of constant memory).

A thread's θ, ∇f, state, activations and epoch permutation are its column of
device arrays whose cell axis is last (warp neighbours' accesses coalesce); its
per-lane scalars are local arrays of length one. The inputs and outputs keep the
CPU kernel's layout, cell axis first: they are read and written once per cell.

Bits: in numba-cuda's simulator the thread's Python runs with CPython's libm and
gives the CPU kernel's bits (``tests/test_cuda.py``). On a GPU NVVM contracts
``a * b + c`` into FMAs and libdevice's ``log`` is not glibc's: the last bits of a
step may move (see :mod:`kernels.cuda`); not measured on a GPU here.
"""
from __future__ import annotations

import functools

import numpy as np

from . import cuda as backend
from .cuda import cuda  # a module global: numba-cuda's simulator swaps it in kernels' globals
from .layout import Metrics, Settings, pack_settings, unpack_settings
from .compile import registered_lane_step, registered_reporter
from .lanes import Lanes, coordinate_step, group_runs, sizes, spread_shared
from .models import TILE, ModelData, Network, batch_of_step, batches_per_epoch, epoch_order, penalty
from .numba_support import cuda_compiling_for, forget_inlined_ir
from .schedules import SCHEDULES
from .training import Scratch, kernel_name, registered_block_trainer, registered_network

__all__ = ["cuda_training_kernel", "CudaTrainingKernel", "DeviceMemoryError", "data_bytes",
           "bytes_per_cell", "check_device_memory", "ptx"]

ACTS, DELTAS = range(2)  # activations: (2, units, TILE, cells)
L2 = 0  # data_reals
BATCH_SIZE, EVAL_EVERY, SIGNS, TEST_ROWS = range(4)  # data_integers


class DeviceMemoryError(ValueError):
    """The data (and one cell) do not fit the device's free memory; the message says how much."""


def data_bytes(data: ModelData) -> int:
    """Device memory the training and test sets take (bytes)."""
    return sum(array.nbytes for array in (data.x_train, data.y_train, data.x_test, data.y_test))


def bytes_per_cell(network: Network, data: ModelData, records: int, columns: int = 4,
                   states: int = 3) -> int:
    """Device memory one cell takes: inputs, scratch (θ, ∇f, the rule's ``states`` state
    values, activations, its epoch permutation) and outputs (bytes), for a rule of
    ``columns`` hyperparameters."""
    dim = network.dim
    words = (dim + columns + 3        # x0, hyper, ids
             + (4 + states) * dim     # work
             + 2 * network.units * TILE  # activations and output errors
             + data.x_train.shape[0]  # the epoch's permutation (int64)
             + 1                      # its place in the order
             + dim + 3 + 3            # final_x, the losses and steps, the data metrics
             + 3 * max(records, 1))   # loss and test curves
    return 8 * words + 1              # + diverged


def free_memory() -> float:
    """The current device's free memory (bytes)."""
    return cuda.current_context().get_memory_info()[0]


def check_device_memory(network: Network, data: ModelData, records: int,
                        free_bytes: float | None = None) -> None:
    """Raise :class:`DeviceMemoryError` unless the data and at least one cell fit
    :data:`kernels.cuda.MEMORY_FRACTION` of the device's free memory.

    ``free_bytes``: the device's free memory (default: :func:`free_memory`)."""
    if free_bytes is None:
        free_bytes = free_memory()
    usable = backend.MEMORY_FRACTION * free_bytes
    needed = data_bytes(data) + bytes_per_cell(network, data, records)
    if needed > usable:
        raise DeviceMemoryError(
            f"the data set and one cell need {needed / 2**20:,.1f} MiB of device memory; "
            f"the GPU has {free_bytes / 2**20:,.1f} MiB free, of which the CUDA backend uses "
            f"{backend.MEMORY_FRACTION:.0%}: use the CPU backend, or fewer samples")


def _chunk_cells(network: Network, data: ModelData, records: int, free_bytes: float) -> int:
    usable = backend.MEMORY_FRACTION * free_bytes - data_bytes(data)
    fits = usable / bytes_per_cell(network, data, records)
    return int(max(1, min(backend.MAX_CHUNK_CELLS, fits)))


@functools.cache
def _register(rule, network: Network) -> None:
    """Register everything a training thread calls for CUDA, once per (rule, network)."""
    backend._register_shared()
    backend.register_rule(rule)
    _, _, network_functions = registered_network(network, 1)
    for function in (*network_functions, coordinate_step(rule), *registered_lane_step(rule, 1),
                     registered_reporter(rule),
                     group_runs, spread_shared,
                     batches_per_epoch, batch_of_step, epoch_order, penalty,
                     registered_block_trainer(rule, network, 1)):
        backend._register_once(function)


@functools.cache
def _kernel_function(rule, network: Network):
    """The device kernel's plain Python function for one rule and one network shape.

    Arguments (n cells in this launch): x0 (n, dim), hyper (n, 4), ids (n, 3) int64;
    the settings as :func:`kernels.layout.pack_settings`'s arrays; the data's arrays,
    ``data_reals`` (λ,) and ``data_integers`` (batch size, eval_every, signs, test rows:
    the test arrays have at least one, as device arrays must); scratch
    ``work`` ((4 + S)·dim, n) (θ, ∇f, the reported point, the gradient there, the rule's
    S state values), ``activations`` (2, units, TILE, n), ``permutations``
    (n_train, n) int64, ``rows`` the identity (max(n_train, n_test),), ``cells`` the
    identity (n,); then the :class:`kernels.layout.Metrics` fields, cells first.
    """
    from numba.cuda import types

    _register(rule, network)
    train_block = registered_block_trainer(rule, network, 1)
    kinds = len(SCHEDULES)
    size = sizes(rule)
    hyper_rows, group_rows, carry_rows, shared_rows = size.hyper, size.group, size.carry, size.shared

    def kernel(x0, hyper, ids, integers, reals, box, x_train, y_train, x_test, y_test,
               data_reals, data_integers, work, activations, permutations, rows, cells,
               final_x, final_loss, best_loss, steps_to_tol, diverged, trajectory, loss,
               test_loss, test_error, train_error, test_loss_curve, test_error_curve):
        settings = unpack_settings(integers, reals, box)
        test_rows = data_integers[TEST_ROWS]
        data = ModelData(x_train=x_train, y_train=y_train, x_test=x_test[:test_rows],
                         y_test=y_test[:test_rows],
                         l2=data_reals[L2], batch_size=data_integers[BATCH_SIZE],
                         eval_every=data_integers[EVAL_EVERY],
                         signs=data_integers[SIGNS] != 0)
        out = Metrics(final_x=final_x, final_loss=final_loss, best_loss=best_loss,
                      steps_to_tol=steps_to_tol, diverged=diverged, trajectory=trajectory,
                      loss=loss, test_loss=test_loss, test_error=test_error,
                      train_error=train_error, test_loss_curve=test_loss_curve,
                      test_error_curve=test_error_curve)
        for cell in range(cuda.grid(1), x0.shape[0], cuda.gridsize(1)):
            dim = x0.shape[1]
            scales = cuda.local.array(kinds, types.float64)
            for kind in range(kinds):
                scales[kind] = 1.0
            lane_shared = cuda.local.array((shared_rows, 1), types.float64)
            for j in range(shared_rows):
                lane_shared[j, 0] = 0.0
            lanes = Lanes(
                theta=work[0:dim, cell:cell + 1], grad=work[dim:2 * dim, cell:cell + 1],
                point=work[2 * dim:3 * dim, cell:cell + 1],
                spare=work[3 * dim:4 * dim, cell:cell + 1],
                states=work[4 * dim:, cell:cell + 1],
                hyper=cuda.local.array((hyper_rows, 1), types.float64),
                alpha_t=cuda.local.array(1, types.float64),
                value=cuda.local.array(1, types.float64),
                best=cuda.local.array(1, types.float64),
                reached=cuda.local.array(1, types.float64),
                alive=cuda.local.array(1, types.boolean),
                schedule=cuda.local.array(1, types.int64),
                seed=cuda.local.array(1, types.int64),
                start=cuda.local.array(1, types.int64),
                group=cuda.local.array(1, types.int64),
                group_rows=cuda.local.array((group_rows, 1), types.float64),
                group_carry=cuda.local.array((carry_rows, 1), types.float64),
                group_shared=cuda.local.array((shared_rows, 1), types.float64),
                lane_shared=lane_shared,
                run_start=cuda.local.array(1, types.uint64),
                run_end=cuda.local.array(1, types.uint64),
                run_group=cuda.local.array(1, types.int64),
                scales=scales, scheduled=cuda.local.array(kinds, types.boolean))
            scratch = Scratch(
                lanes=lanes, acts=activations[ACTS, :, :, cell:cell + 1],
                deltas=activations[DELTAS, :, :, cell:cell + 1],
                permutation=permutations[:, cell], rows=rows,
                train_loss=cuda.local.array(1, types.float64),
                train_error=cuda.local.array(1, types.float64),
                test_loss=cuda.local.array(1, types.float64),
                test_error=cuda.local.array(1, types.float64))
            train_block(x0, hyper, ids, settings, out, cells, cell, 1, data, scratch)

    kernel.__qualname__ = kernel_name(rule, network, 1).replace("training", "cuda_training", 1)
    return kernel


def kernel_signature():
    """The numba types of the device kernel's arguments (see :func:`_kernel_function`)."""
    from numba.cuda import types

    vector, matrix = types.float64[::1], types.float64[:, ::1]
    return (matrix, matrix, types.int64[:, ::1],  # x0, hyper, ids
            types.int64[::1], vector, matrix,  # settings
            matrix, matrix, matrix, matrix, vector, types.int64[::1],  # data
            matrix, types.float64[:, :, :, ::1], types.int64[:, ::1],
            types.int64[::1], types.int64[::1],  # scratch, rows, cells
            matrix, vector, vector, vector, types.boolean[::1], types.float64[:, :, ::1],
            matrix, vector, vector, vector, matrix, matrix)  # Metrics


def ptx(rule, network: Network, cc: tuple[int, int] = (9, 0)) -> str:
    """The training kernel of one rule on one network shape as PTX; no device needed."""
    backend._require_cuda()
    forget_inlined_ir()
    with cuda_compiling_for(tuple(cc)):
        text, _ = cuda.compile_ptx(_kernel_function(rule, network), kernel_signature(),
                                           cc=tuple(cc))
    return text


class CudaTrainingKernel:
    """``kernel(x0, hyper, ids, settings, out)`` of one rule training one model on the GPU,
    with the interface of :class:`kernels.training.TrainingKernel`.

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
        check_device_memory(self.network, self.data, records, free)
        chunk = _chunk_cells(self.network, self.data, records, free)
        dispatcher = self.dispatcher
        if not getattr(dispatcher, "overloads", True):  # compiled at the first launch
            forget_inlined_ir()
        stream = cuda.stream()
        shared = self._shared_arrays(settings, stream)
        for start in range(0, cells, chunk):
            stop = min(cells, start + chunk)
            self._run_chunk(dispatcher, shared, x0, hyper, ids, out, start, stop, stream)

    def _shared_arrays(self, settings: Settings, stream) -> tuple:
        """The settings and the data on the device: every chunk's."""
        data = self.data

        def send(array, dtype=np.float64):
            return cuda.to_device(np.ascontiguousarray(array, dtype=dtype), stream=stream)

        integers, reals, box = pack_settings(settings)
        test_rows = data.x_test.shape[0]
        # No zero-size device arrays: without a test set, one row of zeros the kernel never
        # reads (it slices the test arrays to test_rows).
        x_test = data.x_test if test_rows else np.zeros((1, data.x_test.shape[1]))
        y_test = data.y_test if test_rows else np.zeros((1, data.y_test.shape[1]))
        rows = max(data.x_train.shape[0], test_rows)
        return (send(integers, np.int64), send(reals), send(box), send(data.x_train),
                send(data.y_train), send(x_test), send(y_test), send([data.l2]),
                send([data.batch_size, data.eval_every, int(data.signs), test_rows], np.int64),
                send(np.arange(rows), np.int64))

    def _run_chunk(self, dispatcher, shared, x0, hyper, ids, out: Metrics, start: int,
                   stop: int, stream) -> None:
        (integers, reals, box, x_train, y_train, x_test, y_test, data_reals, data_integers,
         rows) = shared
        n, dim = stop - start, x0.shape[1]
        records = out.loss.shape[1]

        def send(array, dtype=np.float64):
            return cuda.to_device(np.ascontiguousarray(array, dtype=dtype), stream=stream)

        def curve(array):  # recorded entries a cell never reaches keep their value
            return send(array[start:stop] if records else np.full((n, 1), np.nan))

        outputs = (cuda.device_array((n, dim), stream=stream),
                   cuda.device_array(n, stream=stream), cuda.device_array(n, stream=stream),
                   cuda.device_array(n, stream=stream),
                   cuda.device_array(n, dtype=np.bool_, stream=stream),
                   cuda.device_array((1, 1, 1), stream=stream),  # models record no θ
                   curve(out.loss), cuda.device_array(n, stream=stream),
                   cuda.device_array(n, stream=stream), cuda.device_array(n, stream=stream),
                   curve(out.test_loss_curve), curve(out.test_error_curve))
        scratch = (cuda.device_array(((4 + sizes(self.rule).states) * dim, n), stream=stream),
                   cuda.device_array((2, self.network.units, TILE, n), stream=stream),
                   cuda.device_array((self.data.x_train.shape[0], n), dtype=np.int64,
                                     stream=stream),
                   rows, send(np.arange(n), np.int64))
        blocks, threads = backend._launch_shape(n)
        dispatcher[blocks, threads, stream](
            send(x0[start:stop]), send(hyper[start:stop]), send(ids[start:stop], np.int64),
            integers, reals, box, x_train, y_train, x_test, y_test, data_reals, data_integers,
            *scratch, *outputs)
        (final_x, final_loss, best_loss, steps_to_tol, diverged, _, loss, test_loss,
         test_error, train_error, test_loss_curve, test_error_curve) = (
            array.copy_to_host(stream=stream) for array in outputs)
        stream.synchronize()
        out.final_x[start:stop] = final_x
        out.final_loss[start:stop] = final_loss
        out.best_loss[start:stop] = best_loss
        out.steps_to_tol[start:stop] = steps_to_tol
        out.diverged[start:stop] = diverged
        out.test_loss[start:stop] = test_loss
        out.test_error[start:stop] = test_error
        out.train_error[start:stop] = train_error
        if records:
            out.loss[start:stop] = loss
            out.test_loss_curve[start:stop] = test_loss_curve
            out.test_error_curve[start:stop] = test_error_curve


@functools.cache
def _dispatcher(rule, network: Network):
    """One ``cuda.jit`` dispatcher per (rule, network shape): every kernel object of them
    (one per block, as :func:`kernels.training.training_kernel`'s) shares its compilation."""
    return cuda.jit(_kernel_function(rule, network))


def cuda_training_kernel(rule, network: Network, data: ModelData) -> CudaTrainingKernel:
    """The CUDA training kernel of ``rule`` on ``network`` and ``data`` (compiled at the
    first call, for the device at hand).

    Raises:
        kernels.cuda.CudaUnavailableError: numba-cuda is not installed.
    """
    backend._require_cuda()
    _register(rule, network)
    return CudaTrainingKernel(rule, network, data)
