"""A plain NumPy reference for one recurrent layer: the maths written out step by step.

Used by the tests as the exact answer the compiled kernels must match.  Gate
orders as in PyTorch (LSTM i, f, g, o; GRU r, z, n); ``bias`` is
``bias_ih + bias_hh`` (the GRU takes the two apart, as its n gate does).
"""
import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def lstm_forward(x, h0, c0, w_ih, w_hh, bias):
    """Returns out (T, B, H), h_n, c_n and a cache for ``lstm_backward``."""
    H = h0.shape[1]
    h, c = h0, c0
    out, cache = [], []
    for x_t in x:
        a = x_t @ w_ih.T + h @ w_hh.T + bias
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        cache.append((x_t, h, c, i, f, g, o))
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out), h, c, cache


def lstm_backward(w_ih, w_hh, cache, dout, dh_n, dc_n):
    """Returns dx, dh0, dc0, dw_ih, dw_hh, dbias."""
    dw_ih, dw_hh = np.zeros_like(w_ih), np.zeros_like(w_hh)
    dbias = np.zeros(w_ih.shape[0])
    dh_next, dc = dh_n.copy(), dc_n.copy()
    dx = []
    for t in reversed(range(len(cache))):
        x_t, h_prev, c_prev, i, f, g, o = cache[t]
        c = f * c_prev + i * g
        dh = dout[t] + dh_next
        tc = np.tanh(c)
        dc = dc + dh * o * (1 - tc ** 2)
        da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                             dc * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
        dc = dc * f
        dw_ih += da.T @ x_t
        dw_hh += da.T @ h_prev
        dbias += da.sum(0)
        dx.append(da @ w_ih)
        dh_next = da @ w_hh
    return np.stack(dx[::-1]), dh_next, dc, dw_ih, dw_hh, dbias


def rnn_forward(x, h0, w_ih, w_hh, bias, nonlinearity="tanh"):
    """Returns out (T, B, H), h_n and a cache for ``rnn_backward``."""
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0.0))
    h = h0
    out, cache = [], []
    for x_t in x:
        a = x_t @ w_ih.T + h @ w_hh.T + bias
        cache.append((x_t, h, a))
        h = act(a)
        out.append(h)
    return np.stack(out), h, cache


def rnn_backward(w_ih, w_hh, cache, dout, dh_n, nonlinearity="tanh"):
    """Returns dx, dh0, dw_ih, dw_hh, dbias."""
    dw_ih, dw_hh = np.zeros_like(w_ih), np.zeros_like(w_hh)
    dbias = np.zeros(w_ih.shape[0])
    dh_next = dh_n.copy()
    dx = []
    for t in reversed(range(len(cache))):
        x_t, h_prev, a = cache[t]
        dh = dout[t] + dh_next
        da = dh * (1 - np.tanh(a) ** 2) if nonlinearity == "tanh" else dh * (a > 0)
        dw_ih += da.T @ x_t
        dw_hh += da.T @ h_prev
        dbias += da.sum(0)
        dx.append(da @ w_ih)
        dh_next = da @ w_hh
    return np.stack(dx[::-1]), dh_next, dw_ih, dw_hh, dbias


def gru_forward(x, h0, w_ih, w_hh, bias_ih, bias_hh):
    """torch's GRU: returns out (T, B, H), h_n and a cache for ``gru_backward``."""
    H = h0.shape[1]
    h = h0
    out, cache = [], []
    for x_t in x:
        ax, ah = x_t @ w_ih.T + bias_ih, h @ w_hh.T + bias_hh
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        cache.append((x_t, h, r, z, n, ah[:, 2 * H:]))
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out), h, cache


def gru_backward(w_ih, w_hh, cache, dout, dh_n):
    """Returns dx, dh0, dw_ih, dw_hh, dbias_ih, dbias_hh."""
    dw_ih, dw_hh = np.zeros_like(w_ih), np.zeros_like(w_hh)
    dbias_ih, dbias_hh = np.zeros(w_ih.shape[0]), np.zeros(w_ih.shape[0])
    dh_next = dh_n.copy()
    dx = []
    for t in reversed(range(len(cache))):
        x_t, h_prev, r, z, n, hn = cache[t]
        dh = dout[t] + dh_next
        da_n = dh * (1 - z) * (1 - n ** 2)
        da_r = da_n * hn * r * (1 - r)
        da_z = dh * (h_prev - n) * z * (1 - z)
        da_x = np.concatenate([da_r, da_z, da_n], axis=1)
        da_h = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dw_ih += da_x.T @ x_t
        dw_hh += da_h.T @ h_prev
        dbias_ih += da_x.sum(0)
        dbias_hh += da_h.sum(0)
        dx.append(da_x @ w_ih)
        dh_next = dh * z + da_h @ w_hh
    return np.stack(dx[::-1]), dh_next, dw_ih, dw_hh, dbias_ih, dbias_hh
