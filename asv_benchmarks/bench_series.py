"""The time-series predictor: training with the defaults on the airline data, and its accuracy."""
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.datasets import load_airline


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
        """train-series with no arguments: 4 LSTMs with early stopping, then the test."""
        train_forecaster(self.series, **self.options)

    def track_airline_mape(self):
        """Test MAPE (%) of the defaults on 1960, seed 0 (the seasonal naive scores 9.99)."""
        _, report = train_forecaster(self.series, **self.options)
        return report["metrics"]["model"]["mape"]

    track_airline_mape.unit = "percent"


class LongSeries:
    """A 4,032-step half-hourly series (Taylor's electricity demand, in the evaluation suite)
    with the defaults and ``--season 48 --horizon 48``: an epoch draws ``epoch_windows``
    windows, so the cost follows the windows sampled, not the length."""

    timeout = 600
    number = 1
    repeat = 3
    options = {}  # ForecastConfig settings over the defaults (the test shrinks the run)

    def setup(self):
        from pathlib import Path

        from numbarnn.forecast.series import read_csv

        path = Path(__file__).parent / "forecast_suite" / "taylor.csv"
        self.series = read_csv(str(path))
        self.settings = {"season": 48, "horizon": 48, **self.options}
        train_forecaster(self.series, **{**self.settings, "epochs": 1, "members": 1,
                                         "log": True, "diff": False, "seasonal_diff": True})

    def time_train_half_hourly(self):
        """train-series taylor.csv --season 48 --horizon 48: the choices, 4 LSTMs, the test."""
        train_forecaster(self.series, **self.settings)

    def track_half_hourly_mase(self):
        """Test MASE of the defaults on the last day (seasonal naive scores 1.26)."""
        _, report = train_forecaster(self.series, **self.settings)
        return report["metrics"]["model"]["mase"]


class ManySeries:
    """``train-series --id-column`` serially in-process (the per-series cost that a Dask
    cluster divides among its workers) and a small sweep, on a synthetic panel."""

    timeout = 600
    number = 1
    repeat = 3
    n_series = 20
    options = {}  # ForecastConfig settings over the defaults (the test shrinks the run)

    def setup(self):
        import tempfile

        from numbarnn.forecast.config import ForecastConfig
        from numbarnn.forecast.panel import read_panel_csv, synthetic_panel, write_panel_csv

        self.scratch = tempfile.TemporaryDirectory(prefix="numbarnn-bench-")
        path = f"{self.scratch.name}/panel.csv"
        write_panel_csv(path, synthetic_panel(self.n_series, seed=0))
        self.panel = read_panel_csv(path, "id")
        self.config = ForecastConfig(**self.options)
        train_forecaster(load_airline(), **{**self.options, "epochs": 1, "members": 1})
        self.runs = 0

    def teardown(self):
        self.scratch.cleanup()

    def _out(self):
        import os

        self.runs += 1
        out = f"{self.scratch.name}/run{self.runs}"
        os.makedirs(out)
        return out

    def time_panel_serial(self):
        """Every series of the panel, one after another, files written as in the CLI."""
        from numbarnn.runs.panels import train_panel

        train_panel(self.panel, self.config, self._out(), workers=0)

    def track_panel_beats_seasonal_naive(self):
        """Share (%) of the panel's series on which the model beats seasonal naive."""
        from numbarnn.runs.panels import train_panel

        summary = train_panel(self.panel, self.config, self._out(), workers=0)
        return 100 * summary["beat_seasonal_naive"]

    track_panel_beats_seasonal_naive.unit = "percent"

    def time_sweep_serial(self):
        """A 2 x 2 grid (hidden, lr) on the airline series."""
        from numbarnn.runs import SeriesSweep, run_sweep

        run_sweep(SeriesSweep(load_airline(), self.config),
                  {"hidden_size": [16, 32], "lr": [1e-3, 3e-3]}, self._out(), workers=0)
