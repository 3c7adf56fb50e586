"""The 'quantile' loss: a head that learns the bounds of its intervals (pinball loss), and
intervals that are those bounds, conformalized on the validation part."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.datasets import load_airline
from numbarnn.forecast.series import Series
from numbarnn.forecast.training import train_forecaster
from numbarnn.losses import mae_loss, mse_loss, pinball_loss, point_and_quantiles_loss
from numbarnn_cli.main import cli
from test_layers import numeric_gradient


def calm_and_wild(n, seed):
    """A monthly sine whose noise is small in the first half of each year, large after."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    sd = np.where(t % 12 < 6, 0.3, 2.0)
    values = 50 + 10 * np.sin(2 * np.pi * t / 12) + sd * rng.standard_normal(n)
    return Series(values, "calm-wild", np.zeros((n, 0)), [], None, None, None, "test")


def head(series, n):
    return Series(series.values[:n], series.name, series.features[:n], [], None, None, None,
                  "test")


def test_pinball_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    quantiles = np.array([0.1, 0.5, 0.9])
    pred, target = rng.standard_normal((4, 3 * 5)), rng.standard_normal((4, 5))
    loss, grad = pinball_loss(pred, target, quantiles)
    numeric = numeric_gradient(lambda: pinball_loss(pred, target, quantiles)[0], pred)
    assert np.abs(numeric - grad).max() < 1e-8
    # the median's pinball loss is half the absolute error
    assert pinball_loss(pred[:, 5:10], target, [0.5])[0] == pytest.approx(
        mae_loss(pred[:, 5:10], target)[0] / 2)


def test_the_heads_loss_is_squared_error_for_the_point_and_pinball_for_the_bounds():
    rng = np.random.default_rng(2)
    quantiles = np.array([0.1, 0.5, 0.9])
    pred, target = rng.standard_normal((4, 3 * 5)), rng.standard_normal((4, 3 * 5))
    loss, grad = point_and_quantiles_loss(pred, target, quantiles)
    expected = (pinball_loss(pred[:, :5], target[:, :5], [0.1])[0] +
                mse_loss(pred[:, 5:10], target[:, 5:10])[0] +
                pinball_loss(pred[:, 10:], target[:, 10:], [0.9])[0]) / 3
    assert loss == pytest.approx(expected, rel=1e-14)
    numeric = numeric_gradient(lambda: point_and_quantiles_loss(pred, target, quantiles)[0],
                               pred)
    assert np.abs(numeric - grad).max() < 1e-8


def test_pinball_loss_is_least_at_the_quantile():
    samples = np.random.default_rng(1).exponential(size=(2001, 1))
    for q in (0.1, 0.5, 0.9):
        at = np.quantile(samples, q)
        losses = [pinball_loss(np.full_like(samples, at + d), samples, [q])[0]
                  for d in (-0.05, 0.0, 0.05)]
        assert losses[1] < losses[0] and losses[1] < losses[2]


def test_the_head_learns_two_bounds_per_level_around_the_median():
    config = ForecastConfig(loss="quantile", quantile_levels=[95, 80])
    assert config.quantile_levels == (80.0, 95.0)
    assert config.quantiles == (0.025, 0.1, 0.5, 0.9, 0.975)
    assert config.quantile_bounds(80) == (1, 3) and config.quantile_bounds(95) == (0, 4)
    assert ForecastConfig().quantiles == (0.5,)  # other losses: the point forecast alone


@pytest.mark.parametrize("settings, match", [
    ({"quantile_levels": ()}, "^quantile_levels: got none"),
    ({"quantile_levels": (0, 80)}, "^quantile_levels: got 0"),
    ({"quantile_levels": (80, 100)}, "^quantile_levels: got 100"),
    ({"quantile_levels": (80, 80)}, "^quantile_levels: got .*each level once"),
    ({"loss": "quantile", "strategy": "recursive"}, "^loss 'quantile': needs the direct"),
])
def test_bad_quantile_settings_are_one_line(settings, match):
    with pytest.raises(ValueError, match=match):
        ForecastConfig(**settings)


def test_quantile_intervals_cover_their_level_and_follow_the_noise():
    """Split-conformal intervals have one width per horizon step; the quantile head's
    bounds are narrow where the noise is small and wide where it is large."""
    full = calm_and_wild(1200, seed=1)
    model, report = train_forecaster(head(full, 800), window=24, horizon=3, val_size=200,
                                     season=12, epochs=200, members=1, seed=0, log=False,
                                     diff=False, seasonal_diff=False, hidden_size=16,
                                     loss="quantile")
    assert set(model.info["calibration"]["conformity"]) == {"80", "95"}
    origins = np.arange(799, 1196)  # every later origin: 397 forecasts, 1191 points
    paths = model._forecast_paths(full.values, full.features, origins, 3)
    assert np.all(np.diff(paths[:, [0, 1, 3, 4]], axis=1) >= 0)  # the bounds never cross
    point = paths[:, 2]  # (the middle block)
    actual = np.stack([full.values[t + 1:t + 4] for t in origins])
    calm = (origins[:, None] + 1 + np.arange(3)) % 12 < 6
    widths, coverage = {}, {}
    for L in (80, 95):
        bands = np.array([model.interval(point[k], L, paths[k]) for k in range(origins.size)])
        assert np.all(bands[:, 0] <= point) and np.all(point <= bands[:, 1])
        coverage[L] = np.mean((bands[:, 0] <= actual) & (actual <= bands[:, 1]))
        width = bands[:, 1] - bands[:, 0]
        widths[L] = width[~calm].mean() / width[calm].mean()
    # measured: coverage 0.83 / 0.97, the wild months' intervals 2.6 / 2.0 times as wide
    # (split-conformal ones: 0.81 / 0.95, the same width in every month)
    assert 0.75 <= coverage[80] <= 0.90 and 0.91 <= coverage[95] <= 0.99
    assert widths[80] > 2 and widths[95] > 1.6


