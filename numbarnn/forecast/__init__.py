"""The series job: recurrent forecasters, evaluated beside the baselines forecasters trust.

=========== ===============================================================
config      ``ForecastConfig``: every setting of ``numbarnn train-series``
series      ``Series``; reading CSV files
dates       dates read and written, the calendar and its season
datasets    the airline data, synthetic series
transforms  log, differencing, winsorizing, scaling (fitted on the training part only)
windows     the chronological split and the windows
selection   the choices made from the data (window, season, transforms)
training    ``fit`` (``train_forecaster``): the recipe, the choices, the ensemble
fitting     one network's epochs; networks trained side by side
combination the linear member, the statistical partner, the fallback's verdict
theta       the Theta method (a partner)
regression  a linear trend and seasonal dummies (a partner)
arima       an ARIMA(p, d, 0) (a partner), and its mean with the Theta method
model       ``Forecaster``: forecasts, intervals, ``save`` / ``load``
intervals   the intervals' calibration and scores
metrics     MAE, RMSE, MAPE, sMAPE, MASE, coverage, MSIS; the baselines
backtest    rolling-origin evaluation
output      a forecast as CSV and as a plot
panel       many series in one long-format file; one series' training task
frames      pandas in and out (``[pandas]`` extra)
compare     statsforecast's models on the same test (``--compare``)
=========== ===============================================================
"""
from .._lazy import lazy_exports

__all__ = ["ForecastConfig", "Forecaster", "Series", "backtest", "fit", "forecast_panel",
           "load_airline", "load_panel", "plot_forecast", "read_csv", "read_panel_csv",
           "synthetic", "synthetic_panel", "train_forecaster", "write_forecast_csv",
           "write_panel_csv"]
__getattr__, __dir__ = lazy_exports(globals(), {
    "ForecastConfig": "config", "Series": "series", "read_csv": "series",
    "load_airline": "datasets", "synthetic": "datasets", "fit": "training:train_forecaster",
    "train_forecaster": "training", "Forecaster": "model", "backtest": "backtest",
    "write_forecast_csv": "output", "plot_forecast": "output", "read_panel_csv": "panel",
    "synthetic_panel": "panel", "write_panel_csv": "panel", "forecast_panel": "panel",
    "load_panel": "panel",
})
