"""Objectives the user writes: a Python function in a file, or a formula; the Reddi examples."""
import inspect
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sweep
from conftest import ROOT, assert_same_bits
from sweep import cli
from sweep.config import load
from sweep.kernels import objectives
from sweep.kernels.random import counter_key, uniform

GRID = """
[sweep]
optimizers = ["adam", "momentum", "rmsprop"]
steps = 300
record_every = 10

[objective]
{objective}
start = [[-1.2, 1.0], [-2.0, 2.0]]

[grid]
alpha = {{ min = 1e-3, max = 1e-1, num = 4, scale = "log" }}
beta1 = [0.0, 0.9]
"""

ROSENBROCK_FILE = "import math\n\n\n" + inspect.getsource(objectives.rosenbrock).replace(
    "def rosenbrock(", "def my_rosenbrock(")


def write(tmp_path, objective, files=None, name="grid.toml"):
    for file_name, text in (files or {}).items():
        (tmp_path / file_name).write_text(text)
    path = tmp_path / name
    path.write_text(GRID.format(objective=objective))
    return path


def test_a_python_function_gives_the_built_in_bits(tmp_path):
    mine = write(tmp_path, 'file = "mine.py"\nfunction = "my_rosenbrock"\nminimizers = [[1, 1]]\n'
                           "minimum = 0.0", {"mine.py": ROSENBROCK_FILE})
    built_in = write(tmp_path, 'name = "rosenbrock"', name="builtin.toml")
    a, b = sweep.run(mine), sweep.run(built_in)
    for name in ("trajectory", "loss", "final_loss", "best_loss", "steps_to_tol", "distance"):
        assert_same_bits(a[name].values, b[name].values)
    assert a.attrs["objective"] == "mine.py:my_rosenbrock" and a.attrs["objective_kind"] == "python"


