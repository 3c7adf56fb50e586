"""The forecaster's automatic choices (window, seasonality, transforms), its fallback to
seasonal naive, and the sampled epochs of long series."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.fitting import _batches
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.metrics import seasonal_naive_forecast
from numbarnn.forecast.selection import (KPSS_BOUND, default_window, guerrero_power,
                                         level_test, log_test, season_autocorrelation,
                                         seasonality_test, transform_candidates,
                                         window_candidates)
from numbarnn.forecast.series import Series
from numbarnn_cli.main import cli

SMALL = dict(hidden_size=8, epochs=40, members=1, horizon=6, seed=0)


def series(values):
    values = np.asarray(values, np.float64)
    return Series(values, "s", np.zeros((values.size, 0)), [], None, None, None, "test")


def built(kind, n=160, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "multiplicative":  # growth, and a season whose swing grows with the level
        return 10 * np.exp(0.02 * t) * (1 + 0.5 * np.sin(2 * np.pi * t / 12)) * \
            np.exp(0.02 * rng.standard_normal(n))
    if kind == "trend":
        return 5 + 0.5 * t + rng.standard_normal(n)
    if kind == "seasonal":
        return 10 + 3 * np.sin(2 * np.pi * t / 12) + 0.3 * rng.standard_normal(n)
    return 10 + rng.standard_normal(n)  # white noise


@pytest.mark.parametrize("season, window", [(1, 12), (4, 12), (12, 12), (7, 14), (5, 15),
                                            (48, 48), (52, 52)])
def test_the_default_window_is_whole_seasons_covering_12_steps(season, window):
    assert default_window(season) == window


@pytest.mark.parametrize("kind, seasonal", [("seasonal", True), ("multiplicative", True),
                                            ("noise", False), ("trend", False)])
def test_the_seasonality_test(kind, seasonal):
    result = seasonality_test(built(kind), 12)
    assert result["seasonal"] is seasonal
    assert (result["acf"] > result["threshold"]) is seasonal


@pytest.mark.parametrize("disturbance", ["shift", "outlier"])
def test_a_level_shift_or_an_outlier_does_not_hide_a_season(disturbance, monkeypatch):
    from numbarnn.forecast import selection

    y = built("seasonal", 200)
    if disturbance == "shift":
        y[120:] += 60  # one difference 20 times the season's swing
    else:
        y[150] += 500
    assert seasonality_test(y, 12)["seasonal"]
    # (it is the winsorizing of the differences that finds it)
    monkeypatch.setattr(selection, "OUTLIER_SPREAD", np.inf)
    assert not seasonality_test(y, 12)["seasonal"]


def drifting_growth(seed, n=120):
    """A seasonally adjusted quarterly index: growth of 1 % a step whose rate drifts
    (an AR(1) of coefficient 0.9), as consumption or prices grow."""
    rng = np.random.default_rng(seed)
    rate = np.zeros(n)
    for k in range(1, n):
        rate[k] = 0.9 * rate[k - 1] + 0.1 * rng.standard_normal()
    return 100 * np.exp(np.cumsum(0.01 + 0.01 * rate))


def test_smooth_growth_is_no_season():
    seeds = range(20)
    # the persistence of its differences passes the bound at lag 4 by itself in every seed
    assert all(np.greater(*season_autocorrelation(np.diff(drifting_growth(seed)), 4))
               for seed in seeds)
    # and is what the test takes out before it looks for a season (what is left: 3 of
    # these 20, against the bound's nominal 5 %)
    assert sum(seasonality_test(drifting_growth(seed), 4)["seasonal"] for seed in seeds) <= 3


def test_a_straight_line_is_no_season():
    # (its differences' rounding errors alone passed the bound)
    for slope in (0.02, 0.1, 3.0):
        result = seasonality_test(100 + slope * np.arange(60), 4)
        assert result == {"seasonal": False, "acf": None, "threshold": None}
    assert seasonality_test(np.full(60, 7.0), 4)["seasonal"] is False


def test_a_season_under_strong_noise_is_found():
    # 100 + 0.3 t + 10 sin(2 pi t / 12) with noise of sd 4, six years: differences of
    # noise alternate, which on plain first differences hid the season in 4 of 8 seeds
    t = np.arange(72)
    found = [seasonality_test(100 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)
                              + 4 * np.random.default_rng(seed).standard_normal(72),
                              12)["seasonal"] for seed in range(8)]
    assert sum(found) >= 7


def test_only_a_positive_autocorrelation_a_season_apart_is_a_season():
    # differences that alternate in sign from one season to the next (r_4 near -1)
    values = np.cumsum(np.tile([1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0], 10))
    result = seasonality_test(values, 4)
    assert result["acf"] < -result["threshold"] and result["seasonal"] is False


def test_no_season_to_test_for_a_season_of_one_or_too_little_data():
    assert seasonality_test(built("seasonal"), 1)["seasonal"] is False
    assert seasonality_test(built("seasonal", n=30), 12) == \
        {"seasonal": False, "acf": None, "threshold": None}


def test_candidates_follow_the_data_and_the_fixed_settings():
    auto = ForecastConfig()
    positive, negative = True, False  # (whether every value the model reads is above 0)
    assert len(transform_candidates(auto, positive, True)) == 6
    no_log = transform_candidates(auto, negative, True)
    assert [c["log"] for c in no_log] == [False] * 3  # no log of data that is not positive
    assert all(not c["seasonal_diff"] for c in transform_candidates(auto, positive, False))
    fixed = ForecastConfig(log=False, diff=True, seasonal_diff=False)
    assert transform_candidates(fixed, positive, True) == \
        [{"log": False, "diff": True, "seasonal_diff": False}]
    one_open = transform_candidates(ForecastConfig(log=True, diff=False), positive, True)
    assert one_open == [{"log": True, "diff": False, "seasonal_diff": s} for s in (False, True)]


@pytest.mark.parametrize("kind, stationary", [("noise", True), ("seasonal", True),
                                              ("trend", False), ("walk", False)])
def test_the_kpss_test_finds_a_wandering_level(kind, stationary):
    values = np.cumsum(built("noise") - 10) if kind == "walk" else built(kind)
    result = level_test(values, log=False)
    assert result["stationary"] is stationary, result
    assert (result["statistic"] <= KPSS_BOUND) is stationary


def test_the_kpss_statistic_matches_its_definition():
    # sum of squared partial sums over n^2 times the long-run variance: with no
    # autocorrelation terms (n = 12: trunc(3 sqrt(12) / 13) = 0 lags) it is plain
    values = np.array([1.0, 3, 2, 5, 4, 6, 8, 7, 9, 12, 10, 11])
    e = values - values.mean()
    expected = np.sum(np.cumsum(e) ** 2) / (12 ** 2 * np.mean(e ** 2))
    assert level_test(values, log=False)["statistic"] == pytest.approx(expected, rel=1e-12)
    assert level_test(np.exp(values), log=True)["statistic"] == pytest.approx(expected,
                                                                               rel=1e-12)
    # too short, or constant (0.1's computed mean is not exactly 0.1): no test
    assert level_test(values[:11], log=False) == {"statistic": None, "bound": KPSS_BOUND,
                                                  "stationary": True}
    for constant in (np.ones(50), np.full(50, 0.1), np.full(144, 123.456)):
        assert level_test(constant, log=False)["statistic"] is None


def ar_series(seed, n=100, phi=0.9):
    rng = np.random.default_rng(seed)
    e, y = rng.standard_normal(n), np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + e[t]
    return y


@pytest.mark.parametrize("seed, statsmodels_value", [(1, 0.5573201786270201),
                                                     (23, 0.6694663622072485)])
def test_the_kpss_statistic_with_lags_matches_statsmodels(seed, statsmodels_value):
    # n = 100: 2 lags of Bartlett-weighted autocovariances; the values are those of
    # statsmodels.tsa.stattools.kpss(y, 'c', nlags=2) for these series.  Both lie
    # between the 5 % bound (0.463) and the 1 % one (0.739): the level wanders at 5 %.
    result = level_test(ar_series(seed), log=False)
    assert result["statistic"] == pytest.approx(statsmodels_value, rel=1e-12)
    assert result["stationary"] is False


def test_a_wandering_level_is_always_differenced():
    auto, positive = ForecastConfig(), True
    wandering = transform_candidates(auto, positive, True, log=True, stationary=False)
    assert [(c["diff"], c["seasonal_diff"]) for c in wandering] == [(True, False), (False, True)]
    no_season = transform_candidates(auto, positive, False, log=True, stationary=False)
    assert no_season == [{"log": True, "diff": True, "seasonal_diff": False}]
    # a fixed setting wins: no differencing where the user leaves nothing else open
    fixed = ForecastConfig(diff=False, seasonal_diff=False)
    assert transform_candidates(fixed, positive, True, log=True, stationary=False) == \
        [{"log": True, "diff": False, "seasonal_diff": False}]
    one_open = ForecastConfig(diff=False)
    assert transform_candidates(one_open, positive, True, log=True, stationary=False) == \
        [{"log": True, "diff": False, "seasonal_diff": True}]


def test_a_series_a_step_too_short_to_difference_is_not_and_validation_leaves_windows():
    # window 12 + horizon 6 + test 6 and a validation part of 12 where the training part
    # then keeps half a horizon of windows, 3 (38 rows), else 6; at 30 rows no
    # differencing fits even then (first differences need 31)
    for n, val_size, differenced in ((30, 6, False), (31, 6, True), (36, 6, True),
                                     (37, 6, True), (38, 12, True)):
        _, report = train_forecaster(series(built("trend", n=n)), season=1, log=False,
                                     window=12, **SMALL)
        choices = report["choices"]
        assert choices["val_size"] == val_size, n
        # (what a shorter validation part left out, for the report)
        assert choices["shortened"] == ({} if val_size == 12 else {"val_size": {
            "default": 12, "training_windows": max(n - 35, 0)}}), n
        assert choices["level_test"]["stationary"] is False
        assert choices["level_test"]["differenced"] is differenced, n
        assert choices["chosen"]["diff"] is differenced, n
        assert ("because" in choices["level_test"]) is not differenced
    assert choices["level_test"].get("because") is None
    _, report = train_forecaster(series(built("trend", n=30)), season=1, log=False, window=12,
                                 **SMALL)
    assert report["choices"]["level_test"]["because"] == "the series is too short to difference"


@pytest.mark.parametrize("season, windows", [(1, list(range(12, 3, -1))), (4, [12, 8, 4]),
                                             (12, [12]), (7, [14, 7]), (48, [48])])
def test_shorter_windows_are_whole_seasons(season, windows):
    assert window_candidates(season) == windows


def test_a_short_series_gets_the_longest_window_that_leaves_a_horizon_of_windows():
    # horizon 6, test 6, validation 6: a window w leaves n - 18 - w + 1 training windows;
    # 12 where that is 6 or more (n >= 35), else the longest that leaves 6 (n = 31: 8),
    # else the shortest that fits at all (n = 26: 4, leaving 5; n = 22: 4, leaving 1)
    for n, window in ((60, 12), (35, 12), (34, 11), (31, 8), (26, 4), (22, 4)):
        _, report = train_forecaster(series(built("noise", n=n)), season=1, **SMALL)
        assert report["choices"]["window"] == window, n
        assert report["choices"]["shortened"].get("window") == (None if window == 12 else {
            "default": 12, "training_windows": max(n - 29, 0)}), n
    # one horizon of validation leaves no window at all (n = 21): none, the window that
    # leaves the most; without validation none fits either (n = 15): refused
    _, report = train_forecaster(series(built("noise", n=21)), season=1, **SMALL)
    assert (report["choices"]["window"], report["choices"]["val_size"]) == (4, 0)
    with pytest.raises(ValueError, match="the series has 15 rows; this configuration needs "
                                         "at least 16: window 4 "):
        train_forecaster(series(built("noise", n=15)), season=1, **SMALL)


def test_fixed_settings_win_over_the_kpss_test():
    _, report = train_forecaster(series(built("trend")), season=1, log=False, diff=False,
                                 **SMALL)
    level = report["choices"]["level_test"]
    assert level["stationary"] is False and level["differenced"] is False
    assert level["because"] == "the settings fix no differencing"
    assert report["choices"]["chosen"]["diff"] is False


def levels_and_spread(power, n=240, seed=0):
    """A monthly season whose swing grows as level ** power, on a level that rises
    linearly 8-fold (an exponential rise would itself ask for the log)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 10 + 70 * t / n
    return level + 0.5 * level ** power * (np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n))


