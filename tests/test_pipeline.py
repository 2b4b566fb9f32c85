"""``sweep.run`` is config → plan → execute → assemble → store, each step once.

Counted through one run: the kernels are compiled once, the objective is built
once, each size bound is checked once; and the configuration records can only
be built by keyword.
"""
import collections
import dataclasses

import pytest
from conftest import grid_table

import sweep
import sweep.config
import sweep.execute
import sweep.objectives
from sweep.kernels import objectives as registry
from sweep.config import Axis, SweepConfig
from sweep.execute import Engine
from sweep.objectives import ObjectiveSpec
from sweep.plan import Block, Plan


def counting(calls, name, function):
    def counted(*args, **kwargs):
        calls[name] += 1
        return function(*args, **kwargs)
    return counted


@pytest.fixture
def calls(monkeypatch):
    """Calls, during the test, of compile_kernels, the quadratic's build and the two size checks."""
    counts = collections.Counter()
    monkeypatch.setattr(sweep.execute, "compile_kernels",
                        counting(counts, "compile", sweep.execute.compile_kernels))
    entry = registry.OBJECTIVES["quadratic"]
    monkeypatch.setitem(registry.OBJECTIVES, "quadratic", dataclasses.replace(
        entry, build=counting(counts, "build", entry.build)))
    for check in ("_check_disk", "_check_memory"):
        monkeypatch.setattr(sweep.config, check, counting(counts, check, getattr(sweep.config, check)))
    sweep.objectives.resolve.cache_clear()  # built afresh, whatever ran before in this process
    return counts


def quadratic_grid():
    table = grid_table(optimizers=("adam", "momentum"), steps=20, objective="quadratic",
                       alpha=[1e-2, 1e-1])
    table["objective"].update(dim=3, kappa=7.0)
    return table


@pytest.mark.parametrize("suffix", [".zarr", ".nc", None])
def test_one_run_compiles_once_builds_the_objective_once_and_checks_the_size_once(
        calls, tmp_path, suffix):
    output = None if suffix is None else tmp_path / f"r{suffix}"
    dataset = sweep.run(quadratic_grid(), output=output, n_jobs=2, block_cells=2)
    assert dataset.sizes["optimizer"] == 2 and dataset.sizes["alpha"] == 2
    assert calls["compile"] == 1
    assert calls["build"] == 1
    # The grid itself against the disk (no output could hold more), and the memory when
    # the dataset is assembled there (.nc, or nowhere written): each once.
    assert calls["_check_disk"] == 1
    assert calls["_check_memory"] == (0 if suffix == ".zarr" else 1)


def test_execute_leaves_compiling_to_the_caller(calls):
    from sweep.api import load_config
    from sweep.plan import make_plan

    plan = make_plan(load_config(quadratic_grid()))
    sweep.execute.compile_kernels(plan)
    saved = []
    sweep.execute.execute(plan, plan.blocks, lambda block, metrics: saved.append(block), n_jobs=1)
    assert len(saved) == len(plan.blocks) and calls["compile"] == 1


@pytest.mark.parametrize("record", [SweepConfig, Axis, ObjectiveSpec, Block, Plan, Engine])
def test_configuration_records_are_built_by_keyword_only(record):
    fields = dataclasses.fields(record)
    assert len(fields) >= 3 and all(field.kw_only for field in fields), record
    with pytest.raises(TypeError):
        record(*range(len(fields)))
