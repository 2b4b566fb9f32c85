"""float32 kernels: the float32 twins of the same rules, objectives and kernels (sweep.kernels.precision).

(a) the float32 lockstep kernel gives the float32 simple kernel's bits; (b) a
plain-Python float32 reference (tests/naive_rules.py and tests/naive.py run on
numpy.float32 scalars) agrees with the float32 kernel; (c) the float32 kernel does
float32 arithmetic only (typed IR and LLVM); (d) the measured error of float32
against float64 (printed; figures in docs/float32.md). Kernels compiled here:
every rule on Rosenbrock (simple and lockstep), adam and sgd on three more
objectives, and one uncached lockstep kernel to inspect.
"""
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import naive
import naive_rules
from sweep.kernels import precision
from sweep.kernels.compile import LockstepKernel, cpu_kernel, lockstep_kernel
from sweep.kernels.layout import DATA_FIELDS, Metrics, Settings, empty_metrics, hyper_for
from sweep.kernels.objectives import problem
from sweep.kernels.rules import OPTIMIZERS, AdamStep
from sweep.kernels.schedules import SCHEDULES

LANES = 8
OBJECTIVES = {"rosenbrock": {}, "beale": {}, "quadratic": {"dim": 3, "kappa": 30.0}}


def cells(dim, count=21, alpha_max=3.0):
    """A small mixed grid (float32): α up to ``alpha_max`` (some diverge), β₁, β₂, ε, two
    starts, every schedule; 21 cells: two full blocks of 8 lanes and a partial one."""
    index = np.arange(count)
    starts = np.array([np.linspace(-1.2, 1.0, dim), np.linspace(0.5, -0.3, dim)])
    hyper = np.column_stack([np.geomspace(1e-3, alpha_max, count), np.where(index % 3, 0.9, 0.0),
                             np.where(index % 4 < 2, 0.999, 0.5), np.where(index % 5, 1e-8, 0.0)])
    ids = np.column_stack([np.full(count, 3), index % 2, index % len(SCHEDULES)]).astype(np.int64)
    return starts[index % 2].astype(np.float32), hyper.astype(np.float32), ids


def settings(dim, minimum=0.0, noise=0.3, steps=60, record_every=7):
    lower, upper = np.full(dim, -np.inf), np.full(dim, np.inf)
    lower[0], upper[0] = -1.5, 1.2
    return Settings(steps=steps, record_every=record_every, tol=1e-2, minimum=minimum,
                    bound=20.0, noise=noise, warmup=5.0, step_every=10.0,
                    step_factor=0.5, lower=lower, upper=upper,
                    noise_scale=np.linspace(1.0, 0.5, len(lower)))


def records(steps, record_every):
    return len(range(0, steps + 1, record_every)) + (steps % record_every != 0)


def run(kernel, x0, hyper, ids, config):
    out = empty_metrics(*x0.shape, records(config.steps, config.record_every), "float32")
    with np.errstate(all="ignore"):
        kernel(x0, hyper, ids, config, out)
    return out


def assert_same_bits(a, b):
    """Equal element for element, NaN where NaN, the same bits (any float width)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype.kind == "f":
        unsigned = np.dtype(f"u{a.dtype.itemsize}")
        assert np.array_equal(a.view(unsigned), b.view(unsigned)), "different bits"
    else:
        assert np.array_equal(a, b)


def lockstep_equals_simple(optimizer, objective, **keys):
    rule, target = OPTIMIZERS[optimizer], problem(objective, **keys)
    x0, hyper, ids = cells(target.dim)
    config = settings(target.dim, target.minimum)
    hyper = hyper_for(rule, hyper)
    simple = run(cpu_kernel(rule, target.value_and_grad, "float32"),
                 x0, hyper, ids, config)
    fast = run(lockstep_kernel(rule, target.value_and_grad, LANES, "float32"),
               x0, hyper, ids, config)
    for name in Metrics._fields:
        want = getattr(simple, name)
        if name in DATA_FIELDS:  # a model's only
            assert want is None and getattr(fast, name) is None
            continue
        assert want.dtype == (np.float64 if name == "steps_to_tol" else
                              np.bool_ if name == "diverged" else np.float32), name
        assert_same_bits(getattr(fast, name), want)
    assert np.isfinite(simple.final_loss).any()
    return simple


# --- (a) lockstep = simple, bit for bit ---


# The float32 kernels are twins of the float64 ones, which tests/test_lockstep.py proves
# equal for every rule and objective; here the rules that exercise what the twinning
# rewrites (divisions and √, nadam's integer t + 1, adamax's max, a plain step), and
# the objectives with captured arrays and minibatch indices. (Each float32 kernel
# takes ~5 s to compile cold: all 11 rules × 14 objectives would take minutes.)
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "nadam", "adamax", "adadelta"])
def test_lockstep_is_simple_for_every_rule(optimizer):
    """Noise, every schedule with warm-up, a box, records, cells that diverge."""
    lockstep_equals_simple(optimizer, "rosenbrock")


@pytest.mark.parametrize("objective", ["beale", "quadratic"])
@pytest.mark.parametrize("optimizer", ["adam"])
def test_lockstep_is_simple_for_objectives(optimizer, objective):
    lockstep_equals_simple(optimizer, objective, **OBJECTIVES[objective])


def test_float32_is_not_float64():
    """The twins really compute in float32: results differ from float64 in the last bits,
    and not by more than float32's precision over a short, stable run."""
    rule, target = OPTIMIZERS["adam"], problem("beale")
    x0, hyper, ids = cells(2, alpha_max=0.01)
    hyper = hyper_for(rule, hyper)
    config = settings(2, noise=0.0)._replace(lower=np.full(2, -np.inf), upper=np.full(2, np.inf))
    single = run(cpu_kernel(rule, target.value_and_grad, "float32"),
                 x0, hyper, ids, config)
    double = empty_metrics(*x0.shape, records(60, 7))
    cpu_kernel(rule, target.value_and_grad)(
        x0.astype(np.float64), hyper.astype(np.float64), ids, config, double)
    assert not np.array_equal(single.final_x, double.final_x.astype(np.float32))
    np.testing.assert_allclose(single.final_x, double.final_x, rtol=1e-4)


