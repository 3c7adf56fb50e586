"""Training a forecaster: the recipe, the choices it makes itself, the ensemble.

The recipe, in order:

1. The series is split chronologically into train / validation / test; the test
   is the last ``test_size`` steps, the validation the ``val_size`` before it.
2. Transforms (log, differencing, seasonal differencing, the winsorizing of a few
   large differences, scaling) are fitted on the training part only and applied to
   the whole series.
3. Windows of ``window`` transformed steps (plus any feature columns) are the
   inputs; the targets are the next ``horizon`` transformed steps (``direct``)
   or the next one (``recursive``, rolled forward at forecast time).
4. An LSTM, GRU or RNN stack reads a window; a linear head maps its last hidden
   state to the outputs.  Adam on the MSE (or MAE) with gradient-norm
   clipping; the weights with the lowest validation loss are kept (early
   stopping).  Several such networks (``members``) are trained from different
   initial weights, two at a time (``fitting``), and their forecasts averaged.
4b. ``ForecastConfig.combine``: where the validation part says so, that average is
   averaged again with a linear member's (a ridge autoregression on the same
   windows, ``combination.choose_linear``), and then with a statistical forecast: the
   Theta method's, a linear trend and seasonal dummies', the naive one, seasonal naive's,
   an ARIMA(p, d, 0)'s or the mean of the Theta method's and the ARIMA forecast
   (``combination.choose_partner``).
5. With ``ForecastConfig.refit``, once the validation part has done its work (the
   choices below, the stopping epochs, the intervals' errors, the fallback's
   verdict), the networks are trained again from the same initial weights on the
   training and validation parts together, each for its best epoch count, so that
   the latest steps before the test shape the forecast too (not where the forecast
   leaves them out).
6. The test forecasts are mapped back to the original scale and scored beside
   the naive and seasonal-naive baselines on exactly the same steps.

Settings left at ``'auto'`` (the window, the season, log and differencing) are
chosen first on the validation part (``_choose``); whether the forecasts stop at 0
(``nonnegative``) on the values before the test (``_resolve_nonnegative``).  Indices are
positions in the original series: the window that ends at step ``t`` (its "origin") uses steps
``t - window + 1 .. t`` and forecasts ``t + 1 .. t + horizon``.  Nothing at or
after ``t + 1`` enters its input.
"""
import math
import time
from dataclasses import asdict, replace

import numpy as np

from ..precompile import compile_for_run
from . import combination, fitting
from .combination import choose_linear, choose_partner, fallback_verdict
from .config import check_levels, level_name, merge_options, resolve_season
from .dates import format_date
from .fitting import fit_network, loss_function, side_by_side
from .intervals import calibration_errors, score_intervals
from .metrics import score_forecasts
from .model import THETA_HISTORY, Forecaster, check_finite, history_info, jsonable
from .selection import testable_season
from .series import Series
from .windows import (FeatureScaler, build_pipeline, differencing_context, make_targets,
                      make_windows, split_series, window_origins)