@pytest.mark.parametrize("power, log", [(1.0, True), (0.0, False), (0.5, None)])
def test_guerreros_power_decides_the_log_where_the_data_are_clear(power, log):
    # a swing proportional to the level (power 1) is a Box-Cox power of 0: the log
    values = levels_and_spread(power)
    found = guerrero_power(values, 12)
    assert abs(found - (1 - power)) < 0.15, found
    assert log_test(values, 12) == {"power": found, "log": log}


def test_the_log_test_leaves_unclear_data_to_validation():
    assert log_test(built("multiplicative"), 12)["log"] is True
    assert log_test(np.arange(-5.0, 45.0), 12) == {"power": None, "log": False}  # not positive
    steady = built("seasonal")  # one level throughout: nothing to tell the power from
    assert guerrero_power(steady, 12) is None and log_test(steady, 12)["log"] is None
    assert guerrero_power(np.arange(1.0, 20.0), 12) is None  # fewer than two seasons
    auto, positive = ForecastConfig(), True
    assert {c["log"] for c in transform_candidates(auto, positive, True, log=True)} == {True}
    assert {c["log"] for c in transform_candidates(auto, positive, True, log=False)} == {False}
    forced = transform_candidates(ForecastConfig(log=False), positive, True, log=True)
    assert {c["log"] for c in forced} == {False}  # a fixed setting wins over the test


