"""Accuracy measures against hand-computed values, and the two baselines."""
import math

import numpy as np
import pytest

from numbarnn.forecast.metrics import (evaluate, mae, mape, mase, naive_forecast, rmse,
                                       seasonal_naive_forecast, seasonal_scale, smape)

ACTUAL = np.array([100.0, 200.0, 50.0, 80.0])
PREDICTED = np.array([110.0, 180.0, 50.0, 100.0])
# errors 10, -20, 0, 20


def test_hand_computed_values():
    assert mae(ACTUAL, PREDICTED) == pytest.approx(50 / 4)
    assert rmse(ACTUAL, PREDICTED) == pytest.approx(math.sqrt(900 / 4))
    assert mape(ACTUAL, PREDICTED) == pytest.approx(100 * (0.1 + 0.1 + 0 + 0.25) / 4)
    assert smape(ACTUAL, PREDICTED) == pytest.approx(
        100 * (20 / 210 + 40 / 380 + 0 + 40 / 180) / 4)


def test_mase_scales_by_the_in_sample_seasonal_naive_error():
    insample = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 9.0])
    # season 1: mean |diff| = (1 + 2 + 1 + 2 + 4) / 5 = 2; season 2: (3 + 1 + 1 + 6) / 4
    assert seasonal_scale(insample, 1) == pytest.approx(2.0)
    assert seasonal_scale(insample, 2) == pytest.approx(11 / 4)
    assert mase(ACTUAL, PREDICTED, insample, 1) == pytest.approx(12.5 / 2)
    assert mase(ACTUAL, PREDICTED, insample, 2) == pytest.approx(12.5 / (11 / 4))
    # a season longer than the data falls back to 1
    assert seasonal_scale(insample, 12) == pytest.approx(2.0)
    assert math.isnan(mase(ACTUAL, PREDICTED, np.ones(5), 1))


def test_undefined_values_are_nan_not_errors():
    assert math.isnan(mape([0.0, 1.0], [1.0, 1.0]))
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        mae([1.0, 2.0], [1.0])


def test_evaluate_has_every_measure():
    result = evaluate(ACTUAL, PREDICTED, np.arange(10.0), 1)
    assert set(result) == {"mae", "rmse", "mape", "smape", "mase"}
    assert result["mase"] == pytest.approx(12.5)


def test_baselines():
    history = np.arange(1.0, 8.0)  # 1..7
    assert naive_forecast(history, 3).tolist() == [7, 7, 7]
    # season 3: the last season is 5, 6, 7, repeated
    assert seasonal_naive_forecast(history, 7, 3).tolist() == [5, 6, 7, 5, 6, 7, 5]
    assert seasonal_naive_forecast(history, 2, 1).tolist() == [7, 7]
    assert seasonal_naive_forecast(history[:2], 2, 3).tolist() == [2, 2]


def test_airline_seasonal_naive_reference():
    """The issue's reference: seasonal naive on 1960 has MAPE 9.99 % and MASE 1.57."""
    from numbarnn.forecast.datasets import load_airline

    values = load_airline().values
    forecast = seasonal_naive_forecast(values[:-12], 12, 12)
    result = evaluate(values[-12:], forecast, values[:-12], 12)
    assert result["mape"] == pytest.approx(9.99, abs=0.005)
    assert result["mase"] == pytest.approx(1.57, abs=0.005)
