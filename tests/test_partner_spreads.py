"""The statistical partners' spreads (``partners.PARTNER_SPREADS``): the standard deviations of
their errors as their own models have them, checked against the errors they make on data
their models are right for; and the intervals of a forecaster whose partner weighs all,
in units of them (``intervals.calibration_errors``'s 'spread' scale)."""
import json

import numpy as np
import pytest

from numbarnn import checkpoints
from numbarnn.checkpoints import CheckpointError
from numbarnn.forecast import intervals
from numbarnn.forecast.arima import ARIMA_SHARES, _arima, _psi_weights
from numbarnn.forecast.intervals import spread_quantile
from numbarnn.forecast.model import SPREAD_FORMAT, Forecaster
from numbarnn.forecast.partners import PARTNER_SPREADS, PARTNERS
from numbarnn.forecast.series import Series
from numbarnn.forecast.training import train_forecaster
from test_statistical_partners import format_version

REPLICAS = 300


def local_level(rng, n, alpha=0.5, sigma=1.0):
    """Simple exponential smoothing's own model: ``y_t = l_(t-1) + e_t``, ``l_t = l_(t-1) +
    alpha e_t``."""
    e = rng.normal(0, sigma, n)
    return 50 + np.concatenate(([0.0], alpha * np.cumsum(e)[:-1])) + e


def autoregression(rng, n, phi=0.7, mean=10.0):
    y = np.full(n, mean)
    for t in range(1, n):
        y[t] = mean + phi * (y[t - 1] - mean) + rng.normal()
    return y


def seasonal_walk(rng, n, season=4):
    y = np.zeros(n)
    y[:season] = 20 + 5 * np.arange(season)
    for t in range(season, n):
        y[t] = y[t - season] + rng.normal()
    return y


def trend_and_season(rng, n, season=4):
    t = np.arange(n)
    return 5 + 0.3 * t + np.array([3.0, -1.0, 0.5, -2.5])[t % season] + rng.normal(0, 2, n)


# each partner with data its model is right for, and the season it is given
CASES = {"naive": (lambda rng, n: 30 + rng.normal(0, 2, n).cumsum(), 1),
         "seasonal_naive": (seasonal_walk, 4),
         "theta": (local_level, 1),
         "arima": (autoregression, 1),
         "regression": (trend_and_season, 4)}


@pytest.mark.parametrize("method", sorted(CASES))
def test_each_spread_is_the_size_of_its_errors(method):
    # REPLICAS histories of 80 steps and the 8 after: at every step the root mean square of
    # the forecast's errors is its mean spread, within what 300 replicas can tell apart
    make, season = CASES[method]
    rng = np.random.default_rng(0)
    errors, spreads = [], []
    for _ in range(REPLICAS):
        y = make(rng, 88)
        errors.append(y[80:] - PARTNERS[method](y[:80], 8, season))
        spreads.append(PARTNER_SPREADS[method](y[:80], 8, season))
    ratio = np.sqrt(np.mean(np.square(errors), axis=0)) / np.mean(spreads, axis=0)
    assert np.all((0.8 < ratio) & (ratio < 1.25)), ratio.round(2)


def test_the_mean_of_theta_and_arima_takes_the_larger_spread_of_moving_together():
    # its spread is its shares' mean of the two spreads: at least the size of its errors
    rng = np.random.default_rng(1)
    errors, spreads = [], []
    for _ in range(REPLICAS):
        y = 30 + rng.normal(0, 1, 88).cumsum()
        errors.append(y[80:] - PARTNERS["theta_arima"](y[:80], 8, 1))
        spreads.append(PARTNER_SPREADS["theta_arima"](y[:80], 8, 1))
        share = ARIMA_SHARES[_arima(y[:80], 8, 1)[2]]
        np.testing.assert_allclose(spreads[-1], (1 - share) * PARTNER_SPREADS["theta"](
            y[:80], 8, 1) + share * PARTNER_SPREADS["arima"](y[:80], 8, 1), rtol=1e-12)
    ratio = np.sqrt(np.mean(np.square(errors), axis=0)) / np.mean(spreads, axis=0)
    assert np.all((0.75 < ratio) & (ratio < 1.15)), ratio.round(2)