def train_forecaster(series, config=None, progress=None, device=None, level=None, **options):
    """Train a forecaster on ``series`` and score it on the held-out test.

    Parameters
    ----------
    series : Series, a pandas Series or DataFrame (``frames.from_pandas``), or an array or
        list of values (a series without dates)
    config : ForecastConfig, optional
    progress : numbarnn.progress.Progress, optional
        Receives a live line per epoch.
    device : {'cpu', 'cuda'}, optional
        Overrides ``config.device`` (where the recurrent layers train and score).
    level : sequence of numbers in (0, 100), optional
        Also score the prediction intervals at these levels (percent) on the test:
        ``report['intervals']``; with the 'quantile' loss, levels of
        ``config.quantile_levels`` only.
    **options
        ForecastConfig fields, overriding ``config``'s.

    Returns
    -------
    model : Forecaster
        With the best weights; its stored history is the end of the whole series.
    report : dict
        ``metrics`` of the model and the ``naive`` and ``seasonal_naive`` baselines on the
        test, ``validation`` the same on the validation steps (None when the validation
        is shorter than the horizon), ``test`` (dates, actuals, the forecasts from the
        first test origin and, with ``level``, their intervals), ``training``
        (epochs, losses, seconds, ``windows_per_second``: the final networks' training
        windows a second; ``refit``: ``_refit``'s report, or None, as where the forecast
        leaves the networks out: seasonal naive's, or a statistical one weighing all), the
        same seconds and rate as ``train_seconds`` and ``windows_per_second`` beside
        ``compile_seconds`` (the kernels' compile, which they leave out; 0 from the
        cache), ``season``, ``transforms``, ``config``, ``calibration`` (how the
        intervals' errors were gathered: ``method``, 'split conformal' or, for the
        'quantile' loss, 'conformalized quantiles', and their ``scale``: 'log',
        'absolute', or 'spread' for a statistical partner weighing all on a seasonal
        series: ``intervals.calibration_errors``); with ``level``,
        ``intervals``: the coverage (%) and MSIS of the model's and seasonal naive's
        intervals on the test (``score_intervals``).
    """
    if type(series).__module__.startswith("pandas"):  # (its dates and name kept)
        from .frames import from_pandas

        series = from_pandas(series)
    elif not isinstance(series, Series):  # (an array or a list of values: a plain series)
        series = Series(series)
    config = merge_options(config, options if device is None else {**options, "device": device})
    device = config.device
    levels = check_levels(level)
    if config.loss == "quantile":  # before the work: the model gives its own levels only
        for L in levels:
            config.quantile_bounds(L)
    _check_values(series)
    # (before the compile: a refusal here is the user's to mend at once)
    config, floor = _resolve_nonnegative(config, series)
    compile_seconds = compile_for_run(config.cell, config.dtype, device, progress=progress)
    start = time.perf_counter()
    season = resolve_season(config, series)
    if config.strategy == "recursive" and series.features.shape[1]:
        raise ValueError("strategy 'recursive': feeds its forecasts back as inputs, which needs "
                         "the future feature values; use the 'direct' strategy with features")
    memo = {}  # the statistical partners' forecasts (Forecaster.partner_forecast)
    config, choices = _choose(config, series, season, progress, device, memo)
    model, report = _train(series, config, season, progress, device, levels, memo=memo)
    model.info["nonnegative"] = floor["after"]
    report["choices"] = {**choices, "nonnegative": floor}
    report["training"]["seconds"] = time.perf_counter() - start  # the compile left out
    # (beside each other, as in every run's metrics.json: the seconds and the rate leave
    # the compile out)
    report["train_seconds"] = report["training"]["seconds"]
    report["windows_per_second"] = report["training"]["windows_per_second"]
    report["compile_seconds"] = compile_seconds
    return model, jsonable(report)


# the magnitudes a series' values may have: the statistics of the choices (variances,
# autocorrelations) square them, and beyond these bounds the squares overflow or vanish
MAGNITUDES = (1e-100, 1e100)


def _check_values(series):
    """One clear error for a series with a value that is not finite (``check_finite``), or
    whose size squares cannot hold (see ``MAGNITUDES``)."""
    check_finite(series)
    for name, values in series.columns():
        size = float(np.max(np.abs(values))) if len(values) else 0.0
        if size > MAGNITUDES[1] or 0 < size < MAGNITUDES[0]:
            raise ValueError(f"{name}: values up to {size:.3g} in magnitude; numbarnn takes "
                             f"series between {MAGNITUDES[0]:g} and {MAGNITUDES[1]:g} (their "
                             "squares must stay finite): rescale it by a power of ten")


# the validation part of a long series (over twice ``epoch_windows`` steps) is at least
# this fraction of it (one tenth): more origins for the choices and the intervals than
# twice the horizon gives (on the half-hourly series, 356 instead of 49, and a 3-origin
# test MASE of 0.41 instead of 0.91)
VALIDATION_SHARE = 10


# validation windows that early stopping watches each epoch (see _train)
STOPPING_WINDOWS = 64


# a candidate's network stops after this fraction of the patience without a better
# validation loss
SCOUT_PATIENCE = 4


def _split(config, length, season):
    """``split_series`` for a resolved ``config``: its differencing context included."""
    return split_series(config, length, differencing_context(config, season))


