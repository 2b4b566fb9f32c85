"""CUDA kernels built from the same plain-Python rules, objectives, generator and schedules.

The GPU counterpart of :func:`sweep.kernels.compile.cpu_kernel`, with exactly its
interface and semantics (:mod:`sweep.kernels.layout`): :func:`cuda_kernel` returns a
host callable ``kernel(x0, hyper, ids, settings, out)`` that copies the cells
to the device(s), runs one CUDA thread per cell and fills ``out`` in place.
Nothing about a step is written here: each thread runs
:func:`sweep.kernels.step.cell_runner`, the same plain-Python function the simple
CPU kernel runs, with the rules, objectives, generator and schedules it calls
registered below for the CUDA target as they are for the CPU in
:mod:`sweep.kernels.compile`.

How the shared functions reach CUDA
-----------------------------------
numba-cuda keeps its own typing registry: a ``numba.extending.register_jitable``
(CPU) is not visible to CUDA kernels. :func:`_register_shared` therefore
registers the very same function objects, listed once in
:data:`sweep.kernels.compile.INLINED_FUNCTIONS` and
:data:`sweep.kernels.compile.CALLED_FUNCTIONS`, with ``numba.cuda.extending.
register_jitable`` (an ``overload`` with ``target="cuda"``): each becomes a
device function, which NVVM inlines. ``maths.sqrt`` gets a CUDA overload
lowering to ``math.sqrt`` (libdevice ``sqrt``, correctly rounded: the same
bits as the CPU's ``llvm.sqrt``). An objective is registered when a kernel is
first built for it. Arrays an objective closes over (the quadratic's
eigenvalues, the logistic data) are frozen into the module as ``.const``
arrays, one copy per place the source reads them: they must fit the 64 KiB of
constant memory (checked by :func:`constant_bytes`; a larger one raises
``NotImplementedError``).

Compiling without a GPU
-----------------------
numba-cuda (0.30) compiles every device function a kernel calls -- whether
made by ``cuda.jit(device=True)``, ``overload(target="cuda")`` or
``register_jitable`` -- through ``CUDADispatcher.compile_device``, which asks
the *current device* for its compute capability, so ``cuda.compile_ptx`` of
any kernel that calls a function needs a driver. :func:`ptx` supplies the
requested compute capability instead, for the duration of the compilation
only and only when no device is present
(:func:`sweep.kernels.numba_support.cuda_compiling_for`).

Layout
------
For up to :data:`LOCAL_DIM_MAX` coordinates, a thread's θ, ∇f and three state
arrays are ``cuda.local.array``s of the problem's dimension, fixed when the
kernel is compiled (one kernel per dimension): registers, or the thread's own
local memory. Beyond that they live in one device array ``work`` of shape
(5, dim, cells), cell axis last, so that warp neighbours' accesses are
coalesced and any dimension works. Inputs and outputs are laid out cell axis
last too (transposed on the host): ``x0`` (dim, n), ``hyper`` (4, n), ``ids``
(3, n), with the rows of :mod:`sweep.kernels.layout`'s columns; the settings travel as
:func:`sweep.kernels.layout.pack_settings`'s three arrays.

How close to the CPU
--------------------
In numba-cuda's simulator the kernel's Python runs with CPython's libm and
gives :func:`~sweep.kernels.compile.cpu_kernel`'s bits (``tests/test_cuda.py``).
On a GPU two things may move the last bits of a step: libdevice's ``log``,
``cos``, ``exp``, ``pow`` (noise, schedules, nadam, some objectives) are not
glibc's, and NVVM contracts ``a * b + c`` into FMAs by default (the PTX has
``fma.rn.f64``; numba-cuda 0.30 offers no switch for NVVM's ``-fma=0``).
Both are ulp-level; the contract is 1e-12 relative over short runs, not
bit identity, and has not been measured on a GPU here.
"""
from __future__ import annotations

import dis
import functools
import importlib.util
import math
import re

import numpy as np

