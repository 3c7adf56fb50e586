"""Invertible transforms of a series, fitted on the training part only.

Each transform maps a 1-D series to a 1-D series and back (but ``Winsorize``, whose
inverse leaves a forecast where it is).  The differencing
transforms shorten the series by their lag (``context``) and need the values
just before a stretch to undo it, so ``inverse(y, history)`` takes the values
that precede ``y`` in the transform's *input* space.  ``Pipeline`` chains them
and keeps that bookkeeping in one place.

Everything a transform learns by ``fit`` is in ``to_dict()``, which is plain
JSON, so a fitted pipeline travels inside the checkpoint's metadata.
"""
import numpy as np

from .._checks import check_int


class Transform:
    """Base class: a point-wise transform that learns nothing (override what differs)."""

    name = None
    context = 0  # values of history that ``inverse`` needs

    def fit(self, x):
        """Learn parameters from the training part ``x``; returns self."""
        return self

    def transform(self, x):
        raise NotImplementedError

    def inverse(self, y, history=None):
        """Map ``y`` back; ``history`` (input space, just before ``y``) for differencing."""
        raise NotImplementedError

    def to_dict(self):
        return {"name": self.name}


class Log(Transform):
    """``log(x)``: turns multiplicative seasonality and growth into additive ones."""

    name = "log"

    def fit(self, x):
        _check_positive(x)
        return self

    def transform(self, x):
        _check_positive(x)
        return np.log(x)

    def inverse(self, y, history=None):
        return np.exp(y)


def _check_positive(x):
    x = np.asarray(x)
    if x.size and not np.all(x > 0):
        bad = int(np.argmax(~(x > 0)))
        raise ValueError(f"transform 'log': needs positive values, got {float(x[bad])!r} at step {bad}; "
                         "turn the log transform off (log=False, --no-log)")