def _fits(config, length, season):
    return _training_windows(config, length, season) > 0


def _training_windows(config, length, season):
    """How many windows the training part of a resolved ``config`` holds (0: too short)."""
    try:
        split = _split(config, length, season)
    except ValueError:
        return 0
    return split.train_end - differencing_context(config, season) - config.window - \
        config.outputs + 1


# metrics.json's ``choices.chosen.by`` where the transforms were chosen without validation
RULE_CHOICE = "rule (no validation part)"


def describe_transforms(candidate):
    """``{'log', 'diff', 'seasonal_diff'}`` in words: 'log + seasonal differences'."""
    parts = [name for name, key in (("log", "log"), ("first differences", "diff"),
                                    ("seasonal differences", "seasonal_diff")) if candidate[key]]
    return " + ".join(parts) or "no transform"


def _resolve_nonnegative(config, series):
    """``config`` with ``nonnegative`` resolved on the values of ``series`` before the test
    (the last ``test_size``, or horizon, steps), and the report's ``nonnegative``:
    {``floor``: whether the forecasts scored (validation, calibration, test) stop at 0,
    ``by``: why, ``after``: whether the forecasts after the series do too (not where the
    test holds a value below 0: the model forecasts from there)}."""
    values = series.values
    negative = np.flatnonzero(values < 0)
    if config.nonnegative is True and negative.size:
        raise ValueError(f"nonnegative: {series.name} holds {float(values[negative[0]])!r} at "
                         f"step {int(negative[0])}, but --nonnegative (nonnegative=True) keeps "
                         "the forecasts at 0 or above; leave it out ('auto') or give "
                         "--no-nonnegative (False) for a series that goes below 0")
    if config.nonnegative != "auto":
        return config, {"floor": config.nonnegative, "by": "setting",
                        "after": config.nonnegative}
    # (decided without the test; the test's values decide only what comes after it)
    before = negative < max(len(values) - (config.test_size or config.horizon), 0)
    floor = not before.any()
    return replace(config, nonnegative=floor), {
        "floor": floor, "by": "no value below 0 before the test" if floor else
        "values below 0 before the test", "after": floor and not negative.size}


