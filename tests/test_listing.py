"""``python -m sweep list`` names every entry of every registry."""
from sweep.kernels.objectives import OBJECTIVES
from sweep.kernels.rules import OPTIMIZERS
from sweep import cli, datasets, models
from sweep.listing import SECTIONS, render


def test_every_registry_entry_is_listed(capsys):
    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    assert text.strip() == render().strip()
    rows = {line.split()[0] for line in text.splitlines() if line.startswith("  ")}
    for names in (OPTIMIZERS, OBJECTIVES, models.MODELS, (*datasets.BUNDLED, *datasets.GENERATED)):
        assert set(names) <= rows, set(names) - rows
    assert len(SECTIONS) == 4
    assert "digits         1797     64        10 classes" in text  # scikit-learn's digits