@pytest.mark.parametrize("phi, differences, expected", [
    ([0.6], 0, 0.6 ** np.arange(6)),  # an AR(1): phi^j
    ([], 1, np.ones(6)),  # a random walk: every shock stays
    ([], 2, np.arange(1.0, 7.0)),  # a walk of its slope: j + 1
    ([0.5], 1, (1 - 0.5 ** np.arange(1, 7)) / 0.5),  # the sum of an AR(1)'s weights
    ([0.5, -0.3], 0, None),
])
def test_psi_weights_of_known_models(phi, differences, expected):
    psi = _psi_weights(np.array(phi), differences, 6)
    if expected is None:  # an AR(2): psi_j = 0.5 psi_(j-1) - 0.3 psi_(j-2)
        expected = [1.0, 0.5]
        for _ in range(4):
            expected.append(0.5 * expected[-1] - 0.3 * expected[-2])
    np.testing.assert_allclose(psi, expected, rtol=1e-12)


def test_a_multiplicative_season_scales_the_spread_with_its_index():
    # the Theta method divides a positive series by its seasonal indices: the spread of the
    # peak's steps is the larger by its index
    t = np.arange(96)
    shape = 1 + 0.5 * np.sin(2 * np.pi * t / 12)
    y = 100 * shape * np.exp(np.random.default_rng(2).normal(0, 0.02, t.size))
    spread = PARTNER_SPREADS["theta"](y[:84], 12, 12)
    peak, trough = np.argmax(shape[84:]), np.argmin(shape[84:])
    assert spread[peak] > 2 * spread[trough]


def test_every_partner_has_a_spread_and_it_is_positive_on_noisy_data():
    assert set(PARTNER_SPREADS) == set(PARTNERS)
    y = 40 + np.random.default_rng(3).normal(0, 1, 50).cumsum()
    for method, spread in PARTNER_SPREADS.items():
        sd = spread(y, 7, 4)
        assert sd.shape == (7,) and np.all(np.isfinite(sd) & (sd > 0)), method


def seasonal_months(seed, n=72):
    """Six years of a monthly season whose swing grows with the level, under noise of a known
    size: a series whose networks have too few windows, so that the mean of the Theta
    method's and the ARIMA forecast weighs all; its first calibration origins have under 25
    months, where the Theta method leaves the season out."""
    t = np.arange(n)
    return (100 + t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + \
        np.random.default_rng(seed).normal(0, 3, n)


SHORT = dict(season=12, horizon=12, epochs=3, members=1, hidden_size=4)


def test_a_partner_weighing_all_keeps_its_errors_in_units_of_its_spread(tmp_path, monkeypatch):
    y = seasonal_months(0)
    model, report = train_forecaster(Series(y), level=[80, 95], **SHORT)
    assert model.partner_alone and report["combination"]["method"] == "theta_arima"
    calibration = model.info["calibration"]
    assert calibration["scale"] == report["calibration"]["scale"] == "spread"
    # (the partner's forecasts are out of sample from every origin: nothing to scale)
    assert calibration["in_sample_scale"] == 1.0
    # an interval is the scores' quantile times the spread of its own forecast's history
    forecast = model.forecast(14, level=[80, 95])
    spread = model.partner_spreads(y, [y.size - 1], 14)[0]
    for L in (80, 95):
        lo, hi = forecast["intervals"][L]
        # (one quantile for every step, past the calibrated 12 too: the spread grows)
        expected = spread_quantile(calibration["abs_errors"], L) * spread
        np.testing.assert_allclose(hi - forecast["values"], expected, rtol=1e-12)
        np.testing.assert_allclose(forecast["values"] - lo, expected, rtol=1e-12)
    # a longer, noisier continuation: its own spread, wider intervals
    noisier = np.concatenate([y, y[-24:] + np.random.default_rng(1).normal(0, 30, 24)])
    other = model.forecast(12, series=Series(noisier), level=[95])["intervals"][95.0]
    assert np.all(other[1] - other[0] > 2 * (forecast["intervals"][95][1][:12] -
                                              forecast["intervals"][95][0][:12]))
    # the checkpoint: format 6, which a numbarnn that reads format 5 refuses (it would take
    # the scores for errors: intervals a hundred times too narrow)
    model.save(tmp_path / "m.safetensors")
    assert format_version(tmp_path / "m.safetensors") == str(SPREAD_FORMAT) == "6"
    loaded = Forecaster.load(tmp_path / "m.safetensors")
    for a, b in zip(loaded.forecast(14, level=[95])["intervals"][95.0],
                    forecast["intervals"][95]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="spread"):
        loaded.interval(forecast["values"], 95)  # (without the spread it scales by)
    with pytest.raises(ValueError, match="expected 14 finite values"):
        loaded.interval(forecast["values"], 95, spread=spread[:12])
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 5)
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "m.safetensors")


