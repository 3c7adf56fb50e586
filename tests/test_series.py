"""Reading series: CSV parsing and every bad input, dates and frequency, built-in data."""
import datetime as dt
import re

import numpy as np
import pytest

from numbarnn.forecast.dates import (column_day_first, format_date, future_dates, infer_frequency,
                                     parse_date)
from numbarnn.forecast.datasets import load_airline, mackey_glass_series, sine_series, synthetic
from numbarnn.forecast.series import Series, read_csv


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------------------ good input
def test_airline_data():
    series = load_airline()
    assert len(series) == 144 and series.name == "passengers"
    assert series.values[:3].tolist() == [112, 118, 132] and series.values[-1] == 432
    assert series.frequency == "monthly" and series.season == 12
    assert series.date_format == "month" and series.dates[0] == dt.datetime(1949, 1, 1)


def test_columns_by_name_index_and_default(tmp_path):
    path = write(tmp_path, "day,a,b,c\n2020-01-01,1,10,100\n2020-01-02,2,20,200\n"
                           "2020-01-03,3,30,300\n")
    default = read_csv(path)
    assert default.name == "c" and default.values.tolist() == [100, 200, 300]
    assert default.frequency == "daily" and default.date_format == "date"
    assert read_csv(path, column="a").values.tolist() == [1, 2, 3]
    assert read_csv(path, column=2).name == "b"
    assert read_csv(path, column="2").name == "b"
    with_features = read_csv(path, column="a", features="b, c")
    assert with_features.feature_names == ["b", "c"]
    assert with_features.features.tolist() == [[10, 100], [20, 200], [30, 300]]
    # the default target skips the features
    assert read_csv(path, features=["c"]).name == "b"
    with pytest.raises(ValueError, match="feature 'b' given twice"):
        read_csv(path, column="a", features="b,2")


def test_no_date_column(tmp_path):
    path = write(tmp_path, "x,y\n1,2\n3,4\n")
    series = read_csv(path)
    assert series.dates is None and series.frequency is None and series.season == 1
    assert series.name == "y"
    # an explicit date column may be turned off even when the first one holds dates
    dated = write(tmp_path, "t,y\n2020-01,1\n2020-02,2\n", "dated.csv")
    assert read_csv(dated, date_column=False, column="y").dates is None


def test_pandas_unnamed_columns_are_a_header(tmp_path):
    # pandas writes a frame without column names with the header 0,1,...: names, not data
    series = read_csv(write(tmp_path, "0,1\n2020-01,5\n2020-02,6\n"))
    assert series.name == "1" and series.values.tolist() == [5, 6] and series.dates


def test_a_ds_column_holds_the_dates_where_the_first_does_not(tmp_path):
    # statsforecast's layout, read as one series: the dates are in 'ds', not first
    path = write(tmp_path, "unique_id,ds,y\na,2020-01,1\na,2020-02,2\na,2020-03,4\n")
    series = read_csv(path, column="y")
    assert series.frequency == "monthly" and series.dates[0] == dt.datetime(2020, 1, 1)
    # a 'ds' column that holds no dates is not taken for one
    assert read_csv(write(tmp_path, "ds,y\nx,1\nz,2\n", "x.csv"), column="y").dates is None


def test_integer_ds_numbers_the_steps(tmp_path):
    # statsforecast's integer time index: the steps' numbers, for forecasts to continue
    path = write(tmp_path, "unique_id,ds,y\na,701,1\na,702,2\na,703,4\n")
    series = read_csv(path, column="y")
    assert series.dates is None and series.first_step == 701
    assert series.head(2).first_step == 701 and series.tail(2).first_step == 702
    assert series.tail(2).values.tolist() == [2, 4] and series.tail(5).values.tolist() == [1, 2, 4]
    assert read_csv(path, column="y", date_column=False).first_step == 701  # (not dates)
    # not counting up by one, not integers, or named as the dates: no numbering
    for text in ("ds,y\n3,1\n5,2\n", "ds,y\n2,1\n1,2\n", "ds,y\n1.5,1\n2.5,2\n"):
        assert read_csv(write(tmp_path, text, "odd.csv"), column="y").first_step is None
    assert read_csv(write(tmp_path, "y,ds\n1,1\n2,2\n", "t.csv"), column="ds").first_step is None
    assert read_csv(write(tmp_path, "n,y\n1,1\n2,2\n", "n.csv")).first_step is None


