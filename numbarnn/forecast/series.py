"""Time series in: the ``Series``, and reading one (or a long-format file's rows) from CSV.

A ``Series`` is the target column (float64), optional extra input columns
("features"), and, when the file has a date column, the dates and the sampling
frequency inferred from them, which later give the forecast its dates and the
metrics their season.

The CSV reader uses only the standard library's ``csv``.  Every problem in the
file is reported as a ``ValueError`` that names the file, the line and the
column, and says what was expected.
"""
import csv
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .dates import (MONTH_NAMES, SEASON_OF_FREQUENCY, column_day_first, common_date_format,
                    format_date, infer_frequency, missing_dates, parse_date)

# Cells read as a missing value (compared case-insensitively, after stripping blanks).
MISSING_MARKERS = frozenset({"", "na", "nan", "n/a", "null", "none", "?", "-"})
FILL_METHODS = ("ffill", "interpolate")


@dataclass
class Series:
    """A univariate target with optional input features and dates.

    Attributes
    ----------
    values : (N,) float64 array
        The target.
    name : str
        The target's column name.
    features : (N, F) float64 array
        Extra input columns (F may be 0).
    feature_names : list of str
    dates : list of datetime.datetime or None
    date_format : str or None
        How the dates were written: ``'month'`` (1949-01), ``'date'``
        (1949-01-31) or ``'datetime'`` (1949-01-31T13:00); forecasts write
        theirs the same way.
    frequency : str or None
        Inferred from the dates: 'monthly', 'quarterly', 'yearly', 'weekly',
        'daily', 'hourly', or 'other' (a constant step of another size, or
        irregular dates); None without dates.
    source : str
        Where the data came from, for messages and metadata.
    inserted_dates : list of str
        Dates that were missing from the calendar and went in with filled values
        (``read_csv``'s ``fill``), written as ``date_format`` (in UTC for date-times
        with a time zone, as ``dates``).
    first_step : int or None
        For a series without dates whose steps were numbered (statsforecast's integer
        ``ds``, a column of years: ``step_column``, ``integer_steps``): the number of its
        first step, so that forecasts continue the numbering; None: forecasts number their
        steps from 1.
    """

    values: np.ndarray
    name: str = "value"
    features: np.ndarray = None
    feature_names: list = field(default_factory=list)
    dates: list = None
    date_format: str = None
    frequency: str = None
    source: str = "array"
    inserted_dates: list = field(default_factory=list)
    first_step: int = None

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"values: got shape {values.shape}, expected one value per step "
                             "(a 1-D array of at least one value; features go in features)")
        self.values = values
        if self.features is None:
            self.features = np.zeros((self.values.size, 0))
        self.features = np.asarray(self.features, dtype=np.float64)
        if self.features.ndim == 1:
            self.features = self.features[:, None]
        if self.features.ndim != 2 or self.features.shape[0] != self.values.size:
            raise ValueError(f"features: got shape {self.features.shape}, expected "
                             f"({self.values.size}, F): a row per value")
        if self.features.shape[1] != len(self.feature_names):
            self.feature_names = [f"feature{k}" for k in range(self.features.shape[1])]
        if self.dates is not None and len(self.dates) != self.values.size:
            raise ValueError(f"dates: got {len(self.dates)}, expected one per value "
                             f"({self.values.size})")
        if self.dates is not None and self.frequency is None:
            self.frequency = infer_frequency(self.dates)

    def __len__(self):
        return self.values.size

    def columns(self):
        """``(name, values)`` of the target, then of each feature."""
        return [(self.name, self.values)] + [(f, self.features[:, k])
                                             for k, f in enumerate(self.feature_names)]

    @property
    def season(self):
        """The season implied by the frequency (1 when unknown)."""
        return SEASON_OF_FREQUENCY.get(self.frequency, 1)

    def head(self, n):
        """The first ``n`` steps, as a new Series (dates and features cut alike)."""
        return self._steps(0, n)

    def tail(self, n):
        """The last ``n`` steps, as a new Series (dates and features cut alike)."""
        return self._steps(max(len(self) - n, 0), len(self))

    def _steps(self, start, stop):
        """Steps ``start:stop`` (0 <= start), as a new Series."""
        return Series(self.values[start:stop], self.name, self.features[start:stop],
                      list(self.feature_names),
                      None if self.dates is None else self.dates[start:stop], self.date_format,
                      self.frequency, self.source,
                      first_step=None if self.first_step is None else self.first_step + start)


