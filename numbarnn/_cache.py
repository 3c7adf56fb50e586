"""Where numba keeps compiled kernels (``cache=True``).

numba writes its cache next to the source files, or under ``~/.cache`` when the
package directory is read-only, and fails outright when both are read-only (a
system-wide install run by a user with a read-only home, a container).  This
module is imported before any kernel is defined and, in that case only, points
numba at a writable directory.  ``NUMBA_CACHE_DIR`` set by the user always wins.

numba renews a kernel's cached code when the kernel's own file changes, not when a
function or constant it compiled in from another file does (a ``git pull`` that changed
only ``kernels/_tile.py`` left every time loop with the old tile width, and the text
sampler printed garbage).  So for numbarnn's own files this module puts a fingerprint of
all of numbarnn's modules that use numba into the source stamp numba keeps with each
cached kernel (``FingerprintedLocator``): where any of them changed, numba finds the stamp
different and compiles afresh, as it does for a kernel whose own file changed.
(Compiled code takes its globals from modules that use numba; the other modules' edits
keep the cache.)
"""
import hashlib
import os
import pickle
import re
import tempfile

from numba.core import config


def _writable(path):
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def _choose_cache_dir():
    if config.CACHE_DIR:
        return config.CACHE_DIR
    package_dir = os.path.join(os.path.dirname(__file__), "kernels")
    if _writable(package_dir):
        return None  # numba's default: __pycache__ beside the kernels
    home_cache = os.path.join(os.path.expanduser("~"), ".cache")
    if _writable(home_cache) or (not os.path.exists(home_cache)
                                 and _writable(os.path.dirname(home_cache))):
        return None  # numba's own fallback under ~/.cache works
    return os.path.join(tempfile.gettempdir(), f"numbarnn-numba-cache-{os.getuid()}")


CACHE_DIR = _choose_cache_dir()
if CACHE_DIR and not config.CACHE_DIR:
    os.makedirs(CACHE_DIR, exist_ok=True)
    config.CACHE_DIR = CACHE_DIR


def cache_location():
    """A human-readable description of where compiled kernels are cached."""
    if config.CACHE_DIR:
        return config.CACHE_DIR
    return os.path.join(os.path.dirname(__file__), "kernels", "__pycache__")


def kernels_cached(*dispatchers):
    """Whether numba's on-disk cache holds compiled code of every one of ``dispatchers``
    that it would load (an index under their current source stamp, with entries); False
    when it cannot tell."""
    try:
        return all(d._cache._cache_file._load_index() for d in dispatchers)
    except (AttributeError, OSError, EOFError, ValueError, pickle.UnpicklingError):
        return False  # (caching disabled, numba's internals moved, or a damaged index)


# a module that imports numba or llvmlite (``numbarnn`` itself is not numba)
_USES_NUMBA = re.compile(rb"^\s*(?:from|import)\s+(?:numba|llvmlite)\b", re.MULTILINE)
PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def package_sources():
    """numbarnn's Python files that use numba, in a fixed order."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            # (not an editor's lock or backup file, nor a link to nothing)
            if name.endswith(".py") and not name.startswith(".") and os.path.isfile(path):
                try:
                    with open(path, "rb") as f:
                        if _USES_NUMBA.search(f.read()):
                            found.append(path)
                except OSError:
                    pass
    return sorted(found)


def sources_fingerprint(paths):
    """A digest of the files ``paths``: their names within the package and their bytes."""
    digest = hashlib.sha1()
    for path in paths:
        digest.update(os.path.relpath(path, PACKAGE_DIR).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read() + b"\0")
    return digest.hexdigest()


FINGERPRINT = None  # (set below)


def fingerprinted(locator_class):
    """numba's cache ``locator_class`` for numbarnn's own files only (None for any other,
    which numba's own locators then take), with ``FINGERPRINT`` in the source stamp: a
    cached kernel saved under other sources is not loaded, and its index is written anew."""

    class FingerprintedLocator(locator_class):
        @classmethod
        def from_function(cls, py_func, py_file):
            if not os.path.abspath(py_file).startswith(PACKAGE_DIR):
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return (super().get_source_stamp(), FINGERPRINT)

    FingerprintedLocator.__qualname__ = f"Fingerprinted{locator_class.__name__}"
    return FingerprintedLocator


def _install_fingerprints():
    """Put a fingerprinted twin of each of numba's locators first, in the list that every
    cache implementation searches (in place: subclasses share it).  (numba's own
    ``NUMBA_CACHE_LOCATOR_CLASSES`` setting replaces that list, and the twins with it.)"""
    from numba.core.caching import CacheImpl

    locators = CacheImpl._locator_classes
    if not any(getattr(c, "__qualname__", "").startswith("Fingerprinted") for c in locators):
        locators[:0] = [fingerprinted(c) for c in locators]


try:
    FINGERPRINT = sources_fingerprint(package_sources())
    _install_fingerprints()
except (OSError, ImportError, AttributeError):  # (a file gone while read, or numba's
    pass                                         # internals moved: its per-file check alone)
