"""numbarnn: recurrent networks whose time loops are compiled by Numba.

>>> import numpy as np, numbarnn
>>> lstm = numbarnn.LSTM(8, 32, seed=0)
>>> out, (h_n, c_n) = lstm.forward(np.zeros((100, 4, 8), np.float32))
>>> dx, (dh0, dc0) = lstm.backward(np.ones_like(out))

The layers (and numba with them) load on first use, so that ``import numbarnn``
and ``numbarnn --help`` stay fast.
"""
__version__ = "0.1.0"
__all__ = ["LSTM", "RNN", "GRU", "TextConfig", "ForecastConfig", "CELLS", "__version__"]
CELLS = ("lstm", "rnn", "gru")  # the recurrent cells every job offers (--cell)


def __getattr__(name):
    if name in ("LSTM", "RNN", "GRU"):
        from . import layers
        return getattr(layers, name)
    if name == "TextConfig":
        from .config import TextConfig
        return TextConfig
    if name == "ForecastConfig":
        from .forecasting import ForecastConfig
        return ForecastConfig
    raise AttributeError(f"module 'numbarnn' has no attribute {name!r}")
