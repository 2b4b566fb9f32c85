"""Every CUDA kernel compiles to PTX for sm_80 and sm_90, with no GPU.

The simulator (tests/test_cuda.py) runs the kernel as Python and would
accept code numba-cuda's compiler refuses; this compiles the real thing.
Every rule on one objective and every objective on one rule, each for one of
the two architectures in turn (a rule and an objective meet only through the
kernel's two calls, and the architecture changes the code generator's target,
not what numba-cuda accepts: the full product would compile 2 × 20 × 13 kernels).
Also, without a device: the device status sentences, the constant-memory
check and the chunk planning.
"""
import os
import re

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("compiling to PTX needs the real numba-cuda, not its simulator",
                allow_module_level=True)
pytest.importorskip("numba_cuda", reason="the gpu extra (numba-cuda) is not installed")

from sweep.kernels import cuda as backend  # noqa: E402
from sweep.kernels.objectives import OBJECTIVES, problem  # noqa: E402
from sweep.kernels.rules import OPTIMIZERS  # noqa: E402

ARCHITECTURES = [(8, 0), (9, 0)]
N_DIMENSIONAL = ("rosenbrock_nd", "rastrigin", "styblinski_tang", "quadratic")


def objective(name):
    keys = {"dim": 3} if name in N_DIMENSIONAL else {}
    return problem(name, **keys).value_and_grad


def assert_is_kernel_ptx(text, cc):
    major, minor = cc
    assert f".target sm_{major}{minor}" in text
    assert ".visible .entry" in text  # a kernel, not only device functions
    assert ".address_size 64" in text


def in_turn(names):
    """Each name with one of :data:`ARCHITECTURES`, taking them in turn."""
    return [(name, ARCHITECTURES[i % len(ARCHITECTURES)]) for i, name in enumerate(names)]


def architecture_id(value):
    return f"sm_{value[0]}{value[1]}" if isinstance(value, tuple) else value


@pytest.mark.parametrize("optimizer, cc", in_turn(OPTIMIZERS), ids=architecture_id)
def test_every_rule_compiles(optimizer, cc):
    """The kernel of a 2-D problem, θ and the state in local arrays (registers)."""
    rule = OPTIMIZERS[optimizer]
    assert_is_kernel_ptx(backend.ptx(rule, objective("rosenbrock"), cc, dim=2), cc)


@pytest.mark.parametrize("name, cc", in_turn(name for name in OBJECTIVES if name != "rosenbrock"),
                         ids=architecture_id)
def test_every_objective_compiles(name, cc):
    """The kernel that keeps θ and the state in the global work array (any dimension)."""
    rule = OPTIMIZERS["adam"]
    assert_is_kernel_ptx(backend.ptx(rule, objective(name), cc), cc)


def test_small_problems_keep_theta_out_of_global_memory():
    """With local arrays (and loops of a compile-time length) θ, ∇f and the state stay in
    registers: the kernel's float64 memory traffic is its inputs and outputs, far less
    than the work-array kernel's, which loads and stores them through generic pointers
    every step (``ld.f64``/``st.f64``; the local kernel has no generic load at all)."""
    rule = OPTIMIZERS["adam"]
    local = backend.ptx(rule, objective("rosenbrock"), (9, 0), dim=2)
    work = backend.ptx(rule, objective("rosenbrock"), (9, 0))

    def accesses(text, space=r"(?:global\.|local\.)?"):
        return len(re.findall(rf"\b(?:ld|st)\.{space}f64\b", text))

    assert accesses(local) < accesses(work) / 2
    assert len(re.findall(r"\bld\.f64\b", local)) == 0 < len(re.findall(r"\bld\.f64\b", work))
    assert backend.local_dim(2) == 2 and backend.local_dim(backend.LOCAL_DIM_MAX + 1) is None


