"""Recurrent time-series forecasting: windows, training, evaluation, forecasts.

The recipe, in order:

1. The series is split chronologically into train / validation / test; the test
   is the last ``test_size`` steps, the validation the ``val_size`` before it.
2. Transforms (log, differencing, seasonal differencing, scaling) are fitted on
   the training part only and applied to the whole series.
3. Windows of ``window`` transformed steps (plus any feature columns) are the
   inputs; the targets are the next ``horizon`` transformed steps (``direct``)
   or the next one (``recursive``, rolled forward at forecast time).
4. An LSTM or RNN stack reads a window; a linear head maps its last hidden
   state to the outputs.  Adam on the MSE (or MAE) with gradient-norm
   clipping; the weights with the lowest validation loss are kept (early
   stopping).  Several such networks (``members``) are trained from different
   initial weights and their forecasts averaged.
5. The test forecasts are mapped back to the original scale and scored beside
   the naive and seasonal-naive baselines on exactly the same steps.

Indices below are positions in the original series: the window that ends at
step ``t`` (its "origin") uses steps ``t - window + 1 .. t`` and forecasts
``t + 1 .. t + horizon``.  Nothing at or after ``t + 1`` enters its input.
"""
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from . import CELLS
from ._checks import check_choice, check_int, check_number
from .metrics import (coverage, evaluate, msis, naive_forecast, seasonal_naive_forecast,
                      seasonal_naive_interval)
from .series import SEASON_OF_FREQUENCY, Series, format_date, future_dates, parse_date
from .transforms import Difference, Log, MinMaxScaler, Pipeline, StandardScaler

STRATEGIES = ("direct", "recursive")
SCALERS = ("standard", "minmax", "none")
LOSSES = ("mse", "mae")
CHECKPOINT_KIND = "series"
# steps of the original series kept in the checkpoint, for forecasts and plots without the CSV
_HISTORY_KEPT = 240


@dataclass
class ForecastConfig:
    """Everything that defines a forecasting run; the defaults are the measured recipe.

    Parameters
    ----------
    window : int or None
        Past steps the network reads; None: the fewest whole seasons that cover 12
        steps (``selection.default_window``).
    horizon : int
        Steps forecast at once (the head's outputs with the ``direct`` strategy).
    strategy : {'direct', 'recursive'}
    cell : {'lstm', 'rnn', 'gru'}
    hidden_size, num_layers : int
    dropout : float
        Between stacked layers.
    log : bool or 'auto'
    diff : bool or 'auto'
        First differencing (removes a trend).
    seasonal_diff : bool or 'auto'
        Differencing at lag ``season``.  The settings left at 'auto' are chosen by
        rolling-origin validation: one network is trained on each combination
        (``selection.transform_candidates``: log only for positive data, seasonal
        differencing only for a season the autocorrelation test finds) and the one
        with the lowest validation MASE is kept; without a validation part, 'auto'
        means log for positive data, seasonal differencing for a detected season,
        no first differencing.
    scale : {'standard', 'minmax', 'none'}
    season : int or None
        The season for seasonal differencing, the seasonal-naive baseline and
        MASE; None infers it from the dates (monthly 12, quarterly 4, weekly 52,
        daily 7, hourly 24, else 1).
    test_size : int or None
        Steps held out at the end for the test; None: the horizon.
    val_size : int or None
        Steps before the test for early stopping, the automatic choices, the
        fallback and the intervals; None: twice the horizon where the series has room
        (``horizon + 1`` rolling origins), else the horizon; 0: no validation (train
        for all epochs, no automatic choice by validation).
    epochs, batch_size, patience : int
        ``patience``: epochs without a better validation loss before stopping.
    epoch_windows : int
        Training windows an epoch draws (at random, without repeats): every window of a
        series with fewer, so that an epoch of a long series costs this many windows,
        not its length.
    lr, clip : float
        Adam's learning rate; the global gradient-norm limit (0: none).
    loss : {'mse', 'mae'}
    dtype : {'float32', 'float64'}
    members : int
        Networks trained from different initial weights; the forecast is their mean.
    fallback : bool
        Where seasonal naive beats the trained networks on the validation part, forecast
        with seasonal naive instead (the report always says which was better).
    seed : int
        Seeds the initial weights and the batch order of every member.
    """

    window: int = None
    horizon: int = 12
    strategy: str = "direct"
    cell: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    log: object = "auto"
    diff: object = "auto"
    seasonal_diff: object = "auto"
    scale: str = "standard"
    season: int = None
    test_size: int = None
    val_size: int = None
    epochs: int = 300
    batch_size: int = 16
    epoch_windows: int = 256
    patience: int = 40
    lr: float = 1e-3
    clip: float = 1.0
    loss: str = "mse"
    dtype: str = "float32"
    members: int = 5
    fallback: bool = False
    seed: int = 0

    def __post_init__(self):
        for name in ("horizon", "hidden_size", "num_layers", "epochs", "batch_size",
                     "epoch_windows", "members"):
            check_int(name, getattr(self, name), 1)
        for name in ("window", "season", "test_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        if self.val_size is not None:
            check_int("val_size", self.val_size, 0)
        check_int("patience", self.patience, 1)
        check_int("seed", self.seed, 0)
        for name, allowed in (("strategy", STRATEGIES), ("cell", CELLS), ("scale", SCALERS),
                              ("loss", LOSSES), ("dtype", ("float32", "float64"))):
            check_choice(name, getattr(self, name), allowed)
        for name in ("log", "diff", "seasonal_diff"):
            value = getattr(self, name)
            if not (isinstance(value, bool) or value == "auto"):
                raise ValueError(f"{name}: got {value!r}, expected True, False or 'auto'")
        if not isinstance(self.fallback, bool):
            raise ValueError(f"fallback: got {self.fallback!r}, expected True or False")
        check_number("lr", self.lr, 0, low_open=True, expected="a number > 0")
        check_number("clip", self.clip, 0, expected="a number >= 0")
        check_number("dropout", self.dropout, 0, 1, high_open=True,
                     expected="a probability in [0, 1)")

    @property
    def outputs(self):
        """The head's width: the horizon (direct) or one step (recursive)."""
        return self.horizon if self.strategy == "direct" else 1

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"config: unknown keys {sorted(unknown)}")
        return cls(**data)


