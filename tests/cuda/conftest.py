"""These tests need CUDA: a GPU, or the simulator (NUMBA_ENABLE_CUDASIM=1 set before
numba is imported).  ``tests/test_cuda_simulator.py`` runs them in a subprocess
under the simulator; on a machine with a GPU, run them directly."""
import pytest

from numbarnn.info import cuda_info

if not cuda_info()["available"]:
    collect_ignore_glob = ["test_*.py"]

# Tiny shapes of the tiled time loop (SliceGeometry fields: threads, batch_tile,
# slice_bytes, tile_bytes, pairs), so that the simulator's thread per CUDA thread
# stays cheap and the tests' shapes (H = 5, B = 5) need several blocks, batch
# tiles and staged chunks, or (ONE_BLOCK) fit one block: the simulator's
# cooperative grids are one block, so only then does the persistent loop run.
# With SEVERAL_BLOCKS the LSTM's units are few enough (J = 1 or 2 of 3 rows) for
# threads to split their columns (4 or 2 a pair, 12 of 14 threads busy), in
# several rounds of partial sums; the RNN's are not.  ONE_BLOCK gives a thread
# two pairs.  ``test_cuda_plan`` checks these claims.
SEVERAL_BLOCKS = (14, 3, 192, 112, 1)
ONE_BLOCK = (16, 4, 960, 128, 2)


@pytest.fixture(params=["warp-cooperative", "warp-per-step", "tiled-cooperative",
                        "tiled-per-step"])
def time_loop(request, monkeypatch):
    """Run a test with each time-loop design (``_cuda_loop.plan_time_loop``), as one
    persistent grid-synchronised launch and as one launch per step (the fallback)."""
    from numbarnn.kernels import _cuda_loop

    design, mode = request.param.split("-", 1)
    monkeypatch.setenv("NUMBARNN_CUDA_LOOP", design)
    monkeypatch.setitem(_cuda_loop._cooperative, "available", mode == "cooperative")
    if design == "tiled":
        shape = ONE_BLOCK if mode == "cooperative" else SEVERAL_BLOCKS
        monkeypatch.setattr(_cuda_loop, "GEOMETRY", _cuda_loop.SliceGeometry(*shape))
    return design, mode