class Difference(Transform):
    """``y[t] = x[t] - x[t - lag]``: lag 1 removes a trend, lag = season a seasonal pattern.

    The output is ``lag`` steps shorter than the input; the inverse adds back
    the value ``lag`` steps earlier, from ``history`` and then from the values
    it has already rebuilt, so that a multi-step forecast longer than the lag
    is undone correctly.
    """

    def __init__(self, lag=1):
        self.lag = check_int("difference lag", lag)
        self.context = self.lag

    @property
    def name(self):
        return "diff" if self.lag == 1 else "seasonal_diff"

    def transform(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.size < self.lag:
            raise ValueError(f"transform {self.name!r}: needs at least {self.lag} values, "
                             f"got {x.size}")
        return x[self.lag:] - x[:-self.lag]

    def inverse(self, y, history=None):
        history = np.asarray(history if history is not None else [], dtype=np.float64)
        if history.size < self.lag:
            raise ValueError(f"transform {self.name!r}: undoing it needs the {self.lag} values "
                             f"before the stretch, got {history.size}")
        y = np.asarray(y, dtype=np.float64)
        out = np.concatenate([history[-self.lag:], np.empty(y.shape[-1])])
        for t in range(y.shape[-1]):
            out[self.lag + t] = y[t] + out[t]
        return out[self.lag:]

    def to_dict(self):
        return {"name": self.name, "lag": self.lag}


class StandardScaler(Transform):
    """``(x - mean) / std`` with the mean and standard deviation of the training part."""

    name = "standard"

    def __init__(self, mean=0.0, scale=1.0):
        self.mean, self.scale = float(mean), float(scale)

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.mean = float(np.mean(x))
        std = float(np.std(x))
        self.scale = std if std > 0 else 1.0  # a constant stays constant, not NaN
        return self

    def transform(self, x):
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale

    def inverse(self, y, history=None):
        return np.asarray(y, dtype=np.float64) * self.scale + self.mean

    def to_dict(self):
        return {"name": self.name, "mean": self.mean, "scale": self.scale}


class MinMaxScaler(StandardScaler):
    """``(x - min) / (max - min)``, into [0, 1] on the training part (the same affine map
    as ``StandardScaler`` with another offset and scale)."""

    name = "minmax"

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.mean = float(np.min(x))
        spread = float(np.max(x)) - self.mean
        self.scale = spread if spread > 0 else 1.0
        return self


def robust_reach(x, spread):
    """``(median, reach)`` of ``x``: its median, and ``spread`` robust standard deviations
    (1.4826 times the median absolute deviation, the standard deviation for normal
    data that a few outliers do not move)."""
    median = float(np.median(x))
    return median, spread * 1.4826 * float(np.median(np.abs(x - median)))


class Winsorize(Transform):
    """A differenced series kept within ``low .. high`` for the networks: ``spread`` robust
    standard deviations (1.4826 times the median absolute deviation) of the training
    part's median, where a few of its values go beyond them (``fitted``).  A level shift
    is then one large change the networks see (one difference; a season's worth of
    seasonal ones), an outlier two, not windows whose squared errors outweigh every other
    one's.  It comes before the scaling, which then measures the rest.  Its inverse is no
    inverse: a forecast beyond the bounds stays where it is."""

    name = "winsorize"

    def __init__(self, low, high):
        self.low, self.high = float(low), float(high)

    @classmethod
    def fitted(cls, x, spread, most):
        """The ``Winsorize`` of ``x`` at ``spread`` robust standard deviations
        (``robust_reach``), or None where no value lies beyond them, more than ``most``
        do (a pattern, not a few disturbances), or most values are equal (nothing to
        measure a spread by)."""
        x = np.asarray(x, dtype=np.float64)
        median, reach = robust_reach(x, spread)
        beyond = int(np.sum(np.abs(x - median) > reach))
        if not reach > 0 or not 0 < beyond <= most:
            return None
        return cls(median - reach, median + reach)

    def transform(self, x):
        return np.clip(np.asarray(x, dtype=np.float64), self.low, self.high)

    def inverse(self, y, history=None):
        return np.asarray(y, dtype=np.float64)

    def to_dict(self):
        return {"name": self.name, "low": self.low, "high": self.high}


_BY_NAME = {"log": Log, "standard": StandardScaler, "minmax": MinMaxScaler}


def transform_from_dict(spec):
    """A fitted transform from ``Transform.to_dict()``."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"transform: got {spec!r}, expected a dict with a 'name'")
    name = spec["name"]
    try:
        if name in ("diff", "seasonal_diff"):
            return Difference(spec["lag"])
        if name == "log":
            return Log()
        if name in ("standard", "minmax"):
            return _BY_NAME[name](spec["mean"], spec["scale"])
        if name == "winsorize":
            return Winsorize(spec["low"], spec["high"])
    except (KeyError, TypeError):
        raise ValueError(f"transform {name!r}: incomplete parameters {spec!r}") from None
    raise ValueError(f"transform: unknown name {name!r}, expected one of log, diff, "
                     "seasonal_diff, standard, minmax, winsorize")


class Pipeline:
    """Transforms applied in order; inverted in reverse order.

    Parameters
    ----------
    steps : list of Transform
    """

    def __init__(self, steps=()):
        self.steps = list(steps)

    @property
    def logs(self):
        """Whether one of the steps is the log."""
        return any(isinstance(step, Log) for step in self.steps)

    @property
    def winsorizes(self):
        """Whether one of the steps is ``Winsorize``."""
        return any(isinstance(step, Winsorize) for step in self.steps)

    @property
    def integrates(self):
        """Whether one of the steps is first differencing: a level is then the last one
        plus the sum of the steps' changes since."""
        return any(isinstance(step, Difference) and step.lag == 1 for step in self.steps)

    @property
    def context(self):
        """How many values the output is shorter than the input (the sum of the lags)."""
        return sum(step.context for step in self.steps)

    def fit(self, x):
        """Fit every step on the training part ``x`` (each on the previous one's output)."""
        for step in self.steps:
            x = step.fit(x).transform(x)
        return self

    def transform(self, x):
        """``x`` through every step; ``context`` values shorter.

        Element ``i`` of the result belongs to step ``i + context`` of ``x``.
        """
        for step in self.steps:
            x = step.transform(x)
        return x

    def inverse(self, y, history):
        """Map transformed values ``y`` back to the original scale.

        Parameters
        ----------
        y : (n,) array
            Transformed values of the ``n`` steps right after ``history``.
        history : (m,) array, original scale, m >= context
            The series up to just before ``y``.

        Returns
        -------
        (n,) float64 array
        """
        history = np.asarray(history, dtype=np.float64)
        if history.size < self.context:
            raise ValueError(f"inverse transform: needs the last {self.context} values before "
                             f"the stretch, got {history.size}")
        # the history as each step sees it: histories[k] is the input of steps[k]
        histories = [history[-self.context:] if self.context else history[-1:]]
        for step in self.steps[:-1]:
            histories.append(step.transform(histories[-1]))
        y = np.asarray(y, dtype=np.float64)
        for step, past in zip(reversed(self.steps), reversed(histories)):
            y = step.inverse(y, past)
        return y

    def to_dict(self):
        return [step.to_dict() for step in self.steps]

    @classmethod
    def from_dict(cls, specs):
        if not isinstance(specs, list):
            raise ValueError(f"transforms: got {specs!r}, expected a list")
        return cls([transform_from_dict(spec) for spec in specs])

    def __repr__(self):
        return "Pipeline([" + ", ".join(
            f"{s.name}{'(' + str(s.lag) + ')' if isinstance(s, Difference) else ''}"
            for s in self.steps) + "])"
