"""How the CUDA time loops are planned and launched: plain Python, no GPU or simulator
needed (``numbarnn.kernels._cuda_loop`` imports without CUDA; nothing here compiles)."""
import numpy as np
import pytest

from numbarnn.kernels import _cuda_loop


@pytest.mark.parametrize("G, B, H, dtype, units, splits", [
    (4, 64, 512, np.float32, 4, 1),     # 4 x 4 rows of 512 floats: 32 KiB; 128 blocks
    (4, 4, 256, np.float32, 8, 8),      # 8 units x 4 rows: 8 threads to each of 32 pairs
    (4, 64, 1024, np.float32, 2, 2),    # 512 blocks: persistent only where they all fit
    (1, 64, 1024, np.float32, 8, 1),    # capped by the pairs a block's threads hold (two)
    (4, 64, 1024, np.float64, 1, 4),
    (4, 64, 2048, np.float64, 0, None),  # one unit's rows exceed the slice: the warp design
    (4, 0, 256, np.float32, 0, None),    # an empty batch (kernels called directly): nothing
    (1, 4, 0, np.float32, 0, None),      # to tile, and no division by zero
])
def test_tiled_plan_at_real_sizes(G, B, H, dtype, units, splits, monkeypatch):
    monkeypatch.setenv("NUMBARNN_CUDA_LOOP", "tiled")
    geometry = _cuda_loop.SliceGeometry()
    assert _cuda_loop.tiled_units(G, B, H, dtype, geometry) == units
    plan = _cuda_loop.plan_time_loop(G, B, H, dtype)
    if units:
        assert plan == (("tiled", -(-H // units), 256, (units,), 1))
        assert _cuda_loop.column_splits(units, B, geometry.threads,
                                          geometry.batch_tile) == splits
    else:
        assert plan.design == "warp"


def test_a_geometry_whose_tile_cannot_hold_the_partial_sums_is_refused():
    with pytest.raises(ValueError, match="the tile must hold"):
        _cuda_loop.slice_functions(np.float64, _cuda_loop.SliceGeometry(tile_bytes=1024), 4,
                                      barrier=None)


class FakeKernel:
    """Stands for a numba kernel: ``kernel[grid, block](*args)`` records the call."""

    def __init__(self, name, calls, fails=False):
        self.name, self.calls, self.fails = name, calls, fails

    def __getitem__(self, launch_config):
        def launch(*args):
            self.calls.append((self.name, args))
            if self.fails:
                raise RuntimeError("cudadevrt not found")
        return launch


def test_a_failed_cooperative_launch_falls_back_for_that_kernel_only(monkeypatch):
    monkeypatch.setattr(_cuda_loop, "_cooperative_failed", set())
    monkeypatch.setitem(_cuda_loop._cooperative, "available", True)
    monkeypatch.setattr(_cuda_loop, "resident_blocks", lambda kernel, args, threads: 8)
    calls = []
    bad, good = FakeKernel("bad", calls, fails=True), FakeKernel("good", calls)
    step = FakeKernel("step", calls)
    plan = _cuda_loop.LoopPlan("tiled", 2, 256, (1,), 1)
    with pytest.warns(RuntimeWarning, match="cooperative launch failed"):
        _cuda_loop.run_time_loop(bad, ("loop",), step, [("t0",), ("t1",)], plan)
    assert calls == [("bad", ("loop",)), ("step", ("t0",)), ("step", ("t1",))]
    del calls[:]
    _cuda_loop.run_time_loop(bad, ("loop",), step, [("t0",)], plan)  # no retry, no warning
    _cuda_loop.run_time_loop(good, ("loop",), step, [("t0",)], plan)  # others still try
    assert calls == [("step", ("t0",)), ("good", ("loop",))]
    assert not _cuda_loop.runs_persistent(plan, 8, bad)
    assert _cuda_loop.runs_persistent(plan, 8, good)
    assert not _cuda_loop.runs_persistent(plan._replace(blocks=9), 8, good)  # must all fit
