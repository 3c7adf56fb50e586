"""numbarnn.panel: the synthetic panel, the long-format reader, per-series training."""
import datetime as dt

import numpy as np
import pytest

from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.panel import (read_panel_csv, safe_name, series_task, summarize,
                                     synthetic_panel, train_series_task, write_panel_csv)

SMALL = ForecastConfig(window=6, horizon=3, hidden_size=4, epochs=3, members=1)


def test_synthetic_panel_is_seeded_varied_and_has_short_series():
    rows = synthetic_panel(40, seed=3)
    assert rows == synthetic_panel(40, seed=3)
    assert rows != synthetic_panel(40, seed=4)
    lengths = {}
    for series_id, _, value in rows:
        lengths[series_id] = lengths.get(series_id, 0) + 1
        assert value > 0
    assert len(lengths) == 40
    assert sum(n < 49 for n in lengths.values()) == 2           # 5 % too short
    assert all(72 <= n <= 180 for n in lengths.values() if n >= 49)
    levels = [np.mean([v for i, _, v in rows if i == series_id]) for series_id in lengths]
    assert max(levels) / min(levels) > 10


def test_noise_free_panel_is_the_same_series_without_noise():
    rows = synthetic_panel(30, seed=3)
    curves = synthetic_panel(30, seed=3, noise_free=True)
    assert [r[:2] for r in curves] == [r[:2] for r in rows]  # the same ids, dates, lengths
    ratios = np.log([value / curve[2] for (*_, value), curve in zip(rows, curves)])
    # multiplicative noise of 2 to 15 %: about zero in the log, never far from it
    assert abs(np.median(ratios)) < 0.01 and 0.02 < np.std(ratios) < 0.15
    assert np.max(np.abs(ratios)) < 0.8


def test_csv_round_trip(tmp_path):
    rows = synthetic_panel(5, seed=1, short_share=0)
    path = tmp_path / "panel.csv"
    write_panel_csv(path, rows, ("store", "day", "sales"))
    panel = read_panel_csv(path, "store", column="sales", date_column="day")
    assert list(panel.series) == sorted({r[0] for r in rows}) and not panel.failed
    for series_id, series in panel.series.items():
        expected = [(d, v) for i, d, v in rows if i == series_id]
        assert series.values.tolist() == [v for _, v in expected]
        assert series.frequency == "monthly" and series.name == "sales"
    # the defaults find the date column and the target on their own
    assert read_panel_csv(path, "store").date_column == "day"


def write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_a_year_beside_a_quarter_dates_a_panel(tmp_path):
    text = "id,year,quarter,y\n" + "".join(f"{i},{2000 + k // 4},{k % 4 + 1},{k}\n"
                                            for i in "ab" for k in range(8))
    path = write(tmp_path, text)
    panel = read_panel_csv(path, "id")
    assert panel.date_column == "year/quarter" and set(panel.series) == {"a", "b"}
    for series in panel.series.values():
        assert series.name == "y" and series.frequency == "quarterly"
        assert series.values.tolist() == list(range(8))
    # read again by the name a panel run keeps, as forecasting from a CSV does
    again = read_panel_csv(path, "id", date_column=panel.date_column)
    assert again.series["a"].dates == panel.series["a"].dates
    with pytest.raises(ValueError, match="'quarter' is both the target and a part of the dates"):
        read_panel_csv(path, "id", column="quarter")


def test_rows_are_sorted_by_date_within_a_series(tmp_path):
    path = write(tmp_path, "id,month,y\na,2020-02,2\nb,2020-01,5\na,2020-01,1\nb,2020-02,6\n")
    panel = read_panel_csv(path, "id")
    assert panel.series["a"].values.tolist() == [1, 2]
    assert panel.series["b"].values.tolist() == [5, 6]


def test_the_whole_column_decides_the_order_of_days_and_months(tmp_path):
    # series a alone (1/1 to 10/1) would read as months; b's 20/01 says the day comes first
    rows = [f"{sid},{d:02d}/01/2020,{d}" for sid, last in (("a", 10), ("b", 20))
            for d in range(1, last + 1)]
    panel = read_panel_csv(write(tmp_path, "id,day,y\n" + "\n".join(rows) + "\n"), "id")
    assert panel.series["a"].frequency == panel.series["b"].frequency == "daily"
    assert panel.series["a"].dates[-1] == dt.datetime(2020, 1, 10)
    # monthly on the first, day first; a third series' unreadable date fails that series
    # only, and does not turn the others' order
    rows = [f"{sid},01/{m:02d}/{2000 + y},{m}" for sid in "ab" for y in range(2)
            for m in range(1, 13)] + ["c,01/01/2000,1", "c,NA,2"]
    panel = read_panel_csv(write(tmp_path, "id,month,y\n" + "\n".join(rows) + "\n"), "id")
    assert panel.series["a"].frequency == panel.series["b"].frequency == "monthly"
    assert list(panel.failed) == ["c"] and "'NA' is not a date" in panel.failed["c"]