# --- (b) a plain-Python float32 reference ---

# Rules whose kernel and reference perform the same float32 operations: the same bits.
# The Adam family takes β^t as a running product in the kernel, as pow in the reference:
# a few ulps.
EXACT = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop")


# Every rule on Rosenbrock; the quadratic (an objective closing over its eigenvalues) with
# one rule of each kind: each case compiles a float32 kernel (~7 s).
@pytest.mark.parametrize("optimizer, objective", [
    *((name, "rosenbrock") for name in (*EXACT, "adam", "amsgrad", "adamax")),
    ("sgd", "quadratic"), ("rmsprop", "quadratic"), ("adam", "quadratic")])
def test_the_naive_reference_on_float32_scalars(optimizer, objective, monkeypatch):
    """tests/naive_rules.py (the rule) and naive.py (the objective) with ``float`` meaning
    numpy.float32: every step in float32 scalars."""
    monkeypatch.setattr(naive_rules, "float", np.float32, raising=False)
    monkeypatch.setattr(naive, "float", np.float32, raising=False)
    steps = 60
    if objective == "rosenbrock":
        gradient, keys, start, alpha = naive.naive_objectives["rosenbrock"][1], {}, (-1.2, 1.0), 2e-3
    else:
        gradient, keys = naive.make_quadratic(2, 10.0)[1], {"dim": 2, "kappa": 10.0}
        start, alpha = (1.0, 1.0), 0.05
    hyper = dict(alpha=alpha, beta1=0.9, beta2=0.99, eps=1e-8)
    expected = naive_rules.naive_trajectory(optimizer, gradient, np.array(start), steps,
                                            **naive_rules.hyperparameters_at(optimizer, hyper))
    rule, target = OPTIMIZERS[optimizer], problem(objective, **keys)
    config = settings(2, noise=0.0, steps=steps, record_every=1)._replace(
        lower=np.full(2, -np.inf), upper=np.full(2, np.inf), warmup=0.0)
    out = run(cpu_kernel(rule, target.value_and_grad, "float32"),
              np.array([start], np.float32),
              hyper_for(rule, np.array([[hyper[k] for k in ("alpha", "beta1", "beta2", "eps")]],
                                       np.float32)),
              np.zeros((1, 3), np.int64), config)
    got = out.trajectory[0]
    assert np.isfinite(expected).all() and got.shape == expected.shape
    if optimizer in EXACT:
        assert_same_bits(got, expected.astype(np.float32))
    else:  # a few float32 ulps (2**-24 ≈ 6e-8) relative to the start's scale
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


# --- (c) float32 arithmetic only ---


@pytest.fixture(scope="module")
def inspected():
    """The float32 lockstep kernel of adam on Rosenbrock with 16 lanes (8 are unrolled, not
    vectorized, in float64 too), compiled afresh: numba does not inspect cached code."""
    from numba import njit

    rule, target = OPTIMIZERS["adam"], problem("rosenbrock")
    cached = lockstep_kernel(rule, target.value_and_grad, 16, "float32")
    # The variant with every path: the noise's and the schedules' code inspected too.
    full = cached.dispatcher_for(2, noisy=True, scheduled=True)
    kernel = njit(nogil=True, error_model="numpy")(full.py_func)
    x0, hyper, ids = cells(2)
    run(LockstepKernel(lambda dim, **variant: kernel, rule), x0, hyper_for(rule, hyper), ids,
        settings(2))
    return kernel, kernel.signatures[0]


