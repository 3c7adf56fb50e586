"""A level shift or an outlier in the training part: the season still found
(``selection.OUTLIER_SPREAD``) and the differenced series the networks learn winsorized
(``ForecastConfig.winsorize``, ``transforms.Winsorize``); a shift inside the validation
part: the level test sees it."""
import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.training import train_forecaster
from numbarnn_cli.main import cli
from test_statistical_partners import format_version, series

SETTINGS = dict(season=12, horizon=6, hidden_size=4, epochs=2, members=1, seed=0, log=False,
                diff=True, seasonal_diff=False, combine="none", nonnegative=False)


def shifted(n=160, at=100, by=30.0, seed=0):
    """A monthly season under noise, its level raised by ``by`` from step ``at``."""
    t = np.arange(n)
    y = 10 + 2 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 0.5, n)
    y[at:] += by
    return y


def names(report):
    return [t["name"] for t in report["transforms"]]


def test_a_shift_in_the_training_part_is_winsorized(tmp_path):
    y = shifted()
    model, report = train_forecaster(series(y), ForecastConfig(**SETTINGS))
    assert names(report) == ["diff", "winsorize", "standard"]
    assert report["choices"]["seasonality"]["seasonal"]
    low, high = report["transforms"][1]["low"], report["transforms"][1]["high"]
    # the shift's difference, alone of the training part's, cut to the bound; the networks
    # read the winsorized differences, scaled
    changes = np.diff(y)
    assert np.sum(changes[:141] > high) == 1 and changes[99] > high  # (training: 142)
    scaler = report["transforms"][2]
    np.testing.assert_allclose(model._inputs(y, np.zeros((y.size, 0)))[1:, 0],
                               (np.clip(changes, low, high) - scaler["mean"]) / scaler["scale"],
                               rtol=1e-12)
    # saved as format 5 (an older numbarnn does not know the step), loaded the same: from a
    # history whose last window holds the shift
    model.save(tmp_path / "m.safetensors")
    assert format_version(tmp_path / "m.safetensors") == "5"
    loaded = Forecaster.load(tmp_path / "m.safetensors")
    assert loaded.pipeline.to_dict() == model.pipeline.to_dict()
    np.testing.assert_array_equal(loaded.forecast(6, series(y[:110]))["values"],
                                  model.forecast(6, series(y[:110]))["values"])
    # winsorize=0: none, and the format the rest needs
    free, report = train_forecaster(series(y), ForecastConfig(winsorize=0, **SETTINGS))
    assert names(report) == ["diff", "standard"]
    free.save(tmp_path / "free.safetensors")
    assert format_version(tmp_path / "free.safetensors") == "1"


def test_a_shift_inside_the_validation_part_asks_for_differences():
    # a level that stays put through the training part and rises inside the validation
    # part: the training part alone would leave the undifferenced candidates in, whose
    # networks forecast the old level; the level test on everything before the test
    # leaves only differenced ones
    from numbarnn.forecast.selection import level_test

    y = shifted(n=150, at=130, by=25.0)
    automatic = {**SETTINGS, "diff": "auto", "seasonal_diff": "auto", "val_size": 24}
    _, report = train_forecaster(series(y), ForecastConfig(**automatic))
    level = report["choices"]["level_test"]
    assert level_test(y[:120], False)["stationary"]  # (the training part: 150 - 6 - 24)
    assert not level["stationary"] and level["differenced"]
    assert level["statistic"] == pytest.approx(level_test(y[:144], False)["statistic"])
    assert report["choices"]["candidates"] and all(
        c["diff"] or c["seasonal_diff"] for c in report["choices"]["candidates"])
    # without the shift: stationary, and the undifferenced candidate is scored
    _, report = train_forecaster(series(shifted(n=150, by=0.0)), ForecastConfig(**automatic))
    assert report["choices"]["level_test"]["stationary"]
    assert any(not (c["diff"] or c["seasonal_diff"]) for c in report["choices"]["candidates"])


