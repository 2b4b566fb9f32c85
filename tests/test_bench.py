"""``python -m sweep bench`` at a tiny size: it runs, reports, and writes its files.

Speed itself is a benchmark, never a test: nothing here asserts a throughput.
"""
import json

from sweep import cli
from sweep.api import load_config
from sweep.bench import sweep_table
from sweep.plan import make_plan


def test_bench_writes_a_table_json_and_a_plot(tmp_path, capsys):
    code = cli.main(["bench", "--cells", "64", "--steps", "20", "--repeats", "2",
                     "--max-cells", "1000", "--optimizers", "sgd,adam",
                     "--objectives", "booth", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "numpy broadcasting" in out and "× numpy" in out and "CUDA" in out
    results = json.loads((tmp_path / "bench.json").read_text())
    backends = results["backends"]
    for name in ("sweep, lockstep kernel, all cores", "sweep, lockstep kernel, 1 thread",
                 "sweep, simple kernel, all cores", "numpy broadcasting"):
        row = backends[name]
        assert row["min"] <= row["median"] <= row["max"] and row["repeats"] == 2
    assert set(results["optimizers_objectives"]) == {"sgd on booth", "adam on booth"}
    assert list(results["cells_scaling"]) == ["100", "1000"]
    assert set(results["threads_scaling"]) >= {"1"}
    assert (tmp_path / "bench.png").stat().st_size > 10_000


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