# ------------------------------------------------------------------------------ data layout
def resolve_season(config, series):
    """The season: the configured one, else the one the series' frequency implies."""
    if config.season is not None:
        return config.season
    return SEASON_OF_FREQUENCY.get(series.frequency, 1)


def build_pipeline(config, train_values, season):
    """The transform pipeline of ``config`` (its automatic choices resolved by
    ``train_forecaster``), fitted on ``train_values`` (the training part of the target only)."""
    steps = []
    if config.log:
        steps.append(Log())
    if _use_seasonal_diff(config, season):
        steps.append(Difference(season))
    if config.diff:
        steps.append(Difference(1))
    if config.scale != "none":
        steps.append(StandardScaler() if config.scale == "standard" else MinMaxScaler())
    return Pipeline(steps).fit(train_values)


def _use_seasonal_diff(config, season):
    if config.seasonal_diff and season < 2:
        raise ValueError("seasonal_diff: needs a season of 2 or more; give season (--season) "
                         "or a date column from which it can be inferred")
    return config.seasonal_diff


def differencing_context(config, season):
    """Steps that the configured differencing consumes at the start of the series."""
    return (season if _use_seasonal_diff(config, season) else 0) + (1 if config.diff else 0)


@dataclass
class Split:
    """Where the parts end in the original series (exclusive ends)."""

    train_end: int
    val_end: int   # == test start
    length: int


def split_series(config, length, context):
    """The chronological split, after checking that the series is long enough.

    Raises
    ------
    ValueError
        Saying how many rows the configuration needs.
    """
    test = config.test_size if config.test_size is not None else config.horizon
    val = config.val_size if config.val_size is not None else config.horizon
    if test < config.horizon:
        raise ValueError(f"test_size: got {test}, expected at least the horizon "
                         f"({config.horizon})")
    # one training window: `context` steps lost to differencing, then window + outputs
    need = context + config.window + config.outputs + val + test
    if length < need:
        parts = [f"differencing {context}"] if context else []
        parts += [f"window {config.window}", f"horizon {config.outputs}"]
        held_out = f"validation {val} + test {test}" if val else f"test {test}"
        raise ValueError(f"the series has {length} rows; this configuration needs at least "
                         f"{need}: {' + '.join(parts)} for one training window, then "
                         f"{held_out}; use a longer series or a smaller window, horizon, "
                         "test size or validation size")
    return Split(length - test - val, length - test, length)


def window_origins(first, last, window, context):
    """Origins (last input step) from ``first`` to ``last`` inclusive whose whole input
    window lies after the ``context`` steps that differencing consumes."""
    return np.arange(max(first, context + window - 1), last + 1)


def make_windows(inputs, origins, window):
    """Input windows, time-major: ``inputs[t - window + 1 : t + 1]`` for each origin ``t``.

    Parameters
    ----------
    inputs : (N, F) array, indexed by step of the original series
    origins : (n,) int array
    window : int

    Returns
    -------
    (window, n, F) array
    """
    index = origins[None, :] + np.arange(1 - window, 1)[:, None]
    return inputs[index]


def make_targets(target, origins, steps):
    """Targets ``target[t + 1 : t + 1 + steps]`` for each origin ``t``: (n, steps)."""
    return target[origins[:, None] + np.arange(1, steps + 1)[None, :]]


class _Features:
    """Standard scaling of the feature columns, fitted on the training part."""

    def __init__(self, mean, scale):
        self.mean, self.scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)

    @classmethod
    def fit(cls, values):
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values):
        return (values - self.mean) / self.scale


