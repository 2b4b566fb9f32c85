"""The data sets of model objectives (sweep.datasets): shapes, splits, scaling, refusals.

Expected values come from outside the module: the sizes scikit-learn documents
for its bundled sets, sweep.kernels.logistic.make_data for blobs, and a plain loop
transcription of Wilson et al. (2017), section 3.3, for wilson2017.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from sweep.kernels.logistic import make_data
from sweep import datasets
from sweep.datasets import (BUNDLED, GENERATED, GENERATED_PARAMS, DataError, DataSet, as_signs,
                            check_targets, load)

# (rows, features, classes; 0 for real targets), from scikit-learn's documentation of the sets.
BUNDLED_SIZES = {"digits": (1797, 64, 10), "breast_cancer": (569, 30, 2), "iris": (150, 4, 3),
                 "wine": (178, 13, 3), "diabetes": (442, 10, 0)}


def assert_layout(dataset: DataSet) -> None:
    """float64, C-contiguous, (n, features) and (n, k) with matching rows."""
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        assert array.dtype == np.float64 and array.ndim == 2 and array.flags.c_contiguous
    assert dataset.x_train.shape == (dataset.n_train, dataset.features)
    assert dataset.x_test.shape == (dataset.n_test, dataset.features)
    assert dataset.y_train.shape[0] == dataset.n_train
    assert dataset.y_test.shape == (dataset.n_test, dataset.y_train.shape[1])
    assert np.isfinite(dataset.x_train).all() and np.isfinite(dataset.x_test).all()


def refused(key: str, word: str, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        load(**kwargs)
    assert info.value.key == key, str(info.value)
    assert word.lower() in str(info.value).lower()
    return info.value


# --- bundled and generated sets -------------------------------------------------------------

def test_every_name_is_bundled_or_generated_and_every_generated_set_lists_its_params():
    assert set(BUNDLED) == set(BUNDLED_SIZES)
    assert set(GENERATED_PARAMS) == set(GENERATED)
    assert not set(BUNDLED) & set(GENERATED)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_sets_have_their_documented_sizes_and_a_quarter_held_out(name):
    rows, features, classes = BUNDLED_SIZES[name]
    dataset = load(name)
    assert_layout(dataset)
    assert dataset.name == name
    assert dataset.features == features
    assert dataset.n_train + dataset.n_test == rows
    assert dataset.n_test == math.ceil(0.25 * rows)  # scikit-learn rounds the test share up
    assert dataset.y_train.shape[1] == 1
    if classes:
        assert (dataset.targets, dataset.classes, dataset.outputs) == ("classes", classes, classes)
        labels = np.concatenate([dataset.y_train, dataset.y_test])
        assert set(np.unique(labels)) == set(range(classes))
    else:
        assert (dataset.targets, dataset.classes, dataset.outputs) == ("real", 0, 1)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_sets_have_the_default_sizes(name):
    params = GENERATED_PARAMS[name]
    dataset = load(name)
    assert_layout(dataset)
    assert dataset.name == name
    if name == "wilson2017":
        assert dataset.n_train == params["samples"] and dataset.n_test == params["test_samples"]
        assert dataset.features == 6 * params["samples"]
    else:
        assert dataset.n_train + dataset.n_test == params["samples"]
        assert dataset.features == params.get("features", 2)
    expected = "classes" if name in ("moons", "circles") else "signs"
    assert (dataset.targets, dataset.classes) == (expected, 2)
    assert dataset.outputs == (2 if expected == "classes" else 1)
    values = {0.0, 1.0} if expected == "classes" else {-1.0, 1.0}
    assert set(np.unique(dataset.y_train)) == values


@pytest.mark.parametrize("name", ["moons", "circles", "blobs"])
def test_generated_params_change_the_data(name):
    dataset = load(name, params={"samples": 40}, test_fraction=0)
    assert dataset.n_train == 40
    changed = {"moons": {"noise": 0.0}, "circles": {"factor": 0.3}, "blobs": {"features": 5}}[name]
    other = load(name, params={"samples": 40, **changed}, test_fraction=0)
    assert other.x_train.shape != dataset.x_train.shape or not np.array_equal(other.x_train,
                                                                              dataset.x_train)


@pytest.mark.parametrize("name", ["iris", "digits", "breast_cancer", "moons", "blobs"])
def test_the_split_is_stratified(name):
    dataset = load(name, test_fraction=0.3)
    labels = np.concatenate([dataset.y_train, dataset.y_test])[:, 0]
    for value in np.unique(labels):
        share = np.mean(labels == value)
        # Each class's test count is its share of the test rows, to one row.
        assert abs(np.sum(dataset.y_test[:, 0] == value) - share * dataset.n_test) <= 1


@pytest.mark.parametrize("name", ["wine", "diabetes", "circles"])
def test_the_split_is_reproducible_by_data_seed_and_changes_with_it(name):
    first, again, other = load(name, data_seed=3), load(name, data_seed=3), load(name, data_seed=4)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(first, key), getattr(again, key))
    assert not np.array_equal(first.x_test, other.x_test)


def test_the_split_keeps_every_row_once():
    raw = load("iris", test_fraction=0, standardize=False)
    split = load("iris", test_fraction=0.4, standardize=False, data_seed=7)
    rows = np.concatenate([np.hstack([split.x_train, split.y_train]),
                           np.hstack([split.x_test, split.y_test])])
    whole = np.hstack([raw.x_train, raw.y_train])
    assert np.array_equal(np.unique(rows, axis=0), np.unique(whole, axis=0))
    assert len(rows) == len(whole)


@pytest.mark.parametrize("name", ["digits", "diabetes", "moons"])
def test_test_fraction_zero_gives_an_empty_test_set(name):
    dataset = load(name, test_fraction=0)
    assert_layout(dataset)
    assert dataset.n_test == 0 and dataset.x_test.shape == (0, dataset.features)
    assert dataset.n_train == (BUNDLED_SIZES[name][0] if name in BUNDLED
                               else GENERATED_PARAMS[name]["samples"])


@pytest.mark.parametrize("name", ["digits", "wine", "diabetes"])
def test_standardize_uses_the_training_rows_statistics(name):
    raw = load(name, data_seed=5, standardize=False)
    scaled = load(name, data_seed=5)
    mean = raw.x_train.mean(axis=0)
    std = raw.x_train.std(axis=0)
    varying = std > 0
    assert np.allclose(scaled.x_train.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(scaled.x_train.std(axis=0)[varying], 1, rtol=1e-12)
    assert np.allclose(scaled.x_test[:, varying], (raw.x_test - mean)[:, varying] / std[varying],
                       rtol=1e-12, atol=1e-12)
    # A constant feature is only centred (digits has blank pixels), never divided by zero.
    assert np.array_equal(scaled.x_test[:, ~varying], (raw.x_test - mean)[:, ~varying])
    assert np.array_equal(scaled.y_train, raw.y_train)
    if name == "digits":
        assert not varying.all()
    # The test rows were not used: their own mean is not zero.
    assert np.abs(scaled.x_test.mean(axis=0)[varying]).max() > 1e-3


def test_blobs_are_the_logistic_objectives_data_without_the_column_of_ones():
    inputs, labels = make_data(60, 3, 11)
    dataset = load("blobs", params={"samples": 60, "features": 3}, data_seed=11, test_fraction=0,
                   standardize=False)
    assert np.array_equal(dataset.x_train, inputs[:, :-1])
    assert np.array_equal(dataset.y_train[:, 0], labels)
    split = load("blobs", params={"samples": 60, "features": 3}, data_seed=11, standardize=False)
    rows = np.concatenate([split.x_train, split.x_test])
    assert np.array_equal(np.unique(rows, axis=0), np.unique(inputs[:, :-1], axis=0))


# --- wilson2017 -----------------------------------------------------------------------------

def wilson_by_hand(n, p, test_samples, seed):
    """Section 3.3 as written, 1-based, one sample at a time."""
    rng = np.random.default_rng(seed)
    y = [1.0 if rng.random() < p else -1.0 for _ in range(n)]
    y_test = [1.0 if rng.random() < p else -1.0 for _ in range(test_samples)]
    d = 6 * n
    x = np.zeros((n, d))
    for i in range(1, n + 1):
        x[i - 1, 1 - 1] = y[i - 1]
        x[i - 1, 2 - 1] = 1.0
        x[i - 1, 3 - 1] = 1.0
        first = 4 + 5 * (i - 1)
        last = 4 + 5 * (i - 1) + 2 * (1 - int(y[i - 1]))
        for j in range(first, last + 1):
            x[i - 1, j - 1] = 1.0
    x_test = np.zeros((test_samples, d))
    for k in range(test_samples):
        x_test[k, 0], x_test[k, 1], x_test[k, 2] = y_test[k], 1.0, 1.0
    return x, np.array(y), x_test, np.array(y_test)


def a_telling_seed(n, p, test_samples):
    """The first seed whose draw has both labels in training and test, and Σ y_i > 0."""
    for seed in range(100):
        _, y, _, y_test = wilson_by_hand(n, p, test_samples, seed)
        if y.sum() > 0 and (y < 0).any() and len(set(y_test)) == 2:
            return seed
    raise AssertionError("no seed in 0 … 99 draws both labels")


def test_wilson2017_is_the_construction_of_section_3_3():
    seed = a_telling_seed(4, 0.75, 8)
    x, y, x_test, y_test = wilson_by_hand(4, 0.75, 8, seed)
    dataset = load("wilson2017", params={"samples": 4, "p": 0.75, "test_samples": 8},
                   data_seed=seed)
    assert_layout(dataset)
    assert np.array_equal(dataset.x_train, x) and np.array_equal(dataset.y_train[:, 0], y)
    assert np.array_equal(dataset.x_test, x_test) and np.array_equal(dataset.y_test[:, 0], y_test)
    assert (dataset.targets, dataset.classes, dataset.outputs) == ("signs", 2, 1)
    # Used as constructed: standardize and test_fraction do not apply.
    plain = load("wilson2017", params={"samples": 4, "p": 0.75, "test_samples": 8},
                 data_seed=seed, standardize=False, test_fraction=0.5)
    assert np.array_equal(plain.x_train, dataset.x_train)
    assert np.array_equal(plain.x_test, dataset.x_test)


def test_wilson2017_minimum_norm_least_squares_generalizes_and_sign_xty_does_not():
    seed = a_telling_seed(4, 0.75, 8)
    dataset = load("wilson2017", params={"samples": 4, "p": 0.75, "test_samples": 8},
                   data_seed=seed)
    x, y = dataset.x_train, dataset.y_train[:, 0]
    # Least squares from θ = 0 without bias: GD stays in the row space of X and ends at
    # the minimum-norm interpolant, which lstsq computes.
    w_min_norm = np.linalg.lstsq(x, y, rcond=None)[0]
    assert np.allclose(x @ w_min_norm, y)
    assert np.array_equal(np.sign(dataset.x_test @ w_min_norm), dataset.y_test[:, 0])
    w = np.zeros(dataset.features)
    step = 1.0 / np.linalg.eigvalsh(x.T @ x).max()
    for _ in range(5000):
        w -= step * x.T @ (x @ w - y)
    assert np.allclose(w, w_min_norm, atol=1e-8)
    # Wilson's argument: the adaptive methods' direction sign(Xᵀy) predicts +1 everywhere.
    w_sign = np.sign(x.T @ y)
    assert np.all(dataset.x_test @ w_sign > 0)
    assert np.mean(np.sign(dataset.x_test @ w_sign) != dataset.y_test[:, 0]) == np.mean(
        dataset.y_test[:, 0] < 0) > 0


def test_wilson2017_may_have_no_test_points():
    dataset = load("wilson2017", params={"samples": 3, "test_samples": 0})
    assert dataset.n_test == 0 and dataset.x_test.shape == (0, 18)


# --- .npz files -----------------------------------------------------------------------------

def test_npz_round_trip_with_a_test_set(tmp_path):
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(30, 4)), rng.normal(size=(6, 4))
    y, y_test = np.arange(30) % 3, np.array([0, 1, 2, 2, 1, 0])
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test,
             notes=np.array([1, 2]))  # an extra key is ignored
    dataset = load("mine.npz", base_dir=tmp_path, standardize=False)
    assert_layout(dataset)
    assert dataset.name == "mine.npz"
    assert np.array_equal(dataset.x_train, x) and np.array_equal(dataset.x_test, x_test)
    assert np.array_equal(dataset.y_train[:, 0], y) and np.array_equal(dataset.y_test[:, 0], y_test)
    assert (dataset.targets, dataset.classes, dataset.outputs) == ("classes", 3, 3)
    scaled = load("mine.npz", base_dir=tmp_path)
    assert np.allclose(scaled.x_test, (x_test - x.mean(axis=0)) / x.std(axis=0))


def test_npz_without_a_test_set_is_split(tmp_path):
    x = np.arange(80, dtype=np.int32).reshape(40, 2)
    (tmp_path / "sub").mkdir()
    np.savez(tmp_path / "sub" / "a.npz", x_train=x, y_train=np.where(np.arange(40) < 30, 1, -1))
    dataset = load("sub/a.npz", base_dir=tmp_path, test_fraction=0.5, standardize=False)
    assert dataset.name == "a.npz"
    assert (dataset.n_train, dataset.n_test) == (20, 20)
    assert (dataset.targets, dataset.classes, dataset.outputs) == ("signs", 2, 1)
    assert np.sum(dataset.y_test == 1) == 15  # stratified: three quarters positive
    assert dataset.x_train.dtype == np.float64


@pytest.mark.parametrize("y, targets, classes, outputs", [
    (np.array([0.0, 1.0, 3.0, 1.0]), "classes", 4, 4),   # C = max + 1, a class may be unused
    (np.array([[1], [-1], [1], [1]]), "signs", 2, 1),
    (np.array([1, 1, 1, 1]), "signs", 2, 1),
    (np.array([0.5, 1.0, 2.0, 3.0]), "real", 0, 1),
    (np.array([-1, 0, 1, 2]), "real", 0, 1),
    (np.array([0, 0, 0, 0]), "real", 0, 1),              # one distinct value is not classes
    (np.array([[0, 1], [1, 0], [1, 1], [0, 0]]), "real", 0, 2),
])
def test_npz_targets_are_read_from_the_training_labels(tmp_path, y, targets, classes, outputs):
    np.savez(tmp_path / "t.npz", x_train=np.eye(4), y_train=y)
    dataset = load("t.npz", base_dir=tmp_path, test_fraction=0)
    assert (dataset.targets, dataset.classes, dataset.outputs) == (targets, classes, outputs)
    assert dataset.y_train.shape == (4, outputs if targets == "real" else 1)


class Trap:
    """Unpickling this creates a directory: proof that a pickle was run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def npz_case(tmp_path, name):
    """Writes the broken file ``name`` and returns (key, word) expected from load."""
    good_x, good_y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    cases = {
        "no_x_train": ({"y_train": good_y}, "x_train", "no x_train"),
        "no_y_train": ({"x_train": good_x}, "y_train", "no y_train"),
        "x_test_alone": ({"x_train": good_x, "y_train": good_y, "x_test": good_x}, "y_test",
                         "both"),
        "y_test_alone": ({"x_train": good_x, "y_train": good_y, "y_test": good_y}, "x_test",
                         "both"),
        "x_1d": ({"x_train": np.ones(4), "y_train": good_y}, "x_train", "2-D"),
        "x_no_features": ({"x_train": np.ones((4, 0)), "y_train": good_y}, "x_train", "2-D"),
        "y_3d": ({"x_train": good_x, "y_train": np.ones((4, 1, 1))}, "y_train", "1-D or 2-D"),
        "rows_differ": ({"x_train": good_x, "y_train": good_y[:3]}, "y_train", "rows"),
        "test_rows_differ": ({"x_train": good_x, "y_train": good_y, "x_test": good_x,
                              "y_test": good_y[:2]}, "y_test", "rows"),
        "features_differ": ({"x_train": good_x, "y_train": good_y, "x_test": np.ones((2, 3)),
                             "y_test": good_y[:2]}, "x_test", "features"),
        "strings": ({"x_train": np.array([["a", "b"]] * 4), "y_train": good_y}, "x_train",
                    "numeric"),
        "complex": ({"x_train": good_x, "y_train": good_y + 1j}, "y_train", "numeric"),
        "nan": ({"x_train": np.where(np.eye(4, 2) > 0, np.nan, 1.0), "y_train": good_y},
                "x_train", "NaN"),
        "inf": ({"x_train": good_x, "y_train": good_y, "x_test": good_x,
                 "y_test": np.array([0, 1, np.inf, 0])}, "y_test", "infinite"),
        "empty": ({"x_train": np.ones((0, 2)), "y_train": np.ones(0)}, "x_train", "empty"),
        "unseen_class": ({"x_train": good_x, "y_train": good_y, "x_test": good_x,
                          "y_test": np.array([0, 1, 2, 1])}, "y_test", "absent"),
        "test_not_signs": ({"x_train": good_x, "y_train": 2 * good_y - 1, "x_test": good_x[:1],
                            "y_test": np.array([0])}, "y_test", "absent"),
        "test_columns": ({"x_train": good_x, "y_train": np.ones((4, 2)) * [[1], [2], [3], [4]],
                          "x_test": good_x, "y_test": np.ones((4, 3))}, "y_test", "columns"),
    }
    arrays, key, word = cases[name]
    np.savez(tmp_path / f"{name}.npz", **arrays)
    return key, word


