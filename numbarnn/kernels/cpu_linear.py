"""The affine map of a head (``numbarnn.layers.Linear``) on the CPU, on the ``_tile`` product.

Forward and backward of ``y = x W^T + b`` over N rows::

    y = x W^T + b,   dx = dy W,   dW = dy^T x,   db = sum_rows dy

Each product runs as the time loops' tile product (``_tile.packed_product``) on a packed
copy of its right-hand side: ``W^T`` and ``W`` (out x in, small) and, for ``dW``, ``dy``
(N x out); ``dW`` is taken transposed, ``x^T dy``, reading ``x^T`` as a view.  Why not
BLAS: the text trainer runs its workers' heads side by side with one BLAS thread each,
and SciPy's OpenBLAS stays at about half of what the tile product does on this project's
AVX-512 machines; and every element here is one chain of fused multiply-adds in a fixed
order, so that the result does not depend on a BLAS library's blocking or thread count.
"""
import numpy as np
from numba import njit

from ._gemm import add_column_sums
from ._jit import JIT_OPTIONS
from ._tile import empty_packed, pack_columns, pack_transposed_rows, packed_product


@njit(**JIT_OPTIONS)
def linear_forward(x, weight, bias, y):
    """``y = x W^T + b``.

    Parameters
    ----------
    x : (N, in) array (any strides)
    weight : (out, in) array
    bias : (out,) array, or (0,) for none
    y : (N, out) array, rows contiguous
        Receives the result.
    """
    weight = np.ascontiguousarray(weight)  # (the packing reads it flat; no copy if it is)
    out_features = weight.shape[0]
    w = empty_packed(weight.shape[1], out_features, x)
    pack_transposed_rows(weight, np.arange(out_features), w, np.int64(0))
    packed_product(x, w, y, False)
    if bias.size:
        for n in range(y.shape[0]):
            for o in range(out_features):
                y[n, o] += bias[o]


@njit(**JIT_OPTIONS)
def linear_backward(x, dy, weight, dx, dweight, dbias):
    """The gradients of ``y = x W^T + b`` from ``dy``: dx, dW and db (overwritten).

    Parameters
    ----------
    x : (N, in) array
        The forward's input (any strides).
    dy : (N, out) array
    weight : (out, in) array
    dx : (N, in) array, or (0, in) when no input gradient is needed
    dweight : (out, in) array
    dbias : (out,) array, or (0,) for a map without bias
    """
    dy, weight = np.ascontiguousarray(dy), np.ascontiguousarray(weight)  # (read flat)
    N, out_features = dy.shape
    in_features = weight.shape[1]
    packed_dy = empty_packed(N, out_features, dy)
    pack_columns(dy, np.int64(0), out_features, packed_dy)
    dWT = np.empty((in_features, out_features), dy.dtype)
    packed_product(x.T, packed_dy, dWT, False)
    for o in range(out_features):
        for k in range(in_features):
            dweight[o, k] = dWT[k, o]
    if dbias.size:
        sums = np.zeros(packed_dy.shape[0] * packed_dy.shape[2], dy.dtype)
        add_column_sums(packed_dy, N, sums)
        for o in range(out_features):  # (element by element: an array assignment
            dbias[o] = sums[o]          # compiles its error path)
    if dx.shape[0] == N:
        w = empty_packed(out_features, in_features, dy)
        pack_columns(weight, np.int64(0), in_features, w)
        packed_product(dy, w, dx, False)
