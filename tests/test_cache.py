"""numbarnn's cached kernels are compiled again when any of its modules that use numba
changes, not only the kernel's own file (``_cache``)."""
import json
import os
import subprocess
import sys

from numba.core.caching import CacheImpl

from numbarnn import _cache
from numbarnn.kernels import cpu_lstm

# a kernel in a module of a stand-in package, compiled or loaded under a given fingerprint
CHILD = """
import json, sys
from numbarnn import _cache
_cache.PACKAGE_DIR, _cache.FINGERPRINT = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[1])
import loop
cached = _cache.kernels_cached(loop.step)
assert loop.step(1) == 9
print(json.dumps([sum(loop.step.stats.cache_hits.values()),
                  sum(loop.step.stats.cache_misses.values()), cached]))
"""


def hits_and_misses(package, fingerprint):
    result = subprocess.run([sys.executable, "-c", CHILD, package, fingerprint],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_kernel_cached_under_other_sources_compiles_again(tmp_path):
    # loop.py compiles in a constant of tile.py: only the fingerprint sees tile.py change
    (tmp_path / "tile.py").write_text("WIDTH = 8\n")
    (tmp_path / "loop.py").write_text("from numba import njit\nfrom tile import WIDTH\n\n\n"
                                      "@njit(cache=True)\ndef step(x):\n    return x + WIDTH\n")
    package = os.path.join(str(tmp_path), "")
    # [cache hits, misses, whether it was reported cached before the call]
    assert hits_and_misses(package, "first") == [0, 1, False]   # compiled and saved
    assert hits_and_misses(package, "first") == [1, 0, True]    # loaded
    assert hits_and_misses(package, "second") == [0, 1, False]  # other sources: compiled again
    assert hits_and_misses(package, "second") == [1, 0, True]


def test_only_numbarnns_kernels_carry_the_fingerprint(tmp_path):
    stamp = cpu_lstm.lstm_forward._cache._cache_file._source_stamp
    assert stamp[1] == _cache.FINGERPRINT
    # a file outside the package is left to numba's own locators
    other = tmp_path / "mine.py"
    other.write_text("x = 1\n")
    ours = [c for c in CacheImpl._locator_classes if c.__qualname__.startswith("Fingerprinted")]
    assert ours and all(c.from_function(hits_and_misses, str(other)) is None for c in ours)
    assert any(c.from_function(hits_and_misses, cpu_lstm.__file__) is not None for c in ours)


def test_the_fingerprint_covers_the_modules_that_use_numba(tmp_path, monkeypatch):
    sources = [os.path.relpath(p, _cache.PACKAGE_DIR) for p in _cache.package_sources()]
    assert os.path.join("kernels", "_tile.py") in sources and "layers.py" in sources
    assert os.path.join("forecast", "model.py") not in sources  # (no compiled code there)
    assert _cache.FINGERPRINT == _cache.sources_fingerprint(_cache.package_sources())
    # an editor's lock file (a link to nothing) or a file in another encoding is no bother
    (tmp_path / "loop.py").write_bytes(b"import numba\n# caf\xe9\n")
    (tmp_path / "notes.py").write_text("x = 1\n")
    os.symlink(tmp_path / "gone.py", tmp_path / ".#loop.py")
    monkeypatch.setattr(_cache, "PACKAGE_DIR", os.path.join(str(tmp_path), ""))
    assert _cache.package_sources() == [str(tmp_path / "loop.py")]
