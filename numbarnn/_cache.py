"""Where numba keeps compiled kernels (``cache=True``).

numba writes its cache next to the source files, or under ``~/.cache`` when the
package directory is read-only, and fails outright when both are read-only (a
system-wide install run by a user with a read-only home, a container).  This
module is imported before any kernel is defined and, in that case only, points
numba at a writable directory.  ``NUMBA_CACHE_DIR`` set by the user always wins.
"""
import os
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
    (their index files exist); False when it cannot tell."""
    try:
        return all(os.path.exists(d._cache._cache_file._index_path) for d in dispatchers)
    except AttributeError:  # caching disabled, or numba's internals moved
        return False
