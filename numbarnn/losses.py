"""Loss functions: the mean loss and, where training needs it, its gradient.

``softmax_cross_entropy`` fuses the softmax, the log-likelihood and the gradient
in one compiled function, row by row, with the log-sum-exp taken about the row
maximum so that large logits never overflow.
"""
import math

import numpy as np
from numba import njit

from .kernels._jit import HELPER_OPTIONS, JIT_OPTIONS, exp


@njit(**HELPER_OPTIONS)
def _shifted_exps(row, e):
    """``e = exp(row - max(row))``; returns ``max(row)`` and the sum of ``e`` (in order).

    The exps go to ``e``, apart from the sum (a sum in order does not vectorise, the
    exps do) and apart from any gradient array (which may be the logits themselves:
    LLVM would not vectorise a loop between two arrays that may overlap).
    """
    top = row[0]
    for v in range(1, row.size):
        top = max(top, row[v])
    for v in range(row.size):
        e[v] = exp(row[v] - top)
    total = 0.0
    for v in range(row.size):
        total += e[v]
    return top, total


@njit(**JIT_OPTIONS)
def cross_entropy(logits, targets):
    """Mean of ``-log softmax(logits[n])[targets[n]]``, in nats.

    Parameters
    ----------
    logits : (N, V) float array
    targets : (N,) integer array, values in [0, V)

    Returns
    -------
    float
    """
    total = 0.0
    e = np.empty(logits.shape[1], logits.dtype)
    for n in range(logits.shape[0]):
        top, norm = _shifted_exps(logits[n], e)
        total += math.log(norm) - (logits[n, targets[n]] - top)
    return total / logits.shape[0]


@njit(**JIT_OPTIONS)
def softmax_cross_entropy(logits, targets, dlogits):
    """Mean cross-entropy and its gradient: ``dlogits = (softmax(logits) - onehot) / N``.

    Parameters
    ----------
    logits : (N, V) float array
    targets : (N,) integer array, values in [0, V)
    dlogits : (N, V) float array
        Receives the gradient of the mean loss; may be ``logits`` itself.

    Returns
    -------
    float
        The mean loss, in nats.
    """
    N, V = logits.shape
    inv_n = 1.0 / N
    total = 0.0
    e = np.empty(V, logits.dtype)
    for n in range(N):
        row, grad = logits[n], dlogits[n]
        target = targets[n]
        top, norm = _shifted_exps(row, e)
        total += math.log(norm) - (row[target] - top)
        scale = inv_n / norm
        for v in range(V):
            grad[v] = e[v] * scale
        grad[target] -= inv_n
    return total * inv_n


def mse_loss(pred, target):
    """Mean squared error and its gradient with respect to ``pred``."""
    diff = pred - target
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


def mae_loss(pred, target):
    """Mean absolute error and its (sub)gradient with respect to ``pred``."""
    diff = pred - target
    return float(np.mean(np.abs(diff))), np.sign(diff) / diff.size


def pinball_loss(pred, target, quantiles):
    """Mean pinball (quantile) loss of several quantile forecasts, and its (sub)gradient.

    Parameters
    ----------
    pred : (N, Q S) float array
        For each row, Q blocks of S steps: the forecasts of quantile ``quantiles[q]``.
    target : (N, S) float array, or (N, Q S): the same target for every block, or one each
    quantiles : (Q,) float array of probabilities in (0, 1)

    Returns
    -------
    loss : float
        The mean over rows, quantiles and steps of ``max(q r, (q - 1) r)``, r = target - pred:
        minimised where ``pred`` is the q-quantile of the target's distribution.
    grad : (N, Q S) array
        ``-q / size`` where the target lies above, ``(1 - q) / size`` where not.
    """
    N, Q = pred.shape[0], len(quantiles)
    S = pred.shape[1] // Q
    q = np.asarray(quantiles, np.float64)[None, :, None]
    r = target.reshape(N, -1, S) - pred.reshape(N, Q, S)
    loss = float(np.mean(np.maximum(q * r, (q - 1.0) * r)))
    grad = np.where(r > 0, -q, 1.0 - q) / r.size
    return loss, grad.reshape(pred.shape).astype(pred.dtype, copy=False)


def point_and_quantiles_loss(pred, target, quantiles):
    """A forecasting head's loss: the point forecast by squared error, quantiles by pinball.

    The block of ``quantiles``' middle entry (0.5) is the point forecast and learns the
    mean, as with ``mse_loss`` (on this project's evaluation suite that forecast was
    more accurate than a median learnt by pinball loss); each other block learns its
    quantile (``pinball_loss``).  The loss is the mean over the Q blocks of each one's
    mean loss.

    Parameters
    ----------
    pred : (N, Q S) float array
        Q blocks of S steps, in the order of ``quantiles``.
    target : (N, Q S) float array
        Each block's target.
    quantiles : (Q,) float array, ascending, an odd number of them with 0.5 in the middle

    Returns
    -------
    loss : float
    grad : (N, Q S) array
    """
    Q = len(quantiles)
    S = pred.shape[1] // Q
    mid = slice(Q // 2 * S, (Q // 2 + 1) * S)
    loss, grad = pinball_loss(pred, target, quantiles)  # (its middle block is replaced)
    middle, _ = pinball_loss(pred[:, mid], target[:, mid], quantiles[Q // 2:Q // 2 + 1])
    squared, dsquared = mse_loss(pred[:, mid], target[:, mid])
    grad[:, mid] = dsquared / Q
    return loss + (squared - middle) / Q, grad