def test_decimal_commas_and_quarters_in_a_semicolon_file(tmp_path):
    # the values' decimal commas read as points; the ids stay as written ('1,2' and '1.2'
    # are two series); quarters are dates, mixed with months written as months
    path = write(tmp_path, "id;quarter;y\n1,2;2020Q2;2,5\n1,2;2020Q1;1,5\n1.2;2020Q1;7\n"
                           "1.2;2020Q2;8\nm;2020Q1;1\nm;2020-02;2\nm;2020-03;3\n")
    panel = read_panel_csv(path, "id")
    assert panel.ids == ["1,2", "1.2", "m"]
    assert panel.series["1,2"].values.tolist() == [1.5, 2.5]
    assert panel.series["1,2"].date_format == "quarter"
    assert panel.series["1,2"].frequency == "quarterly"
    assert panel.series["m"].date_format == "month" and panel.series["m"].frequency == "monthly"


def test_a_broken_series_is_reported_not_fatal(tmp_path):
    path = write(tmp_path, "id,month,y\na,2020-01,1\na,2020-02,x\nb,2020-01,5\nb,2020-02,\n"
                 "c,2020-01,1\nc,2020-02,2\n")
    panel = read_panel_csv(path, "id")
    assert list(panel.series) == ["c"] and panel.ids == ["c", "a", "b"]
    assert "line 3" in panel.failed["a"] and "not a number" in panel.failed["a"]
    assert "missing value" in panel.failed["b"]
    assert read_panel_csv(path, "id", fill="ffill").failed.keys() == {"a"}


def test_a_series_with_a_missing_month_is_reported_or_filled(tmp_path):
    # each series' own calendar: 'a' lacks 2020-03 (its rows out of order, too), 'b' is whole
    months = [f"2020-{m:02d}" for m in range(1, 13)]
    rows = [f"a,{d},{k}" for k, d in enumerate(months) if k != 2][::-1]
    rows += [f"b,{d},{k}" for k, d in enumerate(months)]
    path = write(tmp_path, "id,month,y\n" + "\n".join(rows) + "\n")
    panel = read_panel_csv(path, "id")
    assert list(panel.series) == ["b"]
    assert "the dates are monthly, but 2020-03 is missing before '2020-04'" in panel.failed["a"]
    filled = read_panel_csv(path, "id", fill="interpolate")
    assert not filled.failed and filled.series["a"].values.tolist() == list(range(12))
    assert filled.series["a"].frequency == "monthly"


@pytest.mark.parametrize("text, id_column, fragment", [
    ("id,month,y\na,2020-01,1\nb,2020-01,2\n", "store", "'store': no such column"),
    ("id,month,y\na,2020-01,1\na,2020-02,2\n", "id", "one series only"),
    ("id,month,y\na,2020-01,1\nb,2020-01,2\na,2020-01,3\n", "id",
     "series 'a' has time stamp '2020-01' twice (also on line 2)"),
    ("id,month,y\n,2020-01,1\nb,2020-01,2\n", "id", "line 2, column 'id': empty id"),
])
def test_bad_input(tmp_path, text, id_column, fragment):
    with pytest.raises(ValueError) as error:
        read_panel_csv(write(tmp_path, text), id_column)
    assert fragment in str(error.value)


def test_safe_name_is_a_file_name_and_tells_ids_apart():
    assert safe_name("store_01") == "store_01"
    names = {safe_name(i) for i in ("a/b", "a:b", "a b", "../x", ".hidden", "")}
    assert len(names) == 6
    assert all("/" not in n and not n.startswith(".") and n for n in names)
    assert safe_name("store-00000001") == "store-00000001"


def test_ids_that_would_share_a_file_are_refused(tmp_path):
    # an id spelled as another's cleaned form would take its checkpoint's name
    path = tmp_path / "p.csv"
    path.write_text(f"id,y\na/b,1\n{safe_name('a/b')},2\n")
    with pytest.raises(ValueError, match=f"ids 'a/b' and '{safe_name('a/b')}' would share "
                                         f"the file {safe_name('a/b')}.safetensors"):
        read_panel_csv(path, "id")
    # ids that differ in case only: one file where the file system ignores case
    path.write_text("id,y\nNorth,1\nnorth,2\n")
    with pytest.raises(ValueError, match="ids 'North' and 'north' would share the file "
                       r"north.safetensors on a file system that ignores case \(Windows, "
                       r"macOS\); rename one of them"):
        read_panel_csv(path, "id")


def test_task_trains_or_says_why_not(tmp_path):
    rows = synthetic_panel(3, seed=2, short_share=0, min_length=40, max_length=40)
    path = tmp_path / "p.csv"
    write_panel_csv(path, rows)
    panel = read_panel_csv(path, "id")
    series_id, series = next(iter(panel.series.items()))
    result = train_series_task(series_task(series_id, series, SMALL))
    assert result["error"] is None and result["checkpoint"][:8] and result["length"] == 40
    assert set(result["metrics"]) == {"model", "naive", "seasonal_naive"}
    short = train_series_task(series_task(series_id, series.head(10), SMALL))
    assert short["checkpoint"] is None and "needs at least" in short["error"]
    summary = summarize([result, short])
    assert summary["trained"] == 1 and summary["failed"][0]["id"] == series_id
    assert summary["beat_seasonal_naive"] in (0.0, 1.0)