def test_user_objectives_compile(tmp_path):
    """A formula (math functions, t) and a user's file drawing from the generator."""
    import importlib.util

    from sweep.kernels.formula import formula_objective

    function, _, _ = formula_objective("log(1 + x**2) + atan(y)**2 + tanh(t*x) + abs(y)**1.5")
    rule = OPTIMIZERS["rmsprop"]
    assert_is_kernel_ptx(backend.ptx(rule, function, (9, 0)), (9, 0))
    path = tmp_path / "mine.py"
    path.write_text("from sweep.kernels import normal, uniform\n\n\ndef f(x, grad, t, key):\n"
                    "    grad[0] = x[0] + normal(key, 0)\n    grad[1] = x[1] * uniform(key, 1)\n"
                    "    return 0.5 * (x[0] * x[0] + x[1] * x[1])\n")
    spec = importlib.util.spec_from_file_location("mine_for_ptx", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert_is_kernel_ptx(backend.ptx(rule, module.f, (8, 0)), (8, 0))


@pytest.mark.parametrize("name, keys", [("quadratic", {"dim": 5, "kappa": 100.0}),
                                        ("quadratic", {"dim": 300, "kappa": 10.0})])
def test_captured_arrays_are_counted_as_constant_memory(name, keys):
    """The estimate that guards cuda_kernel is what the compiler really emits."""
    function = problem(name, **keys).value_and_grad
    rule = OPTIMIZERS["sgd"]
    text = backend.ptx(rule, function, (9, 0))
    assert backend.ptx_constant_bytes(text) == backend.constant_bytes(function) > 0


def test_data_beyond_constant_memory_is_refused_with_a_sentence():
    function = problem("quadratic", dim=10_000).value_and_grad  # 80 kB of eigenvalues
    rule = OPTIMIZERS["adam"]
    with pytest.raises(NotImplementedError, match="64 KiB of CUDA constant memory"):
        backend.cuda_kernel(rule, function)
    assert backend.constant_bytes(problem("rosenbrock").value_and_grad) == 0


def test_status_without_the_gpu_extra(monkeypatch):
    monkeypatch.setattr(backend, "cuda", None)
    ok, message = backend.device_status()
    assert not ok and "pip install 'optimizer-sweep[gpu]'" in message
    with pytest.raises(backend.CudaUnavailableError, match=r"sweep\[gpu\]"):
        backend.cuda_kernel(OPTIMIZERS["sgd"],
                            problem("booth").value_and_grad)


def test_status_without_a_device(monkeypatch):
    monkeypatch.setattr(backend.cuda, "is_available", lambda: False)
    ok, message = backend.device_status()
    assert not ok and message.startswith("No CUDA device found")


def test_status_says_what_the_driver_says(monkeypatch):
    def broken():
        raise RuntimeError("Error at driver init: \n\nCUDA driver library cannot be found.\n:")

    monkeypatch.setattr(backend.cuda, "is_available", broken)
    ok, message = backend.device_status()
    assert not ok and message.endswith("Error at driver init:")


@pytest.mark.parametrize("cells, capacities", [(20, [7]), (20, [3, 5]), (5, [8, 8]), (1, [1])])
def test_chunks_cover_every_cell_once_one_per_device_per_wave(cells, capacities):
    waves = backend.plan_chunks(cells, capacities)
    chunks = [chunk for wave in waves for chunk in wave]
    assert [start for _, start, _ in chunks] == [0] + [stop for _, _, stop in chunks[:-1]]
    assert chunks[-1][2] == cells
    for wave in waves:
        assert len({device for device, _, _ in wave}) == len(wave)
        for device, start, stop in wave:
            assert 0 < stop - start <= capacities[device]


def test_chunk_size_follows_free_memory(monkeypatch):
    monkeypatch.setattr(backend, "MEMORY_FRACTION", 0.5)
    monkeypatch.setattr(backend, "MAX_CHUNK_CELLS", 10**9)
    per_cell = backend.device_bytes_per_cell(dim=2, records=3)
    # x0, hyper (4 columns), ids; θ, ∇f, the reported point, its gradient, 3 state values
    # per coordinate; final_x, the outcome; the records.
    assert per_cell == 8 * (2 + 4 + 3 + (4 + 3) * 2 + 2 + 3 + 3 * 3) + 1
    assert backend.chunk_cells(2 * per_cell * 1000, 2, 3) == 1000
    assert backend.chunk_cells(0, 2, 3) == 1  # always some progress
    assert backend.chunk_cells(float("inf"), 2, 3) == 10**9


def test_launch_shape_caps_blocks_for_the_grid_stride_loop(monkeypatch):
    monkeypatch.setattr(backend, "THREADS_PER_BLOCK", 128)
    monkeypatch.setattr(backend, "MAX_BLOCKS", 4)
    assert backend._launch_shape(1) == (1, 128)
    assert backend._launch_shape(129) == (2, 128)
    assert backend._launch_shape(10**6) == (4, 128)


@pytest.mark.parametrize("optimizer, name", [("adam", "rosenbrock"), ("nadam", "rosenbrock"),
                                             ("rmsprop", "beale"), ("adam", "quadratic")])
def test_float32_kernels_compile_to_float32_ptx(optimizer, name):
    """dtype="float32": the kernel's state and arithmetic are .f32 (the generator's Box–Muller
    and the step schedule's pow stay f64, by design)."""
    rule = OPTIMIZERS[optimizer]
    text = backend.ptx(rule, objective(name), (9, 0), dtype="float32")
    assert_is_kernel_ptx(text, (9, 0))
    assert "sqrt.rn.f32" in text and ("fma.rn.f32" in text or "mul.rn.f32" in text)
    assert ".param .u64" in text  # array arguments
    if name == "quadratic":  # its eigenvalues as float32 constants: half the float64 kernel's bytes
        double = backend.ptx(rule, objective(name), (9, 0))
        assert 2 * backend.ptx_constant_bytes(text) == backend.ptx_constant_bytes(double)


AFTER_A_CPU_KERNEL = """
import numpy as np
from sweep.kernels import cuda as backend
from sweep.kernels.compile import lockstep_kernel
from sweep.kernels.layout import Settings, empty_metrics
from sweep.kernels.objectives import problem
from sweep.kernels.rules import OPTIMIZERS
adam = OPTIMIZERS["adam"]
kernel = lockstep_kernel(adam, problem("booth").value_and_grad, 64)
box = np.full(2, np.inf)
kernel(np.zeros((1, 2)), np.full((1, 4), 0.1), np.zeros((1, 3), np.int64),
       Settings(steps=3, record_every=0, tol=1e-6, minimum=0.0, bound=1e6,
                noise=0.0, warmup=0.0, step_every=1.0, step_factor=1.0, lower=-box, upper=box,
                noise_scale=np.ones(2)), empty_metrics(1, 2, 0))
text = backend.ptx(adam, problem("rosenbrock").value_and_grad, (9, 0))
print(".visible .entry" in text)
"""


def test_a_cuda_kernel_compiles_after_a_cpu_kernel_compiled_in_the_same_process(tmp_path):
    """numba inlines a call with IR cached by any template of the function, whatever its
    target: a CPU kernel compiled (not loaded from the cache) first used to break the
    CUDA compile (sweep.kernels.compile.forget_inlined_ir). A fresh process and cache."""
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", AFTER_A_CPU_KERNEL], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "True"


# --- the training kernel (sweep.kernels.cuda_training) ---------------------------------------


@pytest.mark.parametrize("optimizer, network", [
    ("adam", dict(sizes=(4, 3, 3), activation="tanh", loss="cross_entropy", bias=True)),
    ("momentum", dict(sizes=(5, 1), activation="tanh", loss="logistic", bias=True)),
    ("schedule_free_adamw", dict(sizes=(3, 2, 2), activation="relu", loss="squared", bias=False)),
], ids=lambda value: value if isinstance(value, str) else value["loss"])
def test_the_training_kernel_compiles(optimizer, network):
    """Every training thread runs the CPU training kernel's block with one lane: the
    network's functions, exp/tanh in arithmetic, the epoch's shuffle, the lane step."""
    from sweep.kernels import cuda_training
    from sweep.kernels.models import Network

    text = cuda_training.ptx(OPTIMIZERS[optimizer], Network(**network), (9, 0))
    assert_is_kernel_ptx(text, (9, 0))
    assert backend.ptx_constant_bytes(text) < 1024  # the data are arguments: global memory


def test_a_device_too_small_for_the_data_is_refused_with_sizes():
    from sweep.kernels import cuda_training
    from sweep.kernels.models import ModelData, Network

    network = Network(sizes=(64, 32, 10), activation="tanh", loss="cross_entropy", bias=True)
    rows = np.zeros((1000, 64)), np.zeros((1000, 1))
    data = ModelData(x_train=rows[0], y_train=rows[1], x_test=rows[0][:10], y_test=rows[1][:10],
                     l2=0.0, batch_size=32, eval_every=10, signs=False)
    adam = OPTIMIZERS["adam"]
    needed = cuda_training.data_bytes(data) + cuda_training.bytes_per_cell(adam, network, data, 0)
    assert cuda_training.data_bytes(data) == 8 * (1000 * 65 + 10 * 65)
    cuda_training.check_device_memory(adam, network, data, 0,
                                      free_bytes=2 * needed / 0.5 / 2 + 1)
    with pytest.raises(cuda_training.DeviceMemoryError, match=r"need 0\.\d MiB of device "
                       r"memory; the GPU has 1\.0 MiB free, of which the CUDA backend uses 50%"):
        cuda_training.check_device_memory(adam, network, data, 0, free_bytes=2.0 ** 20)


def test_a_cells_device_memory_counts_what_a_launch_allocates():
    """The memory check counts, per cell, the storage a launch allocates (the rule's state
    rows included), its inputs and its outputs."""
    from sweep.kernels import cuda_training
    from sweep.kernels.models import ModelData, Network

    network = Network(sizes=(4, 3), activation="tanh", loss="cross_entropy", bias=True)
    data = ModelData(x_train=np.zeros((50, 4)), y_train=np.zeros((50, 1)),
                     x_test=np.zeros((5, 4)), y_test=np.zeros((5, 1)), l2=0.0, batch_size=8,
                     eval_every=10, signs=False)
    cells, records = 3, 2
    per_cell = {}
    for name in ("sgd", "adam", "adan"):
        rule = OPTIMIZERS[name]
        storage = cuda_training.launch_storage(rule, network, data, cells,
                                               lambda shape, dtype: np.empty(shape, dtype))
        inputs = (np.empty((cells, network.dim)), np.empty((cells, len(rule.names))),
                  np.empty((cells, 3), np.int64), np.empty(cells, np.int64))  # + the order
        outputs = (np.empty((cells, network.dim)), *(np.empty(cells) for _ in range(6)),
                   np.empty(cells, np.bool_), *(np.empty((cells, records)) for _ in range(3)))
        allocated = sum(array.nbytes for array in (*storage, *inputs, *outputs))
        per_cell[name] = cuda_training.bytes_per_cell(rule, network, data, records)
        assert per_cell[name] == allocated / cells, name
    assert per_cell["sgd"] < per_cell["adam"] < per_cell["adan"]  # 1, 2 and 4 state rows