@pytest.mark.parametrize("name", ["no_x_train", "no_y_train", "x_test_alone", "y_test_alone",
                                  "x_1d", "x_no_features", "y_3d", "rows_differ",
                                  "test_rows_differ", "features_differ", "strings", "complex",
                                  "nan", "inf", "empty", "unseen_class", "test_not_signs",
                                  "test_columns"])
def test_broken_npz_files_are_refused_naming_the_key(tmp_path, name):
    key, word = npz_case(tmp_path, name)
    refused(key, word, data=f"{name}.npz", base_dir=tmp_path)


def test_a_missing_or_unreadable_npz_names_the_file(tmp_path):
    error = refused("data", "no file", data="absent.npz", base_dir=tmp_path)
    assert "absent.npz" in str(error)
    (tmp_path / "text.npz").write_text("not an archive")
    refused("data", "cannot be read", data="text.npz", base_dir=tmp_path)
    with open(tmp_path / "single.npz", "wb") as file:
        np.save(file, np.ones(3))
    refused("data", "single array", data="single.npz", base_dir=tmp_path)


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    np.savez(tmp_path / "objects.npz", x_train=np.array([Trap(str(marker)), 1.0], dtype=object),
             y_train=np.array([0, 1]))
    error = refused("data", "objects", data="objects.npz", base_dir=tmp_path)
    assert "objects.npz" in str(error) and "x_train" in str(error)
    assert not marker.exists()


