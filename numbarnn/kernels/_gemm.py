"""The matrix products that sit outside the time loop, shared by every cell."""
import numpy as np
from numba import njit

from ._jit import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias):
    """After the time loop: dx, dW_ih, dW_hh and the bias gradient, each one GEMM or sum.

    Shared by the LSTM and the RNN: ``dgates`` is (T, B, G H) with G = 4 or 1.  A
    ``dx`` of shape (0, B, D) skips the input gradient.
    """
    T, B, D = x.shape
    H = out.shape[2]
    GH = dgates.shape[2]
    da = dgates.reshape(T * B, GH)
    if dx.shape[0] == T:  # an empty dx: the caller needs no input gradient
        np.dot(da, w_ih, dx.reshape(T * B, D))
    np.dot(da.T, x.reshape(T * B, D), dw_ih)
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
