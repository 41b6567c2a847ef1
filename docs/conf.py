"""Sphinx configuration for the skspmd documentation (``pip install ".[docs]"``)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "skspmd"
author = "skspmd developers"
copyright = "2026, skspmd developers"
extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]
