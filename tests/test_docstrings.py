"""Every public name documents an example, and ``python -m pytest`` runs it.

The ``Examples`` sections run as doctests (``--doctest-modules`` over
``skspmd/``, see the top-level ``conftest.py``); this test makes sure there is
one to run for every public estimator, function and class, new ones included.
"""

import importlib
import inspect
import pkgutil
import re

import pytest

import skspmd


def public_names():
    """``(dotted name, object)`` of ``skspmd.__all__`` and of every public subpackage's
    or module's ``__all__`` (modules themselves excluded)."""
    found = {}
    modules = [skspmd] + [
        importlib.import_module(f"skspmd.{info.name}")
        for info in pkgutil.iter_modules(skspmd.__path__)
        if not info.name.startswith("_")
    ]
    for module in modules:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not inspect.ismodule(obj):
                found.setdefault(id(obj), (f"{module.__name__}.{name}", obj))
    return sorted(found.values())


PUBLIC = public_names()
EXAMPLES = re.compile(r"^Examples\n-{8}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", re.M | re.S)


@pytest.mark.serial
def test_public_names_are_found():
    names = {name for name, _ in PUBLIC}
    assert {"skspmd.SPMDPCA", "skspmd.linalg.qr", "skspmd.daal4py.kmeans"} <= names


@pytest.mark.serial
@pytest.mark.parametrize("name, obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_name_has_examples_that_run(name, obj):
    doc = inspect.cleandoc(obj.__doc__ or "")  # its own, not one inherited
    match = EXAMPLES.search(doc)
    assert match, f"{name}: its docstring has no numpydoc 'Examples' section"
    assert ">>> " in match.group(1), f"{name}: its Examples section has no '>>>' example"
    # the doctest is collected from the module that defines it, inside skspmd/
    assert obj.__module__.split(".")[0] == "skspmd", f"{name} is defined in {obj.__module__}"
