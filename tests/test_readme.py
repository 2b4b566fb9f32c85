"""The README's examples run: its quick-start sweep, then every ```python block, in order,
in one namespace, in a copy of the repository's tracked files (what a fresh clone holds)."""
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import traceback

import pytest

from conftest import ROOT

README = ROOT / "README.md"


def fenced_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """The ```language blocks of a Markdown text, as (line number, code), in order."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if current is None:
            if line.strip() == f"```{language}":
                current, start = [], number
        elif line.strip() == "```":
            blocks.append((start, "\n".join(current) + "\n"))
            current = None
        else:
            current.append(line)
    assert current is None, f"README.md: the ```{language} block at line {start} is not closed"
    return blocks


def quick_start_sweep(text: str) -> list[str]:
    """The quick start's first command, from its ``python -m sweep``: the sweep it runs."""
    first = fenced_blocks(text, "bash")[0][1].splitlines()[0]
    command = next(part for part in first.split("&&") if " -m sweep " in part)
    words = shlex.split(command)
    return [sys.executable, *words[1:]]  # .venv/bin/python is this interpreter here


def fresh_clone(target):
    """The repository's files as ``git clone`` would give them (tracked, and new files not
    ignored: what the next commit holds) copied to ``target``; no build outputs, no caches."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True)
    for name in listed.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():  # a file deleted but not yet committed is skipped
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def test_fenced_blocks_finds_exactly_the_python_blocks():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x\n\nz = 2\n```\n"
    assert fenced_blocks(text, "python") == [(2, "x = 1\n"), (8, "y = x\n\nz = 2\n")]
    assert fenced_blocks(text, "bash") == [(5, "ls\n")]


def test_every_python_block_of_the_readme_runs_in_order(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    blocks = fenced_blocks(text, "python")
    assert len(blocks) >= 2  # A first grid from Python; the heatmap of the default grid
    clone = tmp_path / "sweep"
    fresh_clone(clone)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    started = subprocess.run(quick_start_sweep(text), cwd=clone, env=env, capture_output=True,
                             text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    assert (clone / "results" / "default.zarr").is_dir()

    pytest.importorskip("matplotlib")  # the quick start installs the plot extra
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(clone)
    namespace = {"__name__": "__readme__"}
    try:
        for line, code in blocks:
            if "import torch" in code and importlib.util.find_spec("torch") is None:
                # A replay in torch (the extra "torch", which CI installs): without torch
                # there is nothing to replay into.
                continue
            try:
                # Padded so that a traceback gives the README's own line numbers.
                exec(compile("\n" * line + code, str(README), "exec"), namespace)
            except Exception:
                pytest.fail(f"README.md: the ```python block at line {line} fails:\n"
                            + traceback.format_exc())
    finally:
        plt.close("all")
