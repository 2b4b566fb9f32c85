"""The explorer page: ``python -m sweep explore RESULT -o PAGE.html``.

One self-contained HTML file (Bokeh's standalone output, BokehJS inlined) that
opens from disk, offline, with no server and no kernel: a heatmap per optimizer,
sized to the window, selectors for the metric and every other swept axis (for the
seeds: their median, mean, best, worst, or one seed), a click shows the cell's
path over the objective's contours, its loss curve and its numbers (a model's
training and test curves instead: it has no landscape); up to four cells pinned to
compare; the sensitivity bars; the view kept in the URL hash.

:mod:`sweep.explore.data` prepares the arrays (no Bokeh), :mod:`sweep.explore.page`
lays them out, ``explore.js`` is the page's controller, :mod:`sweep.explore.cli`
the subcommand.
"""
from __future__ import annotations

import os
from pathlib import Path

from .data import DEFAULT_CELLS_WITH_PATHS, ExploreError, PageData, prepare


def explore(ds, path, *, x: str | None = None, y: str | None = None, metric: str | None = None,
            cells_with_paths: int = DEFAULT_CELLS_WITH_PATHS, n_jobs: int | None = None,
            source: str = "the result") -> Path:
    """Write the explorer page of the dataset ``ds`` to ``path`` (an .html file).

    The page is written under a temporary name and renamed when complete, so a
    failure leaves nothing. See :func:`sweep.explore.data.prepare` for the arguments.

    Returns:
        the path written.
    """
    from .page import bokeh, build

    bokeh()  # first: without bokeh nothing else matters
    data = prepare(ds, x=x, y=y, metric=metric, cells_with_paths=cells_with_paths,
                   n_jobs=n_jobs, source=source)
    html = build(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_text(html, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


__all__ = ["explore", "prepare", "PageData", "ExploreError"]
