"""pandas in and out: a pandas Series or DataFrame as a numbarnn ``Series``, the long
``unique_id, ds, y`` format as many series, and forecasts in statsforecast's layout.

pandas stays optional (``pip install "numbarnn[pandas]"``): it is imported here, when one
of these functions is called, and nowhere else; CSV files are read without it.

    import pandas as pd
    from .frames import fit_forecast

    df = pd.read_csv("sales.csv", parse_dates=["ds"])   # columns unique_id, ds, y
    forecasts, reports = fit_forecast(df, horizon=12, level=[80, 95])
    # forecasts: unique_id, ds, numbarnn, numbarnn-lo-80, numbarnn-hi-80, numbarnn-lo-95, ...
"""
import numpy as np

from .dates import format_date, missing_dates, parse_date
from .series import LONG_FORMAT, Series

ALIAS = "numbarnn"  # the forecast column's name, as statsforecast names its columns by model


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError('pandas is not installed: pip install "numbarnn[pandas]" (CSV files '
                          "need no pandas: numbarnn.forecast.read_csv)") from None
    return pandas


def _dates(stamps, where):
    """``(dates, date_format)`` for numbarnn from pandas time stamps (increasing, no gaps);
    ``(None, None)`` for integer time steps (counting up by one)."""
    pd = _pandas()
    if pd.api.types.is_integer_dtype(stamps):  # statsforecast's integer time index: steps
        steps = np.asarray(stamps, np.int64)
        if not np.all(np.diff(steps) == 1):
            raise ValueError(f"{where}: integer time steps must count up by one")
        return None, None
    if isinstance(stamps, pd.PeriodIndex):
        stamps = stamps.to_timestamp()
    try:
        index = pd.DatetimeIndex(pd.to_datetime(stamps))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: not dates ({e})") from None
    if index.tz is not None:  # (in UTC, as a CSV's: summer time keeps the steps regular)
        index = index.tz_convert("UTC").tz_localize(None)
    if index.hasnans:
        raise ValueError(f"{where}: a missing date at position {int(np.argmax(index.isna()))}")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError(f"{where}: expected dates in increasing order without repeats")
    moments = [t.to_pydatetime() for t in index]
    date_format = "date" if all(m.hour == m.minute == m.second == 0 for m in moments) \
        else "datetime"
    gaps = missing_dates(moments)
    if gaps is not None:  # (read as they are, the steps after a gap would be out of season)
        frequency, missing = gaps
        first = min(missing)
        raise ValueError(f"{where}: the dates are {frequency}, but "
                         f"{format_date(missing[first][0], date_format)} is missing before "
                         f"{format_date(moments[first], date_format)}; insert the missing "
                         "steps (for example DataFrame.asfreq) and fill them "
                         "(DataFrame.interpolate())")
    return moments, date_format


def _values(column, where):
    values = np.asarray(column, dtype=np.float64)  # (non-numeric data: pandas' own error)
    missing = np.flatnonzero(~np.isfinite(values))
    if missing.size:
        raise ValueError(f"{where}: {missing.size} missing or infinite value(s), the first at "
                         f"position {missing[0]}; fill them first (for example with "
                         "DataFrame.interpolate())")
    return values


def from_pandas(data, target=None, date_column=None, features=None):
    """A numbarnn ``Series`` from a pandas ``Series`` or ``DataFrame``.

    Parameters
    ----------
    data : pandas.Series or pandas.DataFrame
        A Series: the values, its index the dates where it is a ``DatetimeIndex`` or
        ``PeriodIndex``.  A DataFrame: one row per step.
    target : str, optional
        The DataFrame's target column [default: ``y`` where there is one, else the only
        numeric column that is not the date or a feature].
    date_column : str, optional
        The DataFrame's date column [default: ``ds`` where there is one, else the index
        where it holds dates, else none].
    features : list of str, optional
        Extra input columns of the DataFrame.

    Returns
    -------
    Series
        Dates with a time zone in UTC.

    Raises
    ------
    ValueError
        For missing values, dates out of order or repeated, or a date missing from the
        dates' calendar (``dates.missing_dates``): fill them first.
    """
    pd = _pandas()
    features = list(features or [])
    if isinstance(data, pd.Series):
        if features or date_column or target:
            raise ValueError("a pandas Series is one column: target, date_column and "
                             "features are for DataFrames")
        name = str(data.name) if data.name is not None else "value"
        dated = isinstance(data.index, (pd.DatetimeIndex, pd.PeriodIndex))
        dates, date_format = _dates(data.index, "the index") if dated else (None, None)
        return Series(_values(data, name), name, None, [], dates, date_format, source="pandas")
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"expected a pandas Series or DataFrame, got {type(data).__name__}")
    columns = [str(c) for c in data.columns]
    if date_column is None and LONG_FORMAT[1] in columns:
        date_column = LONG_FORMAT[1]
    for name, given in [("date_column", date_column), ("target", target)] + \
            [("features", f) for f in features]:
        if given is not None and given not in columns:
            raise ValueError(f"{name}: no column {given!r}; the columns are {columns}")
    if target is None:
        if LONG_FORMAT[2] in columns:
            target = LONG_FORMAT[2]
        else:
            numeric = [c for c in data.columns if str(c) not in features + [date_column]
                       and pd.api.types.is_numeric_dtype(data[c])]
            if len(numeric) != 1:
                raise ValueError(f"target: {len(numeric)} numeric columns "
                                 f"{[str(c) for c in numeric]}; name the one to forecast")
            target = str(numeric[0])
    if date_column is not None:
        dates, date_format = _dates(data[date_column], f"column {date_column!r}")
    elif isinstance(data.index, (pd.DatetimeIndex, pd.PeriodIndex)):
        dates, date_format = _dates(data.index, "the index")
    else:
        dates = date_format = None
    feature_values = np.stack([_values(data[f], f) for f in features], axis=1) if features \
        else None
    return Series(_values(data[target], target), target, feature_values, features, dates,
                  date_format, source="pandas")


