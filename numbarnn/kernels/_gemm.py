"""The products after the backward time loop, shared by every cell: large BLAS GEMMs.

The input ``x`` of a layer is either a float (T, B, D) sequence or a (T, B)
integer array of token ids, which stands for the one-hot sequence of width
D = ``w_ih.shape[1]``.  For tokens, the weight gradient of ``W_ih`` is a
scatter-add (and the input projection a row lookup, ``_parts.project_part``):
no products with a matrix that is almost all zeros.  ``input_weight_grad``
picks the form at compile time from the type of ``x``.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ._jit import JIT_OPTIONS


def input_weight_grad(x, da, dw_ih):
    """``dw_ih = da^T x`` with ``da`` (T B, G H); compiled use only."""
    raise NotImplementedError


def is_tokens(x):
    """Whether the numba type of ``x`` is a (T, B) integer array of token ids."""
    return isinstance(x, types.Array) and x.ndim == 2 and isinstance(x.dtype, types.Integer)


@overload(input_weight_grad, jit_options=JIT_OPTIONS)
def _input_weight_grad(x, da, dw_ih):
    if is_tokens(x):
        def scatter(x, da, dw_ih):
            GH, D = dw_ih.shape
            rows = np.zeros((D, GH), dtype=da.dtype)  # one contiguous row per token
            flat = x.reshape(-1)
            for r in range(flat.size):
                rows[flat[r]] += da[r]
            dw_ih[:] = rows.T
        return scatter

    def product(x, da, dw_ih):
        T, B, D = x.shape
        np.dot(da.T, x.reshape(T * B, D), dw_ih)
    return product


@njit(**JIT_OPTIONS)
def input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias):
    """After the time loop: dx, dW_ih, dW_hh and the bias gradient, each one GEMM or sum.

    Shared by the LSTM and the RNN: ``dgates`` is (T, B, G H) with G = 4 or 1.  A
    ``dx`` of shape (0, B, D) skips the input gradient (token inputs have none).
    """
    T, B = x.shape[0], x.shape[1]
    H = out.shape[2]
    GH = dgates.shape[2]
    da = dgates.reshape(T * B, GH)
    if dx.shape[0] == T:  # an empty dx: the caller needs no input gradient
        np.dot(da, w_ih, dx.reshape(T * B, dx.shape[2]))
    input_weight_grad(x, da, dw_ih)
    # h_{t-1} for t >= 1 is out[t-1]; the first step's comes from h0.
    np.dot(dgates[0].T, h0, dw_hh)
    if T > 1:
        rest = np.empty_like(dw_hh)
        np.dot(dgates[1:].reshape((T - 1) * B, GH).T, out[:T - 1].reshape((T - 1) * B, H), rest)
        dw_hh += rest
    dbias[:] = 0
    for r in range(T * B):
        row = da[r]
        for k in range(GH):
            dbias[k] += row[k]
