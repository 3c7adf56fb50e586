"""From a series to training data: the transforms, the chronological split, the windows.

Indices are positions in the original series: the window that ends at step ``t`` (its
origin) holds steps ``t - window + 1 .. t``; its targets are the steps after ``t``.
"""
from dataclasses import dataclass

import numpy as np

from .transforms import (Difference, Log, MinMaxScaler, Pipeline, StandardScaler,
                         Winsorize)

def build_pipeline(config, train_values, season):
    """The transform pipeline of ``config`` (its automatic choices resolved by
    ``train_forecaster``), fitted on ``train_values`` (the training part of the target only)."""
    steps = []
    if config.log:
        steps.append(Log())
    if _use_seasonal_diff(config, season):
        steps.append(Difference(season))
    if config.diff:
        steps.append(Difference(1))
    differenced = Pipeline(steps)
    if config.winsorize and differenced.context:
        # (a shift or an outlier is a few large differences, at most a season's worth
        # each; more than a few of them beyond the bounds are the series' own pattern)
        winsorize = Winsorize.fitted(differenced.fit(train_values).transform(train_values),
                                     config.winsorize, 2 * differenced.context + 4)
        if winsorize is not None:
            steps.append(winsorize)
    if config.scale != "none":
        steps.append(StandardScaler() if config.scale == "standard" else MinMaxScaler())
    return Pipeline(steps).fit(train_values)


def _use_seasonal_diff(config, season):
    if config.seasonal_diff and season < 2:
        raise ValueError("seasonal_diff: needs a season of 2 or more; give season (--season) "
                         "or a date column from which it can be inferred")
    return config.seasonal_diff


def differencing_context(config, season):
    """Steps that the configured differencing consumes at the start of the series."""
    return (season if _use_seasonal_diff(config, season) else 0) + (1 if config.diff else 0)


@dataclass
class Split:
    """Where the parts end in the original series (exclusive ends)."""

    train_end: int
    val_end: int   # == test start
    length: int


def split_series(config, length, context):
    """The chronological split, after checking that the series is long enough.

    Raises
    ------
    ValueError
        Saying how many rows the configuration needs.
    """
    test = config.test_size if config.test_size is not None else config.horizon
    val = config.val_size if config.val_size is not None else config.horizon
    if test < config.horizon:
        raise ValueError(f"test_size: got {test}, expected at least the horizon "
                         f"({config.horizon})")
    # one training window: `context` steps lost to differencing, then window + outputs
    need = context + config.window + config.outputs + val + test
    if length < need:
        parts = [f"differencing {context}"] if context else []
        parts += [f"window {config.window}", f"horizon {config.outputs}"]
        held_out = f"validation {val} + test {test}" if val else f"test {test}"
        raise ValueError(f"the series has {length} rows; this configuration needs at least "
                         f"{need}: {' + '.join(parts)} for one training window, then "
                         f"{held_out}; use a longer series or a smaller window, horizon, "
                         "test size or validation size")
    return Split(length - test - val, length - test, length)


def window_origins(first, last, window, context):
    """Origins (last input step) from ``first`` to ``last`` inclusive whose whole input
    window lies after the ``context`` steps that differencing consumes."""
    return np.arange(max(first, context + window - 1), last + 1)


def make_windows(inputs, origins, window):
    """Input windows, time-major: ``inputs[t - window + 1 : t + 1]`` for each origin ``t``.

    Parameters
    ----------
    inputs : (N, F) array, indexed by step of the original series
    origins : (n,) int array
    window : int

    Returns
    -------
    (window, n, F) array
    """
    index = origins[None, :] + np.arange(1 - window, 1)[:, None]
    return inputs[index]


def make_targets(target, origins, steps):
    """Targets ``target[t + 1 : t + 1 + steps]`` for each origin ``t``: (n, steps)."""
    return target[origins[:, None] + np.arange(1, steps + 1)[None, :]]


class FeatureScaler:
    """Standard scaling of the feature columns, fitted on the training part."""

    def __init__(self, mean, scale):
        self.mean, self.scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)

    @classmethod
    def fit(cls, values):
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values):
        return (values - self.mean) / self.scale