def test_an_npz_takes_no_params(tmp_path):
    np.savez(tmp_path / "p.npz", x_train=np.eye(3), y_train=np.array([0, 1, 2]))
    refused("samples", "no parameters", data="p.npz", base_dir=tmp_path, params={"samples": 10})


# --- names, parameters and options ----------------------------------------------------------

def test_an_unknown_name_suggests_the_closest_and_lists_the_known_ones():
    error = refused("data", "perhaps 'digits'?", data="digts")
    for name in BUNDLED + GENERATED:
        assert name in str(error)
    assert "perhaps" not in str(refused("data", ".npz", data="zzzzzz")).lower()
    refused("data", "npz", data=3)


def test_data_error_is_a_value_error_whose_text_is_the_sentence_alone():
    error = DataError("samples", "moons's samples must be an integer ≥ 2, not 1.")
    assert isinstance(error, ValueError)
    assert error.key == "samples"
    assert str(error) == "moons's samples must be an integer ≥ 2, not 1."


@pytest.mark.parametrize("data, params, key, word", [
    ("moons", {"nois": 0.1}, "nois", "perhaps you meant 'noise'"),
    ("moons", {"factor": 0.5}, "factor", "samples, noise"),
    ("blobs", {"noise": 0.5}, "noise", "samples, features"),
    ("moons", {"samples": 1}, "samples", "≥ 2"),
    ("moons", {"samples": 2.5}, "samples", "integer"),
    ("moons", {"samples": True}, "samples", "integer"),
    ("circles", {"noise": -0.1}, "noise", "≥ 0"),
    ("circles", {"noise": float("nan")}, "noise", "number"),
    ("circles", {"noise": "0.1"}, "noise", "number"),
    ("circles", {"factor": 1.0}, "factor", "[0, 1)"),
    ("blobs", {"features": 0}, "features", "≥ 1"),
    ("wilson2017", {"p": 0.5}, "p", "(0.5, 1)"),
    ("wilson2017", {"p": 1.0}, "p", "(0.5, 1)"),
    ("wilson2017", {"samples": 2}, "samples", "≥ 3"),
    ("wilson2017", {"test_samples": -1}, "test_samples", "≥ 0"),
    ("iris", {"samples": 10}, "samples", "no parameters"),
])
def test_bad_params_are_refused_naming_the_parameter(data, params, key, word):
    refused(key, word, data=data, params=params)


