"""The data sets of model objectives: bundled, generated, or read from an ``.npz`` file.

``load(data, ...)`` returns a :class:`DataSet` of float64, C-contiguous arrays
``x (n, features)`` and ``y (n, k)``, split into training and test rows,
standardized by the training rows' statistics. Pure numpy and scikit-learn:
nothing here imports numba, so a grid file's data are checked before any
kernel compiles.

The conventions (docs/update_rules.md, "Models trained on data"):

* bundled: scikit-learn's ``load_*`` sets, shipped with scikit-learn (nothing
  is downloaded); generated: ``moons``, ``circles``, ``blobs``, ``wilson2017``,
  seeded by ``data_seed``; or a path ending in ``.npz``, relative to the grid
  file's folder, with ``x_train``, ``y_train`` and optionally ``x_test``, ``y_test``;
* without a test set the rows are split by ``test_fraction`` with
  ``train_test_split(random_state=data_seed)``, stratified for labels;
* ``standardize`` scales each feature by the training rows' mean and standard
  deviation (ddof 0); wilson2017 is used as constructed.

Targets are ``"classes"`` (indices 0 … C−1 stored as floats, one column),
``"signs"`` (±1, one column) or ``"real"`` (any number of columns).
"""
from __future__ import annotations

import difflib
import math
import numbers
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sweep.kernels.logistic import make_data

BUNDLED = ("digits", "breast_cancer", "iris", "wine", "diabetes")
GENERATED = ("moons", "circles", "wilson2017", "blobs")

# Each generated set's parameters and their defaults. wilson2017's are ours, not
# the paper's: section 3.3 is an analysis for any n and p > 1/2 and fixes no
# numbers. n = 100 (600 features) is small and strongly over-parameterised;
# p = 3/4 makes the adaptive methods' all-+1 prediction err on a quarter of the
# test points (far from GD's zero) and, with n = 100, makes Σ y_i > 0 (which
# Wilson's sign argument needs) all but certain; 100 test points measure the
# error in steps of 1 %.
GENERATED_PARAMS = {
    "moons": {"samples": 200, "noise": 0.2},
    "circles": {"samples": 200, "noise": 0.1, "factor": 0.5},
    "wilson2017": {"samples": 100, "p": 0.75, "test_samples": 100},
    "blobs": {"samples": 200, "features": 2},
}

TARGETS = ("classes", "signs", "real")

