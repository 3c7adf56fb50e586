"""The forecaster's linear member (``ForecastConfig.combine`` 'linear', 'both', 'auto'): a
ridge autoregression on the networks' windows, averaged with them in the transformed space."""
import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn.forecast import model as model_module
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster, linear_rows
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.windows import make_windows
from numbarnn_cli.main import cli
from test_theta import TINY, monthly, train_tiny_cli


def test_fit_recovers_a_linear_map(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 200, 2))  # (window, windows, inputs)
    weights = rng.standard_normal((11, 3))  # 5 * 2 inputs and the intercept, 3 outputs
    y = linear_rows(x) @ weights
    model, _ = train_forecaster(monthly(), ForecastConfig(combine="none", **TINY))
    monkeypatch.setattr(model_module, "LINEAR_RIDGE", 0.0)
    model.fit_linear(x, y)
    np.testing.assert_allclose(model.linear, weights, rtol=1e-10, atol=1e-12)
    # the rows are each window's steps in order, inputs side by side, then the 1
    np.testing.assert_array_equal(linear_rows(x)[7], np.r_[x[:, 7].ravel(), 1.0])
    monkeypatch.setattr(model_module, "LINEAR_RIDGE", 1e6)  # the penalty shrinks the weights
    model.fit_linear(x, y)
    assert np.abs(model.linear[:-1]).max() < 0.01 * np.abs(weights[:-1]).max()


def test_linear_forecast_is_the_mean_with_the_networks(tmp_path):
    model, report = train_forecaster(monthly(), ForecastConfig(combine="linear", **TINY))
    assert report["linear"]["weight"] == 0.5 and report["combination"] is None
    assert model.linear.shape == (12 + 1, 6)  # window 12, one input column; horizon 6
    inputs = model._inputs(monthly().values, monthly().features)
    x = make_windows(inputs, np.array([50, 70, 95]), 12)
    networks = np.mean([m.predict(x) for m in model.members], axis=0)
    np.testing.assert_allclose(model._predict(x),
                               (networks + linear_rows(x) @ model.linear) / 2, rtol=1e-12)
    # the report's validation scores are those of the averaged forecast
    assert report["validation"]["model"]["mase"] == pytest.approx(
        report["linear"]["validation_mase"]["combined"])
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = Forecaster.load(path)
    np.testing.assert_array_equal(loaded.linear, model.linear)
    np.testing.assert_array_equal(loaded.forecast(6)["values"], model.forecast(6)["values"])


def test_auto_takes_the_member_only_where_validation_says_so():
    for seed in (0, 1, 2):
        model, report = train_forecaster(monthly(seed=seed),
                                         ForecastConfig(combine="auto", **{**TINY, "seed": seed}))
        linear = report["linear"]
        better = linear["validation_mase"]["combined"] < linear["validation_mase"]["networks"]
        assert linear["weight"] == (0.5 if better else 0.0)
        assert (model.linear is not None) == better == ("linear" in model.info)
    _, report = train_forecaster(monthly(), ForecastConfig(combine="theta", **TINY))
    assert report["linear"] is None
    _, report = train_forecaster(monthly(), ForecastConfig(combine="auto", val_size=0, **TINY))
    assert report["linear"]["weight"] == 0.0 and report["linear"]["validation_mase"] is None


def test_both_averages_with_the_member_then_theta():
    model, report = train_forecaster(monthly(), ForecastConfig(combine="both", **TINY))
    assert report["linear"]["weight"] == 0.5 and report["combination"]["weight"] == 0.5
    # Theta's pair of scores starts from the networks averaged with the member
    assert report["combination"]["validation_mase"]["networks"] == pytest.approx(
        report["linear"]["validation_mase"]["combined"])


def test_recursive_and_refit_with_the_member():
    model, _ = train_forecaster(monthly(), ForecastConfig(combine="linear", strategy="recursive",
                                                          **TINY))
    assert model.linear.shape == (13, 1)
    assert np.all(np.isfinite(model.forecast(24)["values"]))
    held_out, _ = train_forecaster(monthly(), ForecastConfig(combine="linear", **TINY))
    refit, report = train_forecaster(monthly(), ForecastConfig(combine="linear", refit=True,
                                                               **TINY))
    assert report["training"]["refit"] is not None
    # refitted on the training and validation windows: other weights than held out
    assert not np.allclose(refit.linear, held_out.linear)


def test_seasonal_naive_fallback_drops_the_member(monkeypatch):
    from numbarnn.forecast import training
    from numbarnn.forecast.metrics import seasonal_naive_forecast

    monkeypatch.setattr(training, "fallback_verdict", lambda config, validation: {
        "better": "seasonal_naive", "model_mase": 2.0, "seasonal_naive_mase": 1.0,
        "used": True})
    model, report = train_forecaster(monthly(), ForecastConfig(combine="both", fallback=True,
                                                                **TINY))
    assert report["linear"]["weight"] == 0.0 and model.linear is None
    np.testing.assert_allclose(model.forecast(6)["values"],
                               seasonal_naive_forecast(monthly().values, 6, 12))


def test_not_with_the_quantile_loss():
    for combine in ("linear", "both"):
        with pytest.raises(ValueError, match=f"combine '{combine}': the linear member"):
            ForecastConfig(combine=combine, loss="quantile")
    _, report = train_forecaster(monthly(), ForecastConfig(combine="auto", loss="quantile",
                                                           **TINY))
    assert report["linear"] is None


def test_a_checkpoint_without_the_members_weights_is_malformed(tmp_path):
    from numbarnn.checkpoints import CheckpointError, load_checkpoint, save_checkpoint

    model, _ = train_forecaster(monthly(), ForecastConfig(combine="linear", **TINY))
    path = tmp_path / "m.safetensors"
    model.save(path)
    tensors, metadata = load_checkpoint(path, "series")
    save_checkpoint(path, {**tensors, "linear.weight": tensors["linear.weight"][:5]}, metadata,
                    "series")
    with pytest.raises(CheckpointError, match=r"linear.weight: got shape \(5, 6\), expected "
                                              r"\(13, 6\)"):
        Forecaster.load(path)
    del tensors["linear.weight"]
    save_checkpoint(path, tensors, metadata, "series")
    with pytest.raises(CheckpointError, match="linear.weight"):
        Forecaster.load(path)


def test_cli_combine_linear(tmp_path):
    output, report = train_tiny_cli(tmp_path / "run", "linear")
    assert "averaged with a linear autoregression on the same windows (validation MASE" \
        in output
    assert report["linear"]["weight"] == 0.5 and report["config"]["combine"] == "linear"
    result = CliRunner().invoke(cli, ["train-series", "--combine", "linear", "--loss",
                                      "quantile", "--out", str(tmp_path / "q")])
    assert result.exit_code != 0 and "the linear member" in result.output
