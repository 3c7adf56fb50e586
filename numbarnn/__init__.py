"""numbarnn: recurrent networks whose time loops are compiled by Numba.

>>> import numpy as np, numbarnn
>>> lstm = numbarnn.LSTM(8, 32, seed=0)
>>> out, (h_n, c_n) = lstm.forward(np.zeros((100, 4, 8), np.float32))
>>> dx, (dh0, dc0) = lstm.backward(np.ones_like(out))
"""
from . import _cache  # noqa: F401  (must run before any kernel is compiled)
from .layers import LSTM, RNN

__version__ = "0.1.0"
__all__ = ["LSTM", "RNN", "__version__"]