@pytest.mark.parametrize("kind, season, expected", [
    ("multiplicative", 12, {"log": True, "seasonal_diff": True}),
    ("trend", 1, {"diff": True}),
    ("noise", 12, {"diff": False, "seasonal_diff": False}),
])
def test_each_series_gets_the_transform_it_needs(kind, season, expected):
    _, report = train_forecaster(series(built(kind)), season=season, **SMALL)
    chosen = report["choices"]["chosen"]
    assert {key: chosen[key] for key in expected} == expected, report["choices"]
    assert report["choices"]["seasonality"]["seasonal"] is (kind == "multiplicative")
    names = [t["name"] for t in report["transforms"]]
    assert ("log" in names) is chosen["log"] and ("diff" in names) is chosen["diff"]


def test_the_season_is_tested_on_the_training_and_validation_parts(monkeypatch):
    # (it only decides which candidates validation scores; the other tests see the
    # training part alone)
    from numbarnn.forecast import selection

    seen = {}

    def recording(name, real):
        def test(values, season):
            seen.setdefault(name, len(values))  # (the first call's)
            return real(values, season)
        return test
    for name in ("seasonality_test", "log_test"):
        monkeypatch.setattr(selection, name, recording(name, getattr(selection, name)))
    values = built("multiplicative")
    _, report = train_forecaster(series(values), season=12, **SMALL)
    test, val = report["test_size"], report["choices"]["val_size"]
    assert seen == {"seasonality_test": values.size - test,
                    "log_test": values.size - test - val}


