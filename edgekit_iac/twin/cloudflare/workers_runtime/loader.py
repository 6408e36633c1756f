"""Import a Worker's modules in isolation, with ``workers`` and ``js`` resolved to stand-ins.

The sources come from a mapping ``{"cache_worker.py": "<source>", ...}`` (the shape of
``edgekit_iac.bundle.build.worker_modules``) or from a function folder. While the main module is
imported, a meta-path finder serves those sources and ``sys.modules`` holds the given
``workers``/``js`` modules; afterwards ``sys.modules`` is put back exactly as it was.
Nothing is installed into site-packages and sys.path is never touched, so several
runtimes (and the pure-module unit tests) can hold their own copies side by side.

Workers must import ``workers``/``js`` at module level (as edgekit's do): an import
first run inside a handler would no longer find the stand-ins.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

# Vendored pure-Python packages live under this folder in a Python Worker bundle.
VENDOR_PREFIX = "python_modules/"
_IMPORT_LOCK = threading.Lock()


def sources_from_dir(directory: Path) -> dict[str, str]:
    """``{relative posix path: source}`` for every .py file under a function folder."""
    return {
        path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def load_function_module(directory: Path, module: str) -> ModuleType:
    """One module of a function folder (e.g. ``"cache_policy.py"``), its siblings importable,
    isolated like a Worker: for tests and benchmarks of the pure decision modules."""
    return import_isolated(sources_from_dir(directory), module, origin=str(directory),
                           injected={})


def module_name(path: str) -> tuple[str, bool] | None:
    """``"pkg/__init__.py"`` -> ``("pkg", True)``; None for files that are not modules."""
    if not path.endswith(".py"):
        return None
    path = path.removeprefix(VENDOR_PREFIX)[: -len(".py")]
    parts = path.split("/")
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts), is_package


class _SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, sources: Mapping[str, str], origin: str):
        self._modules: dict[str, tuple[str, str, bool]] = {}
        for path, source in sources.items():
            named = module_name(path)
            if named is not None:
                self._modules[named[0]] = (f"{origin}/{path}", source, named[1])

    @property
    def names(self) -> set[str]:
        return set(self._modules)

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - finder protocol
        if fullname not in self._modules:
            return None
        filename, _, is_package = self._modules[fullname]
        spec = importlib.util.spec_from_loader(fullname, self, origin=filename,
                                               is_package=is_package)
        spec.has_location = True
        return spec

    def create_module(self, spec):  # noqa: ARG002 - default module creation
        return None

    def exec_module(self, module: ModuleType) -> None:
        filename, source, _ = self._modules[module.__name__]
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - loading code


def import_isolated(sources: Mapping[str, str], main_module: str, *, origin: str,
                    injected: Mapping[str, ModuleType]) -> ModuleType:
    """Import ``main_module`` (e.g. ``"cache_worker.py"``) from ``sources``; see module doc."""
    named = module_name(main_module)
    if main_module not in sources or named is None:
        raise ImportError(f"main module {main_module!r} is not among the Worker's modules "
                          f"({', '.join(sorted(sources)) or 'none'})")
    finder = _SourceFinder(sources, origin)
    shadowed = finder.names | set(injected)
    with _IMPORT_LOCK:
        saved = {name: sys.modules.pop(name) for name in list(sys.modules)
                 if name in shadowed or name.split(".")[0] in shadowed}
        sys.modules.update(injected)
        sys.meta_path.insert(0, finder)
        try:
            return importlib.import_module(named[0])
        finally:
            sys.meta_path.remove(finder)
            for name in list(sys.modules):
                if name in shadowed or name.split(".")[0] in shadowed:
                    del sys.modules[name]
            sys.modules.update(saved)
