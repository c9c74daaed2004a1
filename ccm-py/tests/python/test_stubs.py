"""The type stubs match the module, and everything public is documented."""

import ast
import importlib.metadata
import inspect
from pathlib import Path

import ccm
from ccm import _native

PACKAGE = Path(ccm.__file__).parent


def stub_names(path):
    tree = ast.parse(path.read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {
                n.name
                for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and not n.name.startswith("_")
            }
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
    return top, members


def test_native_stub_lists_exactly_the_native_module():
    top, members = stub_names(PACKAGE / "_native.pyi")
    public = {n for n in dir(_native) if not n.startswith("_")}
    assert {n for n in top if not n.startswith("_")} == public
    assert "__version__" in top
    for cls, names in members.items():
        runtime = {n for n in dir(getattr(_native, cls)) if not n.startswith("_")}
        assert names == runtime, cls


def test_aio_stub_lists_the_async_engine():
    _, members = stub_names(PACKAGE / "aio.pyi")
    runtime = {n for n in dir(ccm.AsyncEngine) if not n.startswith("_")}
    assert members["AsyncEngine"] == runtime
    engine = {n for n in dir(ccm.Engine) if not n.startswith("_")}
    assert engine - {"events", "open"} <= runtime


def test_version_is_the_installed_package_version():
    assert ccm.__version__ == importlib.metadata.version("ccm")
    assert ccm.__version__.count(".") == 2


def test_package_is_typed():
    assert (PACKAGE / "py.typed").exists()


def test_everything_public_has_a_docstring():
    for name in ccm.__all__:
        obj = getattr(ccm, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            assert (obj.__doc__ or "").strip(), name
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if member.startswith("_") or not callable(value) and not isinstance(value, property):
                    continue
                assert (getattr(value, "__doc__", "") or "").strip(), f"{name}.{member}"


def _return_annotations(path, cls):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {
                n.name: ast.unparse(n.returns)
                for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns is not None
            }
    raise AssertionError(f"{cls} not in {path}")


def test_async_stubs_return_what_the_engine_returns():
    stubs = _return_annotations(PACKAGE / "aio.pyi", "AsyncEngine")
    engine = _return_annotations(PACKAGE / "engine.py", "Engine")
    differ = {
        name: (stubs[name], engine[name])
        for name in stubs.keys() & engine.keys()
        if name not in ("events", "open", "__aenter__", "__aexit__") and stubs[name] != engine[name]
    }
    assert not differ, differ
