"""Runs tests/cuda under numba's CUDA simulator, in subprocesses side by side.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba is first
imported, which this process has long done; hence the subprocesses.  On a machine
with a GPU, ``python -m pytest tests/cuda`` runs the same tests on the GPU.
"""
import os
import subprocess
import sys
import tempfile

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda")


# Groups of tests (files, and a -k selection of them) run side by side: the simulator runs
# a CUDA thread per Python thread, which wait on each other a good part of the time, so
# three processes on two cores take about a third of the time of one run of all (177 s
# against 491 s, measured on this project's 2-core machines).
GROUPS = ((["test_cuda_training.py", "test_gpu_check.py"], ""),
          (["test_cuda_kernels.py"], ""),
          (["test_cuda_layers.py", "test_cuda_info.py"], ""))


def test_cuda_kernels_and_layers_under_the_simulator(request):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    slow = ["--runslow"] if request.config.getoption("--runslow") else []
    listed = {name for files, _ in GROUPS for name in files}
    assert listed == {f for f in os.listdir(TESTS) if f.startswith("test_")}, \
        "a file of tests/cuda is missing from GROUPS"
    logs = [tempfile.TemporaryFile("w+") for _ in GROUPS]  # (files: a full pipe would block)
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-rs", "-p",
                              "no:cacheprovider", *slow, *(["-k", select] if select else []),
                              *(os.path.join(TESTS, f) for f in files)],
                             env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
            for (files, select), log in zip(GROUPS, logs)]
    for run, log in zip(runs, logs):
        run.wait()
        log.seek(0)
        output = log.read()
        assert run.returncode == 0, output[-9000:]
        assert " passed" in output
        # nothing may skip but the tests marked slow (which --runslow runs here too)
        skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
        assert all("slow: run with --runslow" in line for line in skips), "\n".join(skips)
