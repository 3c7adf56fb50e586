"""Compiled time loops: plain functions over preallocated arrays.

``cpu_rnn`` and ``cpu_lstm`` hold the ``@njit`` forward and backward kernels;
they can be called from Python or from other ``@njit`` code.  See each
function's docstring for the shapes it expects.
"""
from .. import _cache  # noqa: F401  (must run before any kernel is compiled)
from .cpu_lstm import lstm_backward, lstm_forward
from .cpu_rnn import RELU, TANH, rnn_backward, rnn_forward

__all__ = ["lstm_forward", "lstm_backward", "rnn_forward", "rnn_backward", "TANH", "RELU"]
