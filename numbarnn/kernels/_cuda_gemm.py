"""The matrix products outside the CUDA time loops: a GEMM, column sums, a transpose.

numba kernels cannot call cuBLAS, so the matrix products outside the time loop
(the input projection, the input and weight gradients) run on ``gemm`` below.
Where CuPy is installed it hands them to cuBLAS (zero-copy, through
``__cuda_array_interface__``); otherwise, or with ``NUMBARNN_CUDA_GEMM=numba``, a
shared-memory tiled kernel of our own runs them: each block computes one
TILE x TILE tile of C and each thread one element, stepping through K a tile at
a time.

Every kernel is built per dtype by a cached factory function: shared-memory
arrays need a compile-time type, and float literals would otherwise promote
float32 arithmetic to float64.
"""
import functools
import os

import numpy as np
from numba import cuda
from numba.np.numpy_support import from_dtype

from ._cuda_arrays import THREADS, TILE, blocks_for
from ._cuda_sim import SIMULATOR


@functools.lru_cache(maxsize=None)
def _gemm_kernel(dtype):
    nbtype = from_dtype(np.dtype(dtype))
    zero = np.dtype(dtype).type(0)

    @cuda.jit
    def gemm_kernel(a, b, c, trans_a, trans_b, accumulate):
        tile_a = cuda.shared.array((TILE, TILE), nbtype)
        tile_b = cuda.shared.array((TILE, TILE), nbtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        M, N = c.shape
        K = a.shape[0] if trans_a else a.shape[1]
        acc = zero
        for k0 in range(0, K, TILE):
            ka, kb = k0 + tx, k0 + ty
            if row < M and ka < K:
                tile_a[ty, tx] = a[ka, row] if trans_a else a[row, ka]
            else:
                tile_a[ty, tx] = zero
            if kb < K and col < N:
                tile_b[ty, tx] = b[col, kb] if trans_b else b[kb, col]
            else:
                tile_b[ty, tx] = zero
            cuda.syncthreads()
            for kk in range(TILE):
                acc += tile_a[ty, kk] * tile_b[kk, tx]
            cuda.syncthreads()
        if row < M and col < N:
            if accumulate:
                c[row, col] += acc
            else:
                c[row, col] = acc

    return gemm_kernel


@functools.lru_cache(maxsize=None)
def gemm_backend():
    """'cupy' (cuBLAS through CuPy) where CuPy imports, else 'numba'; NUMBARNN_CUDA_GEMM overrides."""
    choice = os.environ.get("NUMBARNN_CUDA_GEMM", "auto")
    if choice not in ("auto", "cupy", "numba"):
        raise ValueError(f"NUMBARNN_CUDA_GEMM: got {choice!r}, expected auto, cupy or numba")
    if choice == "numba" or SIMULATOR:  # CuPy cannot read the simulator's arrays
        return "numba"
    try:
        import cupy  # noqa: F401
    except ImportError:
        if choice == "cupy":
            raise ValueError("NUMBARNN_CUDA_GEMM=cupy, but CuPy is not installed") from None
        return "numba"
    return "cupy"


def gemm(a, b, c, trans_a=False, trans_b=False, accumulate=False):
    """``c = op(a) @ op(b)`` (``+=`` with ``accumulate``) on device arrays; op = transpose or not.

    Shapes: op(a) is (M, K), op(b) is (K, N), c is (M, N); all C-contiguous.
    """
    M, N = c.shape
    if M == 0 or N == 0:
        return
    if gemm_backend() == "cupy":
        import cupy

        a_, b_, c_ = cupy.asarray(a), cupy.asarray(b), cupy.asarray(c)
        a_, b_ = (a_.T if trans_a else a_), (b_.T if trans_b else b_)
        if accumulate:
            c_ += a_ @ b_
        else:
            cupy.matmul(a_, b_, out=c_)
        return
    grid = ((N + TILE - 1) // TILE, (M + TILE - 1) // TILE)
    _gemm_kernel(c.dtype)[grid, (TILE, TILE)](a, b, c, trans_a, trans_b, accumulate)


@functools.lru_cache(maxsize=None)
def _column_sum_kernel(dtype):
    zero = np.dtype(dtype).type(0)

    @cuda.jit
    def column_sum(a, out):
        k = cuda.grid(1)
        if k < out.shape[0]:
            s = zero
            for r in range(a.shape[0]):
                s += a[r, k]
            out[k] = s

    return column_sum


def column_sum(a, out):
    """``out[k] = sum_r a[r, k]`` for a (R, N) device array: the bias gradient."""
    _column_sum_kernel(out.dtype)[blocks_for(out.shape[0]), THREADS](a, out)


@cuda.jit
def _transpose_kernel(a, out):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        out[j, i] = a[i, j]


def transpose(a):
    """A new C-contiguous device array holding the transpose of the 2-D device array ``a``."""
    out = cuda.device_array((a.shape[1], a.shape[0]), dtype=a.dtype)
    grid = ((a.shape[0] + TILE - 1) // TILE, (a.shape[1] + TILE - 1) // TILE)
    _transpose_kernel[grid, (TILE, TILE)](a, out)
    return out
