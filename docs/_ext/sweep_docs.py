"""A Sphinx extension: the ``sweep-table`` directive, which puts a table generated from the
code (``reference.py``) into a page.

    ```{sweep-table} grid-axes
    ```

    ```{sweep-table} help:plot
    ```

The text is Markdown, parsed as the page around it is, so the tables look like the
hand-written ones. An unknown table name, or a key of the grid file that the code does
not describe, is an error: the build (``-W``) fails.
"""
from __future__ import annotations

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

import reference


class SweepTable(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        name = self.arguments[0]
        if name not in reference.TABLES and not name.startswith("help:"):
            raise self.error(f"sweep-table: no table {name!r} (known: "
                             f"{', '.join(reference.TABLES)}, help:COMMAND)")
        text = reference.render(name)
        container = nodes.container(classes=["sweep-table"])
        self.state.nested_parse(StringList(text.splitlines(), source=f"<sweep-table {name}>"),
                                self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("sweep-table", SweepTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