def test_blank_lines_short_rows_and_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffdate,v\n2020-01-01,1\n\n2020-01-02,2\n".encode("utf-8"))
    series = read_csv(str(path))
    assert series.values.tolist() == [1, 2] and series.name == "v"


def test_fill_forward_and_interpolate(tmp_path):
    path = write(tmp_path, "v\n1\n\nNA\n4\nnan\n")
    # the blank line is skipped; NA and nan are missing
    assert read_csv(path, fill="ffill").values.tolist() == [1, 1, 4, 4]
    assert read_csv(path, fill="interpolate").values.tolist() == [1, 2.5, 4, 4]
    gappy = write(tmp_path, "v\n2\n?\nnull\n8\n", "gappy.csv")
    assert read_csv(gappy, fill="interpolate").values.tolist() == [2, 4, 6, 8]


def _dated(dates, values, features=None):
    """A CSV text of dates and values (and a feature column)."""
    rows = [f"{d},{v}" + (f",{f}" if features else "")
            for d, v, f in zip(dates, values, features or values)]
    return "date,value" + (",x" if features else "") + "\n" + "\n".join(rows) + "\n"


MONTHLY = [f"{2000 + k // 12}-{k % 12 + 1:02d}" for k in range(36)]


@pytest.mark.parametrize("dates,frequency,gone", [
    pytest.param(MONTHLY, "monthly", [14], id="monthly"),
    pytest.param([f"{2000 + k // 12}-{k % 12 + 1:02d}-01" for k in range(36)], "monthly",
                 [5, 6], id="monthly_two_in_a_row"),
    pytest.param([dt.date(2000 + (k + 1) // 12, (k + 1) % 12 + 1, 1) - dt.timedelta(days=1)
                  for k in range(36)], "monthly", [3, 20], id="month_ends"),
    pytest.param([f"{1990 + k // 4}-{3 * (k % 4) + 1:02d}" for k in range(30)], "quarterly", [9],
                 id="quarterly"),
    pytest.param([dt.date(2021, 1, 1) + dt.timedelta(days=k) for k in range(40)], "daily", [17],
                 id="daily"),
    pytest.param([f"2021-01-{1 + k // 24:02d}T{k % 24:02d}:00" for k in range(48)], "hourly",
                 [30], id="hourly")])
def test_a_calendar_with_missing_steps_is_refused_or_filled(tmp_path, dates, frequency, gone):
    # a monthly (quarterly, daily, ...) series with a step left out is not another calendar:
    # read as one it would lose its season; without --fill a clear line names the first
    # gap, with it the missing rows go in and are filled like missing cells
    values = [float(k) for k in range(len(dates))]
    kept = [k for k in range(len(dates)) if k not in gone]
    path = write(tmp_path, _dated([dates[k] for k in kept], [values[k] for k in kept],
                                  [10 * values[k] for k in kept]))
    line = 2 + kept.index(next(k for k in kept if k > gone[0]))  # (the row after the gap)
    with pytest.raises(ValueError, match=rf"line {line}, column 'date': the dates are "
                       rf"{frequency}, but .* is missing before .*--fill"):
        read_csv(path)
    series = read_csv(path, fill="interpolate", features=["x"])
    assert series.frequency == frequency and len(series) == len(dates)
    np.testing.assert_allclose(series.values, values)  # (a straight line: exact)
    np.testing.assert_allclose(series.features[:, 0], 10 * np.array(values))
    complete = read_csv(write(tmp_path, _dated(dates, values), "complete.csv"))
    assert series.dates == complete.dates
    filled = read_csv(path, column="value", fill="ffill")
    assert [filled.values[k] for k in gone] == [values[k - 1] if k - 1 not in gone
                                                else values[k - 2] for k in gone]


def test_months_missing_are_found_however_many(tmp_path):
    # (a tenth of the steps is the limit for weekly, daily and hourly dates only)
    dates = [m for k, m in enumerate(MONTHLY) if k % 5 != 2]
    with pytest.raises(ValueError, match="the dates are monthly, but 2000-03 is missing "
                       r"before '2000-04' \(7 dates missing in all\)"):
        read_csv(write(tmp_path, _dated(dates, range(len(dates)))))


def test_dates_that_are_another_calendar_are_not_filled(tmp_path):
    # business days (weekends out: 2 of 7 steps) and irregular dates are read as they are
    days = [dt.date(2021, 1, 4) + dt.timedelta(days=k) for k in range(70)]
    weekdays = [d for d in days if d.weekday() < 5]
    series = read_csv(write(tmp_path, _dated(weekdays, range(len(weekdays)))))
    assert series.frequency == "other" and len(series) == len(weekdays)
    odd = ["2020-01-01", "2020-01-03", "2020-01-08", "2020-01-09", "2020-01-20"]
    assert read_csv(write(tmp_path, _dated(odd, range(5)), "odd.csv")).frequency == "other"


def test_missing_cell_in_a_short_row(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3\n5,6\n")
    with pytest.raises(ValueError, match=r"line 3, column 'b': missing value"):
        read_csv(path)
    assert read_csv(path, fill="ffill").values.tolist() == [2, 2, 6]


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("text, message", [
    ("d,v\n2020-01,1\n2020-02,\n", r"line 3, column 'v': missing value; .*--fill"),
    ("d,v\n2020-01,1\n2020-02,abc\n", r"line 3, column 'v': 'abc' is not a number$"),
    ('d,v\n2020-01,1\n2020-02,"1,234.5"\n',
     r"line 3, column 'v': '1,234.5' is not a number: write it without thousands separators "
     r"\(1234.5\)"),
    ("d,v\n2020-01,1\n2020-02,inf\n", r"line 3, column 'v': 'inf' is not a finite number"),
    ("d,v\n2020-01,1\n2020-02,2,3\n", r"line 3: 3 fields, expected 2"),
    ("d,v\n2020-01,1\nMarch,2\n", r"line 3, column 'd': 'March' is not a date"),
    ("d,v\n2020-01,1\n2020-13,2\n", r"line 3, column 'd': '2020-13' is not a valid date"),
    ("d,v\n2020-02,1\n2020-01,2\n", r"line 3, column 'd': '2020-01' is not after the previous"),
    ("d,v\n2020-01,1\n2020-01,2\n", r"not after the previous date"),
    ("", r"the file is empty"),
    ("d,v\n", r"no data rows"),
    ("d,v,v\n2020-01,1,2\n", r"the header names column 'v' twice"),
    ("d, v ,v\n2020-01,1,2\n", r"the header names column 'v' twice"),
    ("2020-01,1\n2020-02,2\n", r"the first line \('2020-01,1'\) holds values, not column "
                               r"names; add a header row"),
    ("112\n118\n", r"the first line \('112'\) holds values"),
    ("0,5\n1,6\n", r"the first line \('0,5'\) holds values"),
    ("0\n3\n0\n", r"the first line \('0'\) holds values"),
])
def test_bad_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_csv(write(tmp_path, text))


def test_unknown_columns(tmp_path):
    path = write(tmp_path, "d,v\n2020-01,1\n")
    with pytest.raises(ValueError, match=r"column 'w': no such column; the columns are d, v"):
        read_csv(path, column="w")
    with pytest.raises(ValueError, match=r"column 5.*no column at index 5.*0 to 1"):
        read_csv(path, column=5)
    with pytest.raises(ValueError, match=r"feature 'z': no such column"):
        read_csv(path, features="z")
    with pytest.raises(ValueError, match=r"date column 'x': no such column"):
        read_csv(path, date_column="x")
    with pytest.raises(ValueError, match=r"'v' is both the target and a feature"):
        read_csv(path, column="v", features="v")


def test_fill_refusals(tmp_path):
    path = write(tmp_path, "v\n\n")
    with pytest.raises(ValueError, match="no data rows"):
        read_csv(path)
    leading = write(tmp_path, "v\nNA\n1\n", "leading.csv")
    with pytest.raises(ValueError, match=r"line 2, column 'v': missing value in the first row"):
        read_csv(leading, fill="ffill")
    assert read_csv(leading, fill="interpolate").values.tolist() == [1, 1]
    empty = write(tmp_path, "v\nNA\nNA\n", "empty.csv")
    with pytest.raises(ValueError, match=r"column 'v' has no values"):
        read_csv(empty, fill="ffill")
    with pytest.raises(ValueError, match=r"fill: got 'mean'"):
        read_csv(leading, fill="mean")


def test_unreadable_files(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"v\n\xff\xfe\x00\n")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_csv(str(binary))
    with pytest.raises(FileNotFoundError):
        read_csv(str(tmp_path / "absent.csv"))


# ------------------------------------------------------------------------------ dates
def test_parse_date_forms():
    assert parse_date("1949-01") == (dt.datetime(1949, 1, 1), "month")
    assert parse_date(" 2020-02-29 ") == (dt.datetime(2020, 2, 29), "date")
    assert parse_date("2020-02-29T13:05") == (dt.datetime(2020, 2, 29, 13, 5), "datetime")
    assert parse_date("2020-02-29 13:05:07")[0].second == 7
    # a time zone: in UTC (summer time's change of offset keeps hourly steps regular)
    utc = dt.datetime(2020, 3, 29, 0, 30)
    for text in ("2020-03-29T00:30:00Z", "2020-03-29T01:30:00+01:00", "2020-03-29T02:30+0200",
                 "2020-03-28T19:30:00.250-05:00", "2020-03-29 00:30:00.5Z"):
        assert parse_date(text) == (utc, "datetime"), text
    assert parse_date("2021-01-01T00:30+01:00")[0] == dt.datetime(2020, 12, 31, 23, 30)
    for bad in ("2020", "2020.01", "2021-02-29", "01-2020", "2020-01-01Z", "2020-01-01T10:00+1",
                "2020Q5", "2020Q0", "20Q1", "2020-Q1-01", "31/02/2020", "13/13/2020", "1/1/20",
                "Foo 2020", "2020M13", "1.5", "2020-01-00", "00 Jan 2020"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_parse_date_other_forms():
    # as spreadsheets, R, Excel and statistical offices write dates; forecasts write ISO
    day, month = dt.datetime(1949, 1, 31), dt.datetime(1949, 1, 1)
    for text, expected in (("1949/01/31", (day, "date")), ("1949.01.31", (day, "date")),
                           ("1949/1", (month, "month")), ("31/01/1949", (day, "date")),
                           ("01/31/1949", (day, "date")), ("31.1.1949", (day, "date")),
                           ("31-01-1949", (day, "date")), ("Jan 1949", (month, "month")),
                           ("january-1949", (month, "month")), ("JAN. 1949", (month, "month")),
                           ("31 Jan 1949", (day, "date")), ("31-Jan-1949", (day, "date")),
                           ("Jan 31, 1949", (day, "date")), ("1949 Jan", (month, "month")),
                           ("1949-Jan-31", (day, "date")), ("1949M01", (month, "month")),
                           ("1949m1", (month, "month")),
                           ("31/01/1949 13:05", (dt.datetime(1949, 1, 31, 13, 5), "datetime")),
                           ("1949/01/31 9:05:07", (dt.datetime(1949, 1, 31, 9, 5, 7),
                                                   "datetime"))):
        assert parse_date(text) == expected, text
    # on its own, an ambiguous day and month is read as the separator's custom; a column
    # decides it for all its cells
    assert parse_date("02/01/2000")[0] == dt.datetime(2000, 2, 1)
    assert parse_date("02.01.2000")[0] == parse_date("02-01-2000")[0] == dt.datetime(2000, 1, 2)
    assert parse_date("02/01/2000", day_first=True)[0] == dt.datetime(2000, 1, 2)
    assert parse_date("02.01.2000", day_first=False)[0] == dt.datetime(2000, 2, 1)


@pytest.mark.parametrize("cells, expected", [
    (["31/01/2000", "01/02/2000"], True),  # a first number above 12: the day
    (["01/31/2000", "02/01/2000"], False),  # a second one: the month
    # none above 12: the reading that leaves fewer steps of its calendar out (monthly on
    # the first, day first; read month first: days of January with a year's gap)
    ([f"01/{m:02d}/2000" for m in range(1, 13)] + ["01/01/2001"], True),
    ([f"{m:02d}/01/2000" for m in range(1, 13)] + ["01/01/2001"], False),
    # and where both read as well: the separator's custom
    ([f"{m:02d}/01/2000" for m in range(1, 13)], False),
    ([f"{m:02d}.01.2000" for m in range(1, 13)], True),
    (["2000-01", "Jan 2001"], None),  # no day-and-month dates at all
])
def test_column_day_first(cells, expected):
    assert column_day_first(cells) is expected


def test_the_date_column_is_found_after_an_index_column(tmp_path):
    # as pandas' to_csv writes a frame with its default index
    text = ",month,sales\n" + "".join(f"{k},2001-{k + 1:02d},{k}\n" for k in range(12))
    series = read_csv(write(tmp_path, text))
    assert series.frequency == "monthly" and series.name == "sales"


def test_a_column_of_years_numbers_the_steps(tmp_path):
    series = read_csv(write(tmp_path, "Year,lynx\n" + "".join(f"{1821 + k},{k}\n"
                                                            for k in range(20))))
    assert series.first_step == 1821 and series.dates is None and series.name == "lynx"
    # years that do not count up by one number nothing
    series = read_csv(write(tmp_path, "year,v\n1821,1\n1823,2\n1824,3\n"))
    assert series.first_step is None
    # a column of years is not the default target, wherever it is
    series = read_csv(write(tmp_path, "sales,Year\n5,2000\n6,2001\n7,2002\n"))
    assert series.name == "sales" and series.first_step == 2000
    # a column whose days and months one date puts in order says so where another breaks it
    with pytest.raises(ValueError, match=r"line 2, column 'd': '01/31/2000' is not a valid date "
                       r"\(month must be in 1..12; the column's dates put the day first\)"):
        read_csv(write(tmp_path, "d,v\n01/31/2000,1\n02/29/2000,2\n13/03/2000,3\n"))


def test_a_year_beside_a_month_or_a_quarter_dates_the_rows(tmp_path):
    # as statsmodels and R write monthly and quarterly data: the two columns make the dates
    text = "Year,Month,passengers\n" + "".join(f"{1949 + k // 12},{k % 12 + 1},{100 + k}\n"
                                               for k in range(24))
    series = read_csv(write(tmp_path, text))
    assert (series.name, series.frequency, series.season) == ("passengers", "monthly", 12)
    assert series.dates[0] == dt.datetime(1949, 1, 1) and series.first_step is None
    assert [format_date(d, series.date_format) for d in future_dates(
        series.dates, series.frequency, 2)] == ["1951-01", "1951-02"]
    # month names, quarters as numbers or Q1-Q4, the value column anywhere
    series = read_csv(write(tmp_path, "v,YEAR,MONTH\n1,2001,jan\n2,2001,Feb\n3,2001,March\n"))
    assert series.name == "v" and series.dates[-1] == dt.datetime(2001, 3, 1)
    for quarters in ("1,2,3", "Q1,q2,Q3"):
        rows = "".join(f"2001,{q},{k}\n" for k, q in enumerate(quarters.split(",")))
        series = read_csv(write(tmp_path, "year,quarter,v\n" + rows))
        assert series.frequency == "quarterly" and series.date_format == "quarter"
        assert series.dates[-1] == dt.datetime(2001, 7, 1)
    # a month that is none, a month missing, months out of order: one error each, on its line
    for rows, message in (("2001,1,1\n2001,13,2\n", "line 3, column 'month': '13' is not "
                           "a month (expected 1 to 12, or a month name); or read the file "
                           "without its dates (--no-dates)"),
                          ("2001,1,1\n2001,,2\n", "line 3, column 'month': '' is not a month"),
                          ("2001,1,1\n2001,2,2\n2001,4,4\n",
                           "2001-03 is missing before '2001-04'"),
                          ("2001,2,1\n2001,1,2\n", "'2001-01' is not after the previous")):
        with pytest.raises(ValueError, match=re.escape(message)):
            read_csv(write(tmp_path, "year,month,v\n" + rows))
    assert read_csv(write(tmp_path, "year,month,v\n2001,1,1\n2001,2,2\n2001,4,4\n"),
                    fill="interpolate").values.tolist() == [1, 2, 3, 4]
    # whole numbers as pandas writes them beside a gap; a month column before a quarter one
    series = read_csv(write(tmp_path, "year,month,v\n1949.0,1.0,1\n1949.0,2.0,2\n"))
    assert series.dates == [dt.datetime(1949, 1, 1), dt.datetime(1949, 2, 1)]
    series = read_csv(write(tmp_path, "year,quarter,month,v\n" + "".join(
        f"2001,{k // 3 + 1},{k + 1},{k}\n" for k in range(6))))
    assert series.frequency == "monthly" and series.name == "v"
    # the month is no target; columns are looked up in the file's own columns
    for column, message in (("month", "column 'month' is both the target and a part of the "
                             "dates (with the year)"),
                            (3, "column 3: no column at index 3 (the file has 3 columns")):
        with pytest.raises(ValueError, match=re.escape(message)):
            read_csv(write(tmp_path, "year,month,v\n2001,1,1\n2001,2,2\n"), column=column)
    # the dates' name names the pair (a panel run keeps it)
    series = read_csv(write(tmp_path, text), date_column="Year/Month")
    assert series.frequency == "monthly"
    # without a column of integer years, or read without dates: no dates, as before
    series = read_csv(write(tmp_path, "year,month,v\n2001a,1,1\n2001b,2,2\n"))
    assert series.dates is None and series.name == "v"
    series = read_csv(write(tmp_path, text), date_column=False)
    assert series.dates is None and series.first_step is None and series.name == "passengers"


def test_csv_with_other_date_forms(tmp_path):
    # monthly on the first, written day first with slashes: read as months, forecasts ISO
    text = "date,value\n" + "".join(f"01/{k % 12 + 1:02d}/{2000 + k // 12},{k}\n"
                                     for k in range(30))
    series = read_csv(write(tmp_path, text))
    assert series.frequency == "monthly" and series.season == 12
    assert series.dates[-1] == dt.datetime(2002, 6, 1) and series.date_format == "date"
    # month names, and a day-first column that a single late date (13.01.) decides
    text = "month;sales\n" + "".join(f"{name} 2001;{k},5\n" for k, name in
                                      enumerate(("Jan", "Feb", "Mar", "Apr", "May")))
    series = read_csv(write(tmp_path, text))
    assert series.frequency == "monthly" and series.date_format == "month"
    assert series.values[1] == 1.5
    text = "day,v\n" + "".join(f"{d:02d}/01/2020,{d}\n" for d in range(1, 20))
    series = read_csv(write(tmp_path, text))
    assert series.frequency == "daily" and series.dates[1] == dt.datetime(2020, 1, 2)


def test_quarters_read_as_dates(tmp_path):
    # as pandas writes a quarterly period (1949Q1), or with a dash or a space: its first day
    for text, month in (("1949Q1", 1), ("1949-Q2", 4), (" 1949 q3 ", 7), ("1949Q4", 10)):
        assert parse_date(text) == (dt.datetime(1949, month, 1), "quarter")
    assert format_date(dt.datetime(1949, 10, 1), "quarter") == "1949Q4"
    text = "quarter,gdp\n" + "".join(f"{2000 + k // 4}-Q{k % 4 + 1},{100 + k}\n"
                                      for k in range(20))
    series = read_csv(write(tmp_path, text))
    assert series.frequency == "quarterly" and series.season == 4
    assert series.date_format == "quarter" and series.dates[-1] == dt.datetime(2004, 10, 1)
    assert [format_date(d, "quarter") for d in future_dates(series.dates, "quarterly", 2)] == \
        ["2005Q1", "2005Q2"]
    # a column that mixes quarters with months is written in months, the more precise
    text = "d,v\n2000Q1,1\n" + "".join(f"2000-{m:02d},{m}\n" for m in range(2, 13))
    series = read_csv(write(tmp_path, text))
    assert series.date_format == "month" and series.frequency == "monthly"
    with pytest.raises(ValueError, match="'0000Q1' is not a valid date"):
        parse_date("0000Q1")


def days(start, step, n):
    return [start + step * k for k in range(n)]


@pytest.mark.parametrize("dates, expected", [
    ([dt.datetime(2020, m, 1) for m in range(1, 7)], "monthly"),
    ([dt.datetime(2021, 1, 31), dt.datetime(2021, 2, 28), dt.datetime(2021, 3, 31),
      dt.datetime(2021, 4, 30)], "monthly"),
    ([dt.datetime(2020, m, 15) for m in (1, 4, 7, 10)], "quarterly"),
    ([dt.datetime(y, 6, 1) for y in range(2000, 2005)], "yearly"),
    (days(dt.datetime(2020, 1, 6), dt.timedelta(days=7), 5), "weekly"),
    (days(dt.datetime(2020, 1, 1), dt.timedelta(days=1), 40), "daily"),
    (days(dt.datetime(2020, 1, 1), dt.timedelta(hours=1), 30), "hourly"),
    (days(dt.datetime(2020, 1, 1), dt.timedelta(days=2), 5), "other"),
    ([dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 5)], "other"),
    ([dt.datetime(2020, 1, 1), dt.datetime(2020, 2, 1), dt.datetime(2020, 3, 5)], "other"),
    ([dt.datetime(2020, 1, 1)], "other"),
])
def test_infer_frequency(dates, expected):
    assert infer_frequency(dates) == expected


def test_season_of_frequency():
    for frequency, season in (("monthly", 12), ("weekly", 52), ("daily", 7), ("hourly", 24),
                              ("other", 1), (None, 1)):
        assert Series([1.0, 2.0], frequency=frequency).season == season


def test_future_dates():
    month_ends = [dt.datetime(2021, 1, 31), dt.datetime(2021, 2, 28), dt.datetime(2021, 3, 31)]
    assert future_dates(month_ends, "monthly", 2) == [dt.datetime(2021, 4, 30),
                                                      dt.datetime(2021, 5, 31)]
    assert future_dates([dt.datetime(2020, 11, 1), dt.datetime(2020, 12, 1)], "monthly", 2) == \
        [dt.datetime(2021, 1, 1), dt.datetime(2021, 2, 1)]
    two_days = days(dt.datetime(2020, 1, 1), dt.timedelta(days=2), 3)
    assert future_dates(two_days, "other", 1) == [dt.datetime(2020, 1, 7)]
    irregular = [dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 5)]
    assert future_dates(irregular, "other", 3) is None


# ------------------------------------------------------------------------------ synthetic
def test_synthetic_series_are_seeded():
    a, b, c = sine_series(200, seed=1), sine_series(200, seed=1), sine_series(200, seed=2)
    assert np.array_equal(a.values, b.values) and not np.array_equal(a.values, c.values)
    assert len(synthetic("sine", 50)) == 50


def test_mackey_glass():
    series = mackey_glass_series(600, seed=0)
    assert len(series) == 600 and np.all(np.isfinite(series.values))
    # the attractor of tau = 17 stays within about 0.4 .. 1.35 and keeps oscillating
    assert 0.35 < series.values.min() < 0.6 and 1.2 < series.values.max() < 1.4
    assert series.values.std() > 0.15
    assert np.array_equal(series.values, synthetic("mackey-glass", 600).values)
    with pytest.raises(ValueError, match="synthetic: got 'lorenz'"):
        synthetic("lorenz")


def test_series_head_and_checks():
    series = load_airline().head(20)
    assert len(series) == 20 and len(series.dates) == 20 and series.frequency == "monthly"
    with pytest.raises(ValueError, match="dates: got 1, expected one per value"):
        Series([1.0, 2.0], dates=[dt.datetime(2020, 1, 1)])


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, sep):
    text = sep.join(["d", "v"]) + "\n" + "".join(f"2020-{m:02d}{sep}{m}\n" for m in range(1, 13))
    series = read_csv(write(tmp_path, text))
    assert series.values.tolist() == list(range(1, 13))