from . import elementary, maths, precision
from .compile import CALLED_FUNCTIONS, INLINED_FUNCTIONS, cache_name, rule_functions, uses_key
from .layout import (SCHEDULE, SEED, START, Metrics, Settings, empty_metrics, pack_settings,
                     unpack_settings)
from .numba_support import cuda_compiling_for, forget_inlined_ir
from .step import cell_runner, results

INSTALL_HINT = "pip install 'optimizer-sweep[gpu]'"

if importlib.util.find_spec("numba_cuda") is not None:
    from numba import cuda
else:  # the gpu extra is missing; numba's own numba.cuda is deprecated and not used
    cuda = None

# --- tunables (module attributes, so tests and the orchestration may patch them) ---
# Threads per CUDA thread block. 128 keeps several thread blocks resident per SM
# for a kernel with many live registers (the rules' float64 state); a multiple of 32.
THREADS_PER_BLOCK = 128
# CUDA thread blocks per launch at most; the kernel's grid-stride loop covers the rest.
MAX_BLOCKS = 1 << 16
# Share of a device's free memory one device chunk of cells may use.
MEMORY_FRACTION = 0.5
# Cells per device chunk at most (the simulator reports infinite free memory).
MAX_CHUNK_CELLS = 1 << 22
# Constant memory of every CUDA device since sm_20 (where captured arrays go).
CONSTANT_MEMORY_BYTES = 64 * 1024
# Up to this many coordinates, a thread's θ and state are local arrays (registers).
LOCAL_DIM_MAX = 8

# Rows of the device arrays (the cell index is always the last axis).
FINAL_LOSS, BEST_LOSS, STEPS_TO_TOL = range(3)  # outcome: (3, cells)


class CudaUnavailableError(RuntimeError):
    """numba-cuda is missing or finds no usable device; the message says what to do."""


def device_status() -> tuple[bool, str]:
    """Whether CUDA kernels can run here, and if not one sentence saying what is missing.

    Returns:
        ``(True, "N CUDA device(s): name, ...")`` or ``(False, reason)``.
    """
    if cuda is None:
        return False, f"The CUDA backend needs numba-cuda, which is not installed: {INSTALL_HINT}."
    try:
        if not cuda.is_available():
            return False, ("No CUDA device found: numba-cuda is installed but the NVIDIA driver "
                           "or a GPU is missing.")
        names = [_device_name(index, device) for index, device in enumerate(cuda.gpus)]
    except Exception as error:  # a broken driver install: say what numba-cuda says
        first = next((line for line in str(error).splitlines() if line.strip(" :")), str(error))
        return False, f"No usable CUDA device found: {first.strip()}"
    if not names:
        return False, "No CUDA device found."
    return True, f"{len(names)} CUDA device(s): {', '.join(names)}"


def _device_name(index: int, device) -> str:
    name = getattr(device, "name", None) or f"device {index}"
    return name.decode() if isinstance(name, bytes) else str(name)


def _require_cuda() -> None:
    if cuda is None:
        raise CudaUnavailableError(device_status()[1])


# --- registration of the shared plain-Python functions for the CUDA target ---


_CUDA_REGISTERED: set = set()


@functools.cache
def _register_shared() -> None:
    """Register the rules, objectives, generator and schedules for CUDA, once per process."""
    from numba.cuda.extending import overload, register_jitable

    @overload(maths.sqrt, target="cuda")
    def _sqrt_cuda(x):
        return lambda x: math.sqrt(x)

    # The CPU's are LLVM bitcasts and llvm.floor (sweep.kernels.numba_support); libdevice
    # has the same operations.
    from numba.cuda import libdevice

    def calling(device_function):
        def typer(value):
            return lambda value: device_function(value)
        return typer

    for function, device_function in ((elementary.float_from_bits, libdevice.longlong_as_double),
                                      (elementary.bits_of_float, libdevice.double_as_longlong),
                                      (maths.floor, libdevice.floor)):
        overload(function, target="cuda")(calling(device_function))

    # Not inlined in numba's IR (the CPU does it for LLVM's vectorizer): NVVM
    # inlines these small device functions anyway (the PTX has no call to
    # them), and each is then typed once per process, not once per kernel,
    # which takes a third off the compile time of a kernel.
    for function in (*INLINED_FUNCTIONS, *CALLED_FUNCTIONS, unpack_settings):
        register_jitable(function)
        _CUDA_REGISTERED.add(function)
    # float32 hook: the arithmetic helpers float32 twins call (see sweep.kernels.precision).
    precision.register_helpers(overload, target="cuda", inline="always")


