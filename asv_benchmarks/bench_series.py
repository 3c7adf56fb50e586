"""The time-series predictor: training with the defaults on the airline data, and its accuracy."""
from numbarnn.forecasting import train_forecaster
from numbarnn.series import load_airline


class SeriesTraining:
    timeout = 300
    number = 1
    repeat = 3
    options = {}  # ForecastConfig settings over the defaults (the test shrinks the run)

    def setup(self):
        self.series = load_airline()
        # compile / load the kernels, so that the timing is the warm-cache training time
        train_forecaster(self.series, **{**self.options, "epochs": 1, "members": 1})

    def time_train_airline(self):
        """train-series with no arguments: 5 LSTMs with early stopping, then the test."""
        train_forecaster(self.series, **self.options)

    def track_airline_mape(self):
        """Test MAPE (%) of the defaults on 1960, seed 0 (the seasonal naive scores 9.99)."""
        _, report = train_forecaster(self.series, **self.options)
        return report["metrics"]["model"]["mape"]

    track_airline_mape.unit = "percent"