def _choose(config, series, season, progress, device, memo=None):
    """``config`` with its automatic settings resolved (``selection``): the window, the
    validation size, and the transforms by rolling-origin validation (``memo``: see
    ``_train``).

    Returns
    -------
    config : ForecastConfig
        With no 'auto' or None left in window, val_size, log, diff, seasonal_diff.
    choices : dict
        What was chosen and why, for the report: ``window``, ``val_size``, ``shortened``
        (for each of them that a short series made shorter: the ``default`` and the
        ``training_windows`` it would have left),
        ``seasonality`` (the test's result), ``log_test`` (Guerrero's power and what it
        decided: ``selection.log_test``), ``level_test`` (the KPSS test, which leaves no
        differencing out where the level wanders; ``differenced``: whether every
        candidate is differenced, and for a wandering level that is not, ``because``),
        ``candidates`` (each with its validation MASE; empty where nothing was compared)
        and ``chosen``.
    """
    from .selection import (level_test, log_test, seasonality_test, transform_candidates,
                            window_candidates)

    H = config.horizon
    automatic_val = config.val_size is None
    shortened = {}  # (why a short series got a shorter window or validation part)
    windows = window_candidates(season) if config.window is None else [config.window]
    # The least validation an automatic part has: one horizon, or none where one horizon
    # leaves the networks no training window at any window.  Such a series (20 yearly
    # values with a horizon of 6: 22 were needed) is then forecast with the Theta and
    # ARIMA mean alone (choose_partner: networks on fewer than FEW_WINDOWS windows and no
    # validation origin), which needs no validation to be chosen; only where the training
    # part then holds a whole horizon after a window (the intervals' calibration origins:
    # the recursive strategy's windows need less) and so few windows.
    def windows_left(**settings):
        """The training windows each of ``windows`` leaves with ``settings``."""
        return [_training_windows(replace(config, window=w, **settings), len(series), season)
                for w in windows]

    least_val = H
    undecided = {k: False for k in ("diff", "seasonal_diff") if getattr(config, k) == "auto"}
    if automatic_val and max(windows_left(val_size=H, **undecided)) == 0:
        direct = {"val_size": 0, "strategy": "direct", **undecided}
        most = max(windows_left(**direct))
        if most == 0:  # (too short even so: the error says how long it must be)
            _split(replace(config, window=windows[-1], **direct), len(series), season)
        if most < combination.FEW_WINDOWS:  # (the one bound choose_partner reads)
            least_val = 0
    if config.window is None:
        # the longest window that leaves the networks as many training windows as the
        # horizon has steps (with the least validation), else the shortest (which fits,
        # or says in its error how long a series must be)
        counts = windows_left(val_size=least_val if automatic_val else config.val_size,
                              log=False, diff=False, seasonal_diff=False)
        enough = [w for w, n in zip(windows, counts) if n >= H]
        fitting = [w for w, n in zip(windows, counts) if n > 0]
        config = replace(config, window=(enough or fitting[-1:] or windows[-1:])[0])
        if config.window != windows[0]:
            shortened["window"] = {"default": windows[0], "training_windows": max(counts[0], 0)}
    if automatic_val:
        wide = 2 * H
        if len(series) > 2 * config.epoch_windows:  # a long series: a longer part
            wide = max(wide, len(series) // VALIDATION_SHARE)
        plain = replace(config, val_size=wide, log=False, diff=False, seasonal_diff=False)
        # The wide part only where the training part keeps at least half a horizon of
        # windows.  Monthly series cut to 60 to 68 steps (the wide part leaves 1 to 9
        # training windows), test MASE with the wide part -> one horizon: noisy sines at 60
        # to 64 steps (1 to 5 windows) 2.1-7.0 -> 0.60-1.36 (seasonal naive 0.69-1.26), the
        # airline's last 60 steps 2.31 -> 0.63; but at 7 to 10 windows one horizon did worse
        # on the real series and the synthetic panel (wineind, elnino, the airline and
        # elec_equip at 68 steps 1.01, 1.02, 0.32, 0.99 -> 1.08, 1.15, 0.38, 1.12), where
        # validation's 13 origins choose the partners better than one.
        kept = _training_windows(plain, len(series), season)
        config = replace(config, val_size=wide if 2 * kept >= H else least_val)
        if config.val_size != wide:
            shortened["val_size"] = {"default": wide, "training_windows": max(kept, 0)}

    # the season and the level are tested on the training and validation parts (they only
    # decide which candidates validation scores; a short training part can hide a season,
    # and a shift of level inside the validation part left only the training part's
    # stationary level to see: README, "The level test on the validation part too")
    test_start = max(len(series) - (config.test_size or H), 0)
    before_test = series.values[:test_start]
    seasonality = seasonality_test(before_test, season)
    # (a model that logs reads every value as an input, the test's too: an automatic log
    # only for a series positive throughout; a 0 in the validation part had been an error)
    positive = bool(np.all(series.values > 0))

    def tests(config):
        """The training part that ``config.val_size`` leaves, its log test, and the level
        test on all the data before the test."""
        train_values = series.values[:max(test_start - config.val_size, 0)]
        variance = log_test(train_values, season)
        logged = variance["log"] is True if config.log == "auto" else config.log
        return train_values, variance, level_test(before_test, logged and positive)

    def candidates(stationary):
        """The transform candidates the tests in effect ask for: all, and those the series
        is long enough for."""
        every = transform_candidates(config, positive, seasonality["seasonal"],
                                     variance["log"], stationary)
        return every, [c for c in every if _fits(replace(config, **c), len(series), season)]

    train_values, variance, level = tests(config)
    every, feasible = candidates(level["stationary"])
    if not feasible and not level["stationary"] and automatic_val and config.val_size > H:
        # a wandering level that a wide validation part leaves too little to difference:
        # one horizon of validation, and the log test again on the longer training part
        # (the level test's answer changes only with the log's)
        config = replace(config, val_size=H)
        train_values, variance, level = tests(config)
        every, feasible = candidates(level["stationary"])
    if not feasible and not level["stationary"]:
        every, feasible = candidates(True)
        level["because"] = "the series is too short to difference"
    level["differenced"] = bool(feasible) and all(c["diff"] or c["seasonal_diff"]
                                                  for c in feasible)
    if not level["stationary"] and not level["differenced"]:
        level.setdefault("because", "the settings fix no differencing")
    if not feasible:  # the series is too short for any: the first one's error says why
        _split(replace(config, **every[0]), len(series), season)
    choices = {"window": config.window, "val_size": config.val_size, "shortened": shortened,
               "seasonality": {"season": season, **seasonality}, "log_test": variance,
               "level_test": level, "candidates": []}
    if len(feasible) == 1 or config.val_size < H:
        # nothing to compare, or no validation to compare on: the rule of thumb
        # (log_test says no for data that are not all positive)
        rule = {"log": variance["log"] is not False,
                "diff": level["differenced"] and not seasonality["seasonal"],
                "seasonal_diff": seasonality["seasonal"]}
        chosen = next((c for c in feasible if all(c[k] == rule[k] for k in rule if
                                                  getattr(config, k) == "auto")), feasible[0])
        choices["chosen"] = {**chosen, "by": "the only candidate" if len(feasible) == 1 else
                             RULE_CHOICE}
        return replace(config, **chosen), choices
    if progress is not None:
        progress.log(f"choosing the transforms on the validation part: {len(feasible)} "
                     f"candidates ({', '.join(describe_transforms(c) for c in feasible)})")

    def scout(k, candidate, progress):
        # one network a candidate, stopped sooner: the ranking shows long before the
        # weights are at their best
        settings = replace(config, members=1, patience=max(5, config.patience // SCOUT_PATIENCE),
                           **candidate)
        score = _train(series, settings, season, progress, device, (),
                       scout=True, memo=memo)[1]["validation"]["model"]["mase"]
        return score if score is not None and math.isfinite(score) else math.inf

    scores = side_by_side(scout, feasible, progress, device)
    choices["candidates"] = [{**c, "validation_mase": v} for c, v in zip(feasible, scores)]
    best = min(zip(scores, range(len(feasible))))[1]  # the first of equal scores
    score, chosen = scores[best], feasible[best]
    choices["chosen"] = {**chosen, "by": "lowest validation MASE"}
    if progress is not None:
        progress.log(f"chose {describe_transforms(chosen)} (validation MASE {score:.3f})")
    return replace(config, **chosen), choices


def _train(series, config, season, progress, device, levels, scout=False, memo=None):
    """Train ``config`` (resolved: no automatic settings left) on ``series`` and score it.

    A ``scout`` (one candidate of ``_choose``) is scored on the validation part only: the
    test is not looked at, and no calibration is kept.  ``memo``: a dict for the
    statistical partners' forecasts (``Forecaster.partner_forecast``), shared by every
    model trained on ``series``.
    """
    values, features = series.values, series.features
    split = _split(config, len(series), season)
    pipeline = build_pipeline(config, values[:split.train_end], season)
    scaler = FeatureScaler.fit(features[:split.train_end]) if features.shape[1] else None
    info = history_info(series, season, pipeline.context + config.window)
    info["nonnegative"] = bool(config.nonnegative)  # (resolved: True or False)
    model = Forecaster(config, pipeline, scaler, info, device=device)
    model.partner_memo = memo

    inputs = model._inputs(values, features)
    z = inputs[:, 0]
    steps = config.outputs
    train_origins = window_origins(0, split.train_end - 1 - steps, config.window, pipeline.context)
    val_origins = window_origins(split.train_end - steps, split.val_end - 1 - steps,
                                 config.window, pipeline.context)
    x_train = make_windows(inputs, train_origins, config.window)
    y_train = model._head_targets(make_targets(z, train_origins, steps))
    x_val = make_windows(inputs, val_origins, config.window)
    y_val = model._head_targets(make_targets(z, val_origins, steps))
    # early stopping checks the loss every epoch on at most this many validation windows,
    # evenly spread: a long validation part would otherwise cost more than the epoch
    watched = np.unique(np.linspace(0, val_origins.size - 1,
                                    min(val_origins.size, STOPPING_WINDOWS)).astype(np.int64))
    label = "candidate  " if scout else "member {}/{}  " if config.members > 1 else ""
    start = time.perf_counter()
    members = side_by_side(
        lambda k, network, progress: fit_network(network, config, x_train, y_train,
                                                 x_val[:, watched], y_val[watched], progress,
                                                 label.format(k + 1, config.members)),
        model.members, progress, device)
    val_loss = loss_function(config)(model._predict(x_val), y_val)[0] if val_origins.size \
        else math.nan
    # (the networks' windows over their wall time: the ensemble's rate on both cores)
    rate = sum(m["windows"] for m in members) / max(time.perf_counter() - start, 1e-9)
    training = {"members": members, "val_loss": val_loss, "windows_per_second": rate,
                "epochs": int(sum(m["epochs"] for m in members)),
                "status": "diverged" if any(m["diverged"] for m in members) else "finished"}
    training.update(train_windows=int(train_origins.size), val_windows=int(val_origins.size),
                    refit=None)

    # the scores on the validation steps (where whole horizons fit): for the choices and the
    # fallback, which must not look at the test
    val_forecast_origins = np.arange(split.train_end - 1, split.val_end - config.horizon)
    validation = val_paths = None
    if val_forecast_origins.size:
        val_paths = model._forecast_paths(values, features, val_forecast_origins,
                                          config.horizon)
        validation = score_forecasts(values, val_forecast_origins,
                                     val_paths[:, val_paths.shape[1] // 2], config.horizon,
                                     season, split.train_end)
    # (a scout too: the candidates are compared as they would forecast)
    linear = combination = None
    if config.combine in ("auto", "linear", "both") and config.loss != "quantile":
        model.fit_linear(x_train, y_train)
        linear, validation, val_paths = choose_linear(model, config, values, features,
                                                      val_forecast_origins, val_paths,
                                                      validation, season, split.train_end)
    if config.combine in ("auto", "theta", "both"):
        # (a season the seasonality test cannot judge, whose seasonal naive forecast every
        # validation origin's history holds: otherwise it would be the naive one)
        untested = not testable_season(split.val_end, season) and \
            2 <= season <= min(split.train_end, THETA_HISTORY)
        combination, validation = choose_partner(model, config, values, val_forecast_origins,
                                                 val_paths, validation, season,
                                                 split.train_end, untested,
                                                 int(train_origins.size))
    if scout:
        return model, {"validation": validation, "training": training}
    fallback = fallback_verdict(config, validation)
    falls_back = fallback is not None and fallback["used"]
    if falls_back:
        model.info["baseline"] = "seasonal_naive"
        for part in (linear, combination):  # seasonal naive's forecasts are not combined
            if part is not None:
                part["weight"] = 0.0
        model.info.pop("combination", None)
        model.info.pop("linear", None)
        model.linear = None
    if model.info.get("combination"):  # (the partner's fits take more of the series)
        model.info.update({key: value for key, value in
                           history_info(series, season, model.kept_history).items()
                           if key != "test"})
    # the errors of what forecasts: seasonal naive's, or the networks' before any refit
    model.info["calibration"] = calibration_errors(model, values, features, split, config,
                                                   pipeline.context)
    # (a statistical forecast that weighs all leaves the networks' point forecast out, and
    # their intervals' errors are the held-out ones anyway: nothing to refit)
    if config.refit and val_origins.size and not falls_back and not model.partner_alone:
        origins = window_origins(0, split.val_end - 1 - steps, config.window, pipeline.context)
        training["refit"] = _refit(model, config, make_windows(inputs, origins, config.window),
                                   model._head_targets(make_targets(z, origins, steps)), members,
                                   progress, device)
    test_origins = np.arange(split.val_end - 1, split.length - config.horizon)
    paths = model._forecast_paths(values, features, test_origins, config.horizon)
    forecasts = paths[:, paths.shape[1] // 2]
    metrics = score_forecasts(values, test_origins, forecasts, config.horizon, season,
                              split.val_end)
    # (the partner's spreads, where the intervals' errors are in their units)
    spreads = model.interval_spreads(values, test_origins, config.horizon) if levels else None
    model.info["test"] = {
        "dates": None if series.dates is None else
        [format_date(d, series.date_format) for d in series.dates[split.val_end:]],
        "actual": values[split.val_end:].tolist(),
        # the forecast from the first test origin, for the plot, with its intervals
        "forecast": forecasts[0].tolist(),
        "intervals": {level_name(L): [b.tolist() for b in model.interval(
            forecasts[0], L, paths[0], spreads[0])] for L in levels},
    }
    calibration = model.info["calibration"] or {"held_out": 0, "in_sample": 0,
                                                "in_sample_scale": 1.0, "scale": None}
    report = {"status": training["status"], "metrics": metrics, "validation": validation,
              "fallback": fallback, "combination": combination, "linear": linear,
              "season": season,
              "calibration": {
                  "method": "conformalized quantiles" if "conformity" in calibration else
                  "split conformal",
                  **{key: calibration[key] for key in ("held_out", "in_sample", "in_sample_scale",
                                                       "scale", "in_sample_shift")
                     if key in calibration}},
              "test_size": split.length -
              split.val_end, "test_origins": int(test_origins.size),
              "test": model.info["test"], "training": training,
              "transforms": pipeline.to_dict(), "config": asdict(config),
              "series": {"source": series.source, "name": series.name, "length": len(series),
                         "frequency": series.frequency, "features": series.feature_names,
                         "inserted_dates": list(series.inserted_dates)}}
    if levels:
        report["intervals"] = score_intervals(
            values, test_origins, config.horizon, season, split.val_end, levels,
            lambda k, L: model.interval(forecasts[k], L, paths[k], spreads[k]))
    model.partner_memo = None  # (its forecasts are of this series only)
    return model, report


def _refit(model, config, x, y, fitted, progress, device):
    """Train ``model``'s networks again from their initial weights on the windows ``x``, ``y``
    of the training and validation parts, each for the epochs of its best validation loss
    (``fitted``: ``fit_network``'s reports), and put them in its place; its linear member, if it
    has one, is fitted again on the same windows.  A network that diverged
    (before, or now) keeps its held-out weights, which are finite.

    Returns
    -------
    dict
        ``windows`` trained on; ``members``: per network ``fit_network``'s report of its second
        training, or None where it was not trained again; ``kept``: the networks (from 0)
        that kept their held-out weights.
    """
    again = [k for k, f in enumerate(fitted) if not f["diverged"]]
    if progress is not None:
        progress.log(f"training the networks again on the training and validation parts "
                     f"({y.shape[0]} windows)")
    label = "refit {}/{}  " if config.members > 1 else "refit  "

    def fit(k, network, progress):
        epochs = max(1, fitted[k]["best_epoch"])
        # no validation part: fit_network keeps the weights of the lowest training loss
        return fit_network(network, replace(config, epochs=epochs, patience=epochs), x, y,
                           x[:, :0], y[:0], progress, label.format(k + 1, config.members))

    if model.linear is not None:  # (closed form: on the same windows)
        model.fit_linear(x, y)
    networks = [model.new_network(k, device) for k in again]
    results = side_by_side(lambda i, network, progress: fit(again[i], network, progress),
                           networks, progress, device)
    reports = [None] * len(fitted)
    for k, network, result in zip(again, networks, results):
        reports[k] = result
        if not result["diverged"]:
            model.members[k] = network
    kept = [k for k, r in enumerate(reports) if r is None or r["diverged"]]
    return {"windows": int(y.shape[0]), "members": reports, "kept": kept}


def diverged_message(report):
    """One line on which networks of a series run diverged, and what was kept."""
    where = [f"network {k + 1} at epoch {m['diverged']['epoch']} (loss {m['diverged']['loss']})"
             for k, m in enumerate(report["training"]["members"]) if m["diverged"]]
    return (f"training diverged: {', '.join(where)}, a loss not finite or above "
            f"{fitting.DIVERGED:g} x its first; each network is kept at its best epoch; "
            "try a lower --lr or --clip")


def __getattr__(name):  # the networks' training and the partners have modules of their own
    from .._moved import moved_name

    return moved_name("forecast.training", name)
