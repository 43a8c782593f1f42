"""Presentation for notebooks: ``show(result)`` renders any iamkit result; widgets and figures live here.

A result is a dataclass with a ``sections()`` method returning ``(title, thing)`` pairs, where a thing is
text, a DataFrame, a plotly figure or a widget. Headless (papermill) and JupyterLab show the same.
Titles and text are escaped unless they are ``Markup`` (``iamkit.ui.text``): evidence is never live Markdown
or HTML. DataFrames render through pandas' HTML, which escapes every cell and label.
"""

from __future__ import annotations

from typing import Any

from iamkit.ui.text import as_markdown, md


def show(result: Any, max_rows: int = 50) -> None:
    """Display a result's sections (or the object itself) in the notebook."""
    from IPython.display import Markdown, display

    sections = result.sections() if hasattr(result, "sections") else [("", result)]
    for title, thing in sections:
        if title:
            display(Markdown(md("### {}", title)))
        if thing is None:
            continue
        if isinstance(thing, str):
            display(Markdown(as_markdown(thing)))
        elif hasattr(thing, "to_html") and hasattr(thing, "head") and hasattr(thing, "columns"):
            display(thing.head(max_rows)) if len(thing) > max_rows else display(thing)
            if len(thing) > max_rows:
                display(Markdown(md("*{} more rows in the case evidence*", len(thing) - max_rows)))
        else:
            display(thing)