def panel_from_pandas(data, id_column=LONG_FORMAT[0], date_column=LONG_FORMAT[1],
                      target=LONG_FORMAT[2]):
    """The series of a long-format DataFrame (statsforecast's ``unique_id, ds, y``), each
    sorted by date: ``{unique_id: Series}`` in the order of first appearance."""
    pd = _pandas()
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in (id_column, date_column, target) if c not in data.columns]
    if missing:
        raise ValueError(f"long format: no column {missing[0]!r}; the columns are "
                         f"{[str(c) for c in data.columns]}")
    ids = data[id_column]
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        raise ValueError(f"{id_column}: empty at row {int(np.argmax(empty.to_numpy()))}; every "
                         "row needs the id of its series")
    out = {}
    for series_id, group in data.groupby(id_column, sort=False):
        group = group.sort_values(date_column, kind="stable")
        try:
            series = from_pandas(group[[date_column, target]], target, date_column)
        except ValueError as e:
            raise ValueError(f"{id_column} {series_id!r}: {e}") from None
        out[series_id] = series
    return out


def forecast_to_frame(result, unique_id=None, alias=ALIAS, first_step=0):
    """``Forecaster.forecast``'s result as a DataFrame in statsforecast's layout:
    ``[unique_id,] ds, <alias>, <alias>-lo-80, <alias>-hi-80, ...``; ``ds`` are time stamps
    where the dates are known, else the step numbers after the history (whose first step
    is ``first_step``)."""
    pd = _pandas()
    from .config import level_name

    n = len(result["values"])
    if result["dates"] is not None:
        ds = pd.to_datetime([parse_date(d)[0] for d in result["dates"]])  # (1949Q1 too)
    else:
        ds = first_step + np.arange(len(result["history"]), len(result["history"]) + n)
    columns = {"ds": ds, alias: result["values"]}
    for level, (lo, hi) in result["intervals"].items():
        columns[f"{alias}-lo-{level_name(level)}"] = lo
        columns[f"{alias}-hi-{level_name(level)}"] = hi
    frame = pd.DataFrame(columns)
    if unique_id is not None:
        frame.insert(0, "unique_id", [unique_id] * n)
    return frame


def fit_forecast(data, horizon, level=None, config=None, **options):
    """Train a forecaster on each series of ``data`` and forecast ``horizon`` steps past its end.

    Parameters
    ----------
    data : pandas.DataFrame or pandas.Series
        Long format (``unique_id, ds, y`` columns: one model per series), or one series
        (as ``from_pandas`` reads it).
    horizon : int
        Steps forecast, and held out as each model's test (``ForecastConfig.horizon``).
    level : sequence of numbers in (0, 100), optional
        Prediction intervals, in percent.
    config : ForecastConfig, optional
    **options
        ForecastConfig fields.

    Returns
    -------
    forecasts : pandas.DataFrame
        statsforecast's layout: ``unique_id`` (long format only), ``ds``, ``numbarnn``, and
        ``numbarnn-lo-L``, ``numbarnn-hi-L`` for each level.
    reports : dict
        ``{unique_id: report}`` (``train_forecaster``'s; the key None for one series).
    """
    pd = _pandas()
    from .training import train_forecaster

    if isinstance(data, pd.DataFrame) and isinstance(data.index, pd.MultiIndex):
        data = data.reset_index()  # (indexed by unique_id and ds: the same long format)
    long_format = isinstance(data, pd.DataFrame) and set(LONG_FORMAT) <= set(data.columns)
    many = panel_from_pandas(data) if long_format else {None: from_pandas(data)}
    # (integer time steps: the forecasts' ds continue each series' own)
    unique_id, ds = LONG_FORMAT[:2]
    first = {}
    if isinstance(data, pd.DataFrame) and ds in data.columns and \
            pd.api.types.is_integer_dtype(data[ds]):
        first = data.groupby(unique_id, sort=False)[ds].min().to_dict() if long_format \
            else {None: data[ds].min()}
    frames, reports = [], {}
    for series_id, series in many.items():
        model, report = train_forecaster(series, config, level=level,
                                         **{**options, "horizon": horizon})
        frames.append(forecast_to_frame(model.forecast(level=level), series_id,
                                        first_step=int(first.get(series_id, 0))))
        reports[series_id] = report
    return pd.concat(frames, ignore_index=True), reports
