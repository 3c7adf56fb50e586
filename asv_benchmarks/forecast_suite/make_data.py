"""Write the evaluation suite's series as CSV files beside this script (run once, by hand).

The numbers come from datasets that ship inside pmdarima and statsmodels (no download):
``pip install pmdarima statsmodels``, then ``python make_data.py``.  The CSV files are
committed, so the suite itself needs neither package.  ``python make_data.py --holdout``
writes the holdout series (statsmodels only) into ``holdout/``: series that no choice of
the defaults was measured on before they were added (``evaluate.py --holdout``).
``python make_data.py --more`` writes 22 more (pmdarima and statsmodels) into ``more/``
(``evaluate.py --suite-dir asv_benchmarks/forecast_suite/more``), added on 2026-12-06:
the defaults of that day were first measured on them there, and the ARIMA partner was
added for what they showed.
"""
import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def months(start_year, start_month, n, step):
    out = []
    for k in range(n):
        total = start_month - 1 + k * step
        out.append(f"{start_year + total // 12:04d}-{total % 12 + 1:02d}")
    return out


def years(start, n):
    return [f"{start + k}-01-01" for k in range(n)]


def load():
    import pmdarima.datasets as pm
    import statsmodels.api as sm

    elnino = sm.datasets.elnino.load_pandas().data.iloc[:, 1:].to_numpy().ravel()
    co2 = sm.datasets.co2.load_pandas().data["co2"]
    co2 = co2.interpolate().to_numpy()  # 59 missing weeks, linearly filled
    ausbeer = pm.load_ausbeer()[:-1]    # the last quarter is missing
    start = dt.datetime(2000, 6, 5)
    taylor = pm.load_taylor()
    return {
        # name: (values, dates, season, horizon, source)
        "wineind": (pm.load_wineind(), months(1980, 1, 176, 1), 12, 12,
                    "pmdarima load_wineind: Australian wine sales, monthly 1980-1994"),
        "elnino": (elnino, months(1950, 1, elnino.size, 1), 12, 12,
                   "statsmodels elnino: Pacific sea-surface temperature, monthly 1950-2010"),
        "woolyrnq": (pm.load_woolyrnq(), months(1965, 1, 119, 3), 4, 8,
                     "pmdarima load_woolyrnq: Australian woollen yarn, quarterly 1965-1994"),
        "ausbeer": (ausbeer, months(1956, 1, ausbeer.size, 3), 4, 8,
                    "pmdarima load_ausbeer: Australian beer production, quarterly 1956-2008"),
        "austres": (pm.load_austres(), months(1971, 4, 89, 3), 4, 8,
                    "pmdarima load_austres: Australian residents (thousands), quarterly 1971-1993"),
        "realgdp": (sm.datasets.macrodata.load_pandas().data["realgdp"].to_numpy(),
                    months(1959, 1, 203, 3), 4, 8,
                    "statsmodels macrodata realgdp: US real GDP, quarterly 1959-2009"),
        "taylor": (taylor, [(start + dt.timedelta(minutes=30 * k)).strftime("%Y-%m-%dT%H:%M")
                            for k in range(taylor.size)], 48, 48,
                   "pmdarima load_taylor: electricity demand, England and Wales, half-hourly "
                   "June-August 2000"),
        "co2": (co2, [(dt.date(1958, 3, 29) + dt.timedelta(days=7 * k)).isoformat()
                      for k in range(co2.size)], 52, 52,
                "statsmodels co2: Mauna Loa CO2 (ppm), weekly 1958-2001"),
        "lynx": (pm.load_lynx(), years(1821, 114), 1, 10,
                 "pmdarima load_lynx: Canadian lynx trappings, yearly 1821-1934"),
        "sunspots": (sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(),
                     years(1700, 309), 1, 11,
                     "statsmodels sunspots: yearly sunspot numbers 1700-2008"),
        "nile": (sm.datasets.nile.load_pandas().data["volume"].to_numpy(), years(1871, 100), 1,
                 10, "statsmodels nile: Nile river flow at Aswan, yearly 1871-1970"),
    }