def _register_twins(made) -> None:
    """float32 hook: register the twins (and casts) a float32 kernel calls, once."""
    from numba.cuda.extending import register_jitable

    _register_shared()
    for function in precision.reachable(made)[:-1]:  # the last is the kernel itself
        if function not in _CUDA_REGISTERED:
            register_jitable(function)
            _CUDA_REGISTERED.add(function)


def _register_once(function) -> None:
    """Make a plain function (an objective, a kernel's per-cell runner) callable from CUDA
    kernels, once."""
    from numba.cuda.extending import register_jitable

    _register_shared()
    if function not in _CUDA_REGISTERED:
        register_jitable(function)
        _CUDA_REGISTERED.add(function)


@functools.cache
def register_rule(rule) -> None:
    """Make ``rule``'s functions and the glue its declaration implies callable from CUDA
    kernels, once per process."""
    from . import rules

    inlined, called = rule_functions(rule)
    for function in (*inlined, *called, rules.nothing_shared):
        _register_once(function)


def constant_bytes(value_and_grad) -> int:
    """Bytes of constant memory an objective's captured arrays take in a CUDA kernel.

    numba-cuda freezes each array a function reads from its closure or its
    module into a ``.const`` array, one copy per place the source loads it;
    this counts those loads in the bytecode (a loop body counts once).
    """
    code = value_and_grad.__code__
    arrays = {}
    for name, cell in zip(code.co_freevars, value_and_grad.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, np.ndarray):
            arrays[name] = value.nbytes
    for name in code.co_names:
        value = value_and_grad.__globals__.get(name)
        if isinstance(value, np.ndarray):
            arrays[name] = value.nbytes
    loads = [instruction.argval for instruction in dis.get_instructions(code)
             if instruction.opname in ("LOAD_DEREF", "LOAD_GLOBAL", "LOAD_CLOSURE")]
    return sum(arrays[name] for name in loads if name in arrays)


def _check_constant_memory(value_and_grad) -> None:
    needed = constant_bytes(value_and_grad)
    if needed > CONSTANT_MEMORY_BYTES:
        name = getattr(value_and_grad, "__qualname__", repr(value_and_grad))
        raise NotImplementedError(
            f"The objective {name!r} captures {needed:,} bytes of arrays, more than the "
            f"{CONSTANT_MEMORY_BYTES // 1024} KiB of CUDA constant memory where numba-cuda puts "
            "them: use a smaller objective (e.g. a quadratic of lower dim) or the CPU backend.")


# --- the device kernel ---


def local_dim(dim: int) -> int | None:
    """The compile-time length of a thread's local θ and state arrays for problems of
    ``dim`` coordinates, or None where they live in the global ``work`` array."""
    return dim if 1 <= dim <= LOCAL_DIM_MAX else None


