"""Loss functions: the mean loss and, where training needs it, its gradient.

``softmax_cross_entropy`` fuses the softmax, the log-likelihood and the gradient
in one compiled pass, with the log-sum-exp taken about the row maximum so that
large logits never overflow.
"""
import math

import numpy as np
from numba import njit

from .kernels._jit import HELPER_OPTIONS, JIT_OPTIONS


@njit(**HELPER_OPTIONS)
def _log_sum_exp(row):
    top = row[0]
    for v in range(1, row.size):
        top = max(top, row[v])
    total = 0.0
    for v in range(row.size):
        total += math.exp(row[v] - top)
    return top + math.log(total)


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
    for n in range(logits.shape[0]):
        total += _log_sum_exp(logits[n]) - logits[n, targets[n]]
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
    for n in range(N):
        row, grad = logits[n], dlogits[n]
        target = targets[n]
        top = row[0]
        for v in range(1, V):
            top = max(top, row[v])
        picked = row[target] - top  # read before grad (which may be row) is written
        norm = 0.0
        for v in range(V):  # one exp per element: exp(row - top), normalised below
            grad[v] = math.exp(row[v] - top)
            norm += grad[v]
        total += math.log(norm) - picked
        scale = inv_n / norm
        for v in range(V):
            grad[v] *= scale
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