def test_a_formula_matches_the_built_in(tmp_path):
    formula = write(tmp_path, 'expr = "(1 - x)**2 + 100*(y - x**2)**2"\nminimizers = [[1, 1]]\n'
                              "minimum = 0.0")
    built_in = write(tmp_path, 'name = "rosenbrock"', name="builtin.toml")
    a, b = sweep.run(formula), sweep.run(built_in)
    # sympy orders the arithmetic its own way: equal to rounding, not to the bit.
    np.testing.assert_allclose(a["trajectory"].values, b["trajectory"].values, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(a["diverged"].values, b["diverged"].values)


def test_user_function_with_its_own_draws_is_reproducible(tmp_path):
    source = textwrap.dedent("""
        from sweep.kernels import normal, uniform

        def noisy_bowl(x, grad, t, key):
            value = 0.0
            for i in range(x.shape[0]):
                grad[i] = x[i] + 0.1 * normal(key, i)
                value += 0.5 * x[i] * x[i]
            return value

        def probe(x, grad, t, key):
            grad[0] = uniform(key, 0)
            return x[0]
    """)
    grid = write(tmp_path, 'file = "bowl.py"\nfunction = "noisy_bowl"\nseeds = [1, 2]',
                 {"bowl.py": source})
    reference = sweep.run(grid, n_jobs=1)
    assert_same_bits(reference["trajectory"].values,
                     sweep.run(grid, n_jobs=2, block_cells=3)["trajectory"].values)
    import joblib

    with joblib.parallel_config(backend="loky"):  # workers load bowl.py themselves
        assert_same_bits(reference["trajectory"].values,
                         sweep.run(grid, n_jobs=2, block_cells=5)["trajectory"].values)
    # The key an objective gets at step t is counter_key(seed, start index, t, 0).
    table = {"sweep": {"optimizers": ["sgd"], "steps": 1, "record_every": 1},
             "objective": {"file": str(tmp_path / "bowl.py"), "function": "probe",
                           "start": [[0.0], [1.0]], "seeds": [7]},
             "grid": {"alpha": [1.0]}}
    ds = sweep.run(table)
    for start in (0, 1):
        step = ds["trajectory"].isel(start=start, step=1).squeeze().item() - start
        assert step == -uniform(counter_key(7, start, 1, 0), 0)


def test_the_file_is_found_relative_to_the_grid_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    grid = write(tmp_path / "sub", 'file = "mine.py"\nfunction = "my_rosenbrock"',
                 {"mine.py": ROSENBROCK_FILE})
    monkeypatch.chdir(tmp_path)
    assert load(Path("sub") / grid.name).spec.file == str((tmp_path / "sub" / "mine.py").resolve())


def test_an_edited_file_is_recompiled_not_served_from_cache(tmp_path):
    grid = write(tmp_path, 'file = "lin.py"\nfunction = "f"',
                 {"lin.py": "def f(x, grad, t, key):\n    grad[0] = 1.0\n    grad[1] = 0.0\n"
                            "    return x[0]\n"})
    first = sweep.run(grid)["final_x"].isel(dim=0).values
    (tmp_path / "lin.py").write_text("def f(x, grad, t, key):\n    grad[0] = -1.0\n"
                                     "    grad[1] = 0.0\n    return -x[0]\n")
    second = sweep.run(grid)["final_x"].isel(dim=0).values
    start = np.array([-1.2, -2.0])[None, :, None, None, None, None]
    assert (first < start).all() and (second > start).all()


BAD = [
    ('file = "missing.py"\nfunction = "f"', {}, "objective.file", "no such file"),
    ('file = "mine.txt"\nfunction = "f"', {}, "objective.file", "must name a Python file"),
    ('file = "mine.py"', {"mine.py": ROSENBROCK_FILE}, "objective.function", "is required"),
    ('file = "mine.py"\nfunction = "my_rosenbrok"', {"mine.py": ROSENBROCK_FILE},
     "objective.function", "perhaps 'my_rosenbrock'?"),
    ('file = "mine.py"\nfunction = "f"', {"mine.py": "def f(x, grad):\n    return 0.0\n"},
     "objective.file", "must take exactly (x, grad, t, key)"),
    ('file = "mine.py"\nfunction = "f"', {"mine.py": "def f(x, grad, t, key)\n    return 0\n"},
     "objective.file", "line 1"),
    ('file = "mine.py"\nfunction = "f"', {"mine.py": "import not_a_module\n"},
     "objective.file", "ModuleNotFoundError"),
    ('file = "mine.py"\nfunction = "f"\nexpr = "x"', {}, "[objective]", "not file and expr"),
    ('expr = "x**2 + z"', {}, "objective.expr", "z"),
    ('expr = "x**2 +"', {}, "objective.expr", ""),
    ('expr = "__import__(\'os\')"', {}, "objective.expr", ""),
    ('expr = "x0**2 + x1**2 + x2**2"', {}, "objective.expr", "needs dim >= 3, but dim = 2"),
    ('expr = "x**2"\nfunction = "f"', {}, "objective.function", "goes with objective.file"),
    ('expr = "x**2"\ndim = 3', {}, "objective.dim", "is for built-ins"),
    ('name = "booth"\nminimum = 0.0', {}, "objective.minimum", "built-ins know their own"),
    ('name = "booth"\nbounds = [[0, 1]]', {}, "objective.bounds", "one [lo, hi] per coordinate"),
    ('name = "booth"\nbounds = [[0, 1], [2, 1]]', {}, "objective.bounds[1][1] = 1", "must be >"),
    ('name = "booth"\nbounds = [[-3, 1], [-3, 1.5]]', {}, "objective.start[1]", "outside"),
    ('name = "booth"\nbounds = [0, "a"]', {}, "objective.bounds[1]", "must be a number"),
    ('name = "booth"\nnoise = -1.0', {}, "objective.noise", "must be >= 0"),
    ('name = "booth"\nnoise = nan', {}, "objective.noise", "finite"),
    ('name = "booth"\nseeds = 0', {}, "objective.seeds", "must be >= 1"),
    ('name = "booth"\nseeds = [1, 1]', {}, "objective.seeds", "twice"),
    ('name = "booth"\nseeds = [1.5]', {}, "objective.seeds[0]", "integer"),
]


@pytest.mark.parametrize("objective, files, key, rule", BAD,
                         ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_malformed_user_objectives_exit_2(tmp_path, capsys, objective, files, key, rule):
    grid = write(tmp_path, objective, files)
    assert cli.main([str(grid), "-o", str(tmp_path / "out.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {grid}: {key}") and rule in err, err
    assert "Traceback" not in err and not (tmp_path / "out.nc").exists()


OLD_IMPORT = ("from kernels import normal, uniform\n\n\ndef f(x, grad, t, key):\n"
              "    grad[0] = normal(key, 0)\n    return x[0]\n")


@pytest.mark.parametrize("other_kernels", [False, True],
                         ids=["kernels-absent", "unrelated-kernels"])
def test_the_old_kernels_import_says_what_to_write(tmp_path, capsys, monkeypatch, other_kernels):
    """A file written for the top-level package `kernels` (now sweep.kernels) is a
    configuration error naming the file and the import to write, whether no `kernels` is
    installed or another project's is (the package index's `kernels` has no `normal`)."""
    monkeypatch.setitem(sys.modules, "kernels", None)  # import kernels: ModuleNotFoundError
    if other_kernels:
        fake = tmp_path / "site" / "kernels"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text('"""Another project\'s package of that name."""\n')
        monkeypatch.syspath_prepend(str(fake.parent))
        monkeypatch.delitem(sys.modules, "kernels")  # found on sys.path, then undone
    grid = write(tmp_path, 'file = "mine.py"\nfunction = "f"', {"mine.py": OLD_IMPORT})
    assert cli.main([str(grid), "-o", str(tmp_path / "out.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {grid}: objective.file = "mine.py": imports \'kernels\''), err
    assert "write 'from sweep.kernels import normal, uniform' (mine.py, line 1)" in err, err
    assert ("cannot import name 'normal'" if other_kernels else "ModuleNotFoundError") in err
    assert "Traceback" not in err and not (tmp_path / "out.nc").exists()


def test_an_import_error_of_another_module_is_reported_as_it_is(tmp_path):
    grid = write(tmp_path, 'file = "mine.py"\nfunction = "f"',
                 {"mine.py": "import math\nfrom math import not_there\n"})
    with pytest.raises(sweep.ConfigError) as raised:
        load(grid)
    message = str(raised.value)
    assert "importing it raised ImportError: cannot import name 'not_there'" in message
    assert "(mine.py, line 2)" in message and "sweep.kernels" not in message


@pytest.mark.parametrize("schedule, extra, key, rule", [
    ('"linear"', "", "sweep.schedule", "unknown schedule"),
    ('"cosin"', "", "sweep.schedule", 'Perhaps you meant "cosine"?'),
    ('["cosine", "cosine"]', "", "sweep.schedule", "twice"),
    ("[]", "", "sweep.schedule", "must not be empty"),
    ('"step"', "", "schedule.every", "is required"),
    ('"step"', "[schedule]\nevery = 0\n", "schedule.every = 0", "must be >= 1"),
    ('"step"', "[schedule]\nevery = 5\nfactor = -1.0\n", "schedule.factor", "must be > 0"),
    ('"cosine"', "[schedule]\nwarmup = -3\n", "schedule.warmup", "must be >= 0"),
    ('"cosine"', "[schedule]\nwarm_up = 3\n", "schedule.warm_up", 'Perhaps you meant "warmup"?'),
])
def test_malformed_schedules_exit_2(tmp_path, capsys, schedule, extra, key, rule):
    grid = tmp_path / "grid.toml"
    grid.write_text(f'[sweep]\noptimizers = ["sgd"]\nsteps = 10\nschedule = {schedule}\n'
                    f'[objective]\nname = "booth"\n{extra}')
    assert cli.main([str(grid), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {grid}: {key}") and rule in err, err


@pytest.mark.parametrize("body, rule", [
    ("    return {'loss': x[0]}\n", "must return the loss as a float"),
    ("    grad[0] = 'a'\n    return x[0]\n", "numba cannot compile it"),
    ("    return x[0] * undefined\n", "numba cannot compile it: NameError"),
])
def test_a_function_numba_cannot_compile_is_a_config_error(tmp_path, capsys, body, rule):
    grid = write(tmp_path, 'file = "mine.py"\nfunction = "f"',
                 {"mine.py": "\n\ndef f(x, grad, t, key):\n" + body})
    assert cli.main([str(grid), "-o", str(tmp_path / "out.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {grid}: objective.function = "f": {rule}'), err
    assert "mine.py" in err or "float" in err
    assert not (tmp_path / "out.nc").exists()


def test_reddi_counterexamples_reproduce_the_published_outcomes(tmp_path):
    """Adam goes to the wrong end (+1), AMSGrad to the minimizer (−1): online and stochastic."""
    online = sweep.run(ROOT / "examples" / "reddi_online.toml", output=tmp_path / "online.nc")
    final = online["final_x"].squeeze()
    assert final.sel(optimizer="adam") > 0.95 and final.sel(optimizer="amsgrad") < -0.95
    stochastic = sweep.run(ROOT / "examples" / "reddi_stochastic.toml",
                           output=tmp_path / "stochastic.nc")
    final = stochastic["final_x"].squeeze()  # (optimizer, seed)
    assert (final.sel(optimizer="adam") > 0.95).all()
    assert (final.sel(optimizer="amsgrad") < -0.15).all()
    assert float(final.sel(optimizer="amsgrad").mean()) < -0.5


def test_a_run_uses_the_text_that_was_validated(tmp_path):
    """Edited between validation and run: this process runs the validated text; a process
    that would have to read the file again refuses it rather than mix two versions."""
    from sweep.objectives import ObjectiveError, load_function

    grid = write(tmp_path, 'file = "lin.py"\nfunction = "f"',
                 {"lin.py": "def f(x, grad, t, key):\n    grad[0] = 1.0\n    grad[1] = 0.0\n"
                            "    return x[0]\n"})
    config = load(grid)
    (tmp_path / "lin.py").write_text("def f(x, grad, t, key):\n    grad[0] = -1.0\n"
                                     "    grad[1] = 0.0\n    return -x[0]\n")
    final = sweep.run(config)["final_x"].isel(dim=0).values
    start = np.array([-1.2, -2.0])[None, :, None, None, None, None]
    assert (final < start).all()  # the validated gradient, +1
    stale = config.spec.digest[::-1]  # what a worker holding another digest would meet
    with pytest.raises(ObjectiveError, match="changed after the grid was checked"):
        load_function(config.spec.file, "f", stale)
