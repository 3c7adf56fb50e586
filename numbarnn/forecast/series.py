"""Time series in: CSV files, the built-in airline data, synthetic generators.

A ``Series`` is the target column (float64), optional extra input columns
("features"), and, when the file has a date column, the dates and the sampling
frequency inferred from them, which later give the forecast its dates and the
metrics their season.

The CSV reader uses only the standard library's ``csv``.  Every problem in the
file is reported as a ``ValueError`` that names the file, the line and the
column, and says what was expected.
"""
import calendar
import csv
import datetime as dt
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

# Cells read as a missing value (compared case-insensitively, after stripping blanks).
MISSING_MARKERS = frozenset({"", "na", "nan", "n/a", "null", "none", "?", "-"})
FILL_METHODS = ("ffill", "interpolate")
SYNTHETIC = ("sine", "mackey-glass")
# The season (period of the dominant cycle) that each inferred frequency implies.
SEASON_OF_FREQUENCY = {"monthly": 12, "quarterly": 4, "yearly": 1, "weekly": 52, "daily": 7,
                       "hourly": 24, "other": 1}

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?)?)?$")
_MONTHS_PER_STEP = {1: "monthly", 3: "quarterly", 12: "yearly"}
# a quarter as pandas writes a quarterly period (1949Q1), or with a dash or a space
_QUARTER = re.compile(r"^(\d{4})[- ]?[Qq]([1-4])$")
# a month as statistical offices write it (1949M01, Eurostat's and statsmodels')
_MONTH_CODE = re.compile(r"^(\d{4})[Mm](\d{1,2})$")
_TIME = r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
# the year first with slashes or dots (1949/01/31; 1949/01, but not 1949.01: a number)
_YEAR_FIRST = re.compile(r"^(\d{4})([/.])(\d{1,2})(?:\2(\d{1,2})" + _TIME + ")?$")
# day and month first, in an order the column decides (``column_day_first``): 31/01/1949,
# 01/31/1949, 31.01.1949, 31-01-1949, with a time or not
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME + "$")
# month names (English, three letters or whole): Jan 1949, January-1949, 31 Jan 1949,
# 31-Jan-1949, Jan 31, 1949, 1949 Jan, 1949-Jan-31
_DAY, _MONTH, _YEAR = r"(?P<day>\d{1,2})", r"(?P<month>[A-Za-z]+)\.?", r"(?P<year>\d{4})"
_NAMED = tuple(re.compile(form) for form in (
    rf"^(?:{_DAY}[ ./-]?)?{_MONTH}[ ./-]?{_YEAR}$", rf"^{_MONTH} {_DAY},? {_YEAR}$",
    rf"^{_YEAR}[ ./-]?{_MONTH}(?:[ ./-]{_DAY})?$"))
# (spelled out: the calendar module's names follow the locale a program may have set)
_ENGLISH_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
                   "september", "october", "november", "december")
MONTH_NAMES = {**{name: k + 1 for k, name in enumerate(_ENGLISH_MONTHS)},
               **{name[:3]: k + 1 for k, name in enumerate(_ENGLISH_MONTHS)}, "sept": 9}


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


# ------------------------------------------------------------------------------ dates
def parse_date(text, day_first=None):
    """A date or date-time in one of the forms files write them in: ISO (``1949-01``,
    ``1949-01-31``, ``1949-01-31T13:00[:00]``), the year first with slashes or dots
    (``1949/01``, ``1949/01/31``, ``1949.01.31``), the day and the month before a
    four-digit year (``31/01/1949``, ``01/31/1949``, ``31.01.1949``, ``31-01-1949``),
    English month names (``Jan 1949``, ``January 1949``, ``31-Jan-1949``, ``Jan 31,
    1949``, ``1949 Jan``), a month code (``1949M01``), a quarter (``1949Q1``,
    ``1949-Q1``, ``1949 Q1``: its first day).

    A date-time with a time zone (``Z``, ``+01:00``, ``-0500``, ISO only) is taken in UTC,
    so that a change of offset (summer time) leaves the steps regular; fractions of a
    second are dropped.

    Parameters
    ----------
    text : str
    day_first : bool or None
        For the day-and-month forms, which comes first: a whole column decides it
        (``column_day_first``); None: the day where the first number is above 12, else the
        month where the second is, else the month for slashes (as in the United States
        and pandas) and the day for dots and dashes (as in Europe).

    Returns
    -------
    (datetime.datetime, str)
        The moment and the precision it was written with: 'month', 'date', 'datetime'
        or 'quarter' (``format_date`` writes each in its ISO form).

    Raises
    ------
    ValueError
        If ``text`` is not one of those forms or not a real date.
    """
    stripped = text.strip()
    try:
        parsed = _parse_iso(stripped) or _parse_other(stripped, day_first)
    except ValueError as e:  # (a form read, a date that does not exist: 0000Q1, 31/02/2020)
        raise ValueError(f"{text!r} is not a valid date ({e})") from None
    if parsed is None:
        raise ValueError(f"{text!r} is not a date (expected e.g. 1949-01, 1949-01-31, "
                         "1949-01-31T13:00, 31/01/1949, Jan 1949 or the quarter 1949Q1)")
    return parsed