def test_on_first_differences_the_bounds_learn_the_sum_of_the_changes():
    """A random walk's h-step spread grows as sqrt(h); the sum of h one-step quantiles
    would grow as h (measured without the running sums: 8.8 times the first step's width
    at step 9, which conformalizing on 300 origins then mended)."""
    rng = np.random.default_rng(4)
    walk = 100 + np.cumsum(rng.standard_normal(1500))
    full = Series(walk, "walk", np.zeros((1500, 0)), [], None, None, None, "test")
    model, _ = train_forecaster(head(full, 1000), window=12, horizon=9, val_size=300, season=1,
                                epochs=60, members=1, seed=0, log=False, diff=True,
                                seasonal_diff=False, hidden_size=16, loss="quantile")
    assert model.pipeline.integrates
    origins = np.arange(999, 1490)
    paths = model._forecast_paths(full.values, full.features, origins, 9)
    actual = np.stack([full.values[t + 1:t + 10] for t in origins])
    for L, (low, high) in ((80, (1, 3)), (95, (0, 4))):
        learnt = (paths[:, high] - paths[:, low]).mean(axis=0)
        bands = np.array([model.interval(paths[k, 2], L, paths[k])
                          for k in range(origins.size)])
        coverage = np.mean((bands[:, 0] <= actual) & (actual <= bands[:, 1]))
        # measured: 3.04 / 2.78 (sqrt(9) = 3), coverage 0.78 / 0.94
        assert 2.2 <= learnt[8] / learnt[0] <= 3.8, L
        assert abs(coverage - L / 100) < 0.06, L


@pytest.fixture(scope="module")
def airline_quantile_model():
    return train_forecaster(load_airline(), epochs=5, members=1, loss="quantile",
                            quantile_levels=(50, 90), level=[50, 90])


def test_a_quantile_model_gives_its_own_levels_and_survives_the_checkpoint(
        airline_quantile_model, tmp_path):
    model, report = airline_quantile_model
    assert set(report["intervals"]["model"]) == {"50", "90"}
    lo, hi = report["test"]["intervals"]["90"]
    assert len(lo) == 12 and np.all(np.array(lo) <= np.array(hi))
    result = model.forecast(15, level=[50, 90])  # 3 steps past the calibrated horizon
    lo50, hi50 = result["intervals"][50.0]
    lo90, hi90 = result["intervals"][90.0]
    assert np.all(lo90 <= lo50) and np.all(lo50 <= result["values"])
    assert np.all(result["values"] <= hi50) and np.all(hi50 <= hi90)
    with pytest.raises(ValueError, match="^level: got 80, but this model learned the bounds "
                                         "of its 50, 90 % intervals only"):
        model.forecast(level=[80])
    model.save(tmp_path / "q.safetensors")
    loaded = Forecaster.load(tmp_path / "q.safetensors")
    again = loaded.forecast(15, level=[50, 90])
    assert np.array_equal(again["values"], result["values"])
    for L in (50.0, 90.0):
        for a, b in zip(again["intervals"][L], result["intervals"][L]):
            assert np.array_equal(a, b)


def test_a_wider_level_is_never_narrower():
    """Each level's bounds are conformalized on their own scores; a briefly trained head
    gave a 95 % upper bound 2.56 below the 80 % one here before the widths were made to
    grow with the level."""
    model, _ = train_forecaster(calm_and_wild(240, seed=0), epochs=8, members=1, seed=0,
                                loss="quantile")
    result = model.forecast(15, level=[80, 95])
    (lo80, hi80), (lo95, hi95) = result["intervals"][80.0], result["intervals"][95.0]
    assert np.all(lo95 <= lo80) and np.all(lo80 <= result["values"])
    assert np.all(result["values"] <= hi80) and np.all(hi80 <= hi95)


def test_levels_a_quantile_model_cannot_give_are_refused_before_training():
    with pytest.raises(ValueError, match="^level: got 80, but this model learned"):
        train_forecaster(load_airline(), epochs=1_000_000, loss="quantile",
                         quantile_levels=(90,), level=[80])


def test_the_command_trains_a_quantile_head_and_forecasts_its_intervals(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(cli, ["train-series", "--out", str(out), "--epochs", "3",
                                 "--members", "1", "--loss", "quantile",
                                 "--quantile-levels", "80", "--level", "80", "-q"])
    assert result.exit_code == 0, result.output
    assert "coverage 80 %" in result.output
    csv_path = tmp_path / "f.csv"
    result = runner.invoke(cli, ["forecast", str(out), "--level", "80", "--output",
                                 str(csv_path)])
    assert result.exit_code == 0, result.output
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and {"lo-80", "hi-80"} <= set(rows[0])
    assert all(float(r["lo-80"]) <= float(r["hi-80"]) for r in rows)
    result = runner.invoke(cli, ["forecast", str(out), "--level", "95"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "learned the bounds of its 80 % intervals only" in result.output
    result = runner.invoke(cli, ["train-series", "--out", str(tmp_path / "bad"),
                                 "--quantile-levels", "80,100"])
    assert result.exit_code == 2 and "quantile-levels" in result.output
