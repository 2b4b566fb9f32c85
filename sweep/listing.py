"""``python -m sweep list``: what a grid file can name, read from the registries.

Each section is a function returning ``(title, header, rows)``; :data:`SECTIONS`
lists them in the order shown. A new registry (models, data sets) is a new
function added there, and the listing and its test pick it up.
"""
from __future__ import annotations

import argparse
import math

from sweep.kernels.objectives import OBJECTIVES, problem
from sweep.kernels.rules import OPTIMIZERS

def optimizers() -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """Every update rule: its hyperparameters with their defaults (each a possible ``[grid]``
    axis or ``[options.NAME]`` key), its state, and its reference equivalent."""
    rows = []
    for name, rule in OPTIMIZERS.items():
        hyperparameters = ", ".join(
            f"{h.name} = {_shown(h)}" for h in rule.hyperparameters)
        rows.append((name, hyperparameters, ", ".join(rule.state) or "none", rule.reference))
    return ("optimizers (sweep.optimizers; every hyperparameter can be a [grid] axis, or fixed "
            "for one rule in [options.NAME])",
            ("name", "hyperparameters (default)", "state", "equivalent"), rows)


def _shown(declared) -> str:
    if declared.flag:
        return "true" if declared.default else "false"
    return _number(declared.default)


def objectives() -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """Every built-in objective: dimension, f*, customary start points, parameters."""
    rows = []
    for name, entry in OBJECTIVES.items():
        concrete = problem(name)  # the defaults: dim 2, κ 10, ...
        if entry.fixed_dim is not None:
            dim = str(entry.fixed_dim)
        elif "dim" in entry.params:
            dim = f"dim ≥ {entry.min_dim} (default {concrete.dim})"
        else:
            dim = f"{concrete.dim} (from its parameters)"
        if math.isnan(concrete.minimum):
            minimum = "none (unbounded below)"
        elif name == "styblinski_tang":  # f* grows with the dimension
            minimum = f"{_number(concrete.minimum / concrete.dim)} × dim"
        else:
            minimum = _number(concrete.minimum)
        starts = ", ".join("(" + ", ".join(_number(x) for x in point) + ")"
                           for point in concrete.starts)
        parameters = ", ".join(f"{key} = {_number(value)}" for key, value in entry.defaults)
        rows.append((name, dim, minimum, starts, parameters))
    return ("objectives (objective.name; or write your own: objective.file or objective.expr)",
            ("name", "dimension", "f*", "customary starts", "parameters (default)"), rows)


def models() -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """Every model: its losses (the first the default), what it takes, its θ₀."""
    from . import models as registry

    rows = []
    for name, model in registry.MODELS.items():
        takes = ["hidden, activation"] if model.layers else []
        takes += ["bias"] if model.bias else []
        start = "torch's default init, per seed" if model.start == "torch" else "0"
        rows.append((name, ", ".join(model.losses), ", ".join(takes) or "–", start,
                     model.description))
    keys = ", ".join(f"{p.name} = {_number(p.default)}" for p in registry.SCHEMA
                     if p.default is not None and p.name not in ("hidden", "activation", "bias"))
    return (f"models (objective.model, with objective.data; also {keys})",
            ("name", "losses", "takes", "θ₀", "network"), rows)


def data_sets() -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """Every bundled and generated data set: size, targets, parameters."""
    from . import datasets

    rows = []
    for name in (*datasets.BUNDLED, *datasets.GENERATED):
        loaded = datasets.load(name, test_fraction=0.0, standardize=False)
        targets = f"{loaded.classes} classes" if loaded.targets == "classes" else \
            ("±1" if loaded.targets == "signs" else f"real ({loaded.outputs} output)")
        parameters = ", ".join(f"{key} = {_number(value)}"
                               for key, value in datasets.GENERATED_PARAMS.get(name, {}).items())
        rows.append((name, str(loaded.n_train + loaded.n_test), str(loaded.features), targets,
                     parameters or "–"))
    return ("data sets (objective.data: a name, {name = ..., parameters}, or an .npz file)",
            ("name", "samples", "features", "targets", "parameters (default)"), rows)


# Shown in this order.
SECTIONS = (optimizers, objectives, models, data_sets)


def _number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def render(sections=SECTIONS) -> str:
    """The sections as aligned text tables, one blank line between them."""
    blocks = []
    for section in sections:
        title, header, rows = section()
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
        lines = [title]
        for row in (header, *rows):
            lines.append("  " + "  ".join(cell.ljust(width) for cell, width in
                                          zip(row, widths)).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    """``python -m sweep list``: print every optimizer and objective a grid file can name."""
    argparse.ArgumentParser(
        prog="python -m sweep list",
        description="List the optimizers (the axes each reads, its torch.optim equivalent), "
                    "the objectives (dimension, f*, customary starts), the models and the "
                    "data sets").parse_args(argv)
    print(render())
    return 0