def test_intervals_in_units_of_the_spread_cover_their_level(monkeypatch):
    # 40 such series, their last year the test: the 80 % and 95 % intervals cover about
    # that share of its 480 points (measured 79.8 and 96.7 %), where the errors themselves
    # (every origin's, the early ones without the season) made intervals 3.9
    # times as wide, covering 99.6 and 100 %
    def run(seeds):
        inside, widths = {80: [], 95: []}, []
        for seed in seeds:
            model, report = train_forecaster(Series(seasonal_months(seed)), level=[80, 95],
                                             **SHORT)
            for L in inside:
                inside[L].append(report["intervals"]["model"][str(L)]["coverage"])
            lo, hi = report["test"]["intervals"]["95"]
            widths.append(np.mean(np.subtract(hi, lo)))
        return {L: np.mean(v) for L, v in inside.items()}, np.mean(widths), \
            model.info["calibration"]["scale"]

    coverage, width, scale = run(range(40))
    assert scale == "spread"
    assert 72 <= coverage[80] <= 88 and 89 <= coverage[95] <= 99, coverage
    monkeypatch.setattr(intervals, "SPREAD_HISTORY", 10 ** 9)  # (no origin has as much)
    plain_coverage, plain_width, plain_scale = run(range(10))
    assert plain_scale == "absolute" and plain_coverage[80] > 95
    assert width < plain_width / 2


@pytest.mark.parametrize("n", [60, 66, 72])
def test_a_wider_level_is_wider_at_every_step(n):
    # 14, 19 and 25 calibration origins, under and over the 19 that a 95 % quantile needs at
    # each step (an 80 % one, 4); one quantile for every step keeps the 80 % interval inside
    # the 95 % one (each step's own where there were enough, pooled elsewhere, had not)
    for seed in range(3):
        model, report = train_forecaster(Series(seasonal_months(seed, n)), level=[80, 95],
                                         **SHORT)
        assert model.info["calibration"]["scale"] == "spread"
        intervals_ = model.forecast(14, level=[80, 95])["intervals"]
        (lo80, hi80), (lo95, hi95) = intervals_[80], intervals_[95]
        assert np.all((lo95 <= lo80) & (hi80 <= hi95))
        (lo80, hi80), (lo95, hi95) = (report["test"]["intervals"][L] for L in ("80", "95"))
        assert np.all((np.array(lo95) <= lo80) & (np.array(hi80) <= hi95))


