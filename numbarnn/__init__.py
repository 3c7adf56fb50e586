"""numbarnn: recurrent networks whose time loops are compiled by Numba.

>>> import numpy as np, numbarnn
>>> lstm = numbarnn.LSTM(8, 32, seed=0)
>>> out, (h_n, c_n) = lstm.forward(np.zeros((100, 4, 8), np.float32))
>>> dx, (dh0, dc0) = lstm.backward(np.ones_like(out))

The package, by job: ``numbarnn.kernels`` (the compiled time loops), the core every
job uses (``layers``, ``losses``, ``optim``, ``devices``, ``checkpoints``,
``progress``), the two jobs ``numbarnn.text`` and ``numbarnn.forecast``, and
``numbarnn.runs`` (run directories, parallel execution, many series, sweeps).  The
layers (and numba with them) load on first use, so that ``import numbarnn`` and
``numbarnn --help`` stay fast.
"""
from ._lazy import lazy_exports
from ._moved import install as _install_moved_modules

__version__ = "0.1.0"
__all__ = ["LSTM", "RNN", "GRU", "Linear", "TextConfig", "ForecastConfig", "CELLS",
           "__version__"]
CELLS = ("lstm", "rnn", "gru")  # the recurrent cells every job offers (--cell)
# the optimisers and learning-rate schedules of numbarnn.optim, by name: here, so that the
# configurations and the command line can offer them without importing numba
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "cosine")

__getattr__, __dir__ = lazy_exports(globals(), {
    "LSTM": "layers", "RNN": "layers", "GRU": "layers", "Linear": "layers",
    "TextConfig": "text.config", "ForecastConfig": "forecast.config"})
_install_moved_modules()
