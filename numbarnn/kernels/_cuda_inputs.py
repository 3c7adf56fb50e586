"""The input side of the CUDA time loops: the input projection (token ids gathered, no
one-hot array), and after the backward loop the input, weight and bias gradients."""
from numba import cuda

from ._cuda_arrays import THREADS, TILE, blocks_for
from ._cuda_gemm import column_sum, gemm, transpose
@cuda.jit
def _gather_rows_kernel(tokens, w_t, out):
    # out[n, g] = W_ih[g, tokens[n]], read from W_ih^T so that a warp reads one row
    n, g = cuda.grid(2)
    if n < out.shape[0] and g < out.shape[1]:
        out[n, g] = w_t[tokens[n], g]


@cuda.jit
def _scatter_columns_kernel(tokens, da, dw):
    # dW_ih[g, v] = sum of da[n, g] over the n with tokens[n] == v; one thread per row
    # g adds in n order: no atomics, the same sum on every run
    g = cuda.grid(1)
    if g < dw.shape[0]:
        for v in range(dw.shape[1]):
            dw[g, v] = 0
        for n in range(tokens.shape[0]):
            dw[g, tokens[n]] += da[n, g]


def project_inputs(x, w_ih, out):
    """The input projection of ``n`` steps (the CUDA counterpart of ``_parts.project_part``).

    Parameters
    ----------
    x : (n, B, D) float device array, or (n, B) integer device array of token ids
        standing for one-hot vectors (then the projection picks columns of ``w_ih``:
        no product with a matrix of zeros, no one-hot sequence on the device).
    w_ih : (GH, D) device array
    out : (n * B, GH) device array, overwritten with ``x W_ih^T``.
    """
    n, B = x.shape[:2]
    if x.ndim == 2:
        grid = ((n * B + TILE - 1) // TILE, (out.shape[1] + TILE - 1) // TILE)
        _gather_rows_kernel[grid, (TILE, TILE)](x.reshape(n * B), transpose(w_ih), out)
    else:
        gemm(x.reshape(n * B, x.shape[2]), w_ih, out, trans_b=True)


def input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias, dgates_hh=None,
                           dbias_hh=None):
    """After the backward loop: dx, dW_ih, dW_hh and the bias gradients (CUDA twin of
    ``_gemm.input_and_weight_grads_part``); ``x`` may be (T, B) token ids (then dx is not
    computed).  ``dgates_hh`` and ``dbias_hh`` are the recurrent side's, where they
    differ from the input side's (the GRU)."""
    dgates_hh = dgates if dgates_hh is None else dgates_hh
    T, B = x.shape[:2]
    H = out.shape[2]
    GH = dgates.shape[2]
    da = dgates.reshape(T * B, GH)
    if x.ndim == 2:
        _scatter_columns_kernel[blocks_for(GH), THREADS](x.reshape(T * B), da, dw_ih)
    else:
        D = x.shape[2]
        if dx.shape[0] == T:  # an empty dx: the caller needs no input gradient
            gemm(da, w_ih, dx.reshape(T * B, D))
        gemm(da, x.reshape(T * B, D), dw_ih, trans_a=True)
    # h_{t-1} for t >= 1 is out[t-1]; the first step's comes from h0.
    gemm(dgates_hh[0], h0, dw_hh, trans_a=True)
    if T > 1:
        gemm(dgates_hh[1:].reshape((T - 1) * B, GH), out[:T - 1].reshape((T - 1) * B, H), dw_hh,
             trans_a=True, accumulate=True)
    column_sum(da, dbias)
    if dbias_hh is not None:
        column_sum(dgates_hh.reshape(T * B, GH), dbias_hh)
