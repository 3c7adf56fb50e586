"""Element-wise CUDA helpers the layers and kernels share: fill, add, multiply, copies,
the finite check, axis swaps and time reversal, ``lengths`` on the device.

Launch shapes: the 1-D kernels take ``THREADS`` threads a block; the 2-D ones
square tiles of ``TILE`` x ``TILE``.
"""
import numpy as np
from numba import cuda
from numba.cuda.cudadrv import driver

TILE = 16  # the side of the 2-D kernels' tiles (the GEMM's too)
THREADS = 128  # threads per block of the element-wise and warp time-loop kernels
def blocks_for(n):
    return max(1, (n + THREADS - 1) // THREADS)


def device_copy(dst, src):
    """``dst[...] = src`` for C-contiguous device arrays of one shape and dtype: one
    device-to-device memcpy.  (``copy_to_device`` first builds two views of each
    array to check them, several times the host time of the copy itself.)"""
    if dst.shape != src.shape or dst.dtype != src.dtype:
        raise ValueError(f"device_copy: got {src.shape} {src.dtype} into {dst.shape} {dst.dtype}")
    driver.device_to_device(dst, src, src.nbytes)


def device_lengths(lengths, T, B):
    """The kernels' (B,) int64 device array of sequence lengths: all T for None."""
    if lengths is None:
        return cuda.to_device(np.full(B, T, np.int64))
    if cuda.devicearray.is_cuda_ndarray(lengths):
        return lengths
    return cuda.to_device(np.ascontiguousarray(lengths, np.int64))


@cuda.jit
def _fill_kernel(flat, value):
    i = cuda.grid(1)
    if i < flat.shape[0]:
        flat[i] = value


def fill(a, value):
    flat = a.reshape(a.size)
    _fill_kernel[blocks_for(a.size), THREADS](flat, value)


@cuda.jit
def _add_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = a[i] + b[i]


def add(a, b, out):
    """``out = a + b`` for device arrays of one shape."""
    _add_kernel[blocks_for(out.size), THREADS](a.reshape(a.size), b.reshape(b.size),
                                               out.reshape(out.size))


@cuda.jit
def _multiply_kernel(a, b, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = a[i] * b[i]


def multiply(a, b, out):
    """``out = a * b`` for device arrays of one shape."""
    _multiply_kernel[blocks_for(out.size), THREADS](a.reshape(a.size), b.reshape(b.size),
                                                    out.reshape(out.size))


@cuda.jit
def _count_non_finite_kernel(arrays, count):
    # ``arrays``: a tuple of 1-D arrays of one type; thread i looks at index i of each
    i = cuda.grid(1)
    for k in range(len(arrays)):
        flat = arrays[k]
        if i < flat.shape[0]:
            v = flat[i]
            if not (v - v == 0):  # NaN or +-inf
                cuda.atomic.add(count, 0, 1)
_non_finite_count = []


def all_finite(arrays):
    """Whether every element of every device array in ``arrays`` is finite.

    One launch per dtype among them (a layer's arrays share one) and one
    synchronisation.  The count lives in mapped host memory, reused from call
    to call: no allocation and no copy, only the synchronisation before it is read.
    """
    if not _non_finite_count:
        _non_finite_count.append(cuda.mapped_array(1, dtype=np.int32))
    count = _non_finite_count[0]
    count[0] = 0
    by_dtype = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype, []).append(a.reshape(a.size))
    for flats in by_dtype.values():
        longest = max(f.shape[0] for f in flats)
        _count_non_finite_kernel[blocks_for(longest), THREADS](tuple(flats), count)
    cuda.synchronize()
    return int(count[0]) == 0


@cuda.jit
def _swap_first_axes_kernel(a, out):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        for k in range(a.shape[2]):
            out[j, i, k] = a[i, j, k]


@cuda.jit
def _reverse_time_kernel(a, lengths, out):
    t, b = cuda.grid(2)
    if t < a.shape[0] and b < a.shape[1]:
        src = lengths[b] - 1 - t if t < lengths[b] else t
        for k in range(a.shape[2]):
            out[t, b, k] = a[src, b, k]


def reverse_time(a, lengths, out=None):
    """A (T, B, ...) device array whose row b holds sequence b of ``a`` backwards from its
    own last step (``lengths``: a (B,) device array), its padded steps in place: ``out``
    (C-contiguous, of ``a``'s shape and dtype) or a new one."""
    T, B = a.shape[:2]
    grid = ((T + TILE - 1) // TILE, (B + TILE - 1) // TILE)
    if out is None:
        out = cuda.device_array(a.shape, dtype=a.dtype)
    shape3 = (T, B, a.size // (T * B))  # token ids (T, B) as (T, B, 1)
    _reverse_time_kernel[grid, (TILE, TILE)](a.reshape(shape3), lengths, out.reshape(shape3))
    return out


@cuda.jit
def _copy_features_kernel(src, s0, dst, d0, width):
    i, k = cuda.grid(2)
    if i < src.shape[0] and k < width:
        dst[i, d0 + k] = src[i, s0 + k]


def copy_features(src, s0, dst, d0, width):
    """``dst[:, :, d0:d0+width] = src[:, :, s0:s0+width]`` for C-contiguous (T, B, F)
    device arrays (the two directions' halves of a layer's output)."""
    rows = src.shape[0] * src.shape[1]
    grid = ((rows + TILE - 1) // TILE, (width + TILE - 1) // TILE)
    _copy_features_kernel[grid, (TILE, TILE)](src.reshape(rows, src.shape[2]), s0,
                                              dst.reshape(rows, dst.shape[2]), d0, width)


def swap_first_axes(a):
    """A new C-contiguous device array ``a.transpose(1, 0, 2)``: batch-first <-> time-major."""
    out = cuda.device_array((a.shape[1], a.shape[0], a.shape[2]), dtype=a.dtype)
    grid = ((a.shape[0] + TILE - 1) // TILE, (a.shape[1] + TILE - 1) // TILE)
    _swap_first_axes_kernel[grid, (TILE, TILE)](a, out)
    return out
