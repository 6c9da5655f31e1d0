"""Sphinx configuration: MyST Markdown pages, API reference from the docstrings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rebalancing._version import __version__

if TYPE_CHECKING:
    from sphinx.application import Sphinx

project = "rebalancing"
author = "The rebalancing developers"
copyright = "the rebalancing developers"
release = __version__
version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "files", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"rebalancing {release}"

# `rebalancing.ml4t` needs ml4t-backtest; the reference documents it without installing it.
autodoc_mock_imports = ["ml4t"]


_PROSE: dict[str, list[str]] = {}


def _keep_prose(  # noqa: PLR0917 - the signature of the Sphinx event
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Remember attribute and property docs before napoleon reads them."""
    del app, obj, options
    if what in ("attribute", "data", "property"):
        _PROSE[name] = list(lines)


def _restore_prose(  # noqa: PLR0917 - the signature of the Sphinx event
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Put them back as written.

    Napoleon reads an attribute's first line as ``type: description``, so "Already at
    target (within 1e-9 of equity): nothing to do." would become a type.
    """
    del app, what, obj, options
    if name in _PROSE:
        lines[:] = _PROSE.pop(name)


def setup(app: Sphinx) -> None:
    """Hook around napoleon, which handles the docstrings at priority 500."""
    app.connect("autodoc-process-docstring", _keep_prose, priority=400)
    app.connect("autodoc-process-docstring", _restore_prose, priority=600)
