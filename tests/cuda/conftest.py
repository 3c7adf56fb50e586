"""These tests need CUDA: a GPU, or the simulator (NUMBA_ENABLE_CUDASIM=1 set before
numba is imported).  ``tests/test_cuda_simulator.py`` runs them in a subprocess
under the simulator; on a machine with a GPU, run them directly."""
import pytest

from numbarnn.info import cuda_info

if not cuda_info()["available"]:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(params=["cooperative", "per-step"])
def launch_mode(request, monkeypatch):
    """Run a test with the persistent (grid-synchronised) time loop and with the fallback."""
    from numbarnn.kernels import _cuda_common

    monkeypatch.setitem(_cuda_common._cooperative, "available", request.param == "cooperative")
    return request.param
