"""The modules of the flat layout (before the package was laid out by job), still importable.

``import numbarnn.forecasting`` (say) gives a module whose names are looked up, on
first use, in the modules that now hold them, with a ``DeprecationWarning`` naming
the new place.  Scripts written against the old layout keep working; new code imports
from ``numbarnn.text``, ``numbarnn.forecast`` and ``numbarnn.runs``.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# old module -> the modules that hold its names now, searched in order (``numbarnn.text``,
# once a module, is now the text job's package, which offers that module's names)
MOVED = {
    "config": ("text.config",),
    "model": ("text.model",),
    "training": ("text.training",),
    "sampling": ("text.sampling",),
    "forecasting": ("forecast.config", "forecast.training", "forecast.model", "forecast.windows",
                    "forecast.intervals", "forecast.backtest", "forecast.output",
                    "forecast.combination", "forecast.fitting", "forecast.metrics"),
    "series": ("forecast.series", "forecast.dates", "forecast.datasets"),
    "transforms": ("forecast.transforms",),
    "selection": ("forecast.selection",),
    "metrics": ("forecast.metrics",),
    "frames": ("forecast.frames",),
    "compare": ("forecast.compare",),
    "panel": ("forecast.panel", "runs.panels"),
    "parallel": ("runs.parallel",),
    "sweep": ("runs.sweep",),
    "kernels._cuda_common": ("kernels._cuda_arrays", "kernels._cuda_gemm", "kernels._cuda_inputs",
                             "kernels._cuda_loop"),
}
# names that left a module which stays: (module, name) -> their module now
MOVED_NAMES = {("checkpoints", name): "runs.run_dir" for name in (
    "RUN_FILES", "RUN_DIRS", "RUN_KINDS", "LOCK_FILE", "run_kind", "run_lock",
    "prepare_run_dir", "remove_run_outputs")}
MOVED_NAMES.update({("forecast.series", name): "forecast.dates" for name in (
    "DATE_FORMATS", "MAX_MISSING_SHARE", "future_dates")})
MOVED_NAMES.update({("forecast.series", name): "forecast.datasets" for name in (
    "SYNTHETIC", "airline_path", "load_airline", "sine_series", "mackey_glass_series",
    "synthetic")})
MOVED_NAMES.update({("forecast.training", name): "forecast.combination" for name in (
    "COMBINED_WEIGHT", "FIXED_PARTNER_WEIGHT", "FEW_WINDOWS", "FEW_WINDOWS_WEIGHTS",
    "ALONE_WINDOWS", "LINEAR_WEIGHT")})
MOVED_NAMES[("forecast.training", "DIVERGED")] = "forecast.fitting"


def moved_name(module, name):
    """``numbarnn.<module>.<name>`` where it lives now, with a ``DeprecationWarning``;
    for the module's ``__getattr__``."""
    place = MOVED_NAMES.get((module, name))
    if place is None:
        raise AttributeError(f"module 'numbarnn.{module}' has no attribute {name!r}")
    warnings.warn(f"numbarnn.{module}.{name} is now numbarnn.{place}.{name}",
                  DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(f"numbarnn.{place}"), name)


class _MovedModule(types.ModuleType):
    def __getattr__(self, name):
        modules = [importlib.import_module(f"numbarnn.{place}") for place in self.__places__]
        # (a name's own module first: one that left a place is still served there, by that
        # module's __getattr__, with a second warning naming a path the caller never wrote)
        for module in modules:
            if name in vars(module):
                return vars(module)[name]
        for module in modules:  # (a package's lazily imported names)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``numbarnn.<old name>`` for the names in ``MOVED``."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package == "numbarnn" and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        places = MOVED[spec.name.partition(".")[2]]
        warnings.warn(f"{spec.name} is now {', '.join('numbarnn.' + p for p in places)}",
                      DeprecationWarning, stacklevel=3)
        module = _MovedModule(spec.name)
        module.__places__ = places
        return module

    def exec_module(self, module):
        pass


def install():
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