def _kind(day, hour):
    return "month" if day is None else "date" if hour is None else "datetime"


def _moment(year, month, day=None, hour=None, minute=None, second=None):
    return dt.datetime(year, month, 1 if day is None else day, hour or 0, minute or 0,
                       second or 0)


def _parse_iso(text):
    """``parse_date`` of the ISO forms: None where ``text`` is none of them."""
    match = _ISO_DATE.match(text)
    if not match:
        return None
    *fields, zone = match.groups()
    year, month, day, hour, minute, second = (int(g) if g else None for g in fields)
    moment = _moment(year, month, day, hour, minute, second)
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment -= offset if zone[0] == "+" else -offset
    return moment, _kind(day, hour)


def _parse_other(text, day_first):
    """``parse_date`` of the forms other than ISO: None where ``text`` is none of them."""
    quarter = _QUARTER.match(text)
    if quarter:
        return _moment(int(quarter[1]), 3 * int(quarter[2]) - 2), "quarter"
    code = _MONTH_CODE.match(text)
    if code:
        return _moment(int(code[1]), int(code[2])), "month"
    match = _YEAR_FIRST.match(text)
    if match and not (match[2] == "." and match[4] is None):
        year, _, month, day, *clock = match.groups()
        return _numeric_date(year, month, day, *clock)
    match = _DAY_MONTH_YEAR.match(text)
    if match:
        order = _day_first_of(int(match[1]), int(match[3]), match[2]) if day_first is None \
            else day_first
        try:
            return _day_month_date(match, order)
        except ValueError as e:
            if day_first is None:
                raise
            # (the order its column decided: another of its dates says so)
            raise ValueError(f"{e}; the column's dates put the {'day' if order else 'month'} "
                             "first") from None
    for form in _NAMED:
        match = form.match(text)
        if match and match["month"].lower() in MONTH_NAMES:
            day = match["day"]
            moment = _moment(int(match["year"]), MONTH_NAMES[match["month"].lower()],
                             None if day is None else int(day))
            return moment, _kind(day, None)
    return None


def _numeric_date(year, month, day, hour, minute, second):
    numbers = [int(g) if g else None for g in (year, month, day, hour, minute, second)]
    return _moment(*numbers), _kind(day, hour)


def _day_month_date(match, day_first):
    """``parse_date`` of a ``_DAY_MONTH_YEAR`` match, the day first or the month."""
    first, _, second, year, *clock = match.groups()
    day, month = (first, second) if day_first else (second, first)
    return _numeric_date(year, month, day, *clock)


def _day_first_of(first, second, separator):
    """``parse_date``'s reading of one day-and-month date on its own (see there)."""
    if first > 12 or second > 12:
        return first > 12
    return _custom_day_first(separator)


def _custom_day_first(separator):
    """The custom: the month first with slashes (the United States, pandas), the day with
    dots and dashes (Europe)."""
    return separator != "/"


def column_day_first(cells):
    """Whether the day-and-month dates (``31/01/1949``) of a column put the day first: True
    or False for the whole column, None where it has none (``parse_date``'s
    ``day_first``).

    A first number above 12 anywhere means the day; a second one, the month.  Where no
    number is above 12, the reading whose dates, in order, leave fewer steps of their
    calendar out (monthly data on the first of each month, written day first, read month
    first are days of January with gaps); where both leave as many, the month first for
    slashes and the day first for dots and dashes (``parse_date``).
    """
    matches = [m for m in map(_DAY_MONTH_YEAR.match, (c.strip() for c in cells)) if m]
    if not matches:
        return None
    if any(int(m[1]) > 12 for m in matches):
        return True
    if any(int(m[3]) > 12 for m in matches):
        return False
    readings = []
    for order in (True, False):
        moments = set()
        for m in matches:
            try:
                moments.add(_day_month_date(m, order)[0])
            except ValueError:  # (a 00, wrong either way: the reader reports it)
                pass
        found_calendar = _calendar(sorted(moments))
        readings.append(math.inf if found_calendar is None else sum(found_calendar[1]))
    if readings[0] != readings[1]:
        return readings[0] < readings[1]
    return _custom_day_first(matches[0][2])


