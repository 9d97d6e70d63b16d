"""Sphinx extension: the API reference documents every public name, each with a docstring.

- A public name that autodoc documents without a docstring is a warning (``-W``: an error). Public: modules,
  classes, exceptions, functions, methods and properties that do not start with ``_``, and module data (documented
  by a ``#:`` comment). Fields of classes are described by their class's docstring and are not checked.
  ``learndyn_undocumented`` in ``conf.py`` lists names known to lack one; an entry that has one now is a warning
  too, so the list only shrinks.
- Every name in the ``__all__`` of a module documented with ``automodule`` must be documented (autodoc skips data a
  package re-exports, so those pages name it with ``autodata``); a missing one is a warning.
- Data a package re-exports (``learndyn.verify.tier_b.METHODS``) gets its ``#:`` comment from the module that
  defines it.
- A cross-reference written relative to the module that defines an object (a bare ``:func:`validity_map```, or
  a path through that module) resolves to where the object is documented, the package that re-exports it
  (:func:`resolve_elsewhere`), if that is one object.
- ``<factory>`` defaults of dataclass fields show as ``...`` (Sphinx cannot parse ``<factory>`` in a signature).
"""
from __future__ import annotations

import importlib
import inspect
import os
import pkgutil

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

CHECKED = ("module", "class", "exception", "function", "method", "property", "data")
_documented: set[str] = set()
_all_names: set[str] = set()


def _auto_dataclass_doc(obj) -> bool:
    """Whether ``obj.__doc__`` is the signature that ``dataclasses`` writes for a class without a docstring."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else None
    if doc is None:
        return isinstance(obj, type)
    try:
        return doc == obj.__name__ + str(inspect.signature(obj)).replace(" -> None", "")
    except (TypeError, ValueError):
        return False


def _comment(name: str) -> list[str]:
    """The ``#:`` comment of module data ``MODULE.NAME``: in ``MODULE``, else in the submodule of the package
    ``MODULE`` that defines it (``learndyn.verify.tier_b.METHODS`` is defined in ``...tier_b.declaration``)."""
    from sphinx.pycode import ModuleAnalyzer

    modname, attr = name.rsplit(".", 1)
    try:
        package = importlib.import_module(modname)
    except ImportError:
        return []
    value = getattr(package, attr, None)
    modules = [modname] + [f"{modname}.{i.name}" for i in pkgutil.iter_modules(getattr(package, "__path__", []))]
    for sub in modules:
        try:
            module = importlib.import_module(sub)
            if getattr(module, attr, object()) is not value:
                continue
            docs = ModuleAnalyzer.for_module(sub).find_attr_docs()
        except Exception:  # noqa: BLE001 - not importable, or no source to analyse
            continue
        if ("", attr) in docs:
            return list(docs[("", attr)])
    return []


def check(app, what, name, obj, options, lines) -> None:
    if what == "module" and options.get("members") and not options.get("no-members"):
        module = importlib.import_module(name)
        _all_names.update(f"{name}.{n}" for n in getattr(module, "__all__", ()) if not n.startswith("_"))
    if what not in CHECKED or name.rsplit(".", 1)[-1].startswith("_"):
        return
    if what == "data":  # its #: comment, not the docstring of its type (a dict's, a str's) that autodoc falls back to
        lines[:] = _comment(name)
    missing = not any(line.strip() for line in lines)
    if what in ("class", "exception") and _auto_dataclass_doc(obj):
        missing = True
    if not missing:
        _documented.add(name)
    elif name not in app.config.learndyn_undocumented:
        logger.warning(f"public {what} {name} has no docstring (write one at its definition)", type="learndyn",
                       subtype="docstring")


def complete(app, env) -> None:
    objects = env.get_domain("py").objects
    for name in sorted(_all_names - set(objects)):
        logger.warning(f"{name} is in __all__ but not documented: add it to the API pages in docs/api/",
                       type="learndyn", subtype="docstring")
    for name in app.config.learndyn_undocumented:
        if name in _documented:
            logger.warning(f"{name} has a docstring now: remove it from learndyn_undocumented in docs/conf.py",
                           type="learndyn", subtype="docstring")


def _candidates(env, target: str, context: str) -> list[str]:
    objects = env.get_domain("py").objects
    if "." not in target:  # a bare name: the documented objects ending in it, nearest to the context first
        found = [n for n, o in objects.items() if n.endswith("." + target) and not o.aliased]
        if len(found) > 1:
            def shared(n):
                return len(os.path.commonprefix([n.split("."), context.split(".")]))
            best = max(shared(n) for n in found)
            found = [n for n in found if shared(n) == best]
        return found
    # a name through the module that defines it, documented under a package above it that re-exports it
    module, attr = target.rsplit(".", 1)
    parts = module.split(".")
    for k in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:k] + [attr])
        if name in objects:
            return [name]
    return []


def resolve_elsewhere(app, env, node, contnode):
    """A Python reference that did not resolve: a bare name written relative to the module that defines the object
    (``:func:`validity_map```), or a path through that module (``learndyn.verify.validity.search.contour_search``),
    where the object is documented under the package that re-exports it. Resolves only to one object."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    found = _candidates(env, target, node.get("py:module") or "")
    if len(found) != 1:
        return None
    obj = env.get_domain("py").objects[found[0]]
    ref = nodes.reference("", "", internal=True, reftitle=found[0])
    ref["refuri"] = app.builder.get_relative_uri(node["refdoc"], obj.docname) + "#" + obj.node_id
    ref.append(contnode)
    return ref


def dataclass_defaults(app, what, name, obj, options, signature, return_annotation):
    """``field(default_factory=...)`` shows as ``<factory>``, which Sphinx cannot parse as a signature."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


def setup(app):
    app.add_config_value("learndyn_undocumented", [], "env")
    app.connect("autodoc-process-docstring", check)
    app.connect("env-check-consistency", complete)
    app.connect("missing-reference", resolve_elsewhere)
    app.connect("autodoc-process-signature", dataclass_defaults)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