def test_no_validation_part_falls_back_to_the_rule_of_thumb():
    _, report = train_forecaster(series(built("multiplicative")), season=12, val_size=0,
                                 **SMALL)
    assert report["choices"]["candidates"] == []
    assert report["choices"]["chosen"] == {"log": True, "diff": False, "seasonal_diff": True,
                                           "by": "rule (no validation part)"}


def exact_season(n=120, seed=0):
    """A season that repeats exactly, and a little noise: seasonal naive is near perfect."""
    rng = np.random.default_rng(seed)
    shape = rng.uniform(5, 15, size=12)
    return np.tile(shape, n // 12) + 0.01 * rng.standard_normal(n)


def test_the_report_says_when_seasonal_naive_beats_the_networks():
    data = series(exact_season())
    options = dict(SMALL, epochs=2, season=12, log=False, diff=False, seasonal_diff=False)
    _, report = train_forecaster(data, **options)
    fallback = report["fallback"]
    assert fallback["better"] == "seasonal_naive" and fallback["used"] is False
    assert fallback["seasonal_naive_mase"] < fallback["model_mase"]
    assert report["metrics"]["model"]["mase"] != report["metrics"]["seasonal_naive"]["mase"]

    model, used = train_forecaster(data, fallback=True, level=[80], **options)
    assert used["fallback"]["used"] is True and model.info["baseline"] == "seasonal_naive"
    assert used["metrics"]["model"] == used["metrics"]["seasonal_naive"]
    result = model.forecast(level=[80])
    np.testing.assert_array_equal(result["values"],
                                  seasonal_naive_forecast(data.values, 6, 12))
    lo, hi = result["intervals"][80.0]
    assert (lo < result["values"]).all() and (result["values"] < hi).all()
    # the widths are seasonal naive's errors (the noise, 0.01), not the networks'
    assert np.max(model.info["calibration"]["abs_errors"]) < 0.1
    assert np.max(hi - lo) < 0.1


def test_a_logged_fallback_refuses_data_the_log_cannot_take():
    data = series(exact_season())
    model, report = train_forecaster(data, **dict(SMALL, epochs=2, season=12, log=True,
                                                  diff=False, seasonal_diff=False,
                                                  fallback=True))
    assert model.info["baseline"] == "seasonal_naive"
    assert model.info["calibration"]["scale"] == "log"
    negative = series(-exact_season())
    with pytest.raises(ValueError, match="but this model forecasts the log of the series"):
        model.forecast(series=negative, level=[80])


def test_no_fallback_note_where_the_networks_win():
    _, report = train_forecaster(series(built("trend")), season=1, **SMALL)
    assert report["fallback"] is None


def test_an_epoch_draws_at_most_epoch_windows_windows():
    rng = np.random.default_rng(0)
    batches = _batches(rng, 1000, 16, 100)
    drawn = np.concatenate(batches)
    assert drawn.size == 100 and np.unique(drawn).size == 100 and len(batches) == 7
    assert np.concatenate(_batches(rng, 50, 16, 100)).size == 50  # all of a short series


@pytest.mark.parametrize("options, message", [
    ({"diff": "yes"}, "diff: got 'yes', expected True, False or 'auto'"),
    ({"fallback": "yes"}, "fallback: got 'yes', expected True or False"),
    ({"epoch_windows": 0}, "epoch_windows: got 0"),
    ({"window": 0}, "window: got 0"),
])
def test_bad_settings_are_one_clear_error(options, message):
    with pytest.raises(ValueError, match=message):
        ForecastConfig(**options)


def test_the_command_reports_the_choices_the_fallback_and_the_intervals(tmp_path):
    data = tmp_path / "exact.csv"
    values = exact_season()
    data.write_text("month,v\n" + "".join(f"{2000 + k // 12}-{k % 12 + 1:02d},{v}\n"
                                          for k, v in enumerate(values)))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train-series", str(data), "--out", str(out), "--epochs",
                                      "2", "--members", "1", "--hidden", "4", "--horizon", "6",
                                      "--no-log", "--no-diff", "--no-seasonal-diff",
                                      "--fallback", "--level", "80,95", "-q"])
    assert result.exit_code == 0, result.output
    assert "season 12 (found by the autocorrelation test" in result.output
    assert "seasonal naive beat the networks on the validation part" in result.output
    assert "forecasting with seasonal naive (--fallback)" in result.output
    assert "intervals on the test:" in result.output and "coverage 95 %" in result.output
    report = json.loads((out / "metrics.json").read_text())
    assert report["fallback"]["used"] is True
    assert set(report["intervals"]["model"]) == {"80", "95"}
    assert 0 <= report["intervals"]["seasonal_naive"]["95"]["coverage"] <= 100