# ------------------------------------------------------------------------------ the model
class _Network:
    """One member of the ensemble: a recurrent stack and a linear head on its last state."""

    def __init__(self, config, inputs, seed, device="cpu"):
        from .layers import LAYERS, HostParams, Linear

        dtype = np.dtype(config.dtype)
        rnn_seed, head_seed, self.order_seed = np.random.SeedSequence(seed).generate_state(3)
        cell = LAYERS[config.cell]
        self.rnn = cell(inputs, config.hidden_size, num_layers=config.num_layers,
                        dropout=config.dropout if config.num_layers > 1 else 0.0,
                        dtype=dtype, seed=int(rnn_seed), device=device)
        if device != "cpu":
            self.rnn = HostParams(self.rnn)
        self.head = Linear(config.hidden_size, config.outputs, dtype=dtype, seed=int(head_seed))

    def predict(self, x):
        """Outputs for time-major windows ``x`` (W, n, F): (n, outputs) float64."""
        out, _ = self.rnn.forward(np.ascontiguousarray(x, dtype=self.rnn.dtype), train=False)
        return self.head.forward(out[-1], train=False).astype(np.float64)

    def state_dict(self):
        """``{'rnn.<torch name>': array, ..., 'head.weight', 'head.bias'}``."""
        state = {f"rnn.{k}": v for k, v in self.rnn.state_dict().items()}
        state.update({f"head.{k}": v for k, v in self.head.state_dict().items()})
        return state

    def load_state_dict(self, state):
        self.rnn.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("rnn.")})
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})


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
        inputs = 1 + len(info["feature_names"])
        seeds = np.random.SeedSequence(config.seed).generate_state(config.members)
        self.members = [_Network(config, inputs, int(seed), device) for seed in seeds]
        if network is not None:
            self.load_network(network)

    # -------------------------------------------------------------- network
    def network_state(self):
        """All weights, as ``{'member<k>.rnn.<torch name>': array, 'member<k>.head.weight', ...}``."""
        return {f"member{k}.{name}": value for k, member in enumerate(self.members)
                for name, value in member.state_dict().items()}

    def load_network(self, state):
        """Load ``network_state()``'s arrays; the names must be exactly this ensemble's."""
        expected = set(self.network_state())
        if set(state) != expected:
            raise ValueError(f"weights: missing {sorted(expected - set(state))}, unexpected "
                             f"{sorted(set(state) - expected)}")
        for k, member in enumerate(self.members):
            prefix = f"member{k}."
            member.load_state_dict({name[len(prefix):]: value for name, value in state.items()
                                    if name.startswith(prefix)})

    def _predict(self, x):
        """Transformed-space outputs for time-major windows ``x`` (W, n, F): the members' mean."""
        return np.mean([member.predict(x) for member in self.members], axis=0)

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
        """Forecast ``steps`` transformed values after each origin: (n, steps).

        ``direct`` with ``steps`` <= horizon is one pass; otherwise (``recursive``, or a
        direct model asked for more than its horizon) forecasts are fed back as inputs,
        ``outputs`` steps at a time -- which needs no features, whose future is unknown.
        """
        window, chunk = self.config.window, self.config.outputs
        x = make_windows(inputs, origins, window)
        if steps > chunk and inputs.shape[1] > 1:
            raise ValueError(f"horizon {steps}: beyond the model's {chunk} step(s) the forecasts "
                             "are fed back as inputs, which needs the future feature values; "
                             f"forecast at most {chunk} steps with features")
        done = [self._predict(x)]
        while sum(p.shape[1] for p in done) < steps:
            x = np.concatenate([x, done[-1].T[:, :, None]], axis=0)[-window:]
            done.append(self._predict(x))
        return np.concatenate(done, axis=1)[:, :steps]

    def _forecast_values(self, values, features, origins, steps):
        """Forecasts in the original scale after each origin: (n, steps); seasonal naive's
        where the model fell back to it (``ForecastConfig.fallback``)."""
        if self.info.get("baseline") == "seasonal_naive":
            return np.stack([seasonal_naive_forecast(values[:t + 1], steps, self.info["season"])
                             for t in origins])
        inputs = self._inputs(values, features)
        transformed = self._roll(inputs, origins, steps)
        return np.stack([self.pipeline.inverse(row, values[:t + 1])
                         for row, t in zip(transformed, origins)])

    # -------------------------------------------------------------- forecasting
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
            conformal, from the absolute errors of the model's rolling-origin
            forecasts kept at training (see ``train_forecaster``), per horizon step.

        Returns
        -------
        dict
            ``values`` (horizon,) float64 array; ``dates``: list of str, or None where the
            dates are unknown; ``history`` / ``history_dates``: the data continued;
            ``intervals``: {level: (lo, hi)} arrays (empty without ``level``).
        """
        horizon = self.config.horizon if horizon is None else horizon
        check_int("horizon", horizon, 1)
        levels = check_levels(level)
        if series is None:
            series = self.history_series()
        else:
            self._check_series(series)
        if len(series) < self.min_history:
            raise ValueError(f"the series has {len(series)} rows; forecasting needs at least "
                             f"{self.min_history} (differencing {self.pipeline.context} + "
                             f"window {self.config.window})")
        end = np.array([len(series) - 1])
        values = self._forecast_values(series.values, series.features, end, horizon)[0]
        dates = None
        if series.dates is not None:
            future = future_dates(series.dates, series.frequency, horizon)
            if future is not None:
                dates = [format_date(d, series.date_format) for d in future]
        history_dates = None if series.dates is None else \
            [format_date(d, series.date_format) for d in series.dates]
        return {"values": values, "dates": dates, "history": series.values,
                "history_dates": history_dates,
                "intervals": {L: self.interval(values, L) for L in levels}}

    def interval(self, values, level):
        """``(lo, hi)`` around forecast ``values`` at ``level`` percent: the split-conformal
        quantile of the calibration errors at each horizon step.  With n errors a step,
        the quantile is the ceil((n + 1) level / 100)-th smallest; where that exceeds n
        (too few errors for the level), the largest.  Past the calibrated horizon H
        there are no errors to take a quantile of: step h > H extrapolates the last
        width by ``sqrt(h / H)``, as a random walk's spread grows."""
        errors = self.info.get("calibration")
        if errors is None:
            raise ValueError("level: this model was saved without calibration errors (by "
                             "an older numbarnn); train it again to get intervals")
        errors = np.sort(np.asarray(errors["abs_errors"], np.float64), axis=0)
        n = errors.shape[0]
        k = min(n, math.ceil((n + 1) * level / 100.0)) - 1
        calibrated = errors.shape[1]
        steps = np.arange(len(values))
        width = errors[k, np.minimum(steps, calibrated - 1)]
        width = width * np.sqrt(np.maximum(steps + 1, calibrated) / calibrated)
        return values - width, values + width

    def _check_series(self, series):
        if list(series.feature_names) != list(self.info["feature_names"]):
            raise ValueError(f"features: the model was trained with {self.info['feature_names']}, "
                             f"the data has {series.feature_names}")

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
                      info["frequency"], "checkpoint")

    # -------------------------------------------------------------- saving
    def save(self, path):
        """Write the model to one ``safetensors`` checkpoint (atomically)."""
        from .checkpoints import save_checkpoint

        metadata = {"config": asdict(self.config), "transforms": self.pipeline.to_dict(),
                    "features": None if self.feature_scaler is None else
                    {"mean": self.feature_scaler.mean.tolist(),
                     "scale": self.feature_scaler.scale.tolist()},
                    "info": _jsonable(self.info)}
        save_checkpoint(path, self.network_state(), metadata, CHECKPOINT_KIND)

    @classmethod
    def load(cls, path):
        """Read a checkpoint written by ``save``.

        Raises
        ------
        CheckpointError (a ValueError)
            If the file is missing, malformed or not a series checkpoint.
        """
        from .checkpoints import CheckpointError, load_checkpoint

        tensors, metadata = load_checkpoint(path, CHECKPOINT_KIND)
        try:
            config = ForecastConfig.from_dict(metadata["config"])
            pipeline = Pipeline.from_dict(metadata["transforms"])
            features = metadata["features"]
            scaler = None if features is None else _Features(features["mean"], features["scale"])
            info = metadata["info"]
            for key in ("name", "feature_names", "history", "history_features", "dates",
                        "date_format", "frequency", "season"):
                info[key]  # noqa: B018 -- a KeyError here means a malformed checkpoint
            return cls(config, pipeline, scaler, info, network=tensors)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed series checkpoint ({e})") from None