def load_holdout():
    import statsmodels.api as sm
    from statsmodels.datasets import elec_equip  # (not in statsmodels.api)

    elec = elec_equip.load().data.iloc[:, 0].to_numpy()
    macro = sm.datasets.macrodata.load_pandas().data
    rates = sm.datasets.interest_inflation.load_pandas().data
    quarters = months(1959, 1, len(macro), 3)
    names = {"realcons": "real personal consumption", "realinv": "real private investment",
             "cpi": "consumer price index", "unemp": "unemployment rate",
             "m1": "M1 money stock", "tbilrate": "3-month Treasury bill rate"}
    series = {"elec_equip": (elec, months(1995, 1, elec.size, 1), 12, 12,
                             "statsmodels elec_equip: EU manufacture of electrical equipment, "
                             "monthly 1995-2016")}
    series.update({column: (macro[column].to_numpy(), quarters, 4, 8,
                            f"statsmodels macrodata {column}: US {text}, quarterly 1959-2009")
                   for column, text in names.items()})
    series["rate"] = (rates["R"].to_numpy(), months(1972, 4, len(rates), 3), 4, 8,
                      "statsmodels interest_inflation R: (West) German nominal long-term "
                      "interest rate, quarterly 1972-1998")
    return series


def load_more():
    import pmdarima.datasets as pm
    import statsmodels.api as sm

    series = {}
    # eight countries' births per woman, yearly 1960-2010: every 25th, by country code, of
    # those with no year missing
    fertility = sm.datasets.fertility.load_pandas().data
    span = [str(year) for year in range(1960, 2011)]
    complete = fertility.dropna(subset=span).sort_values("Country Code")
    for _, row in complete.iloc[::25].iterrows():
        series[f"fert_{row['Country Code']}"] = (
            row[span].to_numpy(np.float64), years(1960, len(span)), 1, 6,
            f"statsmodels fertility: births per woman in {row['Country Name']}, yearly "
            "1960-2010")
    danish = sm.datasets.danish_data.load_pandas().data
    texts = {"lrm": "log real money", "lry": "log real income", "lpy": "log prices",
             "ibo": "bond rate", "ide": "bank deposit rate"}
    for column, text in texts.items():
        series[f"danish_{column}"] = (danish[column].to_numpy(), months(1974, 1, len(danish), 3),
                                      4, 8, f"statsmodels danish_data {column}: Danish {text}, "
                                      "quarterly 1974-1987")
    macro = sm.datasets.macrodata.load_pandas().data
    texts = {"realgovt": "real government spending", "realdpi": "real disposable income",
             "pop": "population", "infl": "inflation rate", "realint": "real interest rate"}
    for column, text in texts.items():
        series[f"macro_{column}"] = (macro[column].to_numpy(), months(1959, 1, len(macro), 3),
                                     4, 8, f"statsmodels macrodata {column}: US {text}, "
                                     "quarterly 1959-2009")
    rates = sm.datasets.interest_inflation.load_pandas().data
    series["dp"] = (rates["Dp"].to_numpy(), months(1972, 4, len(rates), 3), 4, 8,
                    "statsmodels interest_inflation Dp: (West) German inflation, quarterly "
                    "1972-1998")
    series["heartrate"] = (pm.load_heartrate(), None, 1, 10,
                           "pmdarima load_heartrate: a heart rate every half second, 150 steps")
    sunspots = pm.load_sunspots()[-720:]
    series["sunspots_monthly"] = (sunspots, months(1924, 1, 720, 1), 12, 12,
                                  "pmdarima load_sunspots: monthly sunspot numbers 1924-1983 "
                                  "(a season of 12 asked for, which the series has not)")
    series["msft"] = (pm.load_msft()["Close"].to_numpy()[-500:], None, 1, 10,
                      "pmdarima load_msft: Microsoft's closing price, the last 500 trading "
                      "days to 2017-11-10")
    return series


def main(part=None):
    where = HERE / part if part else HERE
    where.mkdir(exist_ok=True)
    index = {}
    loaders = {None: load, "holdout": load_holdout, "more": load_more}
    for name, (values, dates, season, horizon, source) in loaders[part]().items():
        values = np.asarray(values, dtype=np.float64)
        assert np.isfinite(values).all() and (dates is None or values.size == len(dates)), name
        with open(where / f"{name}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            if dates is None:  # (steps without dates: a column of values)
                writer.writerow(["value"])
                writer.writerows([f"{v:.10g}"] for v in values)
            else:
                writer.writerow(["date", "value"])
                writer.writerows(zip(dates, (f"{v:.10g}" for v in values)))
        index[name] = {"season": season, "horizon": horizon, "length": int(values.size),
                       "source": source}
    (where / "suite.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    import sys

    main(next((a[2:] for a in sys.argv[1:] if a in ("--holdout", "--more")), None))
