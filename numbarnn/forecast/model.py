"""A trained forecaster: its networks, its transforms, the history it keeps; forecasts
and prediction intervals; one checkpoint file (``save`` / ``load``)."""
import math
from dataclasses import asdict

import numpy as np

from .._checks import check_int
from ..checkpoints import (CheckpointError, join_states, load_checkpoint, part_state,
                           save_checkpoint)
from .config import ForecastConfig, check_levels, level_name
from .intervals import conformal_quantile, error_quantile, spread_quantile
from .metrics import seasonal_naive_forecast
from .dates import format_date, future_dates, parse_date
from .partners import PARTNER_FORMATS, PARTNER_SPREADS, PARTNERS
from .series import Series
from .transforms import Pipeline
from .windows import FeatureScaler, make_windows

CHECKPOINT_KIND = "series"


# steps of the original series kept in the checkpoint, for forecasts and plots without the CSV
_HISTORY_KEPT = 240


class _Network:
    """One member of the ensemble: a recurrent stack and a linear head on its last state."""

    def __init__(self, config, inputs, seed, device="cpu"):
        from ..layers import LAYERS, HostParams, Linear

        dtype = np.dtype(config.dtype)
        rnn_seed, head_seed, self.order_seed = np.random.SeedSequence(seed).generate_state(3)
        cell = LAYERS[config.cell]
        self.rnn = cell(inputs, config.hidden_size, num_layers=config.num_layers,
                        dropout=config.dropout if config.num_layers > 1 else 0.0,
                        dtype=dtype, seed=int(rnn_seed), device=device)
        if device != "cpu":
            self.rnn = HostParams(self.rnn)
        self.head = Linear(config.hidden_size, config.outputs * len(config.quantiles),
                           dtype=dtype, seed=int(head_seed))

    def predict(self, x):
        """Outputs for time-major windows ``x`` (W, n, F): (n, outputs) float64."""
        out, _ = self.rnn.forward(np.ascontiguousarray(x, dtype=self.rnn.dtype), train=False)
        return self.head.forward(out[-1], train=False).astype(np.float64)

    def state_dict(self):
        """``{'rnn.<torch name>': array, ..., 'head.weight', 'head.bias'}``."""
        return join_states([("rnn", self.rnn.state_dict()), ("head", self.head.state_dict())])

    def load_state_dict(self, state):
        self.rnn.load_state_dict(part_state(state, "rnn"))
        self.head.load_state_dict(part_state(state, "head"))


def check_finite(series):
    """One clear error for a value of ``series`` or of its features that is not finite (a
    missing value read as NaN, an inf)."""
    for name, values in series.columns():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(f"{name}: step {bad[0]} holds {float(values[bad[0]])!r} ({bad.size} "
                             f"value{'s' if bad.size > 1 else ''} not finite); numbarnn needs "
                             "finite values: fill the missing ones (read_csv's fill, --fill) "
                             "or fix the others first")