@pytest.mark.parametrize("options, key", [
    ({"test_fraction": -0.1}, "test_fraction"), ({"test_fraction": 1.0}, "test_fraction"),
    ({"test_fraction": True}, "test_fraction"), ({"test_fraction": float("nan")}, "test_fraction"),
    ({"data_seed": -1}, "data_seed"), ({"data_seed": 1.5}, "data_seed"),
    ({"data_seed": 2**32}, "data_seed"), ({"standardize": "yes"}, "standardize"),
])
def test_bad_options_are_refused_naming_the_option(options, key):
    refused(key, key, data="iris", **options)


def test_a_split_the_rows_cannot_bear_names_test_fraction():
    refused("test_fraction", "cannot be split", data="moons", params={"samples": 2})


# --- as_signs and check_targets -------------------------------------------------------------

def test_as_signs_maps_class_1_to_plus_1_and_class_0_to_minus_1():
    dataset = load("breast_cancer")
    signs = as_signs(dataset)
    assert (signs.targets, signs.classes, signs.outputs) == ("signs", 2, 1)
    assert np.array_equal(signs.y_train, np.where(dataset.y_train == 1, 1.0, -1.0))
    assert np.array_equal(signs.y_test, np.where(dataset.y_test == 1, 1.0, -1.0))
    assert signs.x_train is dataset.x_train
    assert as_signs(signs) is signs
    check_targets(signs, "signs")