def test_a_zero_after_the_training_part_leaves_the_log_out():
    # a growing positive season whose one 0 falls in the validation part (or the test): the
    # model reads those values too, so the automatic log is not a candidate (it had been,
    # from the training part alone, and the log of the 0 an error)
    t = np.arange(150)
    y = np.exp(0.01 * t) * (10 + 3 * np.sin(2 * np.pi * t / 12)) + \
        np.random.default_rng(0).normal(0, 0.3, 150)
    for at in (135, 147):
        y_zero = y.copy()
        y_zero[at] = 0.0
        _, report = train_forecaster(series(y_zero), ForecastConfig(
            season=12, horizon=6, hidden_size=4, epochs=2, members=1, seed=0, val_size=12,
            nonnegative=False))
        assert report["choices"]["candidates"] and \
            not any(c["log"] for c in report["choices"]["candidates"])
        assert names(report)[0] != "log"
    # positive throughout: the log is a candidate
    _, report = train_forecaster(series(y), ForecastConfig(
        season=12, horizon=6, hidden_size=4, epochs=2, members=1, seed=0, val_size=12,
        nonnegative=False))
    assert any(c["log"] for c in report["choices"]["candidates"])


def test_a_seasonal_difference_takes_a_seasons_worth_of_a_shift():
    y = shifted()
    _, report = train_forecaster(series(y), ForecastConfig(
        **{**SETTINGS, "diff": False, "seasonal_diff": True}))
    assert names(report) == ["seasonal_diff", "winsorize", "standard"]
    # the twelve seasonal differences across the shift are the ones cut (at most 2 * 12 + 4)
    changes = (y[12:] - y[:-12])[:142 - 12]
    assert np.sum(changes > report["transforms"][1]["high"]) == 12


def test_an_outlier_is_two_differences_cut():
    y = shifted(by=0.0)
    y[120] += 30
    _, report = train_forecaster(series(y), ForecastConfig(**SETTINGS))
    assert names(report) == ["diff", "winsorize", "standard"]
    low, high = report["transforms"][1]["low"], report["transforms"][1]["high"]
    changes = np.diff(y)[:141]
    assert np.flatnonzero((changes > high) | (changes < low)).tolist() == [119, 120]


@pytest.mark.parametrize("case", ["no shift", "after the training part", "undifferenced",
                                  "a pattern"])
def test_no_winsorizing_where_it_has_nothing_to_do_or_would_cut_the_series(case):
    settings = dict(SETTINGS)
    if case == "no shift":
        y = shifted(by=0.0)
    elif case == "after the training part":  # (the validation part starts at 142)
        y = shifted(at=150)
    elif case == "undifferenced":  # (a shift is then a new level, not one change)
        y, settings["diff"] = shifted(), False
    else:  # a spike every season: a dozen large differences each way, the series' own
        y = shifted(by=0.0)
        y[5::12] += 20
    model, report = train_forecaster(series(y), ForecastConfig(**settings))
    assert "winsorize" not in names(report) and not model.pipeline.winsorizes


def test_bad_setting():
    with pytest.raises(ValueError, match=r"winsorize: got -1, expected a number >= 0 \(0: "
                       r"never\)"):
        ForecastConfig(winsorize=-1)


def test_the_command_says_it_winsorized(tmp_path):
    data = tmp_path / "shifted.csv"
    data.write_text("y\n" + "".join(f"{v:.4f}\n" for v in shifted()))
    result = CliRunner().invoke(cli, [
        "train-series", str(data), "--out", str(tmp_path / "run"), "--season", "12",
        "--horizon", "6", "--hidden", "4", "--epochs", "2", "--members", "1", "--no-log",
        "--diff", "--no-seasonal-diff", "--combine", "none"])
    assert result.exit_code == 0, result.output
    assert "transforms diff -> winsorize -> standard" in result.output
    assert "winsorized: a few training differences beyond 5 robust standard deviations of " \
        "their median (a level shift, an outlier) kept within them for the networks " \
        "(--winsorize 0 to leave them)" in result.output
