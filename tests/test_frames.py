"""pandas in and out (numbarnn.frames): skipped where pandas is not installed."""
import datetime as dt
import warnings

import numpy as np
import pytest

from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.frames import (fit_forecast, forecast_to_frame, from_pandas,
                                      panel_from_pandas)
from numbarnn.forecast.datasets import load_airline

pd = pytest.importorskip("pandas")

TINY = dict(epochs=2, members=1, hidden_size=4, log=True, diff=False, seasonal_diff=True)


def airline_frame():
    series = load_airline()
    return pd.DataFrame({"month": pd.to_datetime([d.isoformat() for d in series.dates]),
                         "passengers": series.values})


def test_a_series_with_a_datetime_index_round_trips():
    frame = airline_frame()
    data = pd.Series(frame["passengers"].to_numpy(), index=pd.DatetimeIndex(frame["month"]),
                     name="passengers")
    series = from_pandas(data)
    airline = load_airline()
    np.testing.assert_array_equal(series.values, airline.values)
    assert series.dates == airline.dates and series.frequency == "monthly"
    assert series.name == "passengers" and series.date_format == "date"


def test_a_dataframe_with_a_date_column_or_index():
    frame = airline_frame()
    by_column = from_pandas(frame, date_column="month")
    by_index = from_pandas(frame.set_index("month"))
    assert by_column.dates == by_index.dates == load_airline().dates
    assert by_column.name == by_index.name == "passengers"
    period = from_pandas(pd.Series(frame["passengers"].to_numpy(),
                                   index=pd.period_range("1949-01", periods=144, freq="M")))
    assert period.frequency == "monthly"
    assert from_pandas(pd.Series([1.0, 2.0, 3.0])).dates is None


def test_the_long_format_round_trips_in_statsforecasts_layout():
    frame = airline_frame()
    long = pd.concat([pd.DataFrame({"unique_id": uid, "ds": frame["month"],
                                    "y": frame["passengers"] * scale})
                      for uid, scale in (("a", 1.0), ("b", 2.0))], ignore_index=True)
    long = long.sample(frac=1.0, random_state=0)  # any row order: each series is sorted
    many = panel_from_pandas(long)
    assert list(many) == sorted(many, key=list(long["unique_id"]).index)
    np.testing.assert_array_equal(many["b"].values, 2 * load_airline().values)
    forecasts, reports = fit_forecast(long, horizon=6, level=[80, 95], **TINY)
    assert list(forecasts.columns) == ["unique_id", "ds", "numbarnn", "numbarnn-lo-80",
                                       "numbarnn-hi-80", "numbarnn-lo-95", "numbarnn-hi-95"]
    assert list(forecasts["unique_id"]) == ["a"] * 6 + ["b"] * 6
    assert list(forecasts["ds"][:2]) == [pd.Timestamp("1961-01-01"), pd.Timestamp("1961-02-01")]
    assert (forecasts["numbarnn-lo-95"] <= forecasts["numbarnn-lo-80"]).all()
    assert (forecasts["numbarnn-lo-80"] <= forecasts["numbarnn"]).all()
    assert (forecasts["numbarnn"] <= forecasts["numbarnn-hi-80"]).all()
    assert set(reports) == {"a", "b"} and reports["a"]["intervals"]["model"]["80"]


def test_integer_time_steps_and_an_indexed_long_frame():
    # statsforecast's integer ds are steps (not nanoseconds after 1970), and a frame indexed
    # by unique_id and ds is the same long format
    long = pd.DataFrame({"unique_id": ["a"] * 48 + ["b"] * 48,
                         "ds": list(range(48)) + list(range(5, 53)),
                         "y": np.r_[100 + np.sin(np.arange(48)), 200 + np.arange(48.0)]})
    assert panel_from_pandas(long)["a"].dates is None
    small = dict(window=6, epochs=1, members=1, hidden_size=4)
    forecasts, _ = fit_forecast(long, horizon=3, **small)
    assert list(forecasts["ds"]) == [48, 49, 50, 53, 54, 55]  # (each series' own steps on)
    one, _ = fit_forecast(long[long.unique_id == "b"][["ds", "y"]], horizon=2, **small)
    assert list(one["ds"]) == [53, 54]
    indexed, _ = fit_forecast(long.set_index(["unique_id", "ds"]), horizon=3, **small)
    pd.testing.assert_frame_equal(indexed, forecasts)
    with pytest.raises(ValueError, match="integer time steps must count up by one"):
        from_pandas(pd.DataFrame({"ds": [0, 1, 3], "y": [1.0, 2.0, 3.0]}))


def test_dates_with_a_time_zone_are_read_in_utc():
    # hourly across the change to summer time: regular in UTC, irregular on the wall clock
    index = pd.date_range("2021-03-27", periods=72, freq="h", tz="Europe/Berlin")
    series = from_pandas(pd.Series(np.arange(72.0), index=index))
    assert series.frequency == "hourly"
    assert series.dates[0] == dt.datetime(2021, 3, 26, 23, 0)


def test_train_forecaster_reads_a_pandas_series_with_its_dates():
    frame = airline_frame()
    data = pd.Series(frame["passengers"].to_numpy(), index=pd.DatetimeIndex(frame["month"]),
                     name="passengers")
    _, report = train_forecaster(data, **{**TINY, "epochs": 1})
    assert report["series"]["name"] == "passengers"
    assert report["series"]["frequency"] == "monthly"


def test_one_series_forecast_matches_the_models_own():
    model, _ = train_forecaster(load_airline(), horizon=6, **TINY)
    result = model.forecast(level=[80])
    frame = forecast_to_frame(result)
    assert list(frame.columns) == ["ds", "numbarnn", "numbarnn-lo-80", "numbarnn-hi-80"]
    np.testing.assert_array_equal(frame["numbarnn"].to_numpy(), result["values"])
    undated = forecast_to_frame({**result, "dates": None})
    assert list(undated["ds"]) == list(range(144, 150))
    # a quarterly CSV's labels (1961Q1) are time stamps too, parsed as numbarnn reads them
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (pandas guesses such a format with a warning)
        quarters = forecast_to_frame({**result, "dates": ["1961Q1", "1961Q2", "1961Q3",
                                                          "1961Q4", "1962Q1", "1962Q2"]})
    assert list(quarters["ds"].dt.month) == [1, 4, 7, 10, 1, 4]


@pytest.mark.parametrize("make, message", [
    (lambda f: f.assign(passengers=f["passengers"].where(f.index != 5)), "first at position 5"),
    (lambda f: f.iloc[::-1], "increasing order without repeats"),
    (lambda f: f.drop(f.index[30]), "the dates are monthly, but 1951-07-01 is missing before 1951-08-01;"),
    (lambda f: f.assign(extra=1.0), "target: 2 numeric columns"),
    (lambda f: "not a frame", "expected a pandas Series or DataFrame, got str"),
])
def test_bad_frames_are_one_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        from_pandas(make(airline_frame()), date_column=None if "month" not in
                    getattr(make(airline_frame()), "columns", []) else "month")


def test_an_empty_unique_id_or_a_missing_column_is_refused():
    long = pd.DataFrame({"unique_id": ["a", "a", " ", "b"], "ds": [1, 2, 3, 1],
                         "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="unique_id: empty at row 2"):
        panel_from_pandas(long)
    with pytest.raises(ValueError, match="long format: no column 'y'"):
        panel_from_pandas(long.drop(columns="y"))