class Forecaster:
    """A trained recurrent forecaster: networks, transforms, and the end of its history.

    The forecast is the mean of ``config.members`` networks trained alike from
    different initial weights (an ensemble: it evens out the seed-to-seed spread
    that a series of a hundred-odd steps leaves).  Build one with
    ``train_forecaster`` or ``Forecaster.load``.  ``forecast(n)`` continues the
    series it was trained on; ``forecast(n, series)`` continues another (or a
    longer) one with the same columns.  ``device`` is where the networks run (a
    loaded forecaster runs on the CPU).
    """

    def __init__(self, config, pipeline, feature_scaler, info, network=None, device="cpu"):
        self.config = config
        self.pipeline = pipeline
        self.feature_scaler = feature_scaler
        self.info = info  # target name, feature names, season, dates tail, history tail, test
        self._seeds = np.random.SeedSequence(config.seed).generate_state(config.members)
        self.members = [self.new_network(k, device) for k in range(config.members)]
        self.linear = None  # the linear member's (window * inputs + 1, outputs) weights
        self.partner_memo = None  # (see partner_forecast)
        if network is not None:
            self.load_network(network)

    def new_network(self, k, device="cpu"):
        """Member ``k`` of the ensemble at its initial weights (its seed's)."""
        return _Network(self.config, 1 + len(self.info["feature_names"]), int(self._seeds[k]),
                        device)

    # -------------------------------------------------------------- network
    def network_state(self):
        """All weights, as ``{'member<k>.rnn.<torch name>': array, 'member<k>.head.weight', ...}``,
        and ``'linear.weight'`` for a model with a linear member."""
        state = join_states((f"member{k}", member.state_dict())
                            for k, member in enumerate(self.members))
        if self.linear is not None:
            state["linear.weight"] = self.linear
        return state

    def load_network(self, state):
        """Load ``network_state()``'s arrays; the names must be exactly this ensemble's."""
        state = dict(state)
        if self.info.get("linear"):
            if "linear.weight" not in state:
                raise ValueError("weights: missing ['linear.weight'] (the linear member)")
            weight = np.asarray(state.pop("linear.weight"), np.float64)
            shape = (self.config.window * (1 + len(self.info["feature_names"])) + 1,
                     self.config.outputs)
            if weight.shape != shape:
                raise ValueError(f"linear.weight: got shape {weight.shape}, expected {shape}")
            self.linear = weight
        expected = set(self.network_state()) - {"linear.weight"}
        if set(state) != expected:
            raise ValueError(f"weights: missing {sorted(expected - set(state))}, unexpected "
                             f"{sorted(set(state) - expected)}")
        for k, member in enumerate(self.members):
            member.load_state_dict(part_state(state, f"member{k}"))

    def _predict(self, x):
        """Transformed-space outputs for time-major windows ``x`` (W, n, F): the networks'
        mean, averaged with the linear member's outputs where the model has one
        (``ForecastConfig.combine``)."""
        networks = np.mean([member.predict(x) for member in self.members], axis=0)
        weight = (self.info.get("linear") or {}).get("weight", 0.0)
        if not weight:
            return networks
        return (1.0 - weight) * networks + weight * (linear_rows(x) @ self.linear)

    def fit_linear(self, x, y):
        """Fit the linear member on windows ``x`` (W, n, F) and their head targets ``y`` (n,
        outputs): ridge regression with an unpenalised intercept (a penalty of
        ``LINEAR_RIDGE`` times the number of windows on the weights of the standardised
        inputs), one output at a time, as the direct strategy's head."""
        rows = linear_rows(x)
        penalty = LINEAR_RIDGE * rows.shape[0] * np.eye(rows.shape[1])
        penalty[-1, -1] = 0.0  # (not the intercept)
        self.linear = np.linalg.solve(rows.T @ rows + penalty, rows.T @ y)

    def _head_targets(self, y):
        """What the head learns for windows whose next ``outputs`` transformed steps are
        ``y`` (n, outputs): ``y`` itself for a point head; for a quantile head one block
        for each of ``config.quantiles``: ``y`` for the point forecast and, for the bounds,
        its running sums along the steps where the pipeline takes first differences (a
        level is then the last one plus the sum of the changes, and the quantile of a sum
        is not the sum of the steps' quantiles: the bounds learn the sums, and ``_roll``
        takes them back to steps), else ``y``."""
        Q = len(self.config.quantiles)
        if Q == 1:
            return y
        bound = np.cumsum(y, axis=1) / self._sum_scale(y.shape[1]) if self.pipeline.integrates \
            else y
        return np.concatenate([y if q == Q // 2 else bound for q in range(Q)], axis=1)

    @staticmethod
    def _sum_scale(steps):
        """sqrt(h) for h = 1 .. steps: the running sums of h standardised changes are
        learnt divided by it, so that every step's bound has about the same spread (as
        the point forecast's steps have)."""
        return np.sqrt(np.arange(1, steps + 1))

    def _inputs(self, values, features):
        """The network's input columns for a stretch of the original series: (N, 1 + F), with
        NaN in the first ``context`` rows, which differencing consumes."""
        z = np.full(values.size, np.nan)
        z[self.pipeline.context:] = self.pipeline.transform(values)
        columns = [z[:, None]]
        if features.shape[1]:
            columns.append(self.feature_scaler.transform(features))
        return np.concatenate(columns, axis=1)

    def _roll(self, inputs, origins, steps):
        """Forecast ``steps`` transformed values after each origin, for each of the head's
        blocks (``config.quantiles``): (n, Q, steps), the point forecast in the middle and
        each step's quantiles around it in ascending order (learnt quantiles may cross;
        sorting them is the monotone rearrangement of Chernozhukov et al. 2010, which can
        only bring them closer to the truth).

        ``direct`` with ``steps`` <= horizon is one pass; otherwise (``recursive``, or a
        direct model asked for more than its horizon) the point forecasts are fed back
        as inputs, ``outputs`` steps at a time -- which needs no features, whose future is
        unknown.
        """
        window, chunk = self.config.window, self.config.outputs
        Q = len(self.config.quantiles)
        x = make_windows(inputs, origins, window)
        if steps > chunk and inputs.shape[1] > 1:
            raise ValueError(f"horizon {steps}: beyond the model's {chunk} step(s) the forecasts "
                             "are fed back as inputs, which needs the future feature values; "
                             f"forecast at most {chunk} steps with features")
        bounds = [q for q in range(Q) if q != Q // 2]
        done = []
        while sum(p.shape[2] for p in done) < steps:
            if done:
                x = np.concatenate([x, done[-1][:, Q // 2].T[:, :, None]], axis=0)[-window:]
            block = self._predict(x).reshape(x.shape[1], Q, chunk)
            block[:, bounds] = np.sort(block[:, bounds], axis=1)
            if self.pipeline.integrates:  # the bounds' running sums back to steps
                block[:, bounds] = np.diff(block[:, bounds] * self._sum_scale(chunk), axis=2,
                                           prepend=0.0)
            done.append(block)
        return np.concatenate(done, axis=2)[:, :, :steps]

    def _forecast_paths(self, values, features, origins, steps):
        """Forecasts in the original scale after each origin, for each block of the head:
        (n, Q, steps), the point forecast in the middle and the learnt quantiles around it
        (``_roll``); seasonal naive's alone (Q = 1) where the model fell back to it
        (``ForecastConfig.fallback``); at 0 or above for a ``nonnegative`` model."""
        inputs = self._inputs(values, features)  # (also checks what the transforms need)
        if self.info.get("baseline") == "seasonal_naive":
            return self._floor(np.stack([
                seasonal_naive_forecast(values[:t + 1], steps, self.info["season"])
                for t in origins])[:, None])
        transformed = self._roll(inputs, origins, steps)
        # the inverse transforms keep each step's order (the log is monotone, differencing
        # adds the same history to every row): the quantiles stay sorted
        paths = np.stack([[self.pipeline.inverse(row, values[:t + 1]) for row in rows]
                          for rows, t in zip(transformed, origins)])
        paths = self._floor(paths)  # (as validation scores them before combining)
        combination = self.info.get("combination") or {}
        weight = combination.get("weight", 0.0)
        return self.combined(paths, values, origins, weight,
                             combination.get("method", "theta")) if weight else paths

    @property
    def partner_alone(self):
        """Whether a statistical partner weighs all: the networks' point forecast is left
        out (``info['combination']``)."""
        return (self.info.get("combination") or {}).get("weight") == 1.0

    @property
    def nonnegative(self):
        """Whether the model keeps its forecasts and intervals at 0 or above
        (``ForecastConfig.nonnegative``; a model saved before it: no).  Not
        ``config.nonnegative`` where the test went below 0: that scored the test floored,
        this is for the forecasts after the series."""
        return bool(self.info.get("nonnegative"))

    def _floor(self, forecasts):
        """``forecasts`` (or interval bounds) kept at 0 or above where the model is
        ``nonnegative``."""
        return np.maximum(forecasts, 0.0) if self.nonnegative else forecasts

    def combined(self, paths, values, origins, weight, method="theta"):
        """``paths`` (n, Q, steps) moved towards a statistical forecast from each origin by
        ``weight`` (``ForecastConfig.combine``): its point forecast becomes ``(1 - weight)
        point + weight partner`` and every quantile moves with it; for a model that logs
        the series, the same in the log (the partner's forecast of the logged series).
        The partner is ``PARTNERS[method]`` (the Theta method, the linear trend and
        seasonal dummies, the naive or the seasonal naive forecast, the ARIMA forecast or
        the mean of Theta's and ARIMA's), fitted on the last
        ``THETA_HISTORY`` steps before each origin at most."""
        logs = self.pipeline.logs  # (then the model's data passed the log: positive)
        forecasts = np.stack([self.partner_forecast(method, values, t, paths.shape[2])
                              for t in origins])
        point = paths[:, paths.shape[1] // 2]
        shift = weight * (forecasts - (np.log(point) if logs else point))
        return paths * np.exp(shift)[:, None] if logs else self._floor(paths + shift[:, None])

    def partner_forecast(self, method, values, t, steps):
        """``PARTNERS[method]``'s forecast of the ``steps`` after ``values[t]``, of the logged
        values for a model that logs, fitted on the last ``THETA_HISTORY`` steps at most.

        Kept in ``self.partner_memo`` where that is a dict: training gives one to every
        model it trains on a series (they all forecast from the same validation origins:
        on the half-hourly series each partner was fitted 1,424 times, 356 of them
        distinct), and drops it from the model it returns."""
        key = (method, self.pipeline.logs, t, steps)
        memo = self.partner_memo
        if memo is not None and key in memo:
            return memo[key]
        history = partner_history(values, t)
        forecast = PARTNERS[method](np.log(history) if self.pipeline.logs else history, steps,
                                    self.info["season"])
        if memo is not None:
            memo[key] = forecast
        return forecast

    def partner_spreads(self, values, origins, steps):
        """Per origin, the standard deviations of the errors of the model's statistical
        partner at each of the ``steps`` after it, as the partner's own model has them
        (``PARTNER_SPREADS``), fitted on the last ``THETA_HISTORY`` steps at most of the
        series' own values: (n, steps).  Also for a model that logs the series: its
        intervals with a partner weighing all are on the series' own scale
        (``intervals.calibration_errors``), and the spreads of a log fitted to a short,
        cycling history (lynx) swing by an order of magnitude more than its values do."""
        method = self.info["combination"]["method"]
        return np.stack([PARTNER_SPREADS[method](partner_history(values, t), steps,
                                                 self.info["season"]) for t in origins])

    def interval_spreads(self, values, origins, steps):
        """Per origin, what the intervals' calibration errors are in units of (``interval``'s
        ``spread``): ``partner_spreads`` where they are 'spread' (a statistical partner
        weighs all: ``intervals.calibration_errors``), else a None per origin."""
        if (self.info.get("calibration") or {}).get("scale") != "spread":
            return [None] * len(origins)
        return self.partner_spreads(values, origins, steps)

    def _forecast_values(self, values, features, origins, steps):
        """The point forecasts in the original scale after each origin: (n, steps)."""
        paths = self._forecast_paths(values, features, origins, steps)
        return paths[:, paths.shape[1] // 2]

    # -------------------------------------------------------------- forecasting
    @property
    def kept_history(self):
        """Steps of the series the model keeps (``info['history']``), at least: what a
        forecast needs, and for a model combined with a statistical partner what its fits
        take (``THETA_HISTORY``), so that its own forecasts are those that were scored."""
        if self.info.get("combination"):
            return max(self.min_history, THETA_HISTORY)
        return self.min_history

    @property
    def min_history(self):
        """Steps of history a forecast needs: the differencing context plus the window."""
        return self.pipeline.context + self.config.window

    def forecast(self, horizon=None, series=None, level=None):
        """Forecast ``horizon`` steps after the end of ``series`` (default: the stored history).

        Parameters
        ----------
        horizon : int, optional
            Default: the model's horizon.  More steps than that feed forecasts back as
            inputs (not possible with features).
        series : Series, optional
            Continue this series instead of the training data; it needs the model's
            feature columns and at least ``min_history`` steps.
        level : sequence of numbers in (0, 100), optional
            Prediction intervals to give, in percent (statsforecast's ``level``):
            conformal, from the errors of the model's rolling-origin forecasts kept at
            training (see ``interval``), per horizon step; a model trained with the
            'quantile' loss gives the levels it learned (``config.quantile_levels``).

        Returns
        -------
        dict
            ``values`` (horizon,) float64 array; ``dates``: list of str, or None where the
            dates are unknown; ``steps``: without dates, the steps' numbers where the
            series numbered its own (``Series.first_step``), else None;
            ``history`` / ``history_dates``: the data continued; ``intervals``:
            {level: (lo, hi)} arrays (empty without ``level``).
        """
        horizon = self.config.horizon if horizon is None else horizon
        check_int("horizon", horizon, 1)
        if horizon > MAX_FORECAST_STEPS:
            raise ValueError(f"horizon: got {horizon}, expected at most {MAX_FORECAST_STEPS:,} "
                             "steps (past the model's own horizon each step feeds forecasts "
                             "back in)")
        levels = check_levels(level)
        if series is None:
            series = self.history_series()
        else:
            self._check_series(series)
        if len(series) < self.min_history:
            raise ValueError(f"the series has {len(series)} rows; forecasting needs at least "
                             f"{self.min_history} (differencing {self.pipeline.context} + "
                             f"window {self.config.window})")
        for L in levels:  # before the work: a quantile model gives its own levels only
            self._check_level(L)
        dates = None
        if series.dates is not None:
            try:
                future = future_dates(series.dates, series.frequency, horizon)
            except (OverflowError, ValueError):
                raise ValueError(f"horizon: got {horizon}, which runs the dates past the year "
                                 "9999") from None
            if future is not None:
                dates = [format_date(d, series.date_format) for d in future]
        end = np.array([len(series) - 1])
        paths = self._forecast_paths(series.values, series.features, end, horizon)[0]
        values = paths[paths.shape[0] // 2]
        spread = self.interval_spreads(series.values, end, horizon)[0] if levels else None
        history_dates = None if series.dates is None else \
            [format_date(d, series.date_format) for d in series.dates]
        steps = None
        if series.dates is None and series.first_step is not None:
            after = series.first_step + len(series)
            steps = list(range(after, after + horizon))
        return {"values": values, "dates": dates, "steps": steps, "history": series.values,
                "history_dates": history_dates,
                "intervals": {L: self.interval(values, L, paths, spread) for L in levels}}

    def interval(self, values, level, paths=None, spread=None):
        """``(lo, hi)`` around forecast ``values`` at ``level`` percent, per horizon step.

        Split conformal (the 'mse' and 'mae' losses): ``values`` -+ the conformal quantile
        of the calibration errors at each step (``intervals.error_quantile``: normal
        beyond the largest error where there are too few errors for the level).  A
        model that logs the series keeps its errors as log ratios (``calibration['scale']``
        'log'; not where a partner weighs all: ``intervals.calibration_errors``), so that
        its intervals, ``values * exp(-+width)``, grow with the level as its errors do.

        Conformalized quantiles (the 'quantile' loss; Romano, Patterson & Candes 2019):
        the learnt bounds of the level's central interval, taken from ``paths`` (this
        forecast's ``(Q, steps)`` row of ``_forecast_paths``), each moved out (or in) by
        the conformal quantile at ``(100 + level) / 2`` of its own side's calibration
        scores (the two sides together miss at most ``100 - level`` %), never past the
        point forecast nor inside a narrower learnt level's interval.

        Where a statistical partner weighs all, the errors may be in units of its own model's
        standard deviations (``calibration['scale']`` 'spread'; ``interval_spreads``):
        ``values`` -+ their quantile (``intervals.spread_quantile``: one for every step)
        times this forecast's ``spread``, (steps,), so that the interval follows what the
        partner's model says of this history while the calibration says how far to trust
        it; the spread is taken as at least ``calibration['spread_floor']`` (a fiftieth of
        the calibration origins' median: a constant history's partner expects no error).

        Past the calibrated horizon H there is nothing calibrated: step h > H takes the
        distances from the point forecast at step H, grown by ``sqrt(h / H)``, as a
        random walk's spread grows (on the 'spread' scale, the partner's own spread does).
        A ``nonnegative`` model's bounds stop at 0.
        """
        calibration = self.info.get("calibration")
        if calibration is None and "calibration" in self.info:
            raise ValueError("level: this model has no calibration errors: its training data "
                             "left no forecast origin with a whole window and horizon before "
                             "the test; give it a longer series, a shorter --window, or a "
                             "validation part (--val-size), to get intervals")
        if calibration is None:
            raise ValueError("level: this model was saved without calibration errors (by "
                             "an older numbarnn); train it again to get intervals")
        logged = calibration.get("scale") == "log"  # (checkpoints before it: absolute)
        values = np.asarray(values, np.float64)
        if calibration.get("scale") == "spread":
            if spread is None:
                raise ValueError("spread: this model's interval needs its partner's spread "
                                 "(a row of interval_spreads)")
            spread = np.asarray(spread, np.float64)
            if spread.shape != values.shape or not np.all(np.isfinite(spread)):
                raise ValueError(f"spread: expected {values.size} finite values (one a step), "
                                 f"got {spread.size}" + ("" if np.all(np.isfinite(spread))
                                                         else ", not all finite"))
            floor = calibration.get("spread_floor")
            if floor is not None:  # (each step's, and past H the last one's)
                floor = np.asarray(floor, np.float64)
                spread = np.maximum(spread, floor[np.minimum(np.arange(values.size),
                                                             floor.size - 1)])
            width = spread_quantile(calibration["abs_errors"], level) * spread
            return self._floor(values - width), self._floor(values + width)
        conformity = calibration.get("conformity")
        # the distances from the point forecast down and up (log ratios on the 'log' scale)
        if conformity is None:
            below = above = error_quantile(calibration["abs_errors"], level)
        else:
            self._check_level(level)
            if paths is None:
                raise ValueError("paths: a quantile model's interval needs the forecast's "
                                 "quantiles (a row of _forecast_paths)")
            # each learnt level up to this one, the widest distances of them: each level
            # is conformalized on its own, and a wider level must not come out narrower
            below = above = 0.0
            for L in self.config.quantile_levels[:self.config.quantile_levels.index(
                    float(level)) + 1]:
                scores = conformity[level_name(L)]
                lower = conformal_quantile(scores["lower"], (100.0 + L) / 2.0)
                upper = conformal_quantile(scores["upper"], (100.0 + L) / 2.0)
                low, high = self.config.quantile_bounds(L)
                near = values[:lower.size]
                lo, hi = paths[low, :near.size], paths[high, :near.size]
                down, up = (np.log(near / lo), np.log(hi / near)) if logged else \
                    (near - lo, hi - near)
                below = np.maximum(below, down + lower[:near.size])
                above = np.maximum(above, up + upper[:near.size])
        below, above = below[:values.size], above[:values.size]
        if values.size > below.size:  # the last calibrated distances, grown
            grow = np.sqrt(np.arange(below.size + 1, values.size + 1) / below.size)
            below = np.concatenate([below, below[-1] * grow])
            above = np.concatenate([above, above[-1] * grow])
        if logged:
            return values * np.exp(-below), values * np.exp(above)
        return self._floor(values - below), self._floor(values + above)

    def _check_level(self, level):
        """A quantile model gives intervals at the levels it learned only."""
        if "conformity" in (self.info.get("calibration") or {}):
            self.config.quantile_bounds(level)

    def _check_series(self, series):
        check_finite(series)
        if list(series.feature_names) != list(self.info["feature_names"]):
            raise ValueError(f"features: the model was trained with {self.info['feature_names']}, "
                             f"the data has {series.feature_names}")
        values = series.values
        refused = None  # (the first value this model cannot continue, and why)
        if self.pipeline.logs and not np.all(values > 0):
            bad = int(np.argmax(~(values > 0)))
            settings = "--no-log --no-nonnegative (log=False, nonnegative=False)" \
                if self.nonnegative and values[bad] < 0 else "--no-log (log=False)"
            refused = bad, "forecasts the log of the series (positive values only)", settings
        elif self.nonnegative and np.any(values < 0):
            refused = (int(np.argmax(values < 0)), "keeps its forecasts at 0 or above (its "
                       "training data never went below 0)", "--no-nonnegative (nonnegative=False)")
        if refused is not None:
            bad, why, settings = refused
            raise ValueError(f"{series.name}: step {bad} holds {float(values[bad])!r}, but this "
                             f"model {why}; train one with {settings} for such data")

    def history_series(self):
        """The end of the training data kept in the model, as a Series."""
        info = self.info
        dates = None
        if info["dates"] is not None:
            dates = [parse_date(d)[0] for d in info["dates"]]
        return Series(np.asarray(info["history"]), info["name"],
                      np.asarray(info["history_features"], dtype=np.float64).reshape(
                          len(info["history"]), len(info["feature_names"])),
                      list(info["feature_names"]), dates, info["date_format"],
                      info["frequency"], "checkpoint", first_step=info.get("first_step"))

    # -------------------------------------------------------------- saving
    def save(self, path):
        """Write the model to one ``safetensors`` checkpoint (atomically)."""
        metadata = {"config": asdict(self.config), "transforms": self.pipeline.to_dict(),
                    "features": None if self.feature_scaler is None else
                    {"mean": self.feature_scaler.mean.tolist(),
                     "scale": self.feature_scaler.scale.tolist()},
                    "info": jsonable(self.info)}
        # (an older numbarnn would combine with Theta instead of a partner it does not know,
        # or forecast below 0)
        method = (self.info.get("combination") or {}).get("method", "theta")
        # (a model that logs the series forecasts above 0 anyway: its floor needs no new
        # format, unless its intervals' errors are absolute, intervals.calibration_errors)
        scale = (self.info.get("calibration") or {}).get("scale")
        floored = self.nonnegative and (scale in ("absolute", "spread") or not self.pipeline.logs)
        version = max(PARTNER_FORMATS[method],
                      FLOOR_OR_WINSORIZE_FORMAT if floored or self.pipeline.winsorizes else 1,
                      SPREAD_FORMAT if scale == "spread" else 1)
        save_checkpoint(path, self.network_state(), metadata, CHECKPOINT_KIND, version=version)

    @classmethod
    def load(cls, path):
        """Read a checkpoint written by ``save``.

        Raises
        ------
        CheckpointError (a ValueError)
            If the file is missing, malformed or not a series checkpoint.
        """
        tensors, metadata = load_checkpoint(path, CHECKPOINT_KIND)
        try:
            config = ForecastConfig.from_stored(metadata["config"])
            pipeline = Pipeline.from_dict(metadata["transforms"])
            features = metadata["features"]
            scaler = None if features is None else \
                FeatureScaler(features["mean"], features["scale"])
            info = metadata["info"]
            for key in ("name", "feature_names", "history", "history_features", "dates",
                        "date_format", "frequency", "season"):
                info[key]  # noqa: B018 -- a KeyError here means a malformed checkpoint
            combination = info.get("combination") or {}
            if not isinstance(combination, dict):
                raise ValueError(f"combination: got {combination!r}, expected an object")
            method = combination.get("method", "theta")
            if method not in PARTNERS:
                raise ValueError(f"combination: unknown method {method!r}, expected one of "
                                 f"{sorted(PARTNERS)}")
            return cls(config, pipeline, scaler, info, network=tensors)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed series checkpoint ({e})") from None


# the ridge penalty of the linear member, per window: with the default standard scaling
# (of the series and of any features) each input's sum of squares is about the number of
# windows n, and a penalty of 0.1 n on every weight pulls the forecast towards no change in
# the transformed space (the last value, or the last season, after differencing).
# Measured on the evaluation suite, three seeds (README): 0.1 n did better on the real
# series than 1 (absolute, about 0.003 n to 0.01 n here), 1 n, or the best of 1e-4 n to 1 n by
# leave-one-out error
LINEAR_RIDGE = 0.1


def linear_rows(x):
    """Time-major windows ``x`` (W, n, F) as the linear member's rows: (n, W * F + 1), each
    window's values and a 1 for the intercept."""
    W, n, F = x.shape
    rows = np.ones((n, W * F + 1))
    rows[:, :-1] = np.transpose(x, (1, 0, 2)).reshape(n, W * F)
    return rows


# the longest forecast a model makes: a guard against a typo's hours of work
MAX_FORECAST_STEPS = 100_000
# Steps before an origin that the statistical partner of a combined forecast (the Theta
# method, the regression, the naive forecasts, the ARIMA) is fitted on, at most: each Theta
# fit costs about 60 passes over its data, and a long series' validation and calibration have an
# origin for every step of their tenth of it, so that fitting on all of the data would cost
# the square of the length
THETA_HISTORY = 2048
# the format a checkpoint that keeps its forecasts at 0 or above, or winsorizes the
# differenced series (``transforms.Winsorize``), needs
FLOOR_OR_WINSORIZE_FORMAT = 5
# the format a checkpoint whose intervals' errors are in units of its partner's spread
# ('spread': an older numbarnn would take them for the errors themselves) needs
SPREAD_FORMAT = 6


def partner_history(values, t):
    """The history a statistical partner is fitted on from origin ``t``: the last
    ``THETA_HISTORY`` steps up to it at most."""
    return values[max(0, t + 1 - THETA_HISTORY):t + 1]


def jsonable(value):
    """``value`` with NumPy arrays and scalars as lists and floats, NaN as None."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def history_info(series, season, needed):
    """What the model keeps of the data: the end of the series, its dates and columns."""
    kept = min(len(series), max(needed, _HISTORY_KEPT))
    dates = None if series.dates is None else \
        [format_date(d, series.date_format) for d in series.dates[-kept:]]
    return {"name": series.name, "feature_names": list(series.feature_names),
            "history": series.values[-kept:].tolist(),
            "history_features": series.features[-kept:].tolist(),
            "dates": dates, "date_format": series.date_format, "frequency": series.frequency,
            "first_step": None if series.first_step is None else
            series.first_step + len(series) - kept,
            "season": season, "test": None}