def test_compare_without_statsforecast_is_one_line(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "statsforecast", None)  # as if not installed
    result = CliRunner().invoke(cli, ["train-series", "--compare", "--out", str(tmp_path / "r"),
                                      "--epochs", "1", "--members", "1", "-q"])
    assert result.exit_code == 2 and "--compare needs statsforecast: pip install " \
        "statsforecast" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


def test_compare_scores_statsforecast_on_the_same_test(tmp_path):
    pytest.importorskip("statsforecast")
    from numbarnn.forecast.compare import statsforecast_metrics
    from numbarnn.forecast.metrics import mase, naive_forecast
    from numbarnn.forecast.datasets import load_airline

    airline = load_airline()
    _, report = train_forecaster(airline, epochs=1, members=1, hidden_size=4, log=True,
                                 diff=False, seasonal_diff=True)
    scores = statsforecast_metrics(airline, report)
    assert set(scores) == {"AutoETS", "AutoARIMA"}
    for name, s in scores.items():
        assert 0 < s["mase"] < 3 and s["seconds"] > 0, name
    # the same steps and scale as the report's own baselines
    values = airline.values
    assert report["metrics"]["naive"]["mase"] == pytest.approx(
        mase(values[-12:], naive_forecast(values[:-12], 12), values[:-12], 12))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train-series", "--compare", "--out", str(out), "--epochs",
                                      "1", "--members", "1", "--hidden", "4", "-q"])
    assert result.exit_code == 0, result.output
    assert "\nAutoETS " in result.output and "\nAutoARIMA " in result.output
    assert set(json.loads((out / "metrics.json").read_text())["compare"]) == \
        {"AutoETS", "AutoARIMA"}


