"""Compiled time loops: plain functions over preallocated arrays.

``cpu_rnn``, ``cpu_lstm`` and ``cpu_gru`` hold the ``@njit`` forward and backward kernels;
they can be called from Python or from other ``@njit`` code.  Each has a twin
that takes a thread count first and shares the time loop between that many
threads (``lstm_forward_threads``, ...), with the same results to the bit.  See
each function's docstring for the shapes it expects.
"""
from .. import _cache  # noqa: F401  (must run before any kernel is compiled)
from .cpu_gru import gru_backward, gru_backward_threads, gru_forward, gru_forward_threads
from .cpu_lstm import lstm_backward, lstm_backward_threads, lstm_forward, lstm_forward_threads
from .cpu_rnn import RELU, TANH, rnn_backward, rnn_backward_threads, rnn_forward, rnn_forward_threads

__all__ = ["lstm_forward", "lstm_backward", "rnn_forward", "rnn_backward", "gru_forward",
           "gru_backward", "lstm_forward_threads", "lstm_backward_threads", "rnn_forward_threads",
           "rnn_backward_threads", "gru_forward_threads", "gru_backward_threads", "TANH", "RELU"]
