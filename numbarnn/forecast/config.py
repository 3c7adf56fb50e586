"""The series job's configuration: every default of ``numbarnn train-series``, in one place.

``ForecastConfig`` is to the forecaster what ``numbarnn.text.TextConfig`` is to the
text generator: a dataclass that checks itself when made, so that a mistake is one
``ValueError`` naming the setting; the command line takes its defaults from it.
Light to import: no numba.
"""
from dataclasses import asdict, dataclass, fields

from .. import CELLS
from .._checks import check_choice, check_int, check_number
from ..devices import DEVICES
from .dates import SEASON_OF_FREQUENCY

STRATEGIES = ("direct", "recursive")
SCALERS = ("standard", "minmax", "none")
LOSSES = ("mse", "mae", "quantile")
COMBINES = ("auto", "theta", "linear", "both", "none")
# settings that came after the first stored configurations (checkpoints, panel tasks,
# sweeps), with what a run did before each existed: a stored configuration without one
# means this value, not the setting's default (``ForecastConfig.from_stored``)
LATER_SETTINGS = {"refit": False, "quantile_levels": (80.0, 95.0), "combine": "none",
                  "nonnegative": False, "winsorize": 0.0}


@dataclass
class ForecastConfig:
    """Everything that defines a forecasting run; the defaults are the measured recipe.

    Parameters
    ----------
    window : int or None
        Past steps the network reads; None: the fewest whole seasons that cover 12
        steps (``selection.default_window``), or for a series too short to leave the
        networks as many training windows as the horizon has steps with it, the longest
        shorter window that does (``selection.window_candidates``).
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
        (``selection.transform_candidates``: log only for positive data, and only
        where Guerrero's Box-Cox power leaves it open, ``selection.log_test``;
        seasonal differencing only for a season the autocorrelation test finds; no
        differencing only where the KPSS test finds the level stationary, or the
        series is too short to difference, ``selection.level_test``) and the one
        with the lowest validation MASE is kept, each scored as it would forecast
        (averaged with what ``combine`` would average it with); without a validation
        part, 'auto' means log for positive data (unless Guerrero's power says no),
        seasonal differencing for a detected season, first differencing for a
        wandering level without one.
    nonnegative : bool or 'auto'
        Keep the forecasts and their intervals at 0 or above (counts, sales, prices: a
        value below 0 is impossible, and a forecast or a bound below it can only be
        further from what happens): the networks' forecast, then the combined one, and
        every bound, wherever the model forecasts (validation, calibration, test, after
        the series; a recursive forecast past the horizon feeds back the networks' own
        values).  'auto' (the default): where no value before the test is below 0, and
        for the forecasts after the series where none in the test is either; True
        refuses a series with a value below 0.  Such a model refuses to continue data
        that go below 0.  A model that logs the series forecasts above 0 anyway.
    scale : {'standard', 'minmax', 'none'}
    winsorize : float
        Where a few of the training part's differences (first or seasonal, as the
        transforms take them) lie beyond this many robust standard deviations (1.4826
        times their median absolute deviation) of their median, the differenced series
        the networks read and learn is kept within them, before the scaling
        (``transforms.Winsorize``, a step of the pipeline only where it cuts): a level
        shift or an outlier is then one large change, not windows whose squared errors
        outweigh all the others.  Not for an undifferenced series (a shift there is a
        new level), nor where more than twice the differencing lags plus four values lie
        beyond (the series' own pattern).  0: never.
    season : int or None
        The season for seasonal differencing, the seasonal-naive baseline and
        MASE; None infers it from the dates (monthly 12, quarterly 4, weekly 52,
        daily 7, hourly 24, else 1).
    test_size : int or None
        Steps held out at the end for the test; None: the horizon.
    val_size : int or None
        Steps before the test for early stopping, the automatic choices, the
        fallback and the intervals; None: twice the horizon (``horizon + 1`` rolling
        origins; for a series over twice ``epoch_windows`` steps, a tenth of it where
        that is more) where the training part still holds at least half a horizon of
        windows, else the horizon, else (no training window with one horizon) none; 0:
        no validation (train for all epochs, no automatic choice by validation; with
        ``combine='auto'`` and fewer than ``combination.FEW_WINDOWS`` training windows, the
        Theta and ARIMA mean alone, as for a part shorter than the horizon).
    epochs, batch_size, patience : int
        ``patience``: epochs without a better validation loss before stopping.
    epoch_windows : int
        Training windows an epoch draws (at random, without repeats): every window of a
        series with fewer, so that an epoch of a long series costs this many windows,
        not its length.
    lr, clip : float
        Adam's learning rate; the global gradient-norm limit (0: none).
    loss : {'mse', 'mae', 'quantile'}
        'quantile': the head forecasts, for every step, the point forecast (by squared
        error, as 'mse') and the two quantiles that bound each of ``quantile_levels``'
        central intervals (80 -> 0.1 and 0.9), each by pinball loss (as neuralforecast's
        ``MQLoss``; ``losses.point_and_quantiles_loss``); the intervals are these
        quantiles, conformalized on the validation part (conformalized quantile
        regression, Romano et al. 2019), so that they are narrow where the network
        expects the series to be calm and wide where not, rather than one width per
        horizon step everywhere.  The direct strategy only.
    quantile_levels : tuple of numbers in (0, 100)
        The interval levels (percent) whose bounds a 'quantile' loss learns; the model
        gives intervals at these levels only.  Unused by the other losses.
    dtype : {'float32', 'float64'}
    members : int
        Networks trained from different initial weights; the forecast is their mean.
        Four: on a machine's two cores they train two at a time, so that a fifth would
        cost a third round for the one network, and on the evaluation suite it changed
        the accuracy by less than the seed does (README).
    refit : bool
        Once the validation part has chosen the transforms, stopped each network and
        given the intervals their errors, train the networks again from the same
        initial weights on the training and validation parts together, each for the
        epochs after which its validation loss was lowest, so that the forecast draws
        on the latest data too; the validation scores, the fallback's verdict and the
        intervals' widths stay those measured on the networks that did not see it (the
        intervals are centred on the new forecasts).  Not where the forecast leaves
        the networks out (a statistical forecast weighing all, or ``fallback``'s
        seasonal naive).  Off by default:
        on the evaluation suite it helped where the latest years matter most (the
        airline's 1960) and cost a little elsewhere (README).
    fallback : bool
        Where seasonal naive beats the trained networks on the validation part, forecast
        with seasonal naive instead (the report always says which was better).
    combine : {'auto', 'theta', 'linear', 'both', 'none'}
        What the networks' forecast is averaged with.  'linear': a linear member, a
        ridge regression (``model.LINEAR_RIDGE``) from the same transformed windows to
        the same targets as the networks' head (an autoregression, direct or recursive
        as the strategy), fitted in closed form on the training windows; the forecast in
        the transformed space is the mean of the networks' and the member's.  'theta':
        the forecast is the mean of that and the standard Theta method's
        (``theta.theta_forecast``, statsforecast's ``Theta``), from every origin
        (validation, calibration, test, forecast).  'both': the two, in that order (the
        networks and the linear member a quarter each, Theta half).  'auto' (the
        default): the linear member where it lowers the validation MASE over the
        validation part's rolling origins, then, where that lowers it further, the best
        on validation of the statistical partners: the Theta method, (for a season of 2
        or more) a linear trend and seasonal dummies fitted by least squares
        (``regression.regression_forecast``, for a trend and season that stay fixed), the
        naive forecast (the last value: the networks' forecast of change halved), and, for
        a season seen fewer than three times before the test (too few for the seasonality
        test, ``selection.testable_season``), seasonal naive's, and an ARIMA(p, d, 0)
        with its orders chosen from the data (``arima.arima_forecast``: an
        autoregression on the differences, for momentum and mean reversion); the report
        gives each MASE.  Where the validation part has one forecast origin (one
        horizon, as a short series gets), or the networks train on fewer than
        ``combination.ALONE_WINDOWS`` (25) windows, too few to choose on, the mean of the
        Theta method's and the ARIMA forecast alone (``combination.FIXED_PARTNER_WEIGHT``:
        the networks' point forecast left out; ``arima.ARIMA_SHARES``: the ARIMA
        forecast weighs three quarters where it differences twice, else half).  Where
        they train on fewer than ``combination.FEW_WINDOWS`` (60), a partner always,
        weighing three quarters or all, the partner and its weight the best on
        validation; without a validation origin (a series too short for one horizon of
        validation), that mean alone.
        Without a validation part, neither.  'none': the networks alone (as before this
        setting).  The transform candidates are scored as they would forecast.  A model
        that logs the series combines with its partner in the log (a geometric mean with
        the partner's forecast of the logged series), and its intervals, calibrated on the
        combined forecasts, move with the point forecast.  A partner is fitted on the last
        ``model.THETA_HISTORY`` (2,048) steps before each origin at most, and a model
        combined with one keeps that much of the series, not only the end the networks need;
        seasonal naive's forecasts (``fallback``) are never combined.  The linear member
        forecasts points only: not with the 'quantile' loss ('auto' leaves it out there).
        Measured on the evaluation suite (README).
    seed : int
        Seeds the initial weights and the batch order of every member.
    device : {'cpu', 'cuda'}
        Where the recurrent layers train and score (their weights and the optimiser
        stay on the host: ``layers.HostParams``), as ``TextConfig.device``.  Not part of
        the model: a saved forecaster loads, and forecasts, on the CPU.
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
    nonnegative: object = "auto"
    scale: str = "standard"
    winsorize: float = 5.0
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
    quantile_levels: tuple = (80.0, 95.0)
    dtype: str = "float32"
    members: int = 4
    refit: bool = False
    fallback: bool = False
    combine: str = "auto"
    seed: int = 0
    device: str = "cpu"

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
                              ("loss", LOSSES), ("dtype", ("float32", "float64")),
                              ("combine", COMBINES),
                              ("device", DEVICES)):
            check_choice(name, getattr(self, name), allowed)
        for name in ("log", "diff", "seasonal_diff", "nonnegative"):
            value = getattr(self, name)
            if not (isinstance(value, bool) or value == "auto"):
                raise ValueError(f"{name}: got {value!r}, expected True, False or 'auto'")
        for name in ("refit", "fallback"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: got {getattr(self, name)!r}, expected True or False")
        self.quantile_levels = check_levels(self.quantile_levels, "quantile_levels")
        if not self.quantile_levels:
            raise ValueError("quantile_levels: got none, expected at least one level, such "
                             "as 80")
        if self.loss == "quantile" and self.combine in ("linear", "both"):
            raise ValueError(f"combine {self.combine!r}: the linear member forecasts the point "
                             "only, not the quantiles of the 'quantile' loss; use 'theta', "
                             "'auto' or 'none'")
        if self.loss == "quantile" and self.strategy != "direct":
            raise ValueError("loss 'quantile': needs the direct strategy (a recursive "
                             "forecast feeds one value back, not a distribution)")
        check_number("lr", self.lr, 0, low_open=True, expected="a number > 0")
        check_number("clip", self.clip, 0, expected="a number >= 0")
        check_number("winsorize", self.winsorize, 0, expected="a number >= 0 (0: never)")
        check_number("dropout", self.dropout, 0, 1, high_open=True,
                     expected="a probability in [0, 1)")

    @property
    def outputs(self):
        """Steps forecast at once: the horizon (direct) or one step (recursive)."""
        return self.horizon if self.strategy == "direct" else 1

    @property
    def quantiles(self):
        """What the head forecasts, as probabilities in ascending order, 0.5 standing for
        the point forecast (the mean, by squared error, unless the loss is 'mae'): (0.5,)
        alone but for the 'quantile' loss, whose levels 80, 95 give (0.025, 0.1, 0.5,
        0.9, 0.975).  The head has ``outputs`` columns for each, in this order."""
        if self.loss != "quantile":
            return (0.5,)
        tails = [(100.0 - L) / 200.0 for L in self.quantile_levels]
        return tuple(sorted(tails + [0.5] + [1.0 - q for q in tails]))

    def quantile_bounds(self, level):
        """The positions in ``quantiles`` of the bounds of the central ``level`` % interval
        a 'quantile' head learned (levels ascending: the widest interval's bounds are the
        outermost quantiles)."""
        if self.loss != "quantile" or float(level) not in self.quantile_levels:
            learned = ", ".join(level_name(L) for L in self.quantile_levels)
            raise ValueError(f"level: got {level:g}, but this model learned the bounds of "
                             f"its {learned} % intervals only (loss 'quantile'); ask for "
                             "those, or train with --quantile-levels that include it")
        k, m = self.quantile_levels.index(float(level)), len(self.quantile_levels)
        return m - 1 - k, m + 1 + k

    @classmethod
    def from_stored(cls, data):
        """A configuration as a run stored it, perhaps before some settings existed: each
        missing one is what such runs did (``LATER_SETTINGS``)."""
        return cls.from_dict({**LATER_SETTINGS, **data})

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"config: unknown keys {sorted(unknown)}")
        return cls(**data)


def resolve_season(config, series):
    """The season: the configured one, else the one the series' frequency implies."""
    if config.season is not None:
        return config.season
    return SEASON_OF_FREQUENCY.get(series.frequency, 1)


def check_levels(level, name="level"):
    """The prediction-interval levels as a sorted tuple of floats in (0, 100)."""
    if level is None:
        return ()
    levels = [level] if isinstance(level, (int, float)) else list(level)
    for value in levels:
        check_number(name, value, 0, 100, low_open=True, high_open=True,
                     expected="a percentage between 0 and 100, such as 80 or 95")
    if len(set(levels)) != len(levels):
        raise ValueError(f"{name}: got {levels}, each level once")
    return tuple(sorted(float(v) for v in levels))


def level_name(level):
    """80.0 -> '80', 97.5 -> '97.5': as the interval columns are named (lo-80, hi-97.5)."""
    return f"{level:g}"


def merge_options(config, options):
    """``config`` (the defaults if None) with the fields in ``options`` changed, checked."""
    config = config if config is not None else ForecastConfig()
    return ForecastConfig(**{**asdict(config), **options}) if options else config
