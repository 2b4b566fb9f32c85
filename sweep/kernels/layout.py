"""The kernels' interfaces, named once: settings, per-cell columns and outputs.

Every kernel (:mod:`sweep.kernels.compile` on the CPU, :mod:`sweep.kernels.cuda` on a GPU)
takes the same arguments, ``kernel(x0, hyper, ids, settings, out)``:

* ``x0`` (n, dim): one start point per cell;
* ``hyper`` (n, H): the cell's hyperparameters, in the order the rule declares them
  (:attr:`sweep.kernels.rules.Optimizer.names`: α first);
* ``ids`` (n, 3) int64: columns :data:`ID_COLUMNS` (indices :data:`SEED`,
  :data:`START`, :data:`SCHEDULE`): the seed, the index of the start point
  (which, with the seed, picks the cell's random draws) and the schedule code;
* ``settings``: a :class:`Settings`, shared by every cell;
* ``out``: a :class:`Metrics` of arrays for n cells, filled in place.

The CUDA kernels of the built-in objectives take the settings as three arrays
(:func:`pack_settings`, :func:`unpack_settings`: the only code that knows where each
field travels); the CUDA training kernel takes the :class:`Settings` record itself
(numba-cuda passes a record of scalars and device arrays).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .precision import DTYPES, check_dtype

ID_COLUMNS = ("seed", "start", "schedule")
SEED, START, SCHEDULE = (ID_COLUMNS.index(name) for name in ("seed", "start", "schedule"))

class Settings(NamedTuple):
    """Scalars and small arrays shared by every cell of a kernel call. Build it by keyword.

    Attributes:
        steps: number of update steps (≥ 1).
        record_every: record θ and f every this many steps (0: never).
        tol: ``steps_to_tol`` is the first step with f(θ_t) − f* ≤ tol.
        minimum: f* (NaN if unknown: ``steps_to_tol`` stays NaN).
        bound: |θ_i| > bound, or a non-finite θ_i or f, marks a cell diverged.
        noise: σ of the Gaussian noise added to the gradient (0: none): coordinate i gets
            σ·cᵢ·zᵢ, zᵢ standard normal.
        warmup: linear warm-up length in steps (0: none), see :mod:`sweep.kernels.schedules`.
        step_every: the step schedule's period in steps.
        step_factor: the step schedule's factor.
        lower: (dim,) lower corner of the box θ is projected onto after every step (−inf: none).
        upper: (dim,) upper corner (inf: none).
        noise_scale: (dim,) the cᵢ of ``noise``: ones, but for an objective whose gradient
            noise has a shape of its own (the noisy quadratic model's √hᵢ).
    """

    steps: int
    record_every: int
    tol: float
    minimum: float
    bound: float
    noise: float
    warmup: float
    step_every: float
    step_factor: float
    lower: np.ndarray
    upper: np.ndarray
    noise_scale: np.ndarray


def no_box(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` of a box that projects nothing: ±inf."""
    return np.full(dim, -np.inf), np.full(dim, np.inf)


# How a Settings travels to a CUDA kernel: its ints, its floats, and its (dim,) arrays as
# the rows of one (3, dim) array.
INTEGER_FIELDS = ("steps", "record_every")
REAL_FIELDS = ("tol", "minimum", "bound", "noise", "warmup", "step_every", "step_factor")
ARRAY_FIELDS = ("lower", "upper", "noise_scale")
assert set(Settings._fields) == {*INTEGER_FIELDS, *REAL_FIELDS, *ARRAY_FIELDS}


def pack_settings(settings: Settings, dtype: str = "float64"):
    """``(integers (2,) int64, reals (7,) dtype, box (3, dim) dtype)``: the arrays a CUDA
    kernel receives for ``settings`` (see :func:`unpack_settings`)."""
    real = DTYPES[check_dtype(dtype)]
    integers = np.array([getattr(settings, name) for name in INTEGER_FIELDS], dtype=np.int64)
    reals = np.array([getattr(settings, name) for name in REAL_FIELDS], dtype=real)
    return integers, reals, np.stack([getattr(settings, name)
                                      for name in ARRAY_FIELDS]).astype(real)


def unpack_settings(integers, reals, box):
    """The :class:`Settings` of :func:`pack_settings`'s arrays (plain Python: it runs in
    device code too, where the box rows stay views of the device array)."""
    return Settings(steps=integers[0], record_every=integers[1], tol=reals[0], minimum=reals[1],
                    bound=reals[2], noise=reals[3], warmup=reals[4], step_every=reals[5],
                    step_factor=reals[6], lower=box[0], upper=box[1], noise_scale=box[2])


class Metrics(NamedTuple):
    """Per-cell results, filled by a kernel. ``n`` cells, ``dim`` coordinates, ``r`` records.

    Attributes:
        final_x: (n, dim) θ after the last step; NaN where diverged.
        final_loss: (n,) f(θ_steps); NaN where diverged.
        best_loss: (n,) min over t of f(θ_t), t = 0 … steps, before any divergence.
        steps_to_tol: (n,) first t with f(θ_t) − f* ≤ tol, as float; NaN if never.
        diverged: (n,) bool.
        trajectory: (n, r, dim) θ at the recorded steps; NaN from divergence on.
        loss: (n, r) f(θ) at the recorded steps; NaN from divergence on.
        test_loss, test_error, train_error: (n,) a model's loss and misclassified share on
            the test set, and that share on the training set, after the last step (NaN
            where diverged, or without classes); None for other objectives.
        test_loss_curve, test_error_curve: (n, r) the test loss and error at the recorded steps.
    """

    final_x: np.ndarray
    final_loss: np.ndarray
    best_loss: np.ndarray
    steps_to_tol: np.ndarray
    diverged: np.ndarray
    trajectory: np.ndarray
    loss: np.ndarray
    test_loss: np.ndarray | None = None
    test_error: np.ndarray | None = None
    train_error: np.ndarray | None = None
    test_loss_curve: np.ndarray | None = None
    test_error_curve: np.ndarray | None = None


# The fields a model's training kernel fills besides the others (None for other objectives).
DATA_FIELDS = ("test_loss", "test_error", "train_error", "test_loss_curve", "test_error_curve")


def empty_metrics(cells: int, dim: int, records: int, dtype: str = "float64",
                  data: bool = False, theta: bool = True) -> Metrics:
    """Output arrays for ``cells`` cells; recorded values start as NaN.

    The float fields are in ``dtype`` (``"float32"`` for a float32 kernel),
    except ``steps_to_tol`` (a step count: float64 always); ``diverged`` is bool.
    With ``data`` (a model objective) the :data:`DATA_FIELDS` too, and no ``trajectory``
    (records of θ would be (cells, records, dim) for thousands of parameters): its
    shape is (cells, 0, dim). Without ``theta`` the kernels record f alone, also with a
    ``trajectory`` of shape (cells, 0, dim).
    """
    real = DTYPES[check_dtype(dtype)]
    metrics = Metrics(
        final_x=np.empty((cells, dim), dtype=real),
        final_loss=np.empty(cells, dtype=real),
        best_loss=np.empty(cells, dtype=real),
        steps_to_tol=np.empty(cells),
        diverged=np.empty(cells, dtype=np.bool_),
        trajectory=np.full((cells, records if theta and not data else 0, dim), np.nan,
                           dtype=real),
        loss=np.full((cells, records), np.nan, dtype=real),
    )
    if not data:
        return metrics
    return metrics._replace(
        test_loss=np.empty(cells, dtype=real),
        test_error=np.empty(cells, dtype=real),
        train_error=np.empty(cells, dtype=real),
        test_loss_curve=np.full((cells, records), np.nan, dtype=real),
        test_error_curve=np.full((cells, records), np.nan, dtype=real),
    )


def hyper_for(rule, classic: np.ndarray) -> np.ndarray:
    """A rule's ``hyper`` (n, H) from columns of (α, β₁, β₂, ε) (n, 4), as tests and
    benchmarks lay out cells: the rule's columns in its order, its own default for each
    hyperparameter that is not one of those four. The dtype is ``classic``'s."""
    names = ("alpha", "beta1", "beta2", "eps")
    hyper = np.empty((classic.shape[0], len(rule.names)), dtype=classic.dtype)
    for column, declared in enumerate(rule.hyperparameters):
        hyper[:, column] = (classic[:, names.index(declared.name)] if declared.name in names
                            else float(declared.default))
    return hyper