# the date formats from the most to the least precise: a column that mixes them is written
# in the most precise (a quarter loses the month within it)
DATE_FORMATS = ("datetime", "date", "month", "quarter")


def common_date_format(kinds):
    """The format to write dates read in the formats ``kinds`` (``parse_date``'s): the most
    precise of them."""
    return next(kind for kind in DATE_FORMATS if kind in kinds)


def format_date(moment, date_format):
    """``moment`` written in ``date_format`` ('month', 'date', 'datetime' or 'quarter': the
    quarter it lies in, as pandas writes a quarterly period, 1949Q1)."""
    if date_format == "quarter":
        return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"
    if date_format == "month":
        return moment.strftime("%Y-%m")
    if date_format == "date":
        return moment.strftime("%Y-%m-%d")
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def _months_between(a, b):
    return (b.year - a.year) * 12 + b.month - a.month


def _is_month_end(moment):
    return moment.day == calendar.monthrange(moment.year, moment.month)[1]


def _add_months(moment, months, month_end):
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=last if month_end else min(moment.day, last))


def infer_frequency(dates):
    """The sampling frequency of increasing dates.

    Returns
    -------
    str
        'monthly', 'quarterly' or 'yearly' (a constant step of 1, 3 or 12
        calendar months, on the same day of the month or always its last day),
        'weekly', 'daily', 'hourly' (a constant step of 7 days, 1 day, 1 hour),
        else 'other'.  Fewer than two dates give 'other'.
    """
    calendar = _calendar(dates)
    return calendar[0] if calendar and all(gap == 1 for gap in calendar[1]) else "other"


_STEP_FREQUENCIES = {dt.timedelta(days=7): "weekly", dt.timedelta(days=1): "daily",
                     dt.timedelta(hours=1): "hourly"}