# the end of a date's error where a file's dates cannot be read (the CLI's flag; in Python
# date_column=False)
NO_DATES_HINT = "; or read the file without its dates (--no-dates)"


def insert_missing_dates(rows, lines, dates, date_format, date_index, header, fill, where):
    """``rows``, ``lines`` and ``dates`` with a row of missing values for each date that
    ``missing_dates`` finds missing, for ``fill`` to fill, and those dates (formatted);
    without ``fill``, one ``ValueError`` naming the first missing date.  (The inserted
    rows carry the line of the row after them, for errors.)"""
    found = missing_dates(dates)
    if found is None:
        return rows, lines, dates, []
    frequency, gaps = found
    if fill is None:
        first = min(gaps)
        count = sum(len(d) for d in gaps.values())
        shown = format_date(gaps[first][0], date_format)
        raise ValueError(f"{where}, line {lines[first]}, column {header[date_index]!r}: the "
                         f"dates are {frequency}, but {shown} is missing before "
                         f"{rows[first][date_index].strip()!r}"
                         f"{f' ({count} dates missing in all)' if count > 1 else ''}; add "
                         "the missing rows, or let --fill ffill or --fill interpolate insert "
                         "and fill them")
    new_rows, new_lines, new_dates = [], [], []
    for i, (row, line, moment) in enumerate(zip(rows, lines, dates)):
        for gap in gaps.get(i, ()):
            new_rows.append([""] * len(row))
            new_lines.append(line)
            new_dates.append(gap)
        new_rows.append(row)
        new_lines.append(line)
        new_dates.append(moment)
    inserted = [format_date(d, date_format) for i in sorted(gaps) for d in gaps[i]]
    return new_rows, new_lines, new_dates, inserted


# ------------------------------------------------------------------------------ CSV
def _resolve_column(spec, header, what, path):
    """The index of a column given by name or by 0-based index (an int or digits)."""
    if isinstance(spec, str) and spec in header:
        return header.index(spec)
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        if 0 <= index < len(header):
            return index
        raise ValueError(f"{path}: {what} {spec!r}: no column at index {index} (the file has "
                         f"{len(header)} columns, 0 to {len(header) - 1})")
    raise ValueError(f"{path}: {what} {spec!r}: no such column; the columns are "
                     f"{', '.join(header)}")


DELIMITERS = (",", ";", "\t", "|")
# statsforecast's long format: one row per series and time step
LONG_FORMAT = ("unique_id", "ds", "y")


def detect_delimiter(line):
    """The field delimiter of a CSV header line: the one of ``DELIMITERS`` it holds most
    often outside quotes (a comma where it holds none)."""
    unquoted = "".join(part for k, part in enumerate(line.split('"')) if k % 2 == 0)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_header(path):
    """The column names of a CSV file (its delimiter detected), or [] if it has none."""
    header, _, _, _ = _read(path, header_only=True)
    return header


def read_csv_rows(path):
    """The header, the non-blank rows (padded to the header's length) and their file
    line numbers of a UTF-8 CSV file whose delimiter (comma, semicolon, tab or bar) is
    detected from the header, and whether its numbers may have decimal commas (for
    ``parse_numbers``: where the delimiter is not a comma); one clear ``ValueError`` for
    what cannot be read."""
    return _read(path)


