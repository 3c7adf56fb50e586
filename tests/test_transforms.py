"""Each transform and its inverse; the pipeline; fitting on the training part only."""
import numpy as np
import pytest

from numbarnn.forecast.transforms import (Difference, Log, MinMaxScaler, Pipeline, StandardScaler,
                                          Winsorize, transform_from_dict)

rng = np.random.default_rng(0)
SERIES = 100 + np.cumsum(rng.uniform(0.5, 2.0, 60)) + 10 * np.sin(np.arange(60))


def test_log_roundtrip_and_refusal():
    log = Log().fit(SERIES)
    assert np.allclose(log.transform(SERIES), np.log(SERIES))
    assert np.allclose(log.inverse(log.transform(SERIES)), SERIES)
    with pytest.raises(ValueError, match=r"transform 'log': needs positive values, got 0.0 at "
                                         r"step 2.*--no-log"):
        Log().fit(np.array([1.0, 2.0, 0.0]))


@pytest.mark.parametrize("lag", [1, 3, 12])
def test_difference_values_and_inverse(lag):
    diff = Difference(lag)
    y = diff.transform(SERIES)
    assert y.shape == (SERIES.size - lag,)
    assert np.allclose(y, SERIES[lag:] - SERIES[:-lag])
    # undo a stretch from the values before it, also a stretch longer than the lag
    cut = 30
    rebuilt = diff.inverse(y[cut - lag:], history=SERIES[:cut])
    assert np.allclose(rebuilt, SERIES[cut:])


def test_difference_names_and_checks():
    assert Difference(1).name == "diff" and Difference(12).name == "seasonal_diff"
    with pytest.raises(ValueError, match="difference lag: got 0"):
        Difference(0)
    with pytest.raises(ValueError, match="needs at least 12 values, got 5"):
        Difference(12).transform(np.ones(5))
    with pytest.raises(ValueError, match="needs the 12 values before the stretch, got 3"):
        Difference(12).inverse(np.ones(2), history=np.ones(3))


def test_scalers_fit_on_what_they_are_given():
    train, later = SERIES[:40], SERIES[40:]
    standard = StandardScaler().fit(train)
    assert standard.mean == pytest.approx(train.mean())
    assert standard.scale == pytest.approx(train.std())
    assert np.allclose(standard.transform(train).mean(), 0)
    # later values are mapped with the training part's parameters, not their own
    assert not np.isclose(standard.transform(later).mean(), 0)
    minmax = MinMaxScaler().fit(train)
    scaled = minmax.transform(train)
    assert scaled.min() == pytest.approx(0) and scaled.max() == pytest.approx(1)
    for scaler in (standard, minmax):
        assert np.allclose(scaler.inverse(scaler.transform(SERIES)), SERIES)


def test_constant_series_scales_to_zero_not_nan():
    for scaler in (StandardScaler(), MinMaxScaler()):
        out = scaler.fit(np.full(5, 3.0)).transform(np.full(5, 3.0))
        assert np.all(np.isfinite(out))


def airline_like_pipeline():
    return Pipeline([Log(), Difference(12), Difference(1), StandardScaler()])


def test_pipeline_roundtrip_from_any_cut():
    pipe = airline_like_pipeline().fit(SERIES[:45])
    assert pipe.context == 13
    z = pipe.transform(SERIES)
    assert z.shape == (SERIES.size - 13,)
    for cut in (13, 20, 47):
        future = z[cut - 13:]  # z[i] belongs to step i + context
        assert np.allclose(pipe.inverse(future, SERIES[:cut]), SERIES[cut:])


def test_pipeline_inverse_needs_its_context():
    pipe = airline_like_pipeline().fit(SERIES)
    with pytest.raises(ValueError, match="needs the last 13 values"):
        pipe.inverse(np.zeros(3), SERIES[:5])


def test_pipeline_serialises():
    pipe = airline_like_pipeline().fit(SERIES[:40])
    specs = pipe.to_dict()
    assert [s["name"] for s in specs] == ["log", "seasonal_diff", "diff", "standard"]
    again = Pipeline.from_dict(specs)
    assert np.array_equal(again.transform(SERIES), pipe.transform(SERIES))
    assert repr(again) == "Pipeline([log, seasonal_diff(12), diff(1), standard])"
    assert Pipeline.from_dict([]).transform(SERIES) is SERIES


def test_winsorize_where_a_few_values_go_beyond_their_robust_spread():
    x = np.random.default_rng(1).normal(0, 1, 200)
    assert Winsorize.fitted(x, 5.0, 6) is None  # (normal noise stays within 5 deviations)
    x[50], x[51] = 30.0, -30.0  # an outlier's two differences
    winsorize = Winsorize.fitted(x, 5.0, 6)
    median = np.median(x)
    reach = 5.0 * 1.4826 * np.median(np.abs(x - median))
    assert (winsorize.low, winsorize.high) == pytest.approx((median - reach, median + reach),
                                                            rel=1e-12)
    kept = winsorize.transform(x)
    assert (kept[50], kept[51]) == (winsorize.high, winsorize.low)
    assert np.array_equal(np.delete(kept, [50, 51]), np.delete(x, [50, 51]))
    # no inverse: a forecast beyond the bounds stays there
    assert np.array_equal(winsorize.inverse(np.array([-40.0, 40.0])), [-40.0, 40.0])
    # more values beyond than ``most``: the series' own pattern, left alone
    assert Winsorize.fitted(x, 5.0, 1) is None
    # mostly equal values (an intermittent series' zeros): nothing to measure a spread by
    assert Winsorize.fitted(np.r_[np.zeros(150), np.arange(1.0, 51.0)], 5.0, 6) is None
    again = transform_from_dict(winsorize.to_dict())
    assert (again.low, again.high) == (winsorize.low, winsorize.high)
    assert Pipeline([winsorize, StandardScaler()]).winsorizes
    assert not Pipeline([StandardScaler()]).winsorizes


@pytest.mark.parametrize("spec, message", [
    ({"name": "boxcox"}, "unknown name 'boxcox'"),
    ({"name": "winsorize", "low": 1.0}, "incomplete parameters"),
    ({"name": "standard", "mean": 1.0}, "incomplete parameters"),
    ({"name": "diff"}, "incomplete parameters"),
    ("log", "expected a dict"),
])
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        transform_from_dict(spec)
