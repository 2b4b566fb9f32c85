"""The documentation's generated tables, as Markdown: the grid-file reference, the rules'
hyperparameters, the objectives, models and data sets, and the commands' help.

Everything here is read from the code — :data:`sweep.config.KEYS`, ``SECTIONS``,
``PARAMETER_MEANINGS``, ``NOT_AXES``, ``SETTING_AXES``, the rules' declarations
(:data:`sweep.kernels.rules.OPTIMIZERS`), the objectives', models' and data sets'
registries (through :mod:`sweep.listing`, what ``python -m sweep list`` prints) and the
commands' argparse parsers — so the pages cannot drift from what the code accepts. A key
a section takes that has no description raises :class:`UndocumentedKey`, which fails the
documentation's build. No Sphinx here: ``sweep_docs.py`` turns the text into a page, and
``tests/test_docs.py`` reads it directly.
"""
from __future__ import annotations

import contextlib
import io
import math
import os


class UndocumentedKey(LookupError):
    """A key of the grid file that :data:`sweep.config.KEYS` does not describe."""


def _cell(text) -> str:
    """Text for one cell of a Markdown table (a ``|`` would end the cell); ``>=`` and
    ``<=`` of the errors' wording as ≥ and ≤."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace(">=", "≥").replace("<=", "≤")


def table(header, rows) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
    return str(value)


def _toml(value) -> str:
    """A default as it would be written in the grid file."""
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, (list, tuple)):
        return "`[" + ", ".join(_number(item) for item in value) + "]`"
    return f"`{_number(value)}`"


def _default(key) -> str:
    return key.absent if key.default is None else _toml(key.default)


def section_keys(section: str) -> str:
    """The table of one section's keys (``sweep``, ``objective``, ``schedule``, ``rules``):
    key, type, default, valid values, meaning. Every key the section takes must be in
    :data:`sweep.config.KEYS` (for ``objective``, or be a parameter of an objective or a
    model, listed by :func:`objective_parameters` and :func:`model_keys`)."""
    from sweep import config

    described = {key.name: key for key in config.KEYS[section]}
    if section == "rules":
        taken = config.RULE_KEYS
    elif section == "objective":
        parameters = {*config.BUILTIN_PARAMS, *config.MODEL_KEYS} - {"model"}
        taken = [name for name in config.SECTIONS[section] if name not in parameters]
    else:
        taken = config.SECTIONS[section]
    missing = [name for name in taken if name not in described]
    if missing:
        raise UndocumentedKey(f"[{section}] takes {', '.join(missing)}, which sweep.config.KEYS "
                              "does not describe")
    prefix = "rules.NAME" if section == "rules" else section
    return table(("key", "type", "default", "valid", "meaning"), (
        (f"`{prefix}.{name}`", described[name].kind, _default(described[name]),
         described[name].valid or "any", described[name].meaning) for name in taken))


def _param_valid(param) -> str:
    if param.rule:
        return param.rule.removeprefix("must be ")
    if param.choices:
        return ", ".join(f"`{choice}`" for choice in param.choices)
    if param.kind == "bool":
        return "true or false"
    low = "" if param.lowest is None else f"{'>' if param.above else '≥'} {_number(param.lowest)}"
    high = "" if param.highest is None else f"≤ {_number(param.highest)}"
    return ", ".join(part for part in (low, high) if part) or "any"


_KINDS = {"int": "integer", "float": "number", "bool": "boolean", "str": "string",
          "ints": "list of integers", "data": "string or table"}


def _param_row(param, who: str) -> tuple:
    from sweep import config

    default = config.PARAMETER_ABSENT.get(param.name, "none") if param.default is None \
        else _toml(param.default)
    return (f"`objective.{param.name}`", who, _KINDS.get(param.kind, param.kind), default,
            _param_valid(param), config.PARAMETER_MEANINGS.get(param.name, ""))


def objective_parameters() -> str:
    """The parameters of the built-in objectives (their registry's schemas), and of
    ``name = "logistic"``."""
    from sweep import config
    from sweep.kernels.objectives import OBJECTIVES

    rows, seen = [], {}
    for name, entry in OBJECTIVES.items():
        for param in entry.schema:
            seen.setdefault((param.name, param.default), (param, []))[1].append(name)
    for param, names in seen.values():
        rows.append(_param_row(param, ", ".join(names)))
    rows += [_param_row(param, 'name = "logistic"') for param in config.LOGISTIC_SCHEMA]
    return table(("key", "objectives", "type", "default", "valid", "meaning"), rows)


def model_keys() -> str:
    """The keys of ``[objective]`` for a model on data (:data:`sweep.models.SCHEMA`)."""
    from sweep import models

    rows = [_param_row(param, "every model" if param.name not in ("hidden", "activation", "bias")
                       else ("mlp" if param.name != "bias" else "linear"))
            for param in models.SCHEMA if param.name != "model"]
    return table(("key", "models", "type", "default", "valid", "meaning"), rows)


def _range(hyperparameter) -> str:
    """A hyperparameter's valid range in interval notation (an unbounded end as ∞))."""
    return hyperparameter.range_text.replace("inf]", "∞)").replace("[-inf", "(−∞")


def _readers(name: str) -> str:
    """The rules that read hyperparameter ``name``, grouped by the range each accepts:
    ``[0, 1): adam, …; [0, 1]: lion``."""
    ranges = {}
    for rule in _rules():
        if name in rule.names:
            ranges.setdefault(_range(rule.hyperparameter(name)), []).append(rule.name)
    return "; ".join(f"{text}: {', '.join(names)}" for text, names in ranges.items())


def grid_axes() -> str:
    """What ``[grid]`` takes: the four axes of every grid, each rule's other hyperparameters
    (valid ranges by the rules that read them), and the settings of objectives, models and
    schedules that may be swept."""
    from sweep import config

    rows = [(f"`grid.{name}`", "every grid; left out, each rule runs at its own default "
             f"(the coordinate is {_number(config.DEFAULT_AXES[name][0])})", _readers(name))
            for name in config.AXIS_RULES]
    others = dict.fromkeys(h.name for rule in _rules() for h in rule.hyperparameters
                           if h.name not in config.AXIS_RULES)
    rows += [(f"`grid.{name}`", "a hyperparameter of the rules that have it", _readers(name))
             for name in others]
    for name, section in config.SETTING_AXES.items():
        where = "models on data" if name in config.MODEL_AXES else \
            ("the objective" if section == "objective" else "the schedules")
        rows.append((f"`grid.{name}`", f"a setting of {where}, read by every rule: a list of "
                     f"values, no range, and not also given in `[{section}]`",
                     f"as `{section}.{name}`"))
    return table(("key", "what it is", "valid values, and the rules that read it"), rows)


def not_axes() -> str:
    """The reasons a key of ``[grid]`` is refused as an axis (:data:`sweep.config.NOT_AXES`)."""
    from sweep import config

    return "\n".join(f"- `grid.KEY` {reason}." for reason in config.NOT_AXES.values()) + "\n"


def _rules():
    from sweep.kernels.rules import OPTIMIZERS

    return OPTIMIZERS.values()


def axes_by_rule() -> str:
    """Which rule reads which axis: a rule per row, the four axes of every grid as columns
    (the rule's default where it reads the axis, – where it is computed once and broadcast),
    then its other hyperparameters."""
    from sweep import config

    rows = []
    for rule in _rules():
        defaults = {h.name: h for h in rule.hyperparameters}
        cells = [_number(defaults[axis].default) if axis in defaults else "–"
                 for axis in config.AXIS_RULES]
        others = ", ".join(f"`{h.name}` = {_toml(h.default)}" for h in rule.hyperparameters
                           if h.name not in config.AXIS_RULES)
        rows.append((f"`{rule.name}`", *cells, others or "–"))
    return table(("rule", *config.AXIS_RULES, "other hyperparameters"), rows)


def hyperparameters() -> str:
    """Every rule's hyperparameters, one row each: default, valid range, what it is, the
    reference library's name for it."""
    rows = []
    for rule in _rules():
        for index, hyper in enumerate(rule.hyperparameters):
            rows.append((f"`{rule.name}`" if index == 0 else "", f"`{hyper.name}`",
                         _toml(hyper.default), _range(hyper), hyper.long_name or "",
                         f"`{hyper.reference}`" if hyper.reference else ""))
    return table(("rule", "hyperparameter", "default", "valid", "what it is",
                  "reference's name"), rows)


def references() -> str:
    """Every rule's reference implementation and paper."""
    rows = [(f"`{rule.name}`", f"`{rule.reference}`", rule.paper, ", ".join(rule.state) or "–")
            for rule in _rules()]
    return table(("rule", "reference (float64)", "paper", "state per coordinate"), rows)


def listing(section: str) -> str:
    """One section of ``python -m sweep list`` (``objectives``, ``models``, ``data_sets``)
    as a table, with its title as a sentence before it."""
    from sweep import listing as sections

    title, header, rows = getattr(sections, section)()
    return f"{title[0].upper()}{title[1:]}.\n\n" + table(header, rows)


def command_help(name: str) -> str:
    """The ``--help`` of ``python -m sweep`` (``name`` "sweep") or of a subcommand, as a
    fenced block: what argparse prints, at 88 columns."""
    from sweep import cli

    out = io.StringIO()
    kept = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        if name == "sweep":
            out.write(cli.parser().format_help())
        else:
            import importlib

            module, function = cli.SUBCOMMANDS[name].split(":")
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                getattr(importlib.import_module(module), function)(["--help"])
    finally:
        if kept is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = kept
    return "```text\n" + out.getvalue().rstrip() + "\n```\n"


TABLES = {
    "sweep-keys": lambda: section_keys("sweep"),
    "objective-keys": lambda: section_keys("objective"),
    "schedule-keys": lambda: section_keys("schedule"),
    "rules-keys": lambda: section_keys("rules"),
    "objective-parameters": objective_parameters,
    "model-keys": model_keys,
    "grid-axes": grid_axes,
    "not-axes": not_axes,
    "axes-by-rule": axes_by_rule,
    "hyperparameters": hyperparameters,
    "references": references,
    "objectives": lambda: listing("objectives"),
    "models": lambda: listing("models"),
    "data-sets": lambda: listing("data_sets"),
}


def render(name: str) -> str:
    """The Markdown of table ``name`` (:data:`TABLES`), or of ``help:COMMAND``."""
    if name.startswith("help:"):
        return command_help(name.removeprefix("help:"))
    return TABLES[name]()
