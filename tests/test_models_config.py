"""Bad model grids: each mistake names the key, exits 2 and writes nothing."""
from __future__ import annotations

import numpy as np
import pytest

from sweep import cli
from sweep.config import validate
from sweep.errors import ConfigError

from test_config import assert_nothing_left, to_toml


def grid(**objective) -> dict:
    base = {"model": "mlp", "hidden": [4], "data": "iris"}
    base.update(objective)
    return {"sweep": {"optimizers": ["adam"], "steps": 3, "output": "out.nc"},
            "objective": {key: value for key, value in base.items() if value is not None}}


MISTAKES = [
    ("model-typo", {"model": "mpl"}, 'objective.model = "mpl"', 'Perhaps you meant "mlp"?'),
    ("data-typo", {"data": "digit"}, 'objective.data = "digit"', "Perhaps 'digits'?"),
    ("data-missing", {"data": None}, "objective.data", "is required with objective.model"),
    ("loss-typo", {"loss": "crossentropy"}, 'objective.loss = "crossentropy"', "cross_entropy"),
    ("activation-typo", {"activation": "tahn"}, 'objective.activation = "tahn"', "tanh"),
    ("hidden-empty", {"hidden": []}, "objective.hidden", "must not be empty"),
    ("hidden-zero", {"hidden": [4, 0]}, "objective.hidden[1] = 0", "positive integers"),
    ("hidden-float", {"hidden": [2.5]}, "objective.hidden[0] = 2.5", "positive integers"),
    ("hidden-for-linear", {"model": "linear", "hidden": [3]}, "objective.hidden",
     "only mlp has hidden layers"),
    ("bias-for-mlp", {"bias": False}, "objective.bias", "only linear"),
    ("loss-for-model", {"model": "logistic", "hidden": None, "loss": "squared"},
     'objective.loss = "squared"', "logistic trains with logistic"),
    ("batch-too-large", {"batch_size": 5000}, "objective.batch_size = 5000",
     "larger than the training set (112 samples)"),
    ("cross-entropy-on-real", {"model": "linear", "hidden": None, "data": "diabetes",
                               "loss": "cross_entropy"}, 'objective.loss = "cross_entropy"',
     "class"),
    ("test-fraction", {"test_fraction": 1.0}, "objective.test_fraction = 1.0", "[0, 1)"),
    ("data-params-unknown", {"data": {"name": "moons", "radius": 2}}, "objective.data",
     "radius"),
    ("data-table-no-name", {"data": {"samples": 2}}, "objective.data.name", "is required"),
    ("start-length", {"start": [[0.0, 1.0]]}, "objective.start[0]", "has 2 coordinates"),
    ("builtin-key", {"kappa": 3.0}, "objective.kappa", "not models"),
    ("dtype", {}, "sweep.dtype", "float64 only"),
]


@pytest.mark.parametrize("edit, key, words", [m[1:] for m in MISTAKES],
                         ids=[m[0] for m in MISTAKES])
def test_a_mistake_names_its_key_and_exits_2(edit, key, words, tmp_path, monkeypatch, capsys):
    table = grid(**edit)
    if key == "sweep.dtype":
        table["sweep"]["dtype"] = "float32"
    (tmp_path / "grid.toml").write_text(to_toml(table))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as refused:
        validate(table, source="grid.toml")
    message = str(refused.value)
    assert f"grid.toml: {key}" in message and words in message, message
    assert cli.main(["grid.toml", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: grid.toml: ")
    assert_nothing_left(tmp_path, "grid.toml")


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path.name


@pytest.mark.parametrize("arrays, key, words", [
    ({"x_train": np.ones((6, 2))}, "objective.data (y_train)", "y_train"),
    ({"x_train": np.array([[0.0, np.nan]] * 6), "y_train": np.arange(6) % 2},
     "objective.data (x_train)", "NaN"),
    ({"x_train": np.ones((6, 2)), "y_train": np.arange(6) % 2, "x_test": np.ones((2, 2)),
      "y_test": np.array([0, 2])}, "objective.data (y_test)", "absent"),
    ({"x_train": np.ones((6, 2)), "y_train": np.arange(5) % 2}, "objective.data", "rows"),
], ids=["missing-key", "nan", "test-class-absent", "rows"])
def test_a_bad_npz_names_the_file_and_its_key(arrays, key, words, tmp_path):
    name = _npz(tmp_path / "mine.npz", **arrays)
    grid_file = tmp_path / "grid.toml"
    with pytest.raises(ConfigError) as refused:
        validate(grid(data=name, hidden=[2]), source=str(grid_file))
    message = str(refused.value)
    assert key in message and words in message, message


def test_an_npz_next_to_the_grid_trains(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    y = (x[:, 0] > 0).astype(int)
    name = _npz(tmp_path / "mine.npz", x_train=x, y_train=y)
    table = grid(data=name, hidden=[3])
    config = validate(table, source=str(tmp_path / "grid.toml"))
    assert config.dim == 3 * 3 + 3 + 3 * 2 + 2  # 3 features → 3 hidden → 2 classes
    assert config.spec.file == str(tmp_path / "mine.npz") and config.spec.digest