def test_networks_trained_side_by_side_are_the_serial_ones(monkeypatch):
    data = series(built("seasonal"))
    options = dict(season=12, hidden_size=8, epochs=10, members=3, horizon=6)
    side_by_side, report = train_forecaster(data, **options)
    monkeypatch.setattr("numbarnn.kernels._parts.usable_cores", lambda: 1)  # one at a time
    serial, again = train_forecaster(data, **options)
    assert report["choices"] == again["choices"] and report["metrics"] == again["metrics"]
    state, serial_state = side_by_side.network_state(), serial.network_state()
    assert state.keys() == serial_state.keys()
    for name in state:
        np.testing.assert_array_equal(state[name], serial_state[name], err_msg=name)


@pytest.mark.parametrize("option", [["--level", "80"], ["--compare"]])
def test_one_series_options_are_refused_with_many_series(tmp_path, option):
    from numbarnn.forecast.panel import write_panel_csv

    data = tmp_path / "long.csv"
    write_panel_csv(data, [(s, f"2000-{m:02d}", m) for s in "ab" for m in range(1, 13)],
                    ("unique_id", "ds", "y"))
    result = CliRunner().invoke(cli, ["train-series", str(data), "--out", str(tmp_path / "r"),
                                      *option])
    assert result.exit_code == 2 and f"{option[0]}: for one series" in result.output
    assert not (tmp_path / "r").exists()


def test_an_error_beside_stops_the_other_networks_within_an_epoch(monkeypatch):
    from numbarnn.forecast import fitting

    epochs = []

    def fit(k, item, progress):
        if k == 1:
            raise ValueError("network 2 failed")
        for epoch in range(1000):
            progress.update(epoch / 1000, "")  # as fit_network does once an epoch
            epochs.append(epoch)
            import time
            time.sleep(0.001)

    monkeypatch.setattr("numbarnn.kernels._parts.usable_cores", lambda: 2)
    with pytest.raises(ValueError, match="network 2 failed"):
        fitting.side_by_side(fit, [0, 1, 2, 3], None, "cpu")
    assert len(epochs) < 1000  # the first stopped early; the last two never started
