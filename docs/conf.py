"""Sphinx configuration: the Markdown pages of docs/ (MyST) and the API from the docstrings
(numpydoc).  Built in CI with warnings as errors: sphinx-build -W -b html docs OUT."""
import fastent

project = "fastent"
author = "the fastent developers"
copyright = "2026, the fastent developers"
release = version = fastent.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "numpydoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3            # links such as conventions.md#per-row-softmax-statistics
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_typehints = "none"          # the signatures and numpydoc types say it
html_theme = "alabaster"
html_title = f"fastent {release}"