@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_as_signs_refuses_other_than_two_classes(name):
    with pytest.raises(DataError) as info:
        as_signs(load(name))
    assert info.value.key == "data" and "2 classes" in str(info.value)


@pytest.mark.parametrize("name", BUNDLED + GENERATED)
def test_every_set_suits_its_own_kind_and_the_squared_loss(name):
    dataset = load(name, **({"params": {"samples": 20}} if name == "wilson2017" else {}))
    check_targets(dataset, dataset.targets)
    check_targets(dataset, "real")


@pytest.mark.parametrize("name, loss, hint", [
    ("blobs", "classes", "cross entropy"),
    ("diabetes", "classes", "cross entropy"),
    ("moons", "signs", "as_signs"),
    ("iris", "signs", "logistic"),
    ("diabetes", "signs", "logistic"),
])
def test_check_targets_refuses_what_a_loss_cannot_use(name, loss, hint):
    with pytest.raises(DataError) as info:
        check_targets(load(name), loss)
    assert info.value.key == "y_train" and hint in str(info.value)


def test_check_targets_checks_the_test_targets_of_a_hand_built_set():
    x = np.zeros((2, 1))
    dataset = DataSet(name="hand", x_train=x, y_train=np.array([[1.0], [-1.0]]), x_test=x,
                      y_test=np.array([[1.0], [0.0]]), targets="signs", classes=2)
    with pytest.raises(DataError) as info:
        check_targets(dataset, "signs")
    assert info.value.key == "y_test"
    classes = DataSet(name="hand", x_train=x, y_train=np.array([[0.0], [1.0]]), x_test=x,
                      y_test=np.array([[1.0], [2.0]]), targets="classes", classes=2)
    with pytest.raises(DataError) as info:
        check_targets(classes, "classes")
    assert info.value.key == "y_test"
    with pytest.raises(ValueError):
        check_targets(classes, "hinge")


def test_importing_the_module_does_not_import_numba():
    code = "import sys, sweep.datasets; assert 'numba' not in sys.modules, 'numba imported'"
    root = os.path.dirname(os.path.dirname(os.path.abspath(datasets.__file__)))
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": root})
    assert result.returncode == 0, result.stderr
