"""The built-in series: the airline passengers (shipped with the package) and synthetic
generators (sine mixtures, the Mackey-Glass delay equation), each a ``Series``."""
import os

import numpy as np

from .series import Series, read_csv

SYNTHETIC = ("sine", "mackey-glass")


def airline_path():
    """Path of the packaged airline-passenger CSV."""
    return os.path.join(os.path.dirname(__file__), "data", "airline_passengers.csv")


def load_airline():
    """Monthly international airline passengers (thousands), 1949-01 to 1960-12: 144 values."""
    series = read_csv(airline_path())
    series.source = "airline"
    return series


def sine_series(length=600, seed=0, noise=0.1):
    """A mixture of two sines (periods 24 and 61 steps) with a slow trend and Gaussian noise.

    Parameters
    ----------
    length : int
    seed : int or None
        Seeds the phases and the noise.
    noise : float
        Standard deviation of the noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi, 2)
    values = (np.sin(2 * np.pi * t / 24 + phase[0]) + 0.5 * np.sin(2 * np.pi * t / 61 + phase[1])
              + 0.002 * t + noise * rng.standard_normal(length))
    return Series(values, "sine", source="sine")


def mackey_glass_series(length=1500, seed=0, tau=17, beta=0.2, gamma=0.1, power=10,
                        substeps=10, discard=500):
    """The Mackey-Glass delay equation, sampled once per unit of time.

    ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)``, integrated
    with fourth-order Runge-Kutta at ``1/substeps`` (the delayed term held
    linear between grid points); tau = 17 is the usual mildly chaotic setting.

    Parameters
    ----------
    length : int
        Samples returned.
    seed : int or None
        Seeds the initial history (1.2 plus small uniform noise).
    discard : int
        Samples dropped at the start, so that the transient is gone.
    """
    rng = np.random.default_rng(seed)
    h = 1.0 / substeps
    lag = int(round(tau * substeps))
    total = (length + discard) * substeps
    x = np.empty(lag + total + 1)
    x[:lag + 1] = 1.2 + 0.05 * rng.uniform(-1, 1, lag + 1)

    def rate(now, delayed):
        return beta * delayed / (1.0 + delayed ** power) - gamma * now

    for i in range(lag, lag + total):
        d0, d1 = x[i - lag], x[i - lag + 1]
        mid = 0.5 * (d0 + d1)
        k1 = rate(x[i], d0)
        k2 = rate(x[i] + 0.5 * h * k1, mid)
        k3 = rate(x[i] + 0.5 * h * k2, mid)
        k4 = rate(x[i] + h * k3, d1)
        x[i + 1] = x[i] + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    samples = x[lag + discard * substeps + substeps::substeps][:length]
    return Series(samples, "mackey_glass", source="mackey-glass")


def synthetic(kind, length=None, seed=0):
    """A synthetic series by name: 'sine' or 'mackey-glass'."""
    if kind == "sine":
        return sine_series(length or 600, seed)
    if kind == "mackey-glass":
        return mackey_glass_series(length or 1500, seed)
    raise ValueError(f"synthetic: got {kind!r}, expected one of {', '.join(SYNTHETIC)}")