def _read(path, header_only=False):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
            f.seek(0)
            delimiter = detect_delimiter(first)
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: the file is empty; expected a header row and data")
            header = [h.strip() for h in header]
            # (no header row; but pandas names a frame's unnamed columns 0, 1, ... where
            # there are two or more: a lone 0 is as likely a first value)
            if all(_is_value(h) for h in header) and \
                    (len(header) < 2 or header != [str(k) for k in range(len(header))]):
                raise ValueError(f"{path}: the first line ({first.strip()!r}) holds values, "
                                 "not column names; add a header row (such as 'date,value')")
            seen = set()
            for h in header:
                if h in seen:  # (read silently, the last of the two would win)
                    raise ValueError(f"{path}: the header names column {h!r} twice; give "
                                     "each column its own name")
                seen.add(h)
            if header_only:
                return header, [], [], False
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) > len(header):
                    raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, "
                                     f"expected {len(header)} (the header's)")
                rows.append(row + [""] * (len(header) - len(row)))
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as e:
        raise ValueError(f"{path}: not a readable CSV file ({e})") from None
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    return header, rows, lines, delimiter != ","


def is_date(text):
    """Whether ``text`` reads as a date (``parse_date``)."""
    try:
        parse_date(text)
        return True
    except ValueError:
        return False


def _is_value(text):
    """Whether a header cell reads as a number or a date: data, not a column's name."""
    try:
        float(text)
        return True
    except ValueError:
        return is_date(text)


def parse_numbers(rows, index, lines, column, fill, where, decimal_comma=False):
    """The numbers in field ``index`` of the CSV ``rows``, missing cells filled by ``fill``.

    With ``decimal_comma`` (a file whose delimiter is not a comma: ``read_csv_rows``), a
    column may write its decimals with a comma, as spreadsheets save such files in many
    locales (``decimal_points``).

    Parameters
    ----------
    rows : list of lists of str
    index : int
    lines : list of int
        The file line of each row, for errors.
    column : str
        The column's name, for errors.
    fill : {None, 'ffill', 'interpolate'}
    where : str
        The file (or series) the rows come from, for errors.
    decimal_comma : bool

    Raises
    ------
    ValueError
        Naming the line and column of a cell that is not a finite number, or of
        the first missing one when ``fill`` is None.
    """
    values = np.empty(len(rows))
    missing = np.zeros(len(rows), dtype=bool)
    cells = [row[index].strip() for row in rows]
    numbers = decimal_points(cells, lines, column, where) if decimal_comma else cells
    for i, (cell, number) in enumerate(zip(cells, numbers)):
        if cell.lower() in MISSING_MARKERS:
            missing[i] = True
            continue
        try:
            values[i] = float(number)
        except ValueError:
            hint = f": write it without thousands separators ({cell.replace(',', '')})" \
                if GROUPED.fullmatch(cell) else ""
            raise ValueError(f"{where}, line {lines[i]}, column {column!r}: {cell!r} is not a "
                             f"number{hint}") from None
        if not math.isfinite(values[i]):
            raise ValueError(f"{where}, line {lines[i]}, column {column!r}: {cell!r} is not a "
                             "finite number")
    values[missing] = np.nan
    _fill_missing(values, missing, lines, column, fill, where)
    return values


# a number with a decimal comma (1,5; -0,25e3); and one grouped by thousands (1,001;
# 1,234.5; 12,345,678: groups of three digits after one to three, the first not 0), as a
# number with one comma and no point may as well be
DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?")


def decimal_points(cells, lines, column, where):
    """A column's ``cells`` with its decimal commas as points, where it writes them (cells
    such as ``1,5`` and none with a decimal point; else as they are).

    Raises
    ------
    ValueError
        Where every comma could as well separate thousands (``1,001``, ``12,500``),
        naming the first such cell.
    """
    commas = [i for i, cell in enumerate(cells) if DECIMAL_COMMA.fullmatch(cell)]
    if not commas or any("." in cell for cell in cells):
        return cells
    if all(GROUPED.fullmatch(cells[i]) for i in commas):
        i = commas[0]
        raise ValueError(f"{where}, line {lines[i]}, column {column!r}: {cells[i]!r} may have "
                         "a decimal comma or a thousands separator; write the numbers without "
                         "thousands separators, or with a decimal point")
    points = list(cells)
    for i in commas:
        points[i] = cells[i].replace(",", ".")
    return points