@functools.cache
def _kernel_function(rule, value_and_grad, dtype: str = "float64", local: int | None = None):
    """The kernel's plain Python function, closed over one rule and one objective.

    ``cuda.jit`` compiles it for the device at hand (:func:`cuda_kernel`),
    ``cuda.compile_ptx`` for any compute capability (:func:`ptx`); the
    simulator runs it as Python. Arguments (n cells in this launch, cell axis last):

    * x0 (dim, n), hyper (H, n) (the rule's hyperparameters), ids (3, n) int64 (rows:
      :mod:`sweep.kernels.layout`'s columns);
    * integers, reals, box: :func:`sweep.kernels.layout.pack_settings` of the settings;
    * work ((4 + S)·dim, n) scratch for θ, ∇f, the reported point and the gradient there,
      and the rule's S state values
      (unused when ``local`` is a length: then they are local arrays of it);
    * outputs final_x (dim, n), outcome (3, n) (final loss, best loss,
      steps to tol), diverged (n,) bool, trajectory (r, dim, n), loss (r, n).

    Each thread runs cells ``cuda.grid(1)``, ``+ cuda.gridsize(1)``, … through
    :func:`sweep.kernels.step.cell_runner`, as :func:`sweep.kernels.compile.cpu_kernel` does.
    With ``dtype="float32"`` every float array above is float32 and the
    function is the float32 twin of this one (:mod:`sweep.kernels.precision`).
    """
    from numba.cuda import types

    register_rule(rule)
    run_cell = cell_runner(rule, value_and_grad, uses_key(value_and_grad))
    run_cell.__qualname__ = cache_name("cell", rule, value_and_grad)  # one name per kernel
    registers = local is not None
    length = local if registers else 1
    real = getattr(types, precision.check_dtype(dtype))

    state_rows = state_rows_of(rule)
    state_shape = (state_rows * length, 1)  # a constant tuple: cuda.local.array's shape
    # The cell's hyperparameters in a local array: read at every step, they would otherwise
    # be loads from global memory each time.
    hyper_shape = (len(rule.names), 1)

    def kernel(x0, hyper, ids, integers, reals, box, work, final_x, outcome, diverged,
               trajectory, loss):
        settings = unpack_settings(integers, reals, box)
        cells = x0.shape[1]
        dim = length if registers else x0.shape[0]  # a constant: loops unrolled, θ in registers
        for cell in range(cuda.grid(1), cells, cuda.gridsize(1)):
            if registers:
                theta = cuda.local.array(length, real)
                grad = cuda.local.array(length, real)
                point = cuda.local.array(length, real)
                spare = cuda.local.array(length, real)
                states = cuda.local.array(state_shape, real)
            else:
                theta = work[0:dim, cell]
                grad = work[dim:2 * dim, cell]
                point = work[2 * dim:3 * dim, cell]
                spare = work[3 * dim:4 * dim, cell]
                states = work[4 * dim:, cell:cell + 1]
            for i in range(dim):
                theta[i] = x0[i, cell]
            cell_hyper = cuda.local.array(hyper_shape, real)
            for column in range(hyper_shape[0]):
                cell_hyper[column, 0] = hyper[column, cell]
            alive, value, best, reached = run_cell(
                theta, grad, point, spare, states, cell_hyper, ids[SEED, cell], ids[START, cell],
                ids[SCHEDULE, cell], settings, trajectory[:, :, cell], loss[:, cell])
            (diverged[cell], outcome[FINAL_LOSS, cell], outcome[BEST_LOSS, cell],
             outcome[STEPS_TO_TOL, cell]) = results(alive, value, best, reached)
            for i in range(dim):
                final_x[i, cell] = point[i] if alive else math.nan

    if precision.check_dtype(dtype) == "float64":
        _register_once(run_cell)
        return kernel
    made = precision.twin(kernel, dtype)  # float32 hook: the same source, retyped
    _register_twins(made)
    return made


def state_rows_of(rule) -> int:
    """State values a thread keeps per coordinate (at least one row: no empty arrays)."""
    return max(1, len(rule.state))


def kernel_signature(dtype: str = "float64"):
    """The numba types of the device kernel's arguments (see :func:`_kernel_function`)."""
    from numba.cuda import types

    real = getattr(types, precision.check_dtype(dtype))  # float32 hook
    matrix = real[:, ::1]
    return (matrix, matrix, types.int64[:, ::1], types.int64[::1], real[::1], matrix,
            matrix, matrix, matrix, types.boolean[::1], real[:, :, ::1], matrix)