def _calendar(dates):
    """The regular calendar that ``dates`` lie on, steps left out or not: ``(frequency,
    gaps, step)``, ``gaps`` the steps of the calendar between neighbouring dates (all 1
    where none is left out) and ``step(moment, k)`` the date k steps after ``moment``;
    None for fewer than two dates or no such calendar.  The calendar's step is the
    smallest between neighbours: 1, 3 or 12 months (on the same day of the month, or
    always its last day), else 7 days, 1 day or 1 hour."""
    if len(dates) < 2:
        return None
    months = [_months_between(a, b) for a, b in zip(dates, dates[1:])]
    month_end = all(_is_month_end(d) for d in dates)
    same_day = len({(d.day, d.time()) for d in dates}) == 1 or month_end
    unit = min(months)
    if same_day and unit in _MONTHS_PER_STEP and all(m % unit == 0 for m in months):
        # (month ends stay month ends; otherwise the day of the month is the same in all)
        return (_MONTHS_PER_STEP[unit], [m // unit for m in months],
                lambda moment, k: _add_months(moment, unit * k, month_end))
    steps = [b - a for a, b in zip(dates, dates[1:])]
    unit = min(steps)
    frequency = _STEP_FREQUENCIES.get(unit)
    if frequency is None or any(s % unit for s in steps):
        return None
    return frequency, [s // unit for s in steps], lambda moment, k: moment + unit * k


# the end of a date's error where a file's dates cannot be read (the CLI's flag; in Python
# date_column=False)
NO_DATES_HINT = "; or read the file without its dates (--no-dates)"


# at most this share of a weekly, daily or hourly calendar's steps may be missing for dates
# to read as that calendar with gaps; more (a business day's weekends: 2 of 7) is another
# calendar ('other').  Monthly, quarterly and yearly dates have no such other calendar.
MAX_MISSING_SHARE = 0.1


def missing_dates(dates):
    """The steps missing from ``dates`` where they are a regular calendar (monthly,
    quarterly, yearly; or weekly, daily, hourly with at most ``MAX_MISSING_SHARE`` of
    the steps missing: ``infer_frequency``'s calendars) with steps left out.

    Returns
    -------
    (frequency, {index: [dates]}) or None
        The calendar and, for each index of ``dates`` that follows a gap, the dates
        missing before it; None where nothing is missing or the dates are no such
        calendar.
    """
    calendar = _calendar(dates)
    if calendar is None:
        return None
    frequency, gaps, step = calendar
    missing = sum(gaps) - len(gaps)
    by_days = frequency in _STEP_FREQUENCIES.values()
    if missing == 0 or by_days and missing > MAX_MISSING_SHARE * (missing + len(dates)):
        return None
    return frequency, {i + 1: [step(dates[i], k) for k in range(1, gap)]
                       for i, gap in enumerate(gaps) if gap > 1}


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


def future_dates(dates, frequency, n):
    """The ``n`` dates after the last of ``dates``, or None where the step is not constant."""
    last = dates[-1]
    if frequency in ("monthly", "quarterly", "yearly"):
        step = {"monthly": 1, "quarterly": 3, "yearly": 12}[frequency]
        month_end = all(_is_month_end(d) for d in dates[-3:]) and last.day >= 28
        return [_add_months(last, step * k, month_end) for k in range(1, n + 1)]
    steps = {b - a for a, b in zip(dates, dates[1:])}
    if len(steps) != 1:
        return None
    step = steps.pop()
    return [last + step * k for k in range(1, n + 1)]


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


# ------------------------------------------------------------------------------ built-in data
def airline_path():
    """Path of the packaged airline-passenger CSV."""
    return os.path.join(os.path.dirname(__file__), "data", "airline_passengers.csv")


def load_airline():
    """Monthly international airline passengers (thousands), 1949-01 to 1960-12: 144 values."""
    series = read_csv(airline_path())
    series.source = "airline"
    return series


def sine_series(length=600, seed=0, noise=0.1):
    """A mixture of two sines (periods 24 and 61 steps) with a slow trend and Gaussian noise.

    Parameters
    ----------
    length : int
    seed : int or None
        Seeds the phases and the noise.
    noise : float
        Standard deviation of the noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi, 2)
    values = (np.sin(2 * np.pi * t / 24 + phase[0]) + 0.5 * np.sin(2 * np.pi * t / 61 + phase[1])
              + 0.002 * t + noise * rng.standard_normal(length))
    return Series(values, "sine", source="sine")


def mackey_glass_series(length=1500, seed=0, tau=17, beta=0.2, gamma=0.1, power=10,
                        substeps=10, discard=500):
    """The Mackey-Glass delay equation, sampled once per unit of time.

    ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)``, integrated
    with fourth-order Runge-Kutta at ``1/substeps`` (the delayed term held
    linear between grid points); tau = 17 is the usual mildly chaotic setting.

    Parameters
    ----------
    length : int
        Samples returned.
    seed : int or None
        Seeds the initial history (1.2 plus small uniform noise).
    discard : int
        Samples dropped at the start, so that the transient is gone.
    """
    rng = np.random.default_rng(seed)
    h = 1.0 / substeps
    lag = int(round(tau * substeps))
    total = (length + discard) * substeps
    x = np.empty(lag + total + 1)
    x[:lag + 1] = 1.2 + 0.05 * rng.uniform(-1, 1, lag + 1)

    def rate(now, delayed):
        return beta * delayed / (1.0 + delayed ** power) - gamma * now

    for i in range(lag, lag + total):
        d0, d1 = x[i - lag], x[i - lag + 1]
        mid = 0.5 * (d0 + d1)
        k1 = rate(x[i], d0)
        k2 = rate(x[i] + 0.5 * h * k1, mid)
        k3 = rate(x[i] + 0.5 * h * k2, mid)
        k4 = rate(x[i] + h * k3, d1)
        x[i + 1] = x[i] + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    samples = x[lag + discard * substeps + substeps::substeps][:length]
    return Series(samples, "mackey_glass", source="mackey-glass")


def synthetic(kind, length=None, seed=0):
    """A synthetic series by name: 'sine' or 'mackey-glass'."""
    if kind == "sine":
        return sine_series(length or 600, seed)
    if kind == "mackey-glass":
        return mackey_glass_series(length or 1500, seed)
    raise ValueError(f"synthetic: got {kind!r}, expected one of {', '.join(SYNTHETIC)}")
