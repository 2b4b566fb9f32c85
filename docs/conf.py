"""Sphinx configuration of sweep's documentation.

Build (from the repository's root, with ``pip install -e '.[docs]'``):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Every page is Markdown (MyST). The pages with code cells are MyST-NB notebooks, executed
at every build (``nb_execution_mode = "force"``): an example that no longer runs fails
the build, as warnings do (``-W``). The grid-file reference and the rules' tables are
generated from the code by ``_ext/sweep_docs.py``; the Python API is autodoc.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
# The notebooks' kernels import this checkout's sweep, installed or not.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
# The notebooks show a figure that is a cell's value through matplotlib's inline backend
# (a headless one: no display is needed).
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
# Pages an executed cell writes for the site (the explorer page of the tutorial): copied
# into the HTML output as they are (html_extra_path), after the cells have run.
EXTRA = DOCS / "_build" / "extra"
EXTRA.mkdir(parents=True, exist_ok=True)
os.environ["SWEEP_DOCS_EXTRA"] = str(EXTRA)

import sweep  # noqa: E402

project = "sweep"
author = "the sweep authors"
copyright = "the sweep authors"
version = release = sweep.__version__

extensions = [
    "myst_nb",  # MyST Markdown, and notebooks written as Markdown, executed
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # Google-style docstrings
    "sphinx.ext.mathjax",
    "sweep_docs",  # the tables generated from the code
]
source_suffix = {".md": "myst-nb"}
root_doc = "index"
# performance/*.md: one machine's table each, included by performance.md.
exclude_patterns = ["_build", "performance/*.md", "**/.ipynb_checkpoints"]

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

nb_execution_mode = "force"
nb_execution_raise_on_error = True  # a cell that raises fails the build
nb_execution_show_tb = True
nb_execution_timeout = 180  # seconds per cell: the first compiles kernels
nb_execution_in_temp = True  # files the cells write go to a temporary directory
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Docstrings name types in words and in code (``np.ndarray``, ``xr.Dataset``) that are
# not all documented here: links to them are not checked.
nitpicky = False

html_theme = "furo"
html_title = f"sweep {release}"
html_static_path = ["_static"]
html_css_files = ["sweep.css"]
html_extra_path = [str(EXTRA)]
suppress_warnings = ["mystnb.unknown_mime_type"]
