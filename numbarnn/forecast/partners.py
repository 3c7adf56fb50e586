"""The statistical forecasts a forecaster may be combined with, by the name its checkpoint
keeps (``info['combination']['method']``): each one's forecast, its spread (the standard
deviations of its errors, as its own model has them: what a partner weighing all scales
its intervals' errors by, ``intervals.calibration_errors``), and the checkpoint format a
model combined with it needs."""
from .arima import arima_forecast, arima_spread, theta_arima_forecast, theta_arima_spread
from .metrics import naive_forecast, seasonal_naive_forecast, seasonal_naive_spread
from .regression import regression_forecast, regression_spread
from .theta import theta_forecast, theta_spread

# the Theta method, the regression, the naive forecast (the last value: combined with it,
# the networks' forecast of change is halved, for a series near a random walk), seasonal
# naive's (for a season too long for the seasonality test to judge:
# combination.choose_partner), the ARIMA(p, d, 0) forecast, and the mean of Theta's and
# ARIMA's (for one validation origin or networks on too few windows to choose on:
# combination.ALONE_WINDOWS)
PARTNERS = {"theta": theta_forecast, "regression": regression_forecast,
            "naive": lambda values, horizon, season: naive_forecast(values, horizon),
            "seasonal_naive": seasonal_naive_forecast, "arima": arima_forecast,
            "theta_arima": theta_arima_forecast}
# their spreads, for the same arguments (values, horizon, season)
PARTNER_SPREADS = {"theta": theta_spread, "regression": regression_spread,
                   "naive": lambda values, horizon, season:
                   seasonal_naive_spread(values, horizon, 1),
                   "seasonal_naive": seasonal_naive_spread, "arima": arima_spread,
                   "theta_arima": theta_arima_spread}
# the format a checkpoint combined with each needs (``checkpoints.FORMAT_VERSION``)
PARTNER_FORMATS = {"theta": 1, "regression": 2, "naive": 2, "seasonal_naive": 3, "arima": 4,
                   "theta_arima": 4}
