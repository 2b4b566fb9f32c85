"""Every notebook runs top to bottom (at a small size), and is committed without outputs."""
import json
import time

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LIMIT_S = 120  # each notebook, at SWEEP_NOTEBOOK_SMALL=1


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"heatmaps.ipynb", "trajectories.ipynb",
                                           "benchmarks.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, \
                f"{path.name}: strip the outputs before committing"
    sources = "".join("".join(c["source"]) for c in notebook["cells"])
    assert 'os.environ.get("SWEEP_NOTEBOOK_SMALL") == "1"' in sources  # it has a size knob


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel inherits this environment: small sizes, no display, this checkout.
    monkeypatch.setenv("SWEEP_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # whatever a notebook writes goes here
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=LIMIT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    assert elapsed < LIMIT_S, f"{path.name} took {elapsed:.0f} s at the small size"