@pytest.mark.parametrize("start", ["zeros", "counts", "rounded", "almost flat"])
def test_a_stretch_flat_by_chance_keeps_the_errors_as_they_are(start, monkeypatch):
    # a start unlike the rest (zeros or a few counts before a launch, a level rounded to
    # two decimals): the partner's spread from that stretch is float rounding, or next to
    # nothing (0 to 0.0034 of its step's median), and the error of the rise after it in
    # units of that made scores of 1e3 to 1e150 (95 % widths up to 1e154 for a series
    # whose peak is 210); the errors stay absolute.  (Such a start also hides this series'
    # season from the Theta method's test, which would keep them absolute anyway: the
    # test is made to find it, so that the spreads' rule is what decides)
    monkeypatch.setattr(intervals, "seasonal_indices",
                        lambda y, season: (np.ones(season), True))
    y = seasonal_months(0)
    rng = np.random.default_rng(5)
    y[:30] = {"zeros": np.zeros(30), "counts": np.bincount([5, 17, 26], minlength=30),
              "rounded": np.round(5 + rng.normal(0, 0.01, 30), 2),
              "almost flat": 5 + rng.normal(0, 1e-4, 30)}[start]
    model, _ = train_forecaster(Series(y), level=[95], **SHORT)
    assert model.partner_alone and model.info["calibration"]["scale"] == "absolute"
    lo, hi = model.forecast(12, level=[95])["intervals"][95.0]
    assert hi.max() < 3 * y.max() and lo.min() >= 0  # (measured 2.0 to 2.4 times)
    if start in ("rounded", "almost flat"):  # without the rule, in units of the spread
        monkeypatch.setattr(intervals, "SPREAD_SHARE", 0.0)
        model, _ = train_forecaster(Series(y), level=[95], **SHORT)
        assert model.info["calibration"]["scale"] == "spread"
        lo, hi = model.forecast(12, level=[95])["intervals"][95.0]
        assert hi.max() > 100 * y.max()  # (measured 3,300 and 380,000 times)


def test_a_constant_continuation_keeps_a_floor_under_its_spread():
    # its partner expects no error: the spread is taken as at least a fiftieth of the
    # calibration origins' median, not the 1e-14 of float rounding
    model, _ = train_forecaster(Series(seasonal_months(0)), level=[95], **SHORT)
    calibration = model.info["calibration"]
    flat = Series(np.full(72, 150.0))
    forecast = model.forecast(12, series=flat, level=[95])
    lo, hi = forecast["intervals"][95.0]
    np.testing.assert_allclose(hi - forecast["values"], spread_quantile(
        calibration["abs_errors"], 95) * np.array(calibration["spread_floor"]), rtol=1e-12)
    assert np.all(hi - lo > 0.1)
    # a constant history: spreads of 0 but for float rounding
    for method in PARTNER_SPREADS:
        spread = PARTNER_SPREADS[method](np.full(40, 3.7), 6, 4)
        assert np.all(spread <= 1e-8 * 3.7), method


def test_the_theta_spread_does_not_depend_on_the_level():
    # the smoothing's sums of squares at a level of 1e9 had been left to rounding (under
    # noise of 10, one-step spreads of 0, 4 and 11 where 11 is right; here, of 0)
    y = 50 + np.random.default_rng(4).normal(0, 10, 60).cumsum() / 4
    high_forecast = PARTNERS["theta"](y + 1e9, 6, 1)
    np.testing.assert_allclose(PARTNER_SPREADS["theta"](y + 1e9, 6, 1),
                               PARTNER_SPREADS["theta"](y, 6, 1), rtol=1e-5)
    np.testing.assert_allclose(high_forecast - 1e9, PARTNERS["theta"](y, 6, 1), atol=1e-5)


def test_the_report_says_the_intervals_are_in_units_of_the_spread(tmp_path):
    from click.testing import CliRunner

    from numbarnn.forecast.datasets import airline_path
    from numbarnn_cli.main import cli

    lines = open(airline_path()).read().splitlines()
    data = tmp_path / "air60.csv"
    data.write_text("\n".join([lines[0]] + lines[-60:]) + "\n")
    result = CliRunner().invoke(cli, ["train-series", str(data), "--season", "12", "--level",
                                      "80,95", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "intervals on the test (calibrated in units of the statistical forecast's own " \
        "spread):" in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["calibration"]["scale"] == "spread"