def _fill_missing(values, missing, lines, column, fill, path):
    """Fill the NaNs of one column in place by ``fill``, or refuse naming the first one."""
    if not missing.any():
        return
    first = int(np.argmax(missing))
    where = f"{path}, line {lines[first]}, column {column!r}"
    if fill is None:
        raise ValueError(f"{where}: missing value; fill the gaps with --fill ffill or "
                         "--fill interpolate, or fix the file")
    if missing.all():
        raise ValueError(f"{path}: column {column!r} has no values at all")
    if fill == "ffill":
        if first == 0:
            raise ValueError(f"{where}: missing value in the first row, which forward fill "
                             "cannot fill (no earlier value); use --fill interpolate")
        for i in np.flatnonzero(missing):
            values[i] = values[i - 1]
    else:  # linear interpolation in the row index; the ends take the nearest value
        known = np.flatnonzero(~missing)
        values[missing] = np.interp(np.flatnonzero(missing), known, values[known])


def read_csv(path, column=None, date_column=None, features=None, fill=None):
    """Read a time series from a CSV file with a header row.

    Parameters
    ----------
    path : str or path-like
    column : str or int, optional
        The target column, by name or 0-based index.  Default: the last column
        that is neither the date column (nor the month or quarter beside a year) nor a
        feature, nor named ``ds`` or ``year`` (``default_target``).
    date_column : str or int or False, optional
        The column of dates (``parse_date``'s forms).  Default: the first column
        whose first value reads as a date (after an index column, as pandas writes
        one; statsforecast's ``ds``), else a ``year`` column beside a ``month`` or
        ``quarter`` one (``year_and_period``; their dates' name, ``year/month``, names
        them too); False: no dates.  Without dates, a
        ``ds`` or ``year`` column of integers counting up by one numbers the steps
        (``Series.first_step``, ``step_column``).
    features : list of (str or int), or a comma-separated str, optional
        Extra numeric input columns.
    fill : {None, 'ffill', 'interpolate'}
        What to do with missing values (empty cells, NA, NaN, null, ?) and with dates
        missing from the dates' calendar (``missing_dates``), whose rows it inserts:
        None refuses them, naming the line and column.

    Returns
    -------
    Series

    Raises
    ------
    ValueError
        For an unreadable file, an unknown column, a missing or non-numeric
        value, a bad, non-increasing or missing date: naming the line and the column.
    """
    path = os.fspath(path)
    if fill not in (None,) + FILL_METHODS:
        raise ValueError(f"fill: got {fill!r}, expected one of {', '.join(FILL_METHODS)} or None")
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    features = list(features or [])
    header, rows, lines, decimal_comma = read_csv_rows(path)

    # (no number reads as a date: a column of values is never taken)
    date_index, pair = find_dates(header, rows, date_column, path)
    period_index = None if pair is None else pair[1]
    feature_indices = [_resolve_column(c, header, "feature", path) for c in features]
    if len(set(feature_indices)) < len(feature_indices):
        twice = next(header[k] for k in feature_indices if feature_indices.count(k) > 1)
        raise ValueError(f"{path}: feature {twice!r} given twice")
    if column is None:
        target_index = default_target(header, [date_index, period_index, *feature_indices],
                                      path)
    else:
        target_index = _resolve_column(column, header, "column", path)
    if target_index in feature_indices:
        raise ValueError(f"{path}: column {header[target_index]!r} is both the target and "
                         "a feature")
    refuse_date_target(target_index, header, date_index, pair, path)
    header, rows, date_index = with_pair_dates(header, rows, lines, date_index, pair, path)

    dates = date_format = None
    inserted = []
    if date_index is not None:
        dates, formats = [], set()
        order = column_day_first([row[date_index] for row in rows])
        for i, row in enumerate(rows):
            try:
                moment, kind = parse_date(row[date_index], order)
            except ValueError as e:
                raise ValueError(f"{path}, line {lines[i]}, column {header[date_index]!r}: "
                                 f"{e}{NO_DATES_HINT}") from None
            if dates and moment <= dates[-1]:
                raise ValueError(f"{path}, line {lines[i]}, column {header[date_index]!r}: "
                                 f"{row[date_index].strip()!r} is not after the previous date; "
                                 "expected dates in increasing order without repeats")
            dates.append(moment)
            formats.add(kind)
        date_format = common_date_format(formats)
        rows, lines, dates, inserted = insert_missing_dates(rows, lines, dates, date_format,
                                                            date_index, header, fill, path)
    steps = step_column(header, date_index, date_column, [target_index, *feature_indices])
    first_step = None if steps is None else integer_steps([row[steps] for row in rows])

    def numeric(index):
        return parse_numbers(rows, index, lines, header[index], fill, path, decimal_comma)

    values = numeric(target_index)
    feature_values = np.stack([numeric(k) for k in feature_indices], axis=1) if features \
        else np.zeros((len(rows), 0))
    return Series(values, header[target_index], feature_values,
                  [header[k] for k in feature_indices], dates, date_format, source=path,
                  inserted_dates=inserted, first_step=first_step)


