"""The products that sit outside the time loop, shared by every cell.

The input ``x`` of a layer is either a float (T, B, D) sequence or a (T, B)
integer array of token ids, which stands for the one-hot sequence of width
D = ``w_ih.shape[1]``.  For tokens, the input projection ``W_ih x_t`` is a row
lookup in ``W_ih^T`` and its weight gradient a scatter-add: no products with a
matrix that is almost all zeros.  ``project_inputs`` and ``input_weight_grad``
pick the form at compile time from the type of ``x``.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ._jit import JIT_OPTIONS


def project_inputs(x, t0, n, w_ih_t, xproj):
    """``xproj[:n] = x[t0:t0 + n] @ w_ih_t`` as (n B, G H); compiled use only."""
    raise NotImplementedError  # numba compiles the overload below


def input_weight_grad(x, da, dw_ih):
    """``dw_ih = da^T x`` with ``da`` (T B, G H); compiled use only."""
    raise NotImplementedError


def _is_tokens(x):
    return isinstance(x, types.Array) and x.ndim == 2 and isinstance(x.dtype, types.Integer)


@overload(project_inputs, jit_options=JIT_OPTIONS)
def _project_inputs(x, t0, n, w_ih_t, xproj):
    if _is_tokens(x):
        def lookup(x, t0, n, w_ih_t, xproj):
            B = x.shape[1]
            for t in range(n):
                for b in range(B):
                    xproj[t, b, :] = w_ih_t[x[t0 + t, b]]
        return lookup

    def product(x, t0, n, w_ih_t, xproj):
        T, B, D = x.shape
        np.dot(x[t0:t0 + n].reshape(n * B, D), w_ih_t, xproj[:n].reshape(n * B, w_ih_t.shape[1]))
    return product


@overload(input_weight_grad, jit_options=JIT_OPTIONS)
def _input_weight_grad(x, da, dw_ih):
    if _is_tokens(x):
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
def transpose_into(a, out):
    """``out[:] = a.T`` for 2-D arrays: each output row at a time (strided reads,
    contiguous writes measured 1.3 to 3 times faster than tiles or the reverse)."""
    R, C = a.shape
    for c in range(C):
        row = out[c]
        for r in range(R):
            row[r] = a[r, c]


@njit(**JIT_OPTIONS)
def prefers_weight_first(batch, weight):
    """Whether ``batch_times_weight_t`` should run as ``w @ h.T`` for this batch and weight.

    Measured with OpenBLAS on the project's 2-core machines: with the weight as
    the large left operand the product runs 1.3 to 1.7 times faster for B <= 16
    and weights of 64K elements or more (a recurrent step of an LSTM with
    H >= 128), on one thread or two; for smaller weights the two transposes cost
    more than they save, and at B = 32 it wins on one thread (1.3x) but not on
    two, at B = 64 not at all.
    """
    return batch <= 16 and weight.size >= 65536


@njit(**JIT_OPTIONS)
def batch_times_weight_t(h, w, w_t, weight_first, h_t, product_t, out):
    """``out = h @ w.T`` for a batch ``h`` (B, K) and a weight ``w`` (N, K).

    ``weight_first`` (see ``prefers_weight_first``) computes ``(w @ h.T).T``
    through the work arrays ``h_t`` (K, B) and ``product_t`` (N, B); otherwise
    ``h @ w_t`` with ``w_t`` the contiguous (K, N) transpose of ``w``.  Only the
    layout that the chosen route reads needs to hold the weight.
    """
    if weight_first:
        transpose_into(h, h_t)
        np.dot(w, h_t, product_t)
        transpose_into(product_t, out)
    else:
        np.dot(h, w_t, out)


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
