"""The documentation's generated tables (docs/_ext/reference.py) and its examples.

The pages with code cells are executed by the documentation's build (MyST-NB, in CI);
here: the tables generated from the code list every key, rule and hyperparameter, a key
without a description fails the generation, and the examples written as plain blocks
(TOML grids, a rule of one's own, the replay of a model's cell in torch) are true.
"""
import importlib.util
import re
import traceback

import pytest

from conftest import ROOT
from test_readme import fenced_blocks

DOCS = ROOT / "docs"


def load_reference():
    spec = importlib.util.spec_from_file_location("reference", DOCS / "_ext" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = load_reference()


def rows(markdown: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``markdown``, as lists of cells."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def test_every_key_of_every_section_is_in_the_reference():
    from sweep import config
    from sweep.kernels.rules import OPTIMIZERS

    text = "".join(reference.render(name) for name in (
        "sweep-keys", "objective-keys", "schedule-keys", "rules-keys", "objective-parameters",
        "model-keys", "grid-axes"))
    for section in ("sweep", "objective", "schedule"):
        for key in config.SECTIONS[section]:
            assert f"`{section}.{key}`" in text, (section, key)
    for key in config.RULE_KEYS:
        assert f"`rules.NAME.{key}`" in text
    for rule in OPTIMIZERS.values():
        for hyperparameter in rule.hyperparameters:
            assert f"`grid.{hyperparameter.name}`" in text
    for name in config.SETTING_AXES:
        assert f"`grid.{name}`" in text


def test_each_axis_gives_the_range_of_every_rule_that_reads_it():
    from sweep.kernels.rules import OPTIMIZERS

    found = {row[0]: row[2] for row in rows(reference.render("grid-axes"))}
    for rule in OPTIMIZERS.values():
        for hyperparameter in rule.hyperparameters:
            cell = found[f"`grid.{hyperparameter.name}`"]
            group = next(part for part in cell.split("; ")
                         if rule.name in part.split(": ", 1)[1].split(", "))
            assert group.startswith(reference._range(hyperparameter) + ": "), (rule.name, cell)
    assert "[0, 1]: lion" in found["`grid.beta1`"]  # Lion takes β₁ = 1, Adam does not


def test_the_section_tables_give_each_keys_default_and_range():
    from sweep import config

    table = {row[0]: row for row in rows(reference.render("sweep-keys"))}
    for key in config.KEYS["sweep"]:
        _, kind, default, valid, meaning = table[f"`sweep.{key.name}`"]
        assert kind == key.kind and meaning == key.meaning.replace("|", "\\|")
        assert default == (key.absent if key.default is None else reference._toml(key.default))
        assert valid == (key.valid or "any")
    assert table["`sweep.tol`"][2] == f"`{config.DEFAULT_TOL}`"


def test_a_key_without_a_description_fails_the_reference(monkeypatch):
    from sweep import config

    monkeypatch.setitem(config.SECTIONS, "sweep", (*config.SECTIONS["sweep"], "new_key"))
    with pytest.raises(reference.UndocumentedKey, match="new_key"):
        reference.render("sweep-keys")


def test_which_rule_reads_which_axis():
    from sweep import config
    from sweep.kernels.rules import OPTIMIZERS

    found = {row[0].strip("`"): row for row in rows(reference.render("axes-by-rule"))}
    assert list(found) == list(OPTIMIZERS)
    for name, rule in OPTIMIZERS.items():
        for column, axis in enumerate(config.AXIS_RULES, 1):
            shown = found[name][column]
            if axis in rule.names:
                assert shown == reference._number(rule.hyperparameter(axis).default), (name, axis)
            else:
                assert shown == "–", (name, axis)
        others = [h.name for h in rule.hyperparameters if h.name not in config.AXIS_RULES]
        assert all(f"`{other}`" in found[name][-1] for other in others)


def test_every_hyperparameter_of_every_rule_is_listed_with_its_range():
    from sweep.kernels.rules import OPTIMIZERS

    listed = rows(reference.render("hyperparameters"))
    expected = [(rule.name, h) for rule in OPTIMIZERS.values() for h in rule.hyperparameters]
    assert len(listed) == len(expected)
    for row, (name, hyperparameter) in zip(listed, expected):
        assert row[0] in ("", f"`{name}`")
        assert row[1] == f"`{hyperparameter.name}`"
        assert row[2] == reference._toml(hyperparameter.default)
        assert row[3] == reference._range(hyperparameter)
        assert "inf" not in row[3]


def test_the_listing_tables_are_what_sweep_list_prints():
    from sweep import listing

    for name, section in (("objectives", listing.objectives), ("models", listing.models),
                          ("data-sets", listing.data_sets)):
        _, _, expected = section()
        assert rows(reference.render(name)) == [list(row) for row in expected], name


def test_command_help_is_the_commands_own():
    text = reference.render("help:plot")
    assert text.startswith("```text\nusage: python -m sweep plot")
    assert "--select" in text and text.endswith("```\n")
    assert "usage: python -m sweep [-h] [--version]" in reference.render("help:sweep")


def test_every_table_a_page_asks_for_exists():
    asked = set()
    for page in DOCS.glob("*.md"):
        asked |= set(re.findall(r"^```\{sweep-table\} (\S+)$", page.read_text(), re.M))
    assert asked  # the pages do use the directive
    for name in asked:
        assert name.startswith("help:") or name in reference.TABLES, name
        assert reference.render(name).strip()


def complete_grids(text: str) -> list[str]:
    """The ```toml blocks of a page that are whole grid files ([sweep] and [objective])."""
    return [code for _, code in fenced_blocks(text, "toml")
            if "[sweep]" in code and "[objective]" in code]


def test_the_mistakes_example_prints_what_the_page_says(tmp_path, monkeypatch, capsys):
    from sweep import cli

    text = (DOCS / "running.md").read_text(encoding="utf-8")
    grid = next(code for code in complete_grids(text) if "tols" in code)
    printed = next(code for _, code in fenced_blocks(text, "text") if code.startswith("error:"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grid.toml").write_text(grid)
    assert cli.main(["grid.toml"]) == 2
    assert capsys.readouterr().err == printed


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")) + ["README.md"])
def test_the_grid_files_of_the_docs_are_valid(page, tmp_path):
    from sweep.config import load

    text = (ROOT / page if page == "README.md" else DOCS / page).read_text(encoding="utf-8")
    python = [code for _, code in fenced_blocks(text, "python")]
    mistakes = {code for _, code in fenced_blocks(text, "text") if code.startswith("error:")}
    grids = complete_grids(text)
    if mistakes:  # the example of mistakes (the test above)
        grids = [grid for grid in grids if "tols" not in grid]
    for number, grid in enumerate(grids):
        for name in re.findall(r'^file = "([^"]+)"', grid, re.M):  # a rule's file: the page's
            (tmp_path / name).write_text(next(code for code in python if "def " in code))
        path = tmp_path / f"grid{number}.toml"
        path.write_text(grid)
        load(path)  # raises ConfigError, naming the key, if the example is wrong


def test_the_rule_of_your_own_example_runs(tmp_path):
    import sweep

    text = (DOCS / "grid_file.md").read_text(encoding="utf-8")
    grid = next(code for code in complete_grids(text) if "[rules." in code)
    rule = next(code for _, code in fenced_blocks(text, "python") if "def signum_clipped" in code)
    (tmp_path / "my_rules.py").write_text(rule)
    (tmp_path / "grid.toml").write_text(grid.replace("steps = 500", "steps = 50"))
    ds = sweep.run(tmp_path / "grid.toml")
    assert list(ds["optimizer"].values) == ["adam", "signum_clipped"]
    assert ds.sizes["clip"] == 2 and bool(ds["uses_axis"].sel(optimizer="signum_clipped",
                                                              axis="clip"))


# Pages whose plain ```python blocks are examples to run (the others' code runs as the
# notebooks' cells, in the documentation's build).
PYTHON_EXAMPLES = ("objectives.md",)


@pytest.mark.parametrize("page", PYTHON_EXAMPLES)
def test_the_python_examples_of_the_docs_run(page, tmp_path, monkeypatch):
    path = DOCS / page
    blocks = fenced_blocks(path.read_text(encoding="utf-8"), "python")
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, code in blocks:
        if "import torch" in code and importlib.util.find_spec("torch") is None:
            continue  # a replay in torch: without torch there is nothing to replay into
        try:
            exec(compile("\n" * line + code, str(path), "exec"), namespace)
        except Exception:
            pytest.fail(f"{page}: the ```python block at line {line} fails:\n"
                        + traceback.format_exc())
