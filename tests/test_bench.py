"""``python -m sweep bench`` at a tiny size: it runs, reports, and writes its files.

Speed itself is a benchmark, never a test: nothing here asserts a throughput.
"""
import importlib.util
import json
import math
import sys

import numpy as np
import pytest

import sweep
from conftest import ROOT
from sweep import bench, cli
from sweep.api import load_config
from sweep.bench import sweep_table
from sweep.plan import make_plan


def test_bench_writes_a_table_json_and_a_plot(tmp_path, capsys):
    code = cli.main(["bench", "--cells", "64", "--steps", "20", "--repeats", "2",
                     "--max-cells", "1000", "--optimizers", "sgd,adam",
                     "--objectives", "booth", "--model-cells", "4", "--model-steps", "3",
                     "--rules", "lion,adan",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "rules (Rosenbrock, lockstep" in out and "lion, 64 × 20" in out
    assert "numpy broadcasting" in out and "× numpy" in out and "CUDA" in out
    results = json.loads((tmp_path / "bench.json").read_text())
    assert f"{results['machine']['vector_bits']}-bit vectors" in out
    assert results["machine"]["vector_bits"] in (128, 256, 512)
    backends = results["backends"]
    for name in ("sweep, lockstep kernel, all cores", "sweep, lockstep kernel, 1 thread",
                 "sweep, simple kernel, all cores", "numpy broadcasting"):
        row = backends[name]
        assert row["min"] <= row["median"] <= row["max"] and row["repeats"] == 2
    fast = backends[bench.ENGINE_ROW]["median"]
    for name, ratio in results["ratios"].items():
        assert ratio == fast / backends[name]["median"]
        assert f"{ratio:.1f}× {name}" in out
    if importlib.util.find_spec("jax") and importlib.util.find_spec("optax"):
        assert list(results["ratios"]) == list(bench.BASELINE_ROWS)
        assert results["jax"].startswith("JAX ") and f"  {results['jax']}\n" in out
    assert set(results["optimizers_objectives"]) == {"sgd on booth", "adam on booth"}
    for name, row in results["optimizers_objectives"].items():  # smaller grids: each says its size
        assert f"  {name}, {row['cells']:,} × {row['steps']} " in out
    assert list(results["cells_scaling"]) == ["100", "1000"]
    assert set(results["threads_scaling"]) >= {"1"}
    assert (tmp_path / "bench.png").stat().st_size > 10_000
    models = results["models"]  # the MLP on digits, against torch and JAX where installed
    engine = models["rows"]["sweep, training kernel, all cores (+ evaluation)"]
    assert engine["min"] <= engine["median"] <= engine["max"] and "models:" in out
    for name, ratio in models["ratios"].items():
        assert ratio == pytest.approx(engine["median"] / models["rows"][name]["median"])


def table_rows(markdown: str, header: str) -> list[list[str]]:
    """The cells of each row of the Markdown table whose header row starts with ``header``
    (the separator row left out); every row has as many cells as the header."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    width = lines[start].count("|")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        assert line.count("|") == width, line
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_bench_markdown_is_the_tables_of_its_json_headed_by_the_machine(tmp_path, capsys):
    code = cli.main(["bench", "--markdown", "--cells", "16", "--steps", "5", "--repeats", "2",
                     "--max-cells", "100", "--optimizers", "sgd", "--objectives", "booth",
                     "--model-cells", "0", "--rules", "sgd", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0
    markdown = captured.out  # the Markdown alone: the files written are said on stderr
    assert "wrote" not in markdown and "bench.json" in captured.err
    results = json.loads((tmp_path / "bench.json").read_text())
    host = results["machine"]
    assert host["cpu"] == bench.cpu_name() and host["cores"] >= 1
    assert markdown.startswith(f"### {host['cpu']}, {host['cores']} cores, ")
    assert ("AVX-512 present" if host["avx512"] else "AVX-512 absent") in markdown
    assert f"| vectors | {host['vector_bits']} bits" in markdown
    assert f"| date | {host['date']} |" in markdown
    for name in ("optimizer-sweep", "python", "numba", "numpy"):
        assert f"{name} {host['versions'][name]}" in markdown
    assert host["versions"]["optimizer-sweep"] == sweep.__version__
    assert results["command"].startswith("python -m sweep bench --markdown --cells 16 ")
    assert f"| command | `{results['command']}` |" in markdown
    rows = {name: (median, spread) for name, median, spread in
            table_rows(markdown, "way of running it")}
    assert list(rows) == list(results["backends"])  # every row, in order
    for name, row in results["backends"].items():
        assert rows[name] == (bench._figure(row["median"] / 1e6),
                              f"{bench._figure(row['min'] / 1e6)} – "
                              f"{bench._figure(row['max'] / 1e6)}")
    assert [row[0] for row in table_rows(markdown, "rule, cells × steps")] == [
        f"sgd, {results['rules']['sgd']['cells']:,} × 5"]
    assert [row[0] for row in table_rows(markdown, "threads")] == list(results["threads_scaling"])
    assert "Models:" not in markdown  # --model-cells 0: no models rows


def test_markdown_report_of_a_machine_without_avx512():
    row = {"median": 5.414e8, "min": 4.9e7, "max": 1.2345e9, "repeats": 3, "cells": 4096,
           "steps": 200}
    results = {"machine": {"cpu": "Some CPU", "llvm_cpu": "generic", "cores": 3,
                           "vector_bits": 256, "avx512": False, "date": "D",
                           "python": "3.12.1", "versions": {"python": "3.12.1", "numba": "N"}},
               "cells": 4096, "steps": 200, "repeats": 3, "jax": "no JAX rows: why",
               "cuda": "no CUDA rows: why not.",
               "backends": {bench.ENGINE_ROW: row, bench.NUMPY_ROW: {**row, "median": 2e7}},
               "ratios": {bench.NUMPY_ROW: 27.07}, "optimizers_objectives": {},
               "cells_scaling": {"100": row}, "threads_scaling": {"1": row, "3": row}}
    markdown = bench.markdown_report(results)
    assert markdown.splitlines()[0] == "### Some CPU, 3 cores, no AVX-512"
    assert "| CPU | Some CPU (LLVM: `generic`), 3 cores used |" in markdown
    assert "256 bits in the kernels' lane loops; AVX-512 absent" in markdown
    assert "| versions | python 3.12.1, numba N |" in markdown and "| command |" not in markdown
    assert table_rows(markdown, "way of running it") == [
        [bench.ENGINE_ROW, "541", "49.0 – 1,234"], [bench.NUMPY_ROW, "20.0", "49.0 – 1,234"]]
    assert "27.1× numpy broadcasting" in markdown
    assert "no JAX rows: why; no CUDA rows: why not." in markdown
    assert "4,096 cells × 200 steps, median of 3" in markdown
    assert [r[0] for r in table_rows(markdown, "cells × steps")] == ["100 × 200"]
    assert "Every rule" not in markdown and "Rules × objectives" not in markdown


def test_the_figure_names_the_steps_of_a_point_that_runs_fewer():
    row = {"median": 3e8, "min": 2e8, "max": 4e8, "repeats": 1}
    results = {"cells": 64, "steps": 2000, "backends": {bench.ENGINE_ROW: row},
               "cells_scaling": {"100": {**row, "steps": 2000}, "1000": {**row, "steps": 200}},
               "threads_scaling": {"1": row}}
    grid_panel = bench.figure(results).axes[1]
    assert [text.get_text() for text in grid_panel.texts] == ["200 steps"]
    assert "2000 steps" in grid_panel.get_title()


def test_level_points_are_drawn_below_the_frame_not_on_it():
    row = {"median": 5.41e8, "min": 5.4e8, "max": 5.42e8, "repeats": 1}
    results = {"cells": 64, "steps": 2000, "backends": {bench.ENGINE_ROW: row},
               "cells_scaling": {"100": row, "1000": row},
               "threads_scaling": {"1": row, "2": {**row, "median": 5.42e8}}}
    for panel in bench.figure(results).axes[1:]:
        bottom, top = panel.get_ylim()
        assert bottom == 0 and top >= 1.1 * 542


def test_bench_refuses_bad_options(capsys):
    assert cli.main(["bench", "--repeats", "0"]) == 2
    assert cli.main(["bench", "--optimizers", "adamm"]) == 2
    assert "adamm" in capsys.readouterr().err


def test_every_rule_and_objective_is_timed_on_about_as_many_trajectories():
    # Beale has three customary starts, Rosenbrock's table one, sgd reads α only:
    # each row's grid is sized so that its computed cells are about the same.
    for optimizer in ("sgd", "adam"):
        for objective in ("rosenbrock", "beale", "booth"):
            plan = make_plan(load_config(sweep_table(4096, 10, optimizer, objective)))
            assert 4096 <= plan.computed_cells < 4096 * 1.2, (optimizer, objective)


# --- the baselines --------------------------------------------------------------------


def test_the_baselines_compute_the_same_adam():
    # Ten steps, before Rosenbrock's chaos amplifies rounding: all three within 1e-12.
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    hyper = bench.adam_grid(500)
    numpy_losses = bench.numpy_adam(*hyper, 10)
    for make in (bench.jax_vmap_adam, bench.jax_fused_adam):
        losses = np.asarray(make(10)(*hyper))
        assert losses.dtype == np.float64
        np.testing.assert_allclose(losses, numpy_losses, rtol=1e-12, err_msg=make.__name__)
    assert not np.allclose(numpy_losses, bench.numpy_adam(*hyper, 9))  # the steps count


def test_jax_rows_are_warm_and_carry_their_compile_time():
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    rows, line = bench.jax_rows(bench.adam_grid(32), 5, repeats=3)
    assert list(rows) == [bench.VMAP_ROW, bench.FUSED_ROW]
    for row in rows.values():
        assert row["repeats"] == 3 and row["min"] <= row["median"] <= row["max"]
        assert row["compile_s"] > 0
    assert line.startswith("JAX ") and "optax" in line


def test_without_jax_the_rows_are_absent_and_the_extra_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax raises ImportError
    monkeypatch.setitem(sys.modules, "optax", None)
    code = cli.main(["bench", "--cells", "16", "--steps", "5", "--repeats", "1",
                     "--max-cells", "100", "--optimizers", "sgd", "--objectives", "booth",
                     "--model-cells", "0", "--rules", "none", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    line = "no JAX rows: jax and optax are not installed (pip install 'optimizer-sweep[bench]')"
    assert f"  {line}\n" in out and "jax vmap" not in out and "fori_loop" not in out
    results = json.loads((tmp_path / "bench.json").read_text())
    assert results["jax"] == line
    assert not any("jax" in name for name in results["backends"])
    assert list(results["ratios"]) == ["numpy broadcasting"]


def test_the_engine_ratios_are_to_each_measured_baseline():
    rows = {bench.ENGINE_ROW: {"median": 300.0}, bench.NUMPY_ROW: {"median": 20.0},
            bench.FUSED_ROW: {"median": 75.0}, "sweep, simple kernel, all cores": {"median": 1.0}}
    assert bench.engine_ratios(rows) == {bench.NUMPY_ROW: 15.0, bench.FUSED_ROW: 4.0}


# --- the size -------------------------------------------------------------------------


def test_the_default_grid_has_exactly_the_issues_16384_cells():
    assert bench.balanced_counts(16384, 4) == (16, 16, 8, 8)
    table = sweep_table(16384, 2000)
    assert make_plan(load_config(table)).computed_cells == 16384
    assert (table["sweep"]["steps"], table["objective"]["start"]) == (2000, [[-1.5, 2.0]])


@pytest.mark.parametrize("axes", [1, 2, 3, 4])
def test_balanced_counts_cover_the_cells_with_axes_within_a_factor_two(axes):
    for cells in (1, 7, 100, 1366, 4096, 17424, 10**5, 10**6):
        counts = bench.balanced_counts(cells, axes)
        assert len(counts) == axes and list(counts) == sorted(counts, reverse=True)
        assert cells <= math.prod(counts) < cells * 1.2 or cells < 50, (cells, counts)
        assert counts[0] <= 2 * counts[-1] or axes == 1
    assert math.prod(bench.balanced_counts(10**6, 4)) == 10**6


# --- benchmarks/gpu_check.py ------------------------------------------------------------


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks/gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def no_gpu_sentence() -> str:
    from sweep.kernels.cuda import device_status

    usable, why = device_status()
    if usable:
        pytest.skip(f"a GPU is usable here: {why}")
    return why


def test_gpu_check_without_a_gpu_says_so_and_exits_3(tmp_path, capsys):
    why = no_gpu_sentence()
    gpu_check = load_gpu_check()
    assert gpu_check.main(["--out", str(tmp_path)]) == 3
    assert capsys.readouterr().err == f"gpu_check: no usable GPU here, nothing was run: {why}\n"
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["device"] == {"usable": False, "reason": why}
    assert report["problems"] == [why] and report["complete"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu_check.json"]


def test_gpu_check_needs_an_output_folder(capsys, monkeypatch):
    monkeypatch.delenv("OUT", raising=False)
    assert load_gpu_check().main([]) == 2
    assert "--out" in capsys.readouterr().err


FAKE_TESTS = """
import pytest

def test_passes():
    assert True

def test_fails():
    assert 1 == 2, "one is not two"

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_errors(broken):
    pass
"""


def test_gpu_check_counts_a_real_pytest_report(tmp_path):
    gpu_check = load_gpu_check()
    (tmp_path / "test_fake.py").write_text(FAKE_TESTS)
    (tmp_path / "test_skipped_module.py").write_text(
        'import pytest\npytest.skip("wants the simulator", allow_module_level=True)\n')
    report = tmp_path / "report.xml"
    run = gpu_check.run_command([sys.executable, "-m", "pytest", str(tmp_path / "test_fake.py"),
                                 str(tmp_path / "test_skipped_module.py"), "-p", "no:cacheprovider",
                                 "-n0", f"--junitxml={report}"], 60, tmp_path / "log")
    assert run["returncode"] == 1 and not run["timed_out"] and "1 failed" in run["output_tail"]
    parsed = gpu_check.test_counts(report)
    assert parsed["counts"] == {"passed": 1, "failed": 1, "errors": 1, "skipped": 2, "total": 5}
    # A skipped module's id is its dotted path, which depends on where tmp_path lies.
    outcomes = {case["test"].split("::")[-1].rsplit(".", 1)[-1]: (case["outcome"], case["message"])
                for case in parsed["not_passed"]}
    assert set(outcomes) == {"test_fails", "test_skipped", "test_errors", "test_skipped_module"}
    assert outcomes["test_skipped_module"][0] == "skipped"
    assert "wants the simulator" in outcomes["test_skipped_module"][1]  # not "collection skipped"
    assert outcomes["test_fails"][0] == "failed" and "one is not two" in outcomes["test_fails"][1]
    assert outcomes["test_skipped"] == ("skipped", "not here")
    assert outcomes["test_errors"][0] == "errors" and "fixture broke" in outcomes["test_errors"][1]


def test_gpu_check_kills_a_part_that_runs_too_long(tmp_path):
    run = load_gpu_check().run_command(
        [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"],
        1, tmp_path / "log")
    assert run["timed_out"] and run["returncode"] is None
    assert run["output_tail"] == "started\n"


def test_gpu_check_assembles_its_json_from_the_tests_and_the_bench(tmp_path, monkeypatch):
    # A fake device, fake tests (one passes, one fails), the real bench at a tiny size;
    # the agreement part runs for real and fails, for there is no GPU.
    why = no_gpu_sentence()
    gpu_check = load_gpu_check()
    fake = {"usable": True, "name": "Fake GPU", "compute_capability": [9, 0]}
    monkeypatch.setattr(gpu_check, "probe_device", lambda: dict(fake))
    (tmp_path / "test_fake.py").write_text(FAKE_TESTS.split("@pytest.mark.skip")[0])
    monkeypatch.setattr(gpu_check, "TEST_FILES", (str(tmp_path / "test_fake.py"),))
    out = tmp_path / "out"
    code = gpu_check.main(["--out", str(out), "--cells", "16", "--steps", "5", "--repeats", "1"])
    assert code == 1
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["complete"] is True and report["device"] == fake
    assert report["tests"]["counts"] == {"passed": 1, "failed": 1, "errors": 0, "skipped": 0,
                                         "total": 2}
    results = report["bench"]["results"]
    assert report["bench"]["returncode"] == 0 and results["steps"] == 5
    assert {bench.ENGINE_ROW, bench.NUMPY_ROW} <= set(results["backends"])
    assert results["ratios"][bench.NUMPY_ROW] > 0
    assert report["agreement"]["returncode"] == 1 and "agree" not in report["agreement"]
    assert why in report["agreement"]["output_tail"]  # it failed for want of the GPU
    assert report["problems"] == [
        "tests: exit status 1 (see tests output_tail).",
        "agreement: exit status 1 (see agreement output_tail).",
        "tests: 1 failed and 0 errors of 2.",
        f"bench: {results['cuda']}"]
    assert results["cuda"].startswith("no CUDA rows")


def test_gpu_check_compares_every_metric_to_1e_12():
    gpu_check = load_gpu_check()
    table = {"sweep": {"optimizers": ["sgd", "adam"], "steps": 20, "record_every": 5},
             "objective": {"name": "booth"},
             "grid": {"alpha": [1e-2, 1.0], "beta1": [0.9], "beta2": [0.999], "eps": [1e-8]}}
    ds = sweep.run(table, backend="cpu")
    assert ds["diverged"].any()  # NaN or infinite metrics must compare equal to themselves
    differences, agree = gpu_check.compare(ds, ds.copy(deep=True))
    assert agree and set(differences) == set(ds.data_vars) and not any(differences.values())
    nudged = ds.copy(deep=True)
    nudged["final_loss"] = nudged["final_loss"] * (1 + 1e-11)
    differences, agree = gpu_check.compare(ds, nudged)
    assert not agree and 5e-12 < differences["final_loss"] < 2e-11
    lost = ds.copy(deep=True)
    finite = np.isfinite(lost["best_loss"].values)
    lost["best_loss"].values[finite] = np.nan  # NaN against a number
    assert not gpu_check.compare(ds, lost)[1]
    flipped = ds.copy(deep=True)
    flipped["diverged"] = ~flipped["diverged"]
    differences, agree = gpu_check.compare(ds, flipped)
    assert not agree and differences["diverged"] == ds["diverged"].size


def test_gpu_check_agreement_grid_is_valid_and_has_every_rule():
    from sweep.kernels.rules import OPTIMIZERS

    config = load_config(load_gpu_check().agreement_table())
    assert list(config.optimizers) == list(OPTIMIZERS)
    points = {"alpha": 3, "beta1": 2, "beta2": 1, "eps": 1}
    per_start = sum(math.prod(points[axis] for axis in points if config.reads(name, axis))
                    for name in OPTIMIZERS)
    assert make_plan(config).computed_cells == 2 * per_start  # two starts
