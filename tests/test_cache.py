"""numbarnn's cached kernels are renewed when any of its sources changes (``_cache``)."""
import os

from numbarnn import _cache
from numbarnn.kernels import cpu_lstm


def plant(where, names):
    for name in names:
        with open(os.path.join(where, name), "w") as f:
            f.write("cached")


def test_kernels_are_removed_where_any_source_changed_and_only_theirs(tmp_path):
    sources = [tmp_path / "tile.py", tmp_path / "loop.py"]
    sources[0].write_text("WIDTH = 8\n")
    sources[1].write_text("from tile import WIDTH\n")
    paths = [str(p) for p in sources]
    where = _cache.kernel_cache_path(paths[0])
    assert where == _cache.kernel_cache_path(paths[1])
    ours = ["loop.forward-3.py311.nbi", "loop.forward-3.py311.1.nbc", "tile.product-1.py311.nbi"]
    others = ["other.forward-3.py311.nbi", "loop.cpython-311.pyc"]
    plant(where, ours + others)
    # a cache from before fingerprints: renewed, and the fingerprint recorded
    assert _cache.renew_stale_kernels(paths) == [where]
    assert sorted(os.listdir(where)) == sorted(others + [_cache.FINGERPRINT_FILE])
    plant(where, ours)
    assert _cache.renew_stale_kernels(paths) == []  # the same sources: kept
    assert set(ours) <= set(os.listdir(where))
    # loop.py did not change, but what it compiled in from tile.py did
    sources[0].write_text("WIDTH = 16\n")
    assert _cache.renew_stale_kernels(paths) == [where]
    assert sorted(os.listdir(where)) == sorted(others + [_cache.FINGERPRINT_FILE])


def test_importing_numbarnn_records_its_sources_beside_the_kernels():
    where = _cache.kernel_cache_path(cpu_lstm.__file__)
    with open(os.path.join(where, _cache.FINGERPRINT_FILE)) as f:
        assert f.read().strip() == _cache.sources_fingerprint(_cache.package_sources())
    assert cpu_lstm.__file__ in _cache.package_sources()
