"""What numbarnn runs on: versions, BLAS, threads, CUDA, compile cache."""
import os
import platform
import sys

import numba
import numpy as np

from . import __version__
from ._cache import cache_location


def blas_info():
    """The BLAS libraries loaded in this process (numba's np.dot uses SciPy's)."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS numba calls)
    from threadpoolctl import threadpool_info

    return [
        {"library": i.get("internal_api"), "version": i.get("version"),
         "used_by": _blas_user(i.get("filepath") or ""),
         "threads": i.get("num_threads"), "architecture": i.get("architecture"),
         "path": i.get("filepath")}
        for i in threadpool_info() if i.get("user_api") == "blas"
    ]


def _blas_user(path):
    if "scipy" in path.split("/")[-2]:  # .../site-packages/scipy.libs/libscipy_openblas...
        return "numba kernels (through SciPy)"
    if "numpy" in path.split("/")[-2]:
        return "NumPy"
    return "NumPy or SciPy"


def cuda_info():
    """Whether CUDA kernels could run here, and why not if they cannot."""
    from numba.core import config

    if config.ENABLE_CUDASIM:
        return {"available": True, "simulator": True,
                "detail": "NUMBA_ENABLE_CUDASIM=1: CUDA kernels run in the (slow) simulator"}
    try:
        from numba import cuda

        if cuda.is_available():
            dev = cuda.get_current_device()
            free, total = cuda.current_context().get_memory_info()
            cc = ".".join(map(str, dev.compute_capability))
            return {"available": True, "simulator": False,
                    "detail": f"{dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, "
                              f"compute capability {cc}, {total / 2**30:.1f} GiB"}
        return {"available": False, "simulator": False,
                "detail": "no CUDA driver or GPU found"}
    except Exception as exc:  # a broken driver must not break `info`
        return {"available": False, "simulator": False, "detail": f"CUDA check failed: {exc}"}


def cuda_kernel_info():
    """The CUDA kernels' settings (time-loop design, GEMM backend), or why they are invalid."""
    from .kernels import _cuda_gemm, _cuda_loop

    try:
        return {"time_loop": _cuda_loop.loop_design(), "gemm": _cuda_gemm.gemm_backend()}
    except ValueError as exc:  # a bad NUMBARNN_CUDA_LOOP / NUMBARNN_CUDA_GEMM
        return {"error": str(exc)}


def system_info():
    """A dict describing this installation; ``numbarnn info`` prints it."""
    info = {
        "numbarnn": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "cpu": numba.config.CPU_NAME or _llvm_cpu_name(),
        "tile": _tile_info(),
        "cores": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "blas": blas_info(),
        "cuda": cuda_info(),
        "compile_cache": cache_location(),
    }
    if info["cuda"]["available"]:
        info["cuda"]["kernels"] = cuda_kernel_info()
    return info


def _tile_info():
    """The CPU kernels' product tile on this CPU (``kernels._tile``): its vector width says
    whether they use AVX-512."""
    from .kernels import _tile

    return (f"{_tile.VECTOR_BYTES * 8}-bit vectors, {_tile.ROWS} rows x {_tile.VECTORS} "
            f"vectors ({'AVX-512' if _tile.VECTOR_BYTES == 64 else 'AVX2'})")


def _llvm_cpu_name():
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()