# a time stamp that is an integer (statsforecast's integer ds, a year)
INTEGER_STAMP = re.compile(r"\s*-?\d+\s*")


# the columns that may number the steps: statsforecast's ds, and a column of years (as R
# and statsmodels write yearly data), whatever their case
STEP_COLUMNS = (LONG_FORMAT[1], "year")
# the columns that date the rows beside a column of years, whatever their case, as
# statsmodels and R write monthly and quarterly data: the month (1-12, or its English name
# or first three letters) and the quarter (1-4, or Q1-Q4), the month first where both are
PERIOD_COLUMNS = {"month": 12, "quarter": 4}
# a whole number as a cell holds it, also as pandas writes an integer column with a gap
# (1949.0)
WHOLE_NUMBER = re.compile(r"\s*(\d+)(?:\.0*)?\s*", re.ASCII)


def year_and_period(header, rows, skip=()):
    """``(year index, period index)`` where a column named ``year`` of whole numbers stands
    beside one named as in ``PERIOD_COLUMNS`` (none of the columns ``skip``), else None."""
    names = [name.casefold() for name in header]
    year = next((k for k, name in enumerate(names) if name == "year" and k not in skip), None)
    period = next((k for kind in PERIOD_COLUMNS for k, name in enumerate(names)
                   if name == kind and k not in skip), None)
    if year is None or period is None or \
            not all(WHOLE_NUMBER.fullmatch(row[year]) for row in rows):
        return None
    return year, period


def period_dates(header, rows, lines, year, period, where):
    """``header`` and ``rows`` with a column of the dates that the ``year`` and ``period``
    columns (``year_and_period``) make appended, named after the two (``Year/Month``), in
    forms ``parse_date`` reads (``1949-01``, ``1949Q1``); a month or quarter that is none is
    a ``ValueError`` naming its line and column."""
    kind = header[period].casefold()
    count = PERIOD_COLUMNS[kind]
    stamps = []
    for row, line in zip(rows, lines):
        cell = row[period].strip()
        number = WHOLE_NUMBER.fullmatch(cell[1:] if kind == "quarter" and cell[:1] in "qQ"
                                        else cell)
        k = int(number[1]) if number else MONTH_NAMES.get(cell.casefold()) \
            if kind == "month" else None
        if k is None or not 1 <= k <= count:
            raise ValueError(f"{where}, line {line}, column {header[period]!r}: {cell!r} is "
                             f"not a {kind} (expected 1 to {count}"
                             f"{', or a month name' if kind == 'month' else ', or Q1 to Q4'})"
                             f"{NO_DATES_HINT}")
        y = int(WHOLE_NUMBER.fullmatch(row[year])[1])
        stamps.append(f"{y}-{k:02d}" if kind == "month" else f"{y}Q{k}")
    return header + [f"{header[year]}/{header[period]}"], \
        [row + [stamp] for row, stamp in zip(rows, stamps)]