def columns(sep, *columns):
    """A monthly file with the value columns ``{name: cells}``, fields joined by ``sep``."""
    n = len(next(iter(columns[0].values())))
    names = [name for c in columns for name in c]
    rows = [sep.join([f"2020-{m + 1:02d}"] + [c[name][m] for c in columns for name in c])
            for m in range(n)]
    return sep.join(["d"] + names) + "\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_decimal_comma_where_the_delimiter_is_not_a_comma(tmp_path, sep):
    cells = ["1,5", "-0,25", "2", ",5", "1,5e2", " 7,0 ", "0,125", "1,001", "na"]
    series = read_csv(write(tmp_path, columns(sep, {"v": cells})), fill="ffill")
    assert series.values.tolist() == [1.5, -0.25, 2, 0.5, 150, 7, 0.125, 1.001, 1.001]
    # a feature column decides for itself; the errors show the cell as written
    text = columns(sep, {"f": ["1,5"] * 8 + ["1,5e999"]}, {"v": ["1"] * 9})
    with pytest.raises(ValueError, match="line 10, column 'f': '1,5e999' is not a finite"):
        read_csv(write(tmp_path, text), features="f")
    # a column that also writes decimal points: its commas are not decimal ones
    with pytest.raises(ValueError, match="line 3, column 'v': '1,5' is not a number"):
        read_csv(write(tmp_path, columns(sep, {"v": ["2.5", "1,5", "3"]})))
    # every comma might as well separate thousands: refused, not guessed
    with pytest.raises(ValueError, match="line 3, column 'v': '1,001' may have a decimal "
                                         "comma or a thousands separator"):
        read_csv(write(tmp_path, columns(sep, {"v": ["2", "1,001", "-12,500", "3"]})))


def test_a_comma_in_a_comma_separated_file_is_not_a_decimal_one(tmp_path):
    # (inside quotes it is more likely a thousands separator: refused)
    text = 'd,v\n2020-01,"10,025"\n2020-02,"1,5"\n'
    with pytest.raises(ValueError, match="line 2, column 'v': '10,025' is not a number"):
        read_csv(write(tmp_path, text))


def test_a_comma_inside_quotes_does_not_decide_the_delimiter(tmp_path):
    text = 'd;"sales, units"\n' + "".join(f"2020-{m:02d};{m}\n" for m in range(1, 13))
    series = read_csv(write(tmp_path, text), column="sales, units")
    assert series.values[-1] == 12
