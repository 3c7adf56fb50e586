"""What differs under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, the CI's GPU).

The kernels themselves run unchanged there; these host-side decisions do not, and
each module that makes one reads ``SIMULATOR`` from here:

- ``cuda.jit`` takes no ``max_registers`` option: ``_cuda_loop.TILED_KERNEL_OPTIONS``
  is empty;
- CuPy cannot read the simulator's arrays: ``_cuda_gemm.gemm_backend`` is numba's
  own GEMM;
- a cooperative grid is one block: ``_cuda_loop.resident_blocks`` is 1, and the warp
  kernels (which stride their one block over every work unit) always take the
  persistent path (``_cuda_loop.runs_persistent``), so that the simulator tests it.
"""
from numba.core import config

SIMULATOR = bool(config.ENABLE_CUDASIM)