def find_dates(header, rows, date_column, path, skip=()):
    """The dates' columns for ``date_column`` (``read_csv``'s): ``(date index, pair)``, the
    date column's index (None without one) or, for a year beside a month or quarter, the
    pair ``year_and_period`` finds (then the date index is None: ``period_dates`` appends
    their column).  A named date column that the file lacks may be a pair's name
    (``Year/Month``, as a panel run keeps it)."""
    if date_column is False:
        return None, None
    if date_column is None:
        found = next((k for k in range(len(header)) if k not in skip and is_date(rows[0][k])),
                     None)
        return (found, None) if found is not None else \
            (None, year_and_period(header, rows, skip))
    if isinstance(date_column, str) and date_column not in header:
        pair = year_and_period(header, rows, skip)
        if pair and date_column.casefold() == f"{header[pair[0]]}/{header[pair[1]]}".casefold():
            return None, pair
    return _resolve_column(date_column, header, "date column", path), None


def refuse_date_target(target_index, header, date_index, pair, path):
    """A ``ValueError`` where the target is the date column or the month or quarter of a
    pair (``find_dates``'s)."""
    if target_index == date_index or pair is not None and target_index == pair[1]:
        raise ValueError(f"{path}: column {header[target_index]!r} is both the target and "
                         + ("the date column" if target_index == date_index else
                            "a part of the dates (with the year)"))


def with_pair_dates(header, rows, lines, date_index, pair, where):
    """``(header, rows, date index)`` once a pair (``find_dates``'s) has its column of
    dates (``period_dates``, appended last); as given without one."""
    if pair is None:
        return header, rows, date_index
    header, rows = period_dates(header, rows, lines, *pair, where)
    return header, rows, len(header) - 1


def default_target(header, taken, path):
    """The index of the default target: the last column that is none of ``taken`` (the
    dates, a month or quarter beside a year, features, id) and not named as one that
    numbers the steps (``STEP_COLUMNS``)."""
    candidates = [k for k, name in enumerate(header) if k not in taken
                  and name.strip().casefold() not in STEP_COLUMNS]
    if not candidates:
        raise ValueError(f"{path}: no column left for the target; name it with --column")
    return candidates[-1]


def step_column(header, date_index, date_column, taken):
    """The index of the first column named as ``STEP_COLUMNS`` that may number the steps
    (``integer_steps``): where the file is read without dates, not named as them
    (``date_column`` None or False), and the column is none of the columns ``taken`` (the
    target, features, id); else None."""
    named = not (date_column is None or date_column is False)  # (0 is a column: not False)
    if date_index is not None or named:
        return None
    return next((k for k, name in enumerate(header)
                 if name.strip().casefold() in STEP_COLUMNS and k not in taken), None)


def integer_steps(stamps):
    """The first of ``stamps`` (strings) where they are integers counting up by one in
    the order given (statsforecast's integer time index), else None."""
    if not stamps or not all(INTEGER_STAMP.fullmatch(v) for v in stamps):
        return None
    steps = [int(v) for v in stamps]
    counts_up = all(b == a + 1 for a, b in zip(steps, steps[1:]))
    return steps[0] if counts_up else None


def __getattr__(name):  # the dates and the built-in series have modules of their own
    from .._moved import moved_name

    return moved_name("forecast.series", name)