def ptx(rule, value_and_grad, cc: tuple[int, int] = (9, 0), dtype: str = "float64",
        dim: int | None = None) -> str:
    """The kernel of one rule on one objective as PTX for compute capability ``cc``; no device needed.

    ``dim``: the problem's dimension, for the local-array kernel of small
    problems (:func:`local_dim`); None compiles the kernel that keeps θ in ``work``.

    Raises:
        NotImplementedError: the objective's captured arrays exceed the 64 KiB
            of constant memory (counted exactly in the PTX).
    """
    _require_cuda()
    _register_once(value_and_grad)
    forget_inlined_ir()
    local = None if dim is None else local_dim(dim)
    with cuda_compiling_for(tuple(cc)):
        text, _ = cuda.compile_ptx(_kernel_function(rule, value_and_grad, dtype, local),
                                   kernel_signature(dtype), cc=tuple(cc))
    used = ptx_constant_bytes(text)
    if used > CONSTANT_MEMORY_BYTES:
        raise NotImplementedError(f"the kernel needs {used:,} bytes of constant memory, more "
                                  f"than {CONSTANT_MEMORY_BYTES:,}")
    return text


_CONSTANT_ARRAY = re.compile(r"^\.const\s.*?\[(\d+)\]", re.MULTILINE)


def ptx_constant_bytes(text: str) -> int:
    """Bytes of ``.const`` data a PTX module declares."""
    return sum(int(size) for size in _CONSTANT_ARRAY.findall(text))


# --- chunks of cells over the devices ---


def device_bytes_per_cell(dim: int, records: int, columns: int = 4, states: int = 3) -> int:
    """Device memory one cell takes: inputs, work arrays and outputs (bytes), for a rule
    of ``columns`` hyperparameters and ``states`` state values."""
    floats = (dim + columns + 3    # x0, hyper, ids (int64, same size)
              + (4 + states) * dim  # work
              + dim + 3            # final_x, results
              + records * (dim + 1))  # trajectory, loss
    return 8 * floats + 1          # + diverged


def chunk_cells(free_bytes: float, dim: int, records: int, columns: int = 4,
                states: int = 3) -> int:
    """Cells per chunk on a device with ``free_bytes`` free: ≥ 1 and ≤ :data:`MAX_CHUNK_CELLS`."""
    fits = MEMORY_FRACTION * free_bytes / device_bytes_per_cell(dim, records, columns, states)
    return int(max(1, min(MAX_CHUNK_CELLS, fits)))


def plan_chunks(cells: int, capacities: list[int]) -> list[list[tuple[int, int, int]]]:
    """Split ``cells`` into waves of chunks, one chunk per device per wave.

    Args:
        cells: number of cells.
        capacities: the most cells one chunk may hold, per device.

    Returns:
        waves, each a list of ``(device, start, stop)``; the chunks are
        consecutive and cover ``range(cells)`` once.
    """
    waves = []
    start = 0
    while start < cells:
        wave = []
        for device, capacity in enumerate(capacities):
            if start >= cells:
                break
            stop = min(cells, start + capacity)
            wave.append((device, start, stop))
            start = stop
        waves.append(wave)
    return waves


