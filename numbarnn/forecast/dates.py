"""Dates: reading them in the forms files write, writing them, and the calendar they lie on.

``parse_date`` reads a date or date-time in every form ``read_csv`` takes (ISO, the year
first, the day and month in the order the column decides, month names, month codes,
quarters); ``format_date`` writes one back as it was read; ``infer_frequency`` finds the
calendar (monthly, quarterly, yearly, weekly, daily, hourly, or 'other'), which gives the
series its season (``SEASON_OF_FREQUENCY``), ``missing_dates`` the steps a file left out
and ``future_dates`` the forecast's dates.  Pure functions of their arguments: no files.
"""
import calendar
import datetime as dt
import math
import re

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