def test_typed_ir_has_no_float64_arithmetic(inspected):
    """Every binary and unary operation in the kernel (rule and objective inlined) is typed
    without float64; the only float64 values are the Settings before their cast and the
    generator's normal draws before theirs."""
    from numba.core import ir, types

    kernel, signature = inspected
    annotation = kernel.overloads[signature].type_annotation
    double = types.float64
    operations, offending, float64_calls = 0, [], set()
    for block in annotation.blocks.values():
        for statement in block.body:
            if not (isinstance(statement, ir.Assign) and isinstance(statement.value, ir.Expr)):
                continue
            expression = statement.value
            if expression.op not in ("binop", "inplace_binop", "unary", "call"):
                continue
            typed = annotation.calltypes[expression]
            uses_double = double in (typed.return_type, *typed.args)
            if expression.op == "call":
                if uses_double:
                    float64_calls.add(str(annotation.typemap[expression.func.name]))
                continue
            operations += 1
            if uses_double:
                offending.append(f"line {statement.loc.line}: {statement} {typed}")
    assert operations > 50 and not offending, offending
    # float64 goes only into casts to float32 (the Settings). The generator's normal
    # (Box–Muller in float64) is called by sweep.kernels.step.perturb, a function of its own.
    assert float64_calls == {"class(float32)"}, float64_calls


def test_llvm_of_the_kernel_has_no_double_arithmetic(inspected):
    """In the kernel's own LLVM function (the rule and objective inlined in it): float
    arithmetic, vectorized, and no double arithmetic at all. The generator's Box–Muller
    (a separate function, float64 by design) is where the module's doubles are."""
    kernel, signature = inspected
    module = kernel.inspect_llvm(signature)
    functions = {re.search(r'@"?([\w.$]+)"?\(', text).group(1): text
                 for text in re.split(r"(?m)^define ", module)[1:]}
    body = next(text for name, text in functions.items()
                if re.match(r"_ZN5sweep7kernels7compile\d+lockstep16\w*?_kernel4adam", name))
    double = re.findall(r"\b(?:fadd|fsub|fmul|fdiv|fneg)\b[^\n]*?\bdouble\b", body)
    assert not double, double[:5]
    # Lanes vectorized: 8 floats a vector on the Xeons (LLVM prefers 256-bit vectors
    # there), 16 on AMD's Zen 5 (full 512-bit units); 4 where only SSE/AVX is.
    widths = {int(width) for width in re.findall(r"\bfmul <(\d+) x float>", body)}
    assert widths and max(widths) >= 4, widths
    # maths.sqrt is typed by its argument: llvm.sqrt of floats
    assert re.search(r"llvm\.sqrt\.(v\d+)?f32", body) and "llvm.sqrt.f64" not in body
    normal = next(text for name, text in functions.items() if "6random6normal" in name)
    assert "fmul double" in normal


def test_math_stays_float32():
    """numba types math functions and maths.sqrt by their argument: float32 in, float32 out."""
    import math

    from numba import float32, njit

    from sweep.kernels import maths

    @njit
    def functions(x):
        return (math.sqrt(x), math.exp(x), math.log(x), math.cos(x), math.log1p(x),
                maths.sqrt(x), x ** 2, x ** x)

    functions(np.float32(0.5))
    assert set(functions.nopython_signatures[0].return_type) == {float32}


def test_twins_are_plain_python_in_float32():
    """A twin runs uncompiled on numpy float32 scalars (the CUDA simulator does this)."""
    adam = precision.twin(OPTIMIZERS["adam"].update)
    f32 = np.float32
    k = AdamStep(a=f32(1.0), b=f32(0.0), c=f32(4.5), beta1=f32(0.9), beta2=f32(0.999),
                 eps=f32(1e-8))
    theta, state = adam(f32(1.0), f32(0.5), (f32(0.0), f32(0.0)), k)
    assert all(type(value) is np.float32 for value in (theta, *state))
    assert precision.twin(OPTIMIZERS["adam"].update, "float64") is OPTIMIZERS["adam"].update
    with pytest.raises(ValueError, match="dtype must be one of"):
        precision.twin(OPTIMIZERS["adam"].update, "float16")


# --- (d) the measured error ---


def _float32_error():
    """benchmarks/float32_error.py, the measurement of docs/float32.md, as a module."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "float32_error.py"
    spec = importlib.util.spec_from_file_location("float32_error", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measured_error_against_float64(capsys):
    """Adam on Rosenbrock and Beale, 1000 steps, α × β₁ grid, two starts (docs/float32.md)."""
    trial = _float32_error()
    figures = trial.measure(1000)
    with capsys.disabled():
        print("\nfloat32 vs float64, " + trial.table(figures))
    for objective, f in figures.items():
        assert f["converged"] >= 20, objective
        assert f["converged_x_median"] < 1e-5, (objective, f)  # a few float32 ulps
        assert f["converged_loss_gap_median"] < 1e-6, (objective, f)
        assert f["diverged_differs"] <= 0.05, (objective, f)