def _jsonable(value):
    """``value`` with NumPy arrays and scalars as lists and floats, NaN as None."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


# ------------------------------------------------------------------------------ training
def _batches(rng, n, batch_size, limit):
    """Batches of at most ``limit`` of the ``n`` windows, drawn in a random order."""
    order = rng.permutation(n)[:limit]
    return [order[k:k + batch_size] for k in range(0, order.size, batch_size)]


def _loss(config):
    from .losses import mae_loss, mse_loss

    return mse_loss if config.loss == "mse" else mae_loss


# A network has diverged when a batch loss is not finite, or an epoch's training or validation
# loss is above this many times its first batch's, before any update (on scaled data that is
# near 1); its training stops there.
DIVERGED = 100.0


def _fit(network, config, x_train, y_train, x_val, y_val, progress=None, label=""):
    """Train one network: Adam with clipping, early stopping on the validation loss.

    The network ends with the weights of its best validation loss (its initial
    ones if no epoch finished), also when it diverged (``DIVERGED``).

    Returns
    -------
    dict
        ``epochs`` run, ``best_epoch``, ``train_loss`` and ``val_loss`` at the best epoch,
        and ``diverged``: None, or the epoch and loss where it stopped.
    """
    from .optim import Adam, clip_grad_norm

    loss_fn = _loss(config)
    dtype = network.rnn.dtype
    x_train, y_train = x_train.astype(dtype), y_train.astype(dtype)
    modules = [network.rnn, network.head]
    optimizer = Adam(modules, lr=config.lr)
    rng = np.random.default_rng(int(network.order_seed))  # the order of the batches
    grads = [g for m in modules for g in m.grads.values()]
    best = {"val_loss": math.inf, "best_epoch": 0, "train_loss": math.nan}
    best_state = network.state_dict()
    dout = None
    first, diverged = None, None
    for epoch in range(1, config.epochs + 1):
        total, seen = 0.0, 0
        for idx in _batches(rng, y_train.shape[0], config.batch_size,
                            config.epoch_windows):
            out, _ = network.rnn.forward(x_train[:, idx])
            loss, dpred = loss_fn(network.head.forward(out[-1]), y_train[idx])
            if not math.isfinite(loss):
                diverged = {"epoch": epoch, "loss": str(loss)}
                break
            first = loss if first is None else first
            if dout is None or dout.shape != out.shape:
                dout = np.zeros_like(out)
            dout[-1] = network.head.backward(dpred)  # only the last step feeds the head
            network.rnn.backward(dout)
            if config.clip > 0:
                clip_grad_norm(grads, config.clip)
            optimizer.step()
            total += loss * idx.size
            seen += idx.size
        if diverged is not None:
            break
        train_loss = total / seen
        if y_val.shape[0]:
            val_loss, _ = loss_fn(network.predict(x_val), y_val)
        else:
            val_loss = train_loss
        worst = max(train_loss, val_loss)
        if not worst <= DIVERGED * max(first, 1e-12):  # (also catches a nan)
            diverged = {"epoch": epoch, "loss": worst if math.isfinite(worst) else str(worst)}
            break
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "best_epoch": epoch, "train_loss": train_loss}
            best_state = network.state_dict()
        if progress is not None:
            progress.update(epoch / config.epochs,
                            f"{label}epoch {epoch}/{config.epochs}  loss {train_loss:.4f}  "
                            f"val {val_loss:.4f}  best {best['val_loss']:.4f} @ "
                            f"{best['best_epoch']}")
        if epoch - best["best_epoch"] >= config.patience:
            break
    network.load_state_dict(best_state)
    return {"epochs": epoch, **best, "diverged": diverged}


def train_forecaster(series, config=None, progress=None, device="cpu", level=None, **options):
    """Train a forecaster on ``series`` and score it on the held-out test.

    Parameters
    ----------
    series : Series
    config : ForecastConfig, optional
    progress : numbarnn.progress.Progress, optional
        Receives a live line per epoch.
    device : {'cpu', 'cuda'}
        Where the recurrent layers train and score (their weights and the optimiser
        stay on the host: ``layers.HostParams``).  Not part of the model: a saved
        forecaster loads, and forecasts, on the CPU.
    level : sequence of numbers in (0, 100), optional
        Also score the prediction intervals at these levels (percent) on the test:
        ``report['intervals']``.
    **options
        ForecastConfig fields, overriding ``config``'s.

    Returns
    -------
    model : Forecaster
        With the best weights; its stored history is the end of the whole series.
    report : dict
        ``metrics`` of the model and the ``naive`` and ``seasonal_naive`` baselines on the
        test, ``validation`` the same on the validation steps (None when the validation
        is shorter than the horizon), ``test`` (dates, actuals, forecasts), ``training`` (epochs, losses, seconds),
        ``season``, ``transforms``, ``config``; with ``level``, ``intervals``: the
        coverage (%) and MSIS of the model's and seasonal naive's intervals on the test
        (``score_intervals``).
    """
    config = _merge(config, options)
    levels = check_levels(level)
    start = time.perf_counter()
    season = resolve_season(config, series)
    if config.strategy == "recursive" and series.features.shape[1]:
        raise ValueError("strategy 'recursive': feeds its forecasts back as inputs, which needs "
                         "the future feature values; use the 'direct' strategy with features")
    config, choices = _choose(config, series, season, progress, device)
    model, report = _train(series, config, season, progress, device, levels)
    report["choices"] = choices
    report["training"]["seconds"] = time.perf_counter() - start
    return model, _jsonable(report)


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


class _Guarded:
    """What the threads of ``_side_by_side`` share: the progress line (one update at a
    time, or none) and a stop signal, which the next epoch's update raises in every
    thread (``_fit`` updates once an epoch), so that Ctrl-C or an error in one thread
    ends the others within an epoch."""

    def __init__(self, progress):
        self.progress, self.lock, self.stop = progress, threading.Lock(), threading.Event()

    def update(self, *args):
        if self.stop.is_set():
            raise KeyboardInterrupt("stopped beside another thread")
        if self.progress is not None:
            with self.lock:
                self.progress.update(*args)

    def log(self, *args):
        if self.progress is not None:
            with self.lock:
                self.progress.log(*args)


def _side_by_side(function, items, progress, device):
    """``[function(k, item, progress) for k, item in enumerate(items)]``, two at a time on
    the CPU's two cores where this is the main thread and nothing says otherwise.

    The networks of an ensemble and the candidates of the automatic choice are
    independent: each thread trains its own with one-thread kernels (``kernel_threads``
    gives one outside the main thread), and the results are the serial ones, bit for
    bit.  Two small networks side by side keep both cores busier than one network
    sharing its time loop between them (about 1.3 to 1.6 times faster, measured on the
    half-hourly series).  Serial on the GPU, inside a worker thread (a Dask worker is
    already one per core) or when ``NUMBARNN_THREADS`` fixes the kernels' threads.
    """
    from .kernels._parts import usable_cores

    workers = min(2, usable_cores(), len(items))
    if (device != "cpu" or os.environ.get("NUMBARNN_THREADS")
            or threading.current_thread() is not threading.main_thread()):
        workers = 1
    if workers == 1:
        return [function(k, item, progress) for k, item in enumerate(items)]
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    shared = _Guarded(progress)
    pool = ThreadPoolExecutor(workers)
    try:
        futures = [pool.submit(function, k, item, shared) for k, item in enumerate(items)]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and f.exception() is not None]
        if failed:
            raise failed[0].exception()
        return [f.result() for f in futures]
    except BaseException:  # Ctrl-C, or an error in one thread: stop the others too
        shared.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _split(config, length, season):
    """``split_series`` for a resolved ``config``: its differencing context included."""
    return split_series(config, length, differencing_context(config, season))


def _fits(config, length, season):
    try:
        _split(config, length, season)
    except ValueError:
        return False
    return True


def describe_transforms(candidate):
    """``{'log', 'diff', 'seasonal_diff'}`` in words: 'log + seasonal differences'."""
    parts = [name for name, key in (("log", "log"), ("first differences", "diff"),
                                    ("seasonal differences", "seasonal_diff")) if candidate[key]]
    return " + ".join(parts) or "no transform"


def _choose(config, series, season, progress, device):
    """``config`` with its automatic settings resolved (``selection``): the window, the
    validation size, and the transforms by rolling-origin validation.

    Returns
    -------
    config : ForecastConfig
        With no 'auto' or None left in window, val_size, log, diff, seasonal_diff.
    choices : dict
        What was chosen and why, for the report: ``window``, ``val_size``,
        ``seasonality`` (the test's result), ``candidates`` (each with its validation
        MASE; empty where nothing was compared) and ``chosen``.
    """
    from dataclasses import replace

    from .selection import default_window, seasonality_test, transform_candidates

    H = config.horizon
    config = replace(config, window=config.window or default_window(season))
    if config.val_size is None:
        wide = 2 * H
        if len(series) > 2 * config.epoch_windows:  # a long series: a longer part
            wide = max(wide, len(series) // VALIDATION_SHARE)
        fits = _fits(replace(config, val_size=wide, log=False, diff=False, seasonal_diff=False),
                     len(series), season)
        config = replace(config, val_size=wide if fits else H)
    train_end = len(series) - (config.test_size or H) - config.val_size
    train_values = series.values[:max(train_end, 0)]
    seasonality = seasonality_test(train_values, season)
    candidates = transform_candidates(config, train_values, seasonality["seasonal"])
    feasible = [c for c in candidates if _fits(replace(config, **c), len(series), season)]
    if not feasible:  # the series is too short for any: the first one's error says why
        _split(replace(config, **candidates[0]), len(series), season)
    choices = {"window": config.window, "val_size": config.val_size,
               "seasonality": {"season": season, **seasonality}, "candidates": []}
    if len(feasible) == 1 or config.val_size < H:
        # nothing to compare, or no validation to compare on: the rule of thumb
        rule = {"log": bool(np.all(train_values > 0)), "diff": False,
                "seasonal_diff": seasonality["seasonal"]}
        chosen = next((c for c in feasible if all(c[k] == rule[k] for k in rule if
                                                  getattr(config, k) == "auto")), feasible[0])
        choices["chosen"] = {**chosen, "by": "the only candidate" if len(feasible) == 1 else
                             "rule (no validation part)"}
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
                       scout=True)[1]["validation"]["model"]["mase"]
        return score if score is not None and math.isfinite(score) else math.inf

    scores = _side_by_side(scout, feasible, progress, device)
    choices["candidates"] = [{**c, "validation_mase": v} for c, v in zip(feasible, scores)]
    best = min(zip(scores, range(len(feasible))))[1]  # the first of equal scores
    score, chosen = scores[best], feasible[best]
    choices["chosen"] = {**chosen, "by": "lowest validation MASE"}
    if progress is not None:
        progress.log(f"chose {describe_transforms(chosen)} (validation MASE {score:.3f})")
    return replace(config, **chosen), choices


def _train(series, config, season, progress, device, levels, scout=False):
    """Train ``config`` (resolved: no automatic settings left) on ``series`` and score it.

    A ``scout`` (one candidate of ``_choose``) is scored on the validation part only: the
    test is not looked at, and no calibration is kept.
    """
    values, features = series.values, series.features
    split = _split(config, len(series), season)
    pipeline = build_pipeline(config, values[:split.train_end], season)
    scaler = _Features.fit(features[:split.train_end]) if features.shape[1] else None
    info = _history_info(series, season, pipeline.context + config.window)
    model = Forecaster(config, pipeline, scaler, info, device=device)

    inputs = model._inputs(values, features)
    z = inputs[:, 0]
    steps = config.outputs
    train_origins = window_origins(0, split.train_end - 1 - steps, config.window, pipeline.context)
    val_origins = window_origins(split.train_end - steps, split.val_end - 1 - steps,
                                 config.window, pipeline.context)
    x_train = make_windows(inputs, train_origins, config.window)
    y_train = make_targets(z, train_origins, steps)
    x_val = make_windows(inputs, val_origins, config.window)
    y_val = make_targets(z, val_origins, steps)
    # early stopping checks the loss every epoch on at most this many validation windows,
    # evenly spread: a long validation part would otherwise cost more than the epoch
    watched = np.unique(np.linspace(0, val_origins.size - 1,
                                    min(val_origins.size, STOPPING_WINDOWS)).astype(np.int64))
    label = "candidate  " if scout else "member {}/{}  " if config.members > 1 else ""
    members = _side_by_side(
        lambda k, network, progress: _fit(network, config, x_train, y_train,
                                          x_val[:, watched], y_val[watched], progress,
                                          label.format(k + 1, config.members)),
        model.members, progress, device)
    val_loss = _loss(config)(model._predict(x_val), y_val)[0] if val_origins.size else math.nan
    training = {"members": members, "val_loss": val_loss,
                "epochs": int(sum(m["epochs"] for m in members)),
                "status": "diverged" if any(m["diverged"] for m in members) else "finished"}
    training.update(train_windows=int(train_origins.size), val_windows=int(val_origins.size))

    # the scores on the validation steps (where whole horizons fit): for the choices and the
    # fallback, which must not look at the test
    val_forecast_origins = np.arange(split.train_end - 1, split.val_end - config.horizon)
    validation = None
    if val_forecast_origins.size:
        validation = _score(values, val_forecast_origins,
                            model._forecast_values(values, features, val_forecast_origins,
                                                   config.horizon),
                            config.horizon, season, split.train_end)
    if scout:
        return model, {"validation": validation, "training": training}
    fallback = _fallback(config, validation)
    if fallback is not None and fallback["used"]:
        model.info["baseline"] = "seasonal_naive"
    test_origins = np.arange(split.val_end - 1, split.length - config.horizon)
    forecasts = model._forecast_values(values, features, test_origins, config.horizon)
    metrics = _score(values, test_origins, forecasts, config.horizon, season, split.val_end)
    model.info["calibration"] = _calibration(model, values, features, split, config,
                                             pipeline.context)
    model.info["test"] = {
        "dates": None if series.dates is None else
        [format_date(d, series.date_format) for d in series.dates[split.val_end:]],
        "actual": values[split.val_end:].tolist(),
        # the forecast from the first test origin, for the plot
        "forecast": forecasts[0].tolist(),
    }
    calibration = model.info["calibration"] or {"held_out": 0, "in_sample": 0,
                                                "in_sample_scale": 1.0}
    report = {"status": training["status"], "metrics": metrics, "validation": validation,
              "fallback": fallback, "season": season,
              "calibration": {key: calibration[key]
                              for key in ("held_out", "in_sample", "in_sample_scale")},
              "test_size": split.length -
              split.val_end, "test_origins": int(test_origins.size),
              "test": model.info["test"], "training": training,
              "transforms": pipeline.to_dict(), "config": asdict(config),
              "series": {"source": series.source, "name": series.name, "length": len(series),
                         "frequency": series.frequency, "features": series.feature_names}}
    if levels:
        report["intervals"] = score_intervals(values, test_origins, forecasts, config.horizon,
                                              season, split.val_end, levels, model.interval)
    return model, report


def _fallback(config, validation):
    """None where the networks beat seasonal naive on the validation part (or it is too short
    to tell), else both MASEs and whether ``config.fallback`` puts seasonal naive in their
    place."""
    if validation is None:
        return None
    model, baseline = validation["model"]["mase"], validation["seasonal_naive"]["mase"]
    if not (math.isfinite(model) and math.isfinite(baseline)) or model <= baseline:
        return None
    return {"better": "seasonal_naive", "model_mase": model, "seasonal_naive_mase": baseline,
            "used": config.fallback}


# The intervals are calibrated on rolling-origin forecasts: every origin of the validation
# part whose whole horizon lies in it (held out: the weights never trained on them) and,
# where those are fewer than this, the latest origins of the training part, up to this many
# in all.  In-sample errors are smaller than held-out ones (the weights fitted those steps),
# so they are first scaled by the ratio of the held-out errors' mean to their own mean over
# the same horizon steps (at least 1): a split-conformal calibration with an in-sample
# supplement, as honest as a held-out part of a few origins allows.  metrics.json's
# ``calibration`` says how many of each and the ratio.
MIN_CALIBRATION = 50


def _calibration(model, values, features, split, config, context):
    """The absolute errors, per horizon step, of the model's forecasts from the
    calibration origins (``MIN_CALIBRATION``), for ``Forecaster.interval``."""
    H = config.horizon
    held_out = np.arange(split.train_end - 1, split.val_end - H)
    first = config.window + context - 1  # the first origin with a whole window of history
    extra = max(0, MIN_CALIBRATION - held_out.size)
    in_sample = np.arange(max(first, split.train_end - H - extra), split.train_end - H)
    if held_out.size + in_sample.size == 0:
        return None

    def abs_errors(origins):
        if origins.size == 0:
            return np.zeros((0, H))
        forecasts = model._forecast_values(values, features, origins, H)
        return np.abs(make_targets(values, origins, H) - forecasts)

    outside, inside = abs_errors(held_out), abs_errors(in_sample)
    ratio = 1.0
    if outside.size and inside.size and inside.mean() > 0:
        ratio = max(1.0, float(outside.mean() / inside.mean()))
    errors = np.concatenate([outside, ratio * inside])
    return {"abs_errors": errors.tolist(), "held_out": int(held_out.size),
            "in_sample": int(in_sample.size), "in_sample_scale": ratio}


def score_intervals(values, origins, forecasts, horizon, season, test_start, levels, interval):
    """Coverage (%) and MSIS of the ``levels`` intervals over every (origin, step) of the test,
    for the model (``interval(forecast, level)``) and for seasonal naive's normal intervals:
    ``{'model': {level: {'coverage', 'msis'}}, 'seasonal_naive': {...}}``."""
    actual = make_targets(values, origins, horizon)
    insample = values[:test_start]
    out = {"model": {}, "seasonal_naive": {}}
    for L in levels:
        bands = {"model": [interval(f, L) for f in forecasts],
                 "seasonal_naive": [seasonal_naive_interval(values[:t + 1], horizon, season, L)
                                    for t in origins]}
        for who, pairs in bands.items():
            lo = np.stack([p[0] for p in pairs])
            hi = np.stack([p[1] for p in pairs])
            out[who][level_name(L)] = {"coverage": coverage(actual, lo, hi),
                                       "msis": msis(actual, lo, hi, insample, L, season)}
    return out


def check_levels(level):
    """The prediction-interval levels as a sorted tuple of floats in (0, 100)."""
    if level is None:
        return ()
    levels = [level] if isinstance(level, (int, float)) else list(level)
    for value in levels:
        check_number("level", value, 0, 100, low_open=True, high_open=True,
                     expected="a percentage between 0 and 100, such as 80 or 95")
    if len(set(levels)) != len(levels):
        raise ValueError(f"level: got {levels}, each level once")
    return tuple(sorted(float(v) for v in levels))


def level_name(level):
    """80.0 -> '80', 97.5 -> '97.5': as the interval columns are named (lo-80, hi-97.5)."""
    return f"{level:g}"


def diverged_message(report):
    """One line on which networks of a series run diverged, and what was kept."""
    where = [f"network {k + 1} at epoch {m['diverged']['epoch']} (loss {m['diverged']['loss']})"
             for k, m in enumerate(report["training"]["members"]) if m["diverged"]]
    return (f"training diverged: {', '.join(where)}, a loss not finite or above "
            f"{DIVERGED:g} x its first; each network is kept at its best epoch; "
            "try a lower --lr or --clip")


def _merge(config, options):
    config = config if config is not None else ForecastConfig()
    return ForecastConfig(**{**asdict(config), **options}) if options else config


def _history_info(series, season, needed):
    """What the model keeps of the data: the end of the series, its dates and columns."""
    kept = max(needed, min(len(series), _HISTORY_KEPT))
    dates = None if series.dates is None else \
        [format_date(d, series.date_format) for d in series.dates[-kept:]]
    return {"name": series.name, "feature_names": list(series.feature_names),
            "history": series.values[-kept:].tolist(),
            "history_features": series.features[-kept:].tolist(),
            "dates": dates, "date_format": series.date_format, "frequency": series.frequency,
            "season": season, "test": None}


def _score(values, origins, forecasts, horizon, season, test_start):
    """The model's and the baselines' metrics over every (origin, step) of the test."""
    actual = make_targets(values, origins, horizon)
    baselines = {
        "naive": np.stack([naive_forecast(values[:t + 1], horizon) for t in origins]),
        "seasonal_naive": np.stack([seasonal_naive_forecast(values[:t + 1], horizon, season)
                                    for t in origins]),
    }
    insample = values[:test_start]
    metrics = {"model": evaluate(actual, forecasts, insample, season)}
    metrics.update({name: evaluate(actual, pred, insample, season)
                    for name, pred in baselines.items()})
    return metrics


def backtest(series, config=None, origins=3, step=1, progress=None, device="cpu", **options):
    """Rolling-origin evaluation: retrain and test at each of the last ``origins`` origins.

    Fold ``k`` (0 = the latest) uses the series cut ``k * step`` steps before its end: a
    fresh model is trained on what precedes that fold's test and scored on it.

    Returns
    -------
    dict
        ``folds``: per fold its end and metrics; ``mean``: each measure averaged over the
        folds, for the model and both baselines.
    """
    config = _merge(config, options)
    check_int("backtest origins", origins, 1)
    check_int("backtest step", step, 1)
    folds = []
    for k in range(origins):
        end = len(series) - k * step
        if progress is not None:
            progress.log(f"backtest fold {k + 1}/{origins}: data up to step {end}")
        _, report = train_forecaster(series.head(end), config, device=device)
        folds.append({"end": end, "metrics": report["metrics"]})
    mean = {who: {m: _nanmean([f["metrics"][who][m] for f in folds]) for m in scores}
            for who, scores in folds[0]["metrics"].items()}
    return {"origins": origins, "step": step, "folds": folds, "mean": mean}


def _nanmean(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


# ------------------------------------------------------------------------------ output
def write_forecast_csv(path, forecast, name="forecast"):
    """Write a forecast (``Forecaster.forecast``'s dict) as CSV, atomically.

    The columns are ``date,<name>`` where the dates are known, else ``step,<name>``
    (1 = the first step after the data), then ``lo-L,hi-L`` for each interval level L
    (statsforecast's names).
    """
    from .checkpoints import write_atomic

    values = forecast["values"]
    labels = forecast["dates"] or [str(k) for k in range(1, len(values) + 1)]
    intervals = forecast.get("intervals") or {}
    columns = [f"{'date' if forecast['dates'] else 'step'}", name]
    for L in intervals:
        columns += [f"lo-{level_name(L)}", f"hi-{level_name(L)}"]
    lines = [",".join(columns)]
    for t, (label, value) in enumerate(zip(labels, values)):
        cells = [label, f"{value:.10g}"]
        for lo, hi in intervals.values():
            cells += [f"{lo[t]:.10g}", f"{hi[t]:.10g}"]
        lines.append(",".join(cells))
    write_atomic(path, "\n".join(lines) + "\n")


def plot_forecast(path, forecast, test=None, title=None):
    """Draw the history, the forecast and (given ``test``) the test actuals beside the
    model's test forecast, into an image file.

    Parameters
    ----------
    path : str
        The image file; its extension picks the format (png, svg, pdf).
    forecast : dict
        ``Forecaster.forecast``'s result.
    test : dict, optional
        ``{'dates', 'actual', 'forecast'}`` of the training run's test (``model.info['test']``).

    Raises
    ------
    ValueError
        If matplotlib is not installed.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("the plot needs matplotlib: pip install 'numbarnn[plot]'") from None
    from .checkpoints import write_atomic

    history = np.asarray(forecast["history"])
    n_history, horizon = history.size, len(forecast["values"])
    steps = np.arange(n_history + horizon)
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    ax.plot(steps[:n_history], history, color="0.25", lw=1.2, label="history")
    if test is not None and test.get("actual"):
        n_test = len(test["actual"])
        test_steps = steps[n_history - n_test:n_history]
        ax.plot(test_steps, test["actual"], color="tab:green", lw=1.6, label="test (actual)")
        ax.plot(test_steps[:len(test["forecast"])], test["forecast"], color="tab:orange",
                lw=1.4, ls="--", label="model on the test")
    future = steps[n_history - 1:]
    intervals = forecast.get("intervals") or {}
    for k, (L, (lo, hi)) in enumerate(sorted(intervals.items(), reverse=True)):  # widest first
        ax.fill_between(future[1:], lo, hi, color="tab:blue", alpha=0.12 + 0.12 * k, lw=0,
                        label=f"{level_name(L)} % interval")
    ax.plot(future, np.concatenate([history[-1:], forecast["values"]]), color="tab:blue", lw=1.8,
            label="forecast")
    labels = forecast["history_dates"]
    if labels is not None and forecast["dates"] is not None:
        labels = labels + forecast["dates"]
        ticks = steps[::max(1, len(steps) // 8)]
        ax.set_xticks(ticks, [labels[k] for k in ticks], rotation=30, ha="right")
    else:
        ax.set_xlabel("step")
    ax.axvline(n_history - 0.5, color="0.6", lw=0.8, ls=":")
    ax.set_title(title or "forecast")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(alpha=0.3)
    fmt = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
    import io

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt, dpi=110)
    except ValueError as e:
        raise ValueError(f"{path}: cannot write the plot in this format ({e})") from None
    finally:
        plt.close(fig)
    write_atomic(path, buffer.getvalue())