def _launch_shape(cells: int) -> tuple[int, int]:
    """(blocks, threads per block) for ``cells`` cells; the grid-stride loop covers any excess."""
    threads = THREADS_PER_BLOCK
    return max(1, min(MAX_BLOCKS, -(-cells // threads))), threads


def _launch(device_kernel, x0, hyper, ids, settings: Settings, out: Metrics, start: int,
            stop: int, stream, work_rows: int):
    """Copy cells ``start:stop`` in, launch on ``stream``; returns the device outputs."""
    inputs, outputs = _to_device(x0, hyper, ids, settings, out, start, stop, stream, work_rows)
    blocks, threads = _launch_shape(stop - start)
    device_kernel[blocks, threads, stream](*inputs, *outputs)
    return outputs


def _to_device(x0, hyper, ids, settings: Settings, out: Metrics, start: int, stop: int, stream,
               work_rows: int):
    """The kernel's arguments for cells ``start:stop``, on the device: (inputs, outputs);
    ``work_rows`` rows of scratch per coordinate (θ, ∇f and the state values)."""
    n, dim = stop - start, x0.shape[1]
    records = out.loss.shape[1]
    real = out.final_x.dtype  # float32 hook: floats travel in the kernel's dtype (out's)

    def send(array, dtype=real):
        return cuda.to_device(np.ascontiguousarray(array, dtype=dtype), stream=stream)

    # Recorded entries a cell never reaches keep the value they had in ``out``.
    # With no records, one unused slot: no zero-size device arrays (f alone recorded: one
    # slot of θ, never written unless it is the only record).
    trajectory = np.moveaxis(out.trajectory[start:stop], 0, -1)  # (records, dim, n)
    loss = out.loss[start:stop].T  # (records, n)
    if records == 0:
        trajectory, loss = np.full((1, dim, n), np.nan, real), np.full((1, n), np.nan, real)
    elif trajectory.shape[0] == 0:
        trajectory = np.full((1, dim, n), np.nan, real)
    outputs = (
        cuda.device_array((dim, n), dtype=real, stream=stream),  # final_x
        cuda.device_array((3, n), dtype=real, stream=stream),  # outcome
        cuda.device_array(n, dtype=np.bool_, stream=stream),  # diverged
        send(trajectory),
        send(loss),
    )
    integers, reals, box = pack_settings(settings, np.dtype(real).name)
    work = (1 if local_dim(dim) else n)  # local arrays: no global scratch
    inputs = (send(x0[start:stop].T), send(hyper[start:stop].T),
              send(ids[start:stop].T, np.int64), send(integers, np.int64), send(reals), send(box),
              cuda.device_array((work_rows * dim, work), dtype=real, stream=stream))
    return inputs, outputs


def kernel_seconds(rule, value_and_grad, x0, hyper, ids, settings: Settings,
                   records: int, dtype: str = "float64") -> float:
    """Seconds the kernel alone takes for these cells on the current device: inputs
    already on it, compiled beforehand, timed with CUDA events (for ``bench``).
    All the cells go in one launch, so they must fit the device's memory."""
    kernel = cuda_kernel(rule, value_and_grad, dtype)
    cells, dim = x0.shape
    warm = empty_metrics(1, dim, records, dtype)
    kernel(x0[:1].astype(dtype), hyper[:1].astype(dtype), ids[:1], settings._replace(steps=1),
           warm)  # compiles
    stream = cuda.stream()
    inputs, outputs = _to_device(x0, hyper, ids, settings, empty_metrics(cells, dim, records, dtype),
                                 0, cells, stream, 4 + state_rows_of(rule))
    blocks, threads = _launch_shape(cells)
    began, ended = cuda.event(), cuda.event()
    began.record(stream)
    kernel.device_kernel(dim)[blocks, threads, stream](*inputs, *outputs)
    ended.record(stream)
    ended.synchronize()
    return began.elapsed_time(ended) / 1e3  # milliseconds


def _collect(outputs, out: Metrics, start: int, stop: int, stream) -> None:
    """Copy one chunk's device outputs into ``out[start:stop]`` (waits for ``stream``)."""
    final_x, outcome, diverged, trajectory, loss = (
        array.copy_to_host(stream=stream) for array in outputs)
    stream.synchronize()
    out.final_x[start:stop] = final_x.T
    out.final_loss[start:stop] = outcome[FINAL_LOSS]
    out.best_loss[start:stop] = outcome[BEST_LOSS]
    out.steps_to_tol[start:stop] = outcome[STEPS_TO_TOL]
    out.diverged[start:stop] = diverged
    records = out.loss.shape[1]
    out.trajectory[start:stop] = np.moveaxis(trajectory[:out.trajectory.shape[1]], -1, 0)
    out.loss[start:stop] = loss[:records].T


def run_on_devices(device_kernel, x0, hyper, ids, settings: Settings, out: Metrics,
                   devices: list[int] | None = None, states: int = 3) -> None:
    """Run all cells on the CUDA devices, chunked to their free memory; fills ``out``.

    Each device gets chunks of at most :func:`chunk_cells` of its free memory
    (``cuda.current_context().get_memory_info()``), one stream per device.
    The chunks of a wave are launched on every device before any is waited
    for, so several GPUs work at once; the results do not depend on the
    chunking (a cell's draws depend only on its seed and start index).

    Args:
        device_kernel: a ``cuda.jit`` of :func:`_kernel_function`.
        x0, hyper, ids, settings, out: as :func:`sweep.kernels.compile.cpu_kernel`'s.
        devices: device ids (default: every device numba-cuda sees).
        states: the rule's state values per coordinate (sizes the scratch).
    """
    cells, dim = x0.shape
    if cells == 0:
        return
    devices = list(range(len(cuda.gpus))) if devices is None else list(devices)
    records = out.loss.shape[1]
    streams, capacities = [], []
    for device in devices:
        with cuda.gpus[device]:
            streams.append(cuda.stream())
            capacities.append(chunk_cells(cuda.current_context().get_memory_info()[0],
                                          dim, records, hyper.shape[1], states))
    for wave in plan_chunks(cells, capacities):
        pending = []
        for index, start, stop in wave:
            with cuda.gpus[devices[index]]:
                pending.append((index, start, stop, _launch(
                    device_kernel, x0, hyper, ids, settings, out, start, stop, streams[index],
                    4 + states)))
        for index, start, stop, outputs in pending:
            with cuda.gpus[devices[index]]:
                _collect(outputs, out, start, stop, streams[index])


class CudaKernel:
    """A host callable with the interface of :func:`sweep.kernels.compile.cpu_kernel`'s kernels.

    One ``cuda.jit`` dispatcher per problem dimension that gets local arrays
    (:func:`local_dim`), and one for all larger ones, made on first use.

    Attributes:
        rule, value_and_grad, dtype: what the kernels run.
    """

    def __init__(self, rule, value_and_grad, dtype: str):
        self.rule, self.value_and_grad, self.dtype = rule, value_and_grad, dtype
        self._dispatchers: dict = {}

    def device_kernel(self, dim: int):
        """The ``cuda.jit`` dispatcher for problems of ``dim`` coordinates (its
        ``overloads`` hold one entry per signature; a new grid adds none)."""
        local = local_dim(dim)
        if local not in self._dispatchers:
            self._dispatchers[local] = cuda.jit(
                _kernel_function(self.rule, self.value_and_grad, self.dtype, local))
        return self._dispatchers[local]

    @property
    def signatures(self) -> list:
        """The argument types compiled so far, as a numba CPU dispatcher's ``signatures``
        (empty in the simulator, which compiles nothing)."""
        return [signature for dispatcher in self._dispatchers.values()
                for signature in getattr(dispatcher, "overloads", {})]

    def __call__(self, x0, hyper, ids, settings: Settings, out: Metrics) -> None:
        """Advance ``x0.shape[0]`` cells and fill ``out`` (see :func:`cpu_kernel`)."""
        dispatcher = self.device_kernel(x0.shape[1])
        if not getattr(dispatcher, "overloads", True):  # compiled at the first launch
            forget_inlined_ir()
        run_on_devices(dispatcher, x0, hyper, ids, settings, out,
                       states=state_rows_of(self.rule))


@functools.cache
def cuda_kernel(rule, value_and_grad, dtype: str = "float64") -> CudaKernel:
    """The CUDA ``kernel(x0, hyper, ids, settings, out)`` for one rule and one objective.

    Same arguments (:mod:`sweep.kernels.layout`), results and semantics as
    :func:`sweep.kernels.compile.cpu_kernel`, with ``out`` host arrays filled in
    place. One thread per cell; compiled on the first call, for the device at
    hand. ``dtype="float32"``: as for ``cpu_kernel``.

    Raises:
        CudaUnavailableError: numba-cuda is not installed.
        NotImplementedError: the objective captures more arrays than fit the
            CUDA constant memory (see :func:`constant_bytes`).
    """
    _require_cuda()
    _check_constant_memory(value_and_grad)
    _register_once(value_and_grad)
    return CudaKernel(rule, value_and_grad, precision.check_dtype(dtype))
