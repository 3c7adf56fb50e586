"""Where numba keeps compiled kernels (``cache=True``).

numba writes its cache next to the source files, or under ``~/.cache`` when the
package directory is read-only, and fails outright when both are read-only (a
system-wide install run by a user with a read-only home, a container).  This
module is imported before any kernel is defined and, in that case only, points
numba at a writable directory.  ``NUMBA_CACHE_DIR`` set by the user always wins.

numba renews a kernel's cached code when the kernel's own file changes, not when a
function or constant it compiled in from another file does (a ``git pull`` that changed
only ``kernels/_tile.py`` left every time loop with the old tile width, and the text
sampler printed garbage).  So this module also keeps a fingerprint of all of numbarnn's
sources beside its cached kernels, and where the sources changed it removes numbarnn's
cached kernels before any is loaded (``renew_stale_kernels``).
"""
import hashlib
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


# the file beside a directory's cached kernels that names the sources they came from
FINGERPRINT_FILE = "numbarnn-sources.sha1"


def package_sources():
    """numbarnn's Python files, in a fixed order."""
    root = os.path.dirname(os.path.abspath(__file__))
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [os.path.join(folder, name) for name in files if name.endswith(".py")]
    return sorted(found)


def sources_fingerprint(paths):
    """A digest of the files ``paths``: their names within the package and their bytes."""
    root = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha1()
    for path in paths:
        digest.update(os.path.relpath(path, root).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read() + b"\0")
    return digest.hexdigest()


def kernel_cache_path(py_file):
    """The directory where numba caches the kernels defined in ``py_file``: the first of
    numba's own cache locators that takes the file, as numba picks them; None if none."""
    from numba.core.caching import CacheImpl

    for locator_class in CacheImpl._locator_classes:
        locator = locator_class.from_function(kernel_cache_path, py_file)
        if locator is not None:
            return locator.get_cache_path()
    return None


def renew_stale_kernels(paths=None):
    """Remove numbarnn's cached kernels wherever they were compiled from other sources
    than ``paths`` (default: the package's), and record the sources they will come from.

    Each directory of cached kernels holds ``FINGERPRINT_FILE``; where it is missing or
    names other sources, the directory's ``.nbi``/``.nbc`` files of numbarnn's modules
    (``<module>.<function>-<line>...``) are removed, nothing else.  Returns the
    directories renewed.
    """
    paths = package_sources() if paths is None else paths
    fingerprint = sources_fingerprint(paths)
    modules = {}
    for path in paths:
        where = kernel_cache_path(path)
        if where is not None:
            modules.setdefault(where, set()).add(os.path.splitext(os.path.basename(path))[0])
    renewed = []
    for where, names in modules.items():
        stamp = os.path.join(where, FINGERPRINT_FILE)
        try:
            with open(stamp) as f:
                if f.read().strip() == fingerprint:
                    continue
        except OSError:
            pass  # (none yet: a new cache, or one kept before fingerprints)
        for entry in os.listdir(where):
            if entry.endswith((".nbi", ".nbc")) and entry.split(".", 1)[0] in names:
                try:
                    os.remove(os.path.join(where, entry))
                except FileNotFoundError:  # (another process renewing it at once)
                    pass
        scratch = f"{stamp}.{os.getpid()}"
        with open(scratch, "w") as f:
            f.write(fingerprint + "\n")
        os.replace(scratch, stamp)  # (whole or not at all, for a process reading it)
        renewed.append(where)
    return renewed


try:
    renew_stale_kernels()
except (OSError, ImportError, AttributeError):  # (a read-only cache, or numba's internals moved:
    pass                                          # then numba's own per-file check alone)
