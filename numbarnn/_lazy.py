"""Names a package offers before it imports them: ``import numbarnn`` (and the command
line's start-up) stays light, and numba loads with the first layer or kernel used."""
import importlib


def lazy_exports(namespace, exports):
    """A module ``__getattr__`` and ``__dir__`` for the package whose ``globals()`` are
    ``namespace``: each name of ``exports`` (``{name: 'submodule'}``, or
    ``'submodule:attribute'`` for another name) is imported on first use."""
    package = namespace["__name__"]

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = exports[name].partition(":")
        return getattr(importlib.import_module(f"{package}.{module}"), attribute or name)

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
