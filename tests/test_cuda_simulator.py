"""Runs tests/cuda under numba's CUDA simulator, in a subprocess.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba is first
imported, which this process has long done; hence the subprocess.  On a machine
with a GPU, ``python -m pytest tests/cuda`` runs the same tests on the GPU.
"""
import os
import subprocess
import sys

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda")


def test_cuda_kernels_and_layers_under_the_simulator(request):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    slow = ["--runslow"] if request.config.getoption("--runslow") else []
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             *slow, TESTS], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    # nothing may skip but the tests marked slow (which --runslow runs here too)
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("slow: run with --runslow" in line for line in skips), "\n".join(skips)
