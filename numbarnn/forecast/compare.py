"""statsforecast's automatic models on numbarnn's test, for ``train-series --compare``.

statsforecast is optional and never required: ``statsforecast_metrics`` says in one line
how to install it where it is missing.
"""
import time
import warnings

import numpy as np

from .metrics import evaluate
from .windows import make_targets

STATS_MODELS = ("AutoETS", "AutoARIMA")


def _models():
    try:
        from statsforecast import models
    except ImportError:
        raise ImportError("--compare needs statsforecast: pip install statsforecast") from None
    return models


def check_statsforecast():
    """Raise the one-line ImportError now, before any training, where statsforecast is missing."""
    _models()


def statsforecast_forecast(name, history, horizon, season, level=None):
    """statsforecast's model ``name`` (AutoETS, AutoARIMA, ...) fitted on ``history``:
    its forecast of the next ``horizon`` steps, as statsforecast returns it (``mean`` and,
    with ``level``, ``lo-L`` / ``hi-L``), its warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(_models(), name)(season_length=season).forecast(
            y=np.asarray(history, np.float64), h=horizon,
            level=None if level is None else list(level))


def statsforecast_metrics(series, report, names=STATS_MODELS):
    """The metrics of statsforecast's models on exactly the steps ``report``'s test scored:
    each model is fitted on the data before each test origin and forecasts its horizon.

    Parameters
    ----------
    series : Series
        The series ``train_forecaster`` was given.
    report : dict
        Its report (the test size, the horizon and the season come from it).

    Returns
    -------
    dict
        ``{name: {'mae', 'rmse', 'mape', 'smape', 'mase', 'seconds'}}``; a model that fails
        on the series has ``{'error': message}`` instead.
    """
    check_statsforecast()
    values, season = series.values, report["season"]
    horizon = report["config"]["horizon"]
    test_start = len(values) - report["test_size"]
    origins = np.arange(test_start - 1, len(values) - horizon)
    actual = make_targets(values, origins, horizon)
    out = {}
    for name in names:
        start = time.perf_counter()
        try:
            forecasts = np.stack([statsforecast_forecast(name, values[:t + 1], horizon,
                                                         season)["mean"] for t in origins])
        except Exception as e:  # noqa: BLE001 -- one model failing must not end the run
            out[name] = {"error": f"{type(e).__name__}: {e}"}
            continue
        out[name] = {**evaluate(actual, forecasts, values[:test_start], season),
                     "seconds": time.perf_counter() - start}
    return out