# name -> (integer?, accepts(value), what it must be). An entry keyed by (set, name)
# overrides the name's rule for that set.
_PARAM_RULES = {
    "samples": (True, lambda v: v >= 2, "an integer ≥ 2"),
    # sample n's block of five ends at feature 5n + 3, inside d = 6n only from n = 3.
    ("wilson2017", "samples"): (True, lambda v: v >= 3, "an integer ≥ 3"),
    "features": (True, lambda v: v >= 1, "an integer ≥ 1"),
    "test_samples": (True, lambda v: v >= 0, "an integer ≥ 0"),
    "noise": (False, lambda v: v >= 0, "a number ≥ 0"),
    "factor": (False, lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "p": (False, lambda v: 0.5 < v < 1, "a number in (0.5, 1)"),
}

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
    """A data set that cannot be used.

    Attributes:
        key: what is wrong: ``"data"`` (the set itself, or its file), an ``.npz``
            key (``"x_train"``, ``"y_test"``, …) or a parameter name
            (``"test_fraction"``, ``"samples"``, …).

    ``str(error)`` is the sentence alone, without the key.
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, kw_only=True, eq=False)  # eq=False: == on arrays has no single answer
class DataSet:
    """Training and test rows of one data set, float64 and C-contiguous.

    Attributes:
        name: ``"digits"``, ``"wilson2017"``, … or the ``.npz`` file's name.
        x_train: (n_train, features).
        y_train: (n_train, k): k = 1 for class indices or ±1 signs, k = outputs for real targets.
        x_test: (n_test, features); n_test may be 0.
        y_test: (n_test, k).
        targets: ``"classes"`` (0 … C−1 stored as floats), ``"signs"`` (±1) or ``"real"``.
        classes: C for ``"classes"``, 2 for ``"signs"``, 0 for ``"real"``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    targets: str
    classes: int

    @property
    def features(self) -> int:
        return self.x_train.shape[1]

    @property
    def outputs(self) -> int:
        """The network's outputs: C for classes, 1 for signs, k for real targets."""
        if self.targets == "classes":
            return self.classes
        return self.y_train.shape[1]

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_test(self) -> int:
        return self.x_test.shape[0]


def load(data: str, *, base_dir: str | Path = ".", test_fraction: float = 0.25, data_seed: int = 0,
         standardize: bool = True, params: dict | None = None) -> DataSet:
    """The data set ``data``, split and standardized.

    Args:
        data: a name in ``BUNDLED`` or ``GENERATED``, or a path ending in ``.npz``.
        base_dir: the folder a relative ``.npz`` path is read from (the grid file's).
        test_fraction: the share of rows held out when the set has no test set of
            its own, in [0, 1); 0 keeps every row for training.
        data_seed: seeds the generated sets and the split.
        standardize: scale features by the training rows' mean and standard
            deviation (not applied to wilson2017).
        params: a generated set's parameters (``GENERATED_PARAMS`` lists them
            with their defaults); other sets take none.

    Raises:
        DataError: naming the set, the ``.npz`` key or the parameter at fault.
    """
    _check_options(test_fraction, data_seed, standardize)
    params = {} if params is None else params
    if not isinstance(data, str):
        raise DataError("data", f"data must be a name or a path ending in .npz, not {data!r}.")
    if data.endswith(".npz"):
        _no_params(data, params)
        path = Path(base_dir) / data
        x_train, y_train, x_test, y_test = _read_npz(path)
        name = path.name
        y_train = _column(y_train)
        targets, classes = _kind(y_train)  # a file says nothing of its targets: read them
    elif data in BUNDLED:
        _no_params(data, params)
        x_train, y_train = _bundled(data)
        x_test = y_test = None
        name = data
        # diabetes' targets are integers too (25 … 346): the kind is known, not guessed.
        targets = "real" if data == "diabetes" else "classes"
        classes = 0 if data == "diabetes" else int(y_train.max()) + 1
    elif data in GENERATED:
        chosen = _generated_params(data, params)
        if data == "wilson2017":
            return _wilson2017(data_seed=data_seed, **chosen)
        x_train, y_train = _generated(data, chosen, data_seed)
        x_test = y_test = None
        name = data
        targets, classes = ("signs", 2) if data == "blobs" else ("classes", 2)
    else:
        raise DataError("data", _unknown(data))

    y_train = _column(y_train)
    if x_test is None:
        x_train, y_train, x_test, y_test = _split(name, x_train, y_train, targets, test_fraction,
                                                  data_seed)
    else:
        y_test = _column(y_test)
        _check_test_targets(y_train, y_test, targets)
    if standardize:
        x_train, x_test = _standardize(x_train, x_test)
    return DataSet(name=name, x_train=_floats(x_train), y_train=_floats(y_train),
                   x_test=_floats(x_test), y_test=_floats(y_test), targets=targets,
                   classes=classes)


def _wilson2017(*, samples: int, p: float, test_samples: int, data_seed: int) -> DataSet:
    """Wilson, Roelofs, Stern, Srebro & Recht (2017), "The marginal value of adaptive
    gradient methods in machine learning", section 3.3.

    n = ``samples`` training points with labels y_i = +1 with probability p > 1/2
    (else −1) and d = 6n features: x_i1 = y_i, x_i2 = x_i3 = 1, and a block of
    ones of sample i's own at (1-based) features 4 + 5(i−1) … 4 + 5(i−1) + 2(1 − y_i):
    one feature if y_i = +1, five if y_i = −1. A test point is (y, 1, 1, 0, …, 0)
    with its own label drawn with probability p. Least squares from θ = 0 reaches
    the minimum-norm solution, which classifies every test point correctly; a
    multiple of sign(Xᵀy) (where AdaGrad, RMSProp and Adam go) predicts +1 for all
    of them whenever Σ y_i > 0.

    The defaults in ``GENERATED_PARAMS`` (n = 100, p = 3/4, 100 test points) are
    ours: the paper fixes none. Labels are drawn with
    ``np.random.default_rng(data_seed)``, training labels first. Not standardized.

    Returns:
        x_train (n, 6n), y_train (n, 1), x_test (test_samples, 6n), y_test
        (test_samples, 1), targets "signs".
    """
    rng = np.random.default_rng(data_seed)
    labels = np.where(rng.random(samples) < p, 1.0, -1.0)
    test_labels = np.where(rng.random(test_samples) < p, 1.0, -1.0)
    features = 6 * samples
    x_train = np.zeros((samples, features))
    x_train[:, 0] = labels
    x_train[:, 1:3] = 1.0
    for i, label in enumerate(labels):
        start = 3 + 5 * i  # 0-based form of 4 + 5(i − 1) for the 1-based i
        x_train[i, start:start + (1 if label > 0 else 5)] = 1.0
    x_test = np.zeros((test_samples, features))
    x_test[:, 0] = test_labels
    x_test[:, 1:3] = 1.0
    return DataSet(name="wilson2017", x_train=x_train, y_train=labels[:, None].copy(),
                   x_test=x_test, y_test=test_labels[:, None].copy(), targets="signs", classes=2)


def as_signs(dataset: DataSet) -> DataSet:
    """A two-class set with ±1 targets (class 1 → +1, class 0 → −1), for the logistic loss.

    A set that already has signs is returned as it is.

    Raises:
        DataError("data"): the set has real targets or more than two classes.
    """
    if dataset.targets == "signs":
        return dataset
    if dataset.targets != "classes" or dataset.classes != 2:
        kind = "real targets" if dataset.targets == "real" else f"{dataset.classes} classes"
        raise DataError("data", f"{dataset.name} has {kind}; ±1 targets need exactly 2 classes.")
    return replace(dataset, y_train=np.where(dataset.y_train == 1.0, 1.0, -1.0),
                   y_test=np.where(dataset.y_test == 1.0, 1.0, -1.0), targets="signs")


def check_targets(dataset: DataSet, targets: str) -> None:
    """Refuse a data set whose targets a loss cannot use.

    ``"classes"`` (cross entropy) needs one column of indices 0 … C−1;
    ``"signs"`` (logistic) one column of ±1; ``"real"`` (squared) takes any
    targets, class indices and signs being numbers too. The values are checked,
    not only ``dataset.targets``, so a hand-built set is held to the same rule.

    Raises:
        DataError: naming ``"y_train"`` or ``"y_test"``, whichever breaks the rule first.
    """
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {', '.join(TARGETS)}, not {targets!r}.")
    if targets == "real":
        return
    for key in ("y_train", "y_test"):
        y = getattr(dataset, key)
        if targets == "classes":
            fits = (dataset.targets == "classes" and y.shape[1] == 1
                    and np.all((y == np.round(y)) & (y >= 0) & (y < dataset.classes)))
            need = "class indices 0 … C−1 (cross entropy)"
        else:
            fits = y.shape[1] == 1 and np.all(np.abs(y) == 1.0)
            need = "±1 targets (the logistic loss)"
        if not fits:
            hint = " (as_signs turns 2 classes into ±1)" if (
                targets == "signs" and dataset.targets == "classes" and dataset.classes == 2) else ""
            raise DataError(key, f"the loss needs {need}, which {dataset.name}'s {key} does not "
                                 f"hold (the set has {_describe(dataset)}){hint}.")


# --- options and parameters -----------------------------------------------------------------

def _check_options(test_fraction, data_seed, standardize) -> None:
    if not _is_number(test_fraction) or not 0 <= test_fraction < 1:
        raise DataError("test_fraction",
                        f"test_fraction must be a number in [0, 1), not {test_fraction!r}.")
    # train_test_split's random_state takes 0 … 2³² − 1.
    if not _is_integer(data_seed) or not 0 <= data_seed < 2**32:
        raise DataError("data_seed", f"data_seed must be an integer in [0, 2³²), not {data_seed!r}.")
    if not isinstance(standardize, (bool, np.bool_)):
        raise DataError("standardize", f"standardize must be true or false, not {standardize!r}.")


def _no_params(data: str, params: dict) -> None:
    if params:
        raise DataError(next(iter(params)), f"{data} takes no parameters; only the generated sets "
                                            f"({', '.join(GENERATED)}) do.")


def _generated_params(data: str, params: dict) -> dict:
    """The set's defaults updated by ``params``, each value checked."""
    defaults = GENERATED_PARAMS[data]
    chosen = dict(defaults)
    for name, value in params.items():
        if name not in defaults:
            close = difflib.get_close_matches(str(name), defaults, n=1)
            perhaps = f" Perhaps you meant '{close[0]}'?" if close else ""
            raise DataError(name, f"{data} has no parameter '{name}'; it takes "
                                  f"{', '.join(defaults)}.{perhaps}")
        integer, accepts, what = _PARAM_RULES.get((data, name)) or _PARAM_RULES[name]
        typed = _is_integer(value) if integer else _is_number(value)
        if not typed or not accepts(value):
            raise DataError(name, f"{data}'s {name} must be {what}, not {value!r}.")
        chosen[name] = int(value) if integer else float(value)
    return chosen


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def _unknown(data: str) -> str:
    known = BUNDLED + GENERATED
    close = difflib.get_close_matches(data, known, n=1)
    perhaps = f" Perhaps '{close[0]}'?" if close else ""
    return (f"unknown data set '{data}': the known ones are {', '.join(known)}, or a path "
            f"ending in .npz.{perhaps}")


# --- the sources ----------------------------------------------------------------------------

def _bundled(data: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's copy of the set, shipped with the package (``load_*``, never ``fetch_*``)."""
    from sklearn import datasets as sklearn_datasets  # here: importing it takes over a second

    x, y = getattr(sklearn_datasets, f"load_{data}")(return_X_y=True)
    return x, y


def _generated(data: str, params: dict, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as sklearn_datasets

    if data == "moons":
        return sklearn_datasets.make_moons(params["samples"], noise=params["noise"],
                                           random_state=data_seed)
    if data == "circles":
        return sklearn_datasets.make_circles(params["samples"], noise=params["noise"],
                                             factor=params["factor"], random_state=data_seed)
    # blobs: the built-in logistic objective's own data, so a model sweep on it sees the same bits.
    inputs, labels = make_data(params["samples"], params["features"], data_seed)
    return inputs[:, :-1], labels


def _read_npz(path: Path):
    """x_train, y_train and (x_test, y_test) or (None, None), each checked, as float64."""
    if not path.is_file():
        raise DataError("data", f"no file {path}.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError("data", f"{path} cannot be read as an .npz archive ({error}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError("data", f"{path} holds a single array, not an .npz archive of named arrays.")
    with archive:
        for key in ("x_train", "y_train"):
            if key not in archive.files:
                raise DataError(key, f"{path.name} has no {key} (it has {', '.join(archive.files)}).")
        if ("x_test" in archive.files) != ("y_test" in archive.files):
            given, missing = ("x_test", "y_test") if "x_test" in archive.files else ("y_test", "x_test")
            raise DataError(missing, f"{path.name} has {given} but no {missing}: give both or neither.")
        arrays = {key: _npz_array(archive, key, path) for key in _NPZ_KEYS if key in archive.files}
    for part in ("train", "test"):
        if f"x_{part}" in arrays:
            _check_pair(arrays[f"x_{part}"], arrays[f"y_{part}"], part, path.name)
    if arrays["x_train"].shape[0] == 0:
        raise DataError("x_train", f"{path.name}'s training set is empty.")
    if "x_test" in arrays and arrays["x_test"].shape[1] != arrays["x_train"].shape[1]:
        raise DataError("x_test", f"{path.name}'s x_test has {arrays['x_test'].shape[1]} features "
                                  f"but x_train has {arrays['x_train'].shape[1]}.")
    return tuple(arrays.get(key) for key in _NPZ_KEYS)


def _npz_array(archive, key: str, path: Path) -> np.ndarray:
    try:
        array = archive[key]
    except ValueError:
        # Object arrays are pickles: reading them would run code from the file.
        raise DataError("data", f"{path.name}'s {key} holds Python objects, which are not read "
                                f"(pickles can run code); save numbers.") from None
    if array.dtype.kind not in "biuf":
        raise DataError(key, f"{path.name}'s {key} is not numeric (dtype {array.dtype}).")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise DataError(key, f"{path.name}'s {key} holds NaN or infinite values.")
    return array


def _check_pair(x: np.ndarray, y: np.ndarray, part: str, name: str) -> None:
    if x.ndim != 2 or x.shape[1] == 0:
        raise DataError(f"x_{part}", f"{name}'s x_{part} must be 2-D (rows, features ≥ 1), "
                                     f"not of shape {x.shape}.")
    if y.ndim not in (1, 2):
        raise DataError(f"y_{part}", f"{name}'s y_{part} must be 1-D or 2-D, not of shape {y.shape}.")
    if y.shape[0] != x.shape[0]:
        raise DataError(f"y_{part}", f"{name}'s y_{part} has {y.shape[0]} rows but x_{part} "
                                     f"has {x.shape[0]}.")


# --- targets, split, scaling ----------------------------------------------------------------

def _column(y: np.ndarray) -> np.ndarray:
    """(n,) → (n, 1); (n, k) kept."""
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y


def _kind(y: np.ndarray) -> tuple[str, int]:
    """("classes", C), ("signs", 2) or ("real", 0) read from an .npz file's training targets (n, k).

    Integer values ≥ 0 with at least two distinct ones are class indices (C = max + 1),
    values all ±1 are signs, anything else (or more than one column) is real.
    """
    if y.shape[1] == 1:
        values = np.unique(y)
        if len(values) >= 2 and np.all(values == np.round(values)) and values[0] >= 0:
            return "classes", int(values[-1]) + 1
        if np.all(np.abs(values) == 1.0):
            return "signs", 2
    return "real", 0


def _check_test_targets(y_train: np.ndarray, y_test: np.ndarray, targets: str) -> None:
    if y_test.shape[1] != y_train.shape[1]:
        raise DataError("y_test", f"y_test has {y_test.shape[1]} columns but y_train has "
                                  f"{y_train.shape[1]}.")
    if targets == "real":
        return
    unseen = np.setdiff1d(np.unique(y_test), np.unique(y_train))
    if unseen.size:
        shown = ", ".join(f"{value:g}" for value in unseen[:5])
        raise DataError("y_test", f"y_test has labels absent from the training set ({shown}).")


def _split(name, x, y, targets, test_fraction, data_seed):
    """Training and test rows; the test set is empty for test_fraction 0."""
    if test_fraction == 0:
        return x, y, x[:0], y[:0]
    stratify = y[:, 0] if targets != "real" else None
    from sklearn.model_selection import train_test_split

    try:
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=test_fraction, random_state=data_seed, stratify=stratify)
    except ValueError as error:  # too few rows, or too few of a class, for that fraction
        raise DataError("test_fraction", f"{name} cannot be split with test_fraction "
                                         f"{test_fraction}: {error}") from None
    return x_train, y_train, x_test, y_test


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x − mean) / std with the training rows' statistics (ddof 0); constant features only centred."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    return (x_train - mean) / scale, (x_test - mean) / scale


def _floats(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)


def _describe(dataset: DataSet) -> str:
    if dataset.targets == "classes":
        return f"{dataset.classes} class indices"
    return "±1 signs" if dataset.targets == "signs" else "real targets"
