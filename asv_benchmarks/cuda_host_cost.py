"""Host-side cost of numbarnn's CUDA layers, measured on a machine without a GPU.

    pip install "numba-cuda[cu12]"    # NVRTC compiles the kernels; no GPU or driver needed
    python asv_benchmarks/cuda_host_cost.py [--separate-projection]

At small batches a layer's time on the GPU is mostly host work: Python building
each launch (numba-cuda types and marshals every argument), allocations, copies
and synchronisations.  This script runs the layers' own host code and
numba-cuda's own dispatch and argument marshalling, with the CUDA driver
replaced by stand-ins that do nothing: memory is fake addresses, launches,
copies and synchronisations return at once, and what is read back is zeros.
For each size it reports, per inference forward and per training step (forward
and backward), the kernel launches and the median host Python time.

Left out: the driver calls themselves (a few microseconds each on real
hardware) and the GPU's own work, so the times are a floor for host-bound
sizes, on this machine's CPU.  The GEMMs are numba's own kernel here (with CuPy
they are cuBLAS calls instead).  The occupancy stand-in gives 512 / threads
blocks per multiprocessor and 132 multiprocessors, what an H200 gave the warp
design's kernels (528 blocks of 128 threads).

``--separate-projection`` runs the input projection as numbarnn did before it
projected in place on the GPU (a separate work space of at most 2^18 elements,
the CPU's), for a before/after comparison.

The stand-ins reach into numba-cuda's internals (written against numba-cuda
0.30): where those differ, the script stops with the error it met.
"""
import argparse
import contextlib
import ctypes
import importlib.util
import os
import statistics
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = [("lstm", 4, 100, 128, 256), ("rnn", 4, 100, 128, 256), ("lstm", 64, 100, 256, 512),
         ("rnn", 64, 100, 256, 512), ("lstm", 64, 100, 1024, 1024)]  # cell, B, T, D, H
TINY = [("lstm", 2, 3, 3, 4), ("rnn", 2, 3, 3, 4)]
MULTIPROCESSORS = 132

launches = []  # the number of kernel parameters of each launch


class _HostBuffer(bytearray):
    """Stands for mapped host memory (``cuda.mapped_array``): host bytes with a device pointer."""


class _FakeContext:
    """Stands for a CUDA context: allocations get distinct fake addresses, nothing runs."""

    def __init__(self, driver):
        self._driver = driver
        self._next_address = 1 << 20
        self.device = types.SimpleNamespace(compute_capability=(9, 0), id=0, name=b"no GPU",
                                            MULTIPROCESSOR_COUNT=MULTIPROCESSORS)

    def memalloc(self, size):
        pointer = self._driver.binding.CUdeviceptr(self._next_address)
        self._next_address += (size + 255) // 256 * 256
        return self._driver.MemoryPointer(context=self, pointer=pointer, size=size)

    def memhostalloc(self, size, mapped=False, **kwargs):
        buffer = _HostBuffer(size)
        device = self.memalloc(size)
        buffer.device_ctypes_pointer, buffer.handle = device.device_ctypes_pointer, device.handle
        return buffer

    def synchronize(self):
        pass

    def get_active_blocks_per_multiprocessor(self, function, threads, *args, **kwargs):
        return 512 // threads


def fake_the_driver():
    """Replace numba-cuda's driver calls by stand-ins (see the module docstring)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        sys.exit("cuda_host_cost: unset NUMBA_ENABLE_CUDASIM; this measures numba-cuda's own "
                 "launch path, which the simulator replaces")
    if importlib.util.find_spec("numba_cuda") is None:
        sys.exit("cuda_host_cost: needs numba-cuda (pip install 'numba-cuda[cu12]')")
    from numba.cuda import codegen, dispatcher
    from numba.cuda.cudadrv import devices, driver

    context = _FakeContext(driver)
    devices._runtime.get_or_create_context = lambda devnum=None: context
    devices._runtime.ensure_context = contextlib.nullcontext

    def read_back_zeros(dst, src, size, stream=0):
        ctypes.memset(driver.host_pointer(dst), 0, size)  # dst: an address or a host array

    driver.device_to_host = read_back_zeros
    driver.host_to_device = driver.device_to_device = driver.device_memset = (
        lambda *args, **kwargs: None)
    dispatcher.launch = lambda stream, config, kernel, *args: launches.append(len(args))
    dispatcher.LaunchConfig = lambda **kwargs: None
    function = types.SimpleNamespace(kernel=None, name="kernel",
                                     module=types.SimpleNamespace(initialized=True))
    codegen.CUDACodeLibrary.get_cufunc = lambda self: function
    import numbarnn.info

    numbarnn.info.cuda_info = lambda: {"available": True, "detail": "driver faked out"}


def host_cost(cell, B, T, D, H, repeats):
    """(launches, median seconds) of an inference forward and of a training step."""
    from asv_benchmarks.gpu_check import cuda_layer_steps

    infer, train = cuda_layer_steps(cell, (B, T, D, H))
    results = []
    for call in (infer, train):
        call()  # compiles
        del launches[:]
        call()
        count = len(launches)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        results.append((count, statistics.median(times)))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--separate-projection", action="store_true",
                        help="project the inputs as before: a separate work space of at most "
                             "2^18 elements")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    fake_the_driver()
    from numbarnn import devices

    if args.separate_projection:
        devices.CUDA.projection_elements = devices.CPU.projection_elements
        devices.CUDA.projects_in_place = False
    print(f"host Python per call, driver faked out (ms, median of {args.repeats}); float32, "
          f"time loop {os.environ.get('NUMBARNN_CUDA_LOOP', 'auto')}"
          + (", separate projection" if args.separate_projection else ""))
    print(f"{'cell':5} {'B, T, D, H':18} {'infer launches':>14} {'ms':>7} "
          f"{'train launches':>14} {'ms':>7}")
    for cell, *size in TINY if args.tiny else SIZES:
        (n_infer, t_infer), (n_train, t_train) = host_cost(cell, *size, repeats=args.repeats)
        print(f"{cell:5} {', '.join(map(str, size)):18} {n_infer:14d} {t_infer * 1e3:7.2f} "
              f"{n_train:14d} {t_train * 1e3:7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
