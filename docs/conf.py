"""Sphinx configuration of learndyn's documentation.

Build (what tests/test_docs.py runs; every warning is an error, every unresolved reference a warning)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("LEARNDYN_COMPILE", "0")  # importing for autodoc never compiles anything

import learndyn  # noqa: E402

project = "learndyn"
author = "the learndyn authors"
copyright = "the learndyn authors"
version = release = learndyn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "learndyn_families",     # docs/families/*.rst from the generated catalogue, LaTeX and the verification record
    "learndyn_docstrings",   # a public name without a docstring fails the build
]

root_doc = "index"
exclude_patterns = ["_build", "_data", "family_intros", "tutorial/*.sh", "tutorial/*.py"]
templates_path: list[str] = []
nitpicky = True

# -- theme ---------------------------------------------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401  (the docs extra installs it; without it, Sphinx's built-in theme)

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
        "secondary_sidebar_items": ["page-toc"],
        "footer_start": ["copyright"],
        "footer_end": [],
    }
except ImportError:
    html_theme = "alabaster"
html_title = f"learndyn {release}"
html_static_path: list[str] = []
html_last_updated_fmt = None
html_copy_source = False

# -- math ------------------------------------------------------------------------------------------------------------
# the generated LaTeX needs nothing beyond MathJax's TeX input with its ams extensions (learndyn_families.py warns
# about any math command outside its list MATH_COMMANDS)
mathjax3_config = {"tex": {"macros": {}}}

# -- autodoc ---------------------------------------------------------------------------------------------------------
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autoclass_content = "class"

#: public names known to lack a docstring (learndyn_docstrings.py warns for any other, and for an entry here that
#: has one now). Each is to be written at its definition, then removed from this list. (The comparisons' ``judge`` and
#: ``describe`` inherit theirs from :class:`Comparison`'s once it has them.)
learndyn_undocumented = []

# -- references -------------------------------------------------------------------------------------------------------
# The annotations name types of three other packages (torch.Tensor, torch.dtype, torch.device, sympy's Expr, Symbol
# and Basic, numpy.ndarray). Without network access there is no intersphinx inventory to resolve them against, so
# references into these packages, and only these, are not checked; every reference to learndyn's own objects is.
nitpick_ignore_regex = [
    ("py:.*", r"(torch|sympy|numpy)(\..*)?"),
]
