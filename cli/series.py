"""``numbarnn train-series`` and ``numbarnn forecast``: the time-series predictor.

Only Click is imported at module level; numbarnn (and numba with it) loads inside
the commands, so that ``numbarnn --help`` stays fast.
"""
import os
import sys

import click

from numbarnn import CELLS
from numbarnn.devices import DEVICES
from numbarnn.forecast.config import (COMBINES, LOSSES, SCALERS, STRATEGIES,
                                      ForecastConfig)

from .common import RunFailed, settle_run_dir, start_run_dir, user_errors
from .series_report import (choice_lines, interval_lines, metrics_table,
                            networks_left_out, panel_summary_lines, score_text)

SERIES = ForecastConfig()  # every default below is the library's

_DEFAULT_RUN = os.path.join("runs", "series")


def _data_options(command):
    """The options that say how to read a CSV (shared by both commands)."""
    options = [
        click.option("--column", help="Target column: name or 0-based index "
                     "[default: the last column that is not the date, a feature, ds or "
                     "year]."),
        click.option("--date-column", help="Column of dates: ISO (1949-01, 1949-01-31, "
                     "1949-01-31T13:00), 1949/01/31, 31/01/1949 or 01/31/1949 (the column "
                     "decides which), 31.01.1949, Jan 1949, 1949M01 or quarters (1949Q1) "
                     "[default: the first column that holds dates]."),
        click.option("--no-dates", is_flag=True, help="The file has no date column."),
        click.option("--fill", type=click.Choice(["ffill", "interpolate"]),
                     help="Fill missing values (empty, NA, NaN, null) instead of refusing them."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _read_panel(csv_path, id_column, column, date_column, no_dates, fill, features, synthetic,
                backtest=0):
    """A long-format CSV (``--id-column``), after refusing what many series do not take."""
    from numbarnn.forecast.panel import read_panel_csv

    for given, option in ((not csv_path, "a CSV"), (features, "--features"),
                          (synthetic, "--synthetic"), (backtest, "--backtest")):
        if given:
            raise ValueError(f"--id-column: {'needs' if option == 'a CSV' else 'not with'} "
                             f"{option}")
    if no_dates and date_column:
        raise ValueError("--date-column and --no-dates: choose one")
    panel = read_panel_csv(csv_path, id_column, column, False if no_dates else date_column, fill)
    filled = [(i, s) for i, s in panel.series.items() if s.inserted_dates]
    for series_id, series in filled[:5]:
        _say_inserted(series, fill, f"series {series_id!r}: ")
    if len(filled) > 5:
        click.echo(f"note: and {len(filled) - 5} more series with dates inserted", err=True)
    return panel


def _say_inserted(series, fill, label=""):
    """A note on stderr (even with --quiet: never silently) of the dates that ``fill``
    inserted into ``series`` (``read_csv``), if any."""
    shown = series.inserted_dates
    if shown:
        click.echo(f"note: {label}{len(shown)} date{'s' if len(shown) > 1 else ''} missing "
                   f"from the {series.frequency} calendar inserted and filled ({fill}): "
                   f"{', '.join(shown[:5])}{', ...' if len(shown) > 5 else ''}", err=True)


def _long_format(csv_path, column, date_column, no_dates=False):
    """``(id_column, column, date_column)``: statsforecast's ``unique_id, ds, y`` columns
    where the CSV's header has them (read as many series, as with --id-column; with one
    id, as one series: ``(None, y, ds)``), else ``(None, column, date_column)``
    unchanged.  ``ds`` is the date column unless it holds integer time steps (or
    ``no_dates``): then there is none."""
    from numbarnn.forecast.series import INTEGER_STAMP, LONG_FORMAT, csv_header, read_csv_rows

    if not set(LONG_FORMAT) <= set(csv_header(csv_path)):
        return None, column, date_column
    unique_id, ds, y = LONG_FORMAT
    header, rows, lines, _ = read_csv_rows(csv_path)
    ids = [row[header.index(unique_id)].strip() for row in rows]
    # (an empty id is refused where many series are read)
    many = len(set(ids)) > 1 or "" in ids
    if date_column is None and not no_dates:
        stamps = [row[header.index(ds)].strip() for row in rows]
        if all(INTEGER_STAMP.fullmatch(v) for v in stamps):
            _check_steps(csv_path, ids, stamps, lines)
        else:
            date_column = ds
    return (unique_id if many else None), column or y, date_column


def _check_steps(csv_path, ids, stamps, lines):
    """Integer time steps, which are read in file order: each series' must count up by one."""
    last = {}
    for series_id, stamp, line in zip(ids, stamps, lines):
        step = int(stamp)
        if series_id in last and step != last[series_id] + 1:
            raise ValueError(f"{csv_path}, line {line}, column 'ds': series {series_id!r} has "
                             f"step {step} after {last[series_id]}; integer time steps must "
                             "count up by one, in file order")
        last[series_id] = step


def _read(csv_path, column, date_column, no_dates, features, fill):
    from numbarnn.forecast.series import read_csv

    if no_dates and date_column:
        raise ValueError("--date-column and --no-dates: choose one")
    series = read_csv(csv_path, column=column, date_column=False if no_dates else date_column,
                      features=features, fill=fill)
    _say_inserted(series, fill)
    return series


@click.command("train-series")
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path())
@click.option("--out", "out_dir", default=_DEFAULT_RUN, show_default=True,
              help="Run directory: model.safetensors and metrics.json go here.")
@click.option("--force", is_flag=True, help="Overwrite an existing run in --out.")
@_data_options
@click.option("--features", help="Extra input columns, comma-separated (names or indices).")
@click.option("--synthetic", type=click.Choice(["sine", "mackey-glass"]),
              help="Train on a generated series instead of a CSV (seeded by --seed).")
@click.option("--length", type=click.IntRange(10), help="Length of the --synthetic series.")
@click.option("--window", type=click.IntRange(1), help="Past steps the network reads "
              "[default: the fewest whole seasons that cover 12 steps, fewer for a series "
              "too short to give a horizon of training windows with them].")
@click.option("--horizon", type=click.IntRange(1), default=SERIES.horizon, show_default=True,
              help="Steps forecast.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=SERIES.strategy,
              show_default=True, help="All steps from the head at once, or one step rolled "
              "forward.")
@click.option("--cell", type=click.Choice(CELLS), default=SERIES.cell, show_default=True)
@click.option("--hidden", type=click.IntRange(1), default=SERIES.hidden_size, show_default=True,
              help="Hidden units per layer.")
@click.option("--layers", type=click.IntRange(1), default=SERIES.num_layers, show_default=True)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=SERIES.dropout,
              show_default=True, help="Between stacked layers.")
@click.option("--log/--no-log", "log", default=None,
              help="Log transform [default: for positive data, by Guerrero's Box-Cox power "
              "where it is clear, else chosen on the validation part].")
@click.option("--diff/--no-diff", default=None,
              help="First differencing [default: chosen on the validation part; where the "
              "KPSS test finds the level wandering, first or seasonal differences].")
@click.option("--seasonal-diff/--no-seasonal-diff", "seasonal_diff", default=None,
              help="Differencing at the season's lag [default: chosen on the validation part, "
              "where the autocorrelation test finds the season].")
@click.option("--nonnegative/--no-nonnegative", "nonnegative", default=None,
              help="Keep the forecasts and intervals at 0 or above [default: where no value "
              "before the test is below 0].")
@click.option("--scale", type=click.Choice(SCALERS), default=SERIES.scale,
              show_default=True, help="Scaling, fitted on the training part.")
@click.option("--winsorize", type=click.FloatRange(0), default=SERIES.winsorize,
              show_default=True, help="Keep the differenced series the networks learn "
              "within this many robust standard deviations of its median, where a few "
              "training differences go beyond them (a level shift, an outlier); 0: never.")
@click.option("--season", type=click.IntRange(1), help="Season length [default: from the "
              "dates: monthly 12, quarterly 4, weekly 52, daily 7, hourly 24, else 1].")
@click.option("--test-size", type=click.IntRange(1), help="Steps held out for the test "
              "[default: the horizon].")
@click.option("--val-size", type=click.IntRange(0), help="Steps before the test for early "
              "stopping, the automatic choices and the intervals [default: twice the horizon "
              "where the training part keeps half a horizon of windows, else the horizon, "
              "else (no training window left) none; 0: none].")
@click.option("--epochs", type=click.IntRange(1), default=SERIES.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=SERIES.batch_size,
              show_default=True)
@click.option("--epoch-windows", type=click.IntRange(1), default=SERIES.epoch_windows,
              show_default=True, help="Training windows an epoch draws at random (all of a "
              "shorter series): an epoch of a long series costs this many.")
@click.option("--patience", type=click.IntRange(1), default=SERIES.patience, show_default=True,
              help="Epochs without a better validation loss before stopping.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=SERIES.lr,
              show_default=True, help="Adam's learning rate.")
@click.option("--clip", type=click.FloatRange(0), default=SERIES.clip, show_default=True,
              help="Gradient-norm limit (0: none).")
@click.option("--loss", type=click.Choice(LOSSES), default=SERIES.loss, show_default=True,
              help="The training loss.  quantile: the head also learns the bounds of the "
              "--quantile-levels intervals (pinball loss) beside the point forecast (mse), "
              "and the intervals are those bounds, conformalized on the validation part.")
@click.option("--quantile-levels", metavar="L1,L2", default=",".join(
                  f"{L:g}" for L in SERIES.quantile_levels), show_default=True,
              callback=lambda c, p, v: _levels(v),
              help="With --loss quantile: the interval levels (percent) the head learns; "
              "the model gives intervals at these levels.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=SERIES.dtype,
              show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default=SERIES.device, show_default=True,
              help="Where the recurrent layers train and score the test (the weights and the "
              "optimiser stay on the host); `numbarnn forecast` runs on the CPU.")
@click.option("--members", type=click.IntRange(1), default=SERIES.members, show_default=True,
              help="Networks trained from different initial weights; the forecast is their "
              "mean.")
@click.option("--refit", is_flag=True, default=SERIES.refit,
              help="Once validation has chosen the transforms and stopped each network, train "
              "the networks again on the training and validation parts together, each for its "
              "best epoch count (the intervals' widths keep the held-out errors); not where "
              "the forecast leaves the networks out.")
@click.option("--fallback", is_flag=True, default=SERIES.fallback,
              help="Forecast with seasonal naive where it beats the networks on the validation "
              "part (the report says so either way).")
@click.option("--combine", type=click.Choice(COMBINES), default=SERIES.combine,
              show_default=True, help="What the networks' forecast is averaged with: linear: "
              "a ridge autoregression on the same windows; theta: the Theta method's "
              "forecast; both: the two; auto: the linear member where it lowers the validation "
              "MASE, then the Theta method, (with a season) a linear trend with seasonal "
              "dummies, the last value, an ARIMA or (for a season seen fewer than three "
              "times) the value a season earlier, whichever lowers it more, if one does (the "
              "report gives the scores; with one validation origin, or where the networks "
              "train on fewer than 25 windows, the mean of the Theta method and an ARIMA "
              "alone; on fewer than 60, always a partner, weighing 0.75 or 1); none: "
              "nothing.")
@click.option("--level", "levels", metavar="L1,L2", callback=lambda c, p, v: _levels(v),
              help="Also score prediction intervals at these levels on the test, such as "
              "80,95: coverage and MSIS beside seasonal naive's.")
@click.option("--compare", is_flag=True, help="Also fit statsforecast's AutoETS and AutoARIMA "
              "on the same training data and score them on the same test (needs "
              "statsforecast).")
@click.option("--backtest", type=click.IntRange(0), default=0, show_default=True,
              help="Also retrain and test at the last K origins (rolling origin).")
@click.option("--backtest-step", type=click.IntRange(1), default=1, show_default=True,
              help="Steps between backtest origins.")
@click.option("--seed", type=click.IntRange(0), default=SERIES.seed, show_default=True)
@click.option("--id-column", help="Long-format CSV: the column that tells the series apart; "
              "trains one model per series into OUT/series/.")
@click.option("--workers", type=click.IntRange(0), help="With --id-column: processes of the "
              "local Dask cluster [default: one per core; 0: serially in this process].")
@click.option("--scheduler", metavar="ADDRESS", help="With --id-column: run on this Dask "
              "scheduler (tcp://host:8786) instead of a local cluster.")
@click.option("--resume", is_flag=True, help="With --id-column: continue the run in --out, "
              "training only the series that have no result there yet.")
@click.option("--quiet", "-q", is_flag=True, help="No progress, only the metrics table.")
def train_series(csv_path, out_dir, force, column, date_column, no_dates, fill, features,
                 synthetic, length, backtest, backtest_step, id_column, workers, scheduler,
                 resume, device, quiet, levels, compare, **settings):
    """Train a recurrent forecaster on CSV (default: the built-in airline passengers).

    The last --test-size steps are held out; the model is scored on them beside
    the naive and seasonal-naive baselines.  Writes OUT/model.safetensors and
    OUT/metrics.json; `numbarnn forecast OUT` then forecasts without the CSV.

    With --id-column the CSV is long format (one row per series and time step) and
    one model is trained per series, on Dask when it is installed: OUT/series/ holds
    the checkpoints, OUT/metrics.csv every series' metrics beside the baselines,
    OUT/metrics.json the summary.
    """
    from numbarnn.checkpoints import write_json
    from numbarnn.devices import get_device
    from numbarnn.forecast.backtest import backtest as run_backtest
    from numbarnn.forecast.training import train_forecaster
    from numbarnn.progress import Progress
    from numbarnn.forecast.datasets import load_airline, synthetic as make_synthetic

    with user_errors():
        if csv_path and synthetic:
            raise ValueError("CSV and --synthetic: give one or the other")
        if device != "cpu":
            get_device(device)  # no GPU: one clear line now, not one per series
        if id_column is None and csv_path:
            id_column, column, date_column = _long_format(csv_path, column, date_column,
                                                          no_dates)
        for given, option in ((compare, "--compare"), (levels, "--level")):
            if given and id_column is not None:  # refused, not silently ignored
                raise ValueError(f"{option}: for one series (not with --id-column or a "
                                 "unique_id file); `numbarnn forecast DIR --level` gives "
                                 "every series' intervals")
        if compare:
            from numbarnn.forecast.compare import check_statsforecast

            check_statsforecast()
        if id_column is None and (workers is not None or scheduler or resume):
            raise ValueError("--workers, --scheduler and --resume: only with --id-column "
                             "(many series)")
    if id_column is not None:
        _train_panel(csv_path, out_dir, force, resume, id_column, column, date_column, no_dates,
                     fill, features, synthetic, backtest, workers, scheduler, device, quiet,
                     settings)
        return
    with user_errors():
        if csv_path:
            series = _read(csv_path, column, date_column, no_dates, features, fill)
        elif synthetic:
            series = make_synthetic(synthetic, length, seed=settings["seed"])
        else:
            series = load_airline()
        config = ForecastConfig(**_config_settings(settings))
        start_run_dir(out_dir, force=force, resumable=False)
        progress = Progress(enabled=not quiet)
        progress.log(f"training on {series.source} ({len(series)} steps, "
                     f"{series.frequency or 'no dates'}): {config.cell.upper()} "
                     f"{config.hidden_size}x{config.num_layers}, window "
                     f"{config.window or 'auto'}, horizon {config.horizon} ({config.strategy})"
                     + (f", on {device}" if device != "cpu" else ""))
        model, report = train_forecaster(series, config, progress=progress, device=device,
                                         level=levels)
        progress.close()
        if compare:
            from numbarnn.forecast.compare import statsforecast_metrics

            progress.log("fitting statsforecast's AutoETS and AutoARIMA on the same data")
            report["compare"] = statsforecast_metrics(series, report)
        if backtest:
            report["backtest"] = run_backtest(series, config, backtest, backtest_step,
                                              progress=progress, device=device)
        model.save(os.path.join(out_dir, "model.safetensors"))
        write_json(os.path.join(out_dir, "metrics.json"), report)
    if report["status"] == "diverged":
        from numbarnn.forecast.training import diverged_message

        raise RunFailed(diverged_message(report))

    training = report["training"]
    best = [member["best_epoch"] for member in training["members"]]
    click.echo(f"trained {len(best)} network{'s' if len(best) > 1 else ''} in "
               f"{training['seconds']:.1f} s (best epoch {', '.join(map(str, best))}; "
               f"validation loss {score_text(training['val_loss'])}); "
               f"season {report['season']}; transforms "
               f"{' -> '.join(t['name'] for t in report['transforms']) or 'none'}")
    refit = training["refit"]
    if refit:
        line = (f"trained again on the training and validation parts ({refit['windows']} "
                "windows), each network for its best epoch count")
        if refit["kept"]:
            line += (f"; kept the held-out weights of network "
                     f"{', '.join(str(k + 1) for k in refit['kept'])} (diverged)")
        click.echo(line)
    elif report["config"].get("refit") and networks_left_out(report):
        click.echo("not trained again (--refit): the forecast leaves the networks out")
    for line in choice_lines(report):
        click.echo(line)
    click.echo(f"test: the last {report['test_size']} steps ({report['test_origins']} "
               f"forecast origin{'s' if report['test_origins'] > 1 else ''})")
    for line in metrics_table(report["metrics"], report.get("compare")):
        click.echo(line)
    for name, scores in report.get("compare", {}).items():
        if "error" in scores:
            click.echo(f"{name} failed on this series: {scores['error']}")
    if report.get("intervals"):
        for line in interval_lines(report["intervals"], report.get("calibration")):
            click.echo(line)
    if backtest:
        click.echo(f"backtest: mean over {backtest} origins")
        for line in metrics_table(report["backtest"]["mean"]):
            click.echo(line)
    click.echo(f"saved {os.path.join(out_dir, 'model.safetensors')} and metrics.json")


def _config_settings(settings):
    """The command's training options as ForecastConfig fields."""
    settings = dict(settings)
    settings["hidden_size"] = settings.pop("hidden")
    settings["num_layers"] = settings.pop("layers")
    for key in ("log", "diff", "seasonal_diff", "nonnegative"):
        settings[key] = "auto" if settings[key] is None else settings[key]
    return settings


def _train_panel(csv_path, out_dir, force, resume, id_column, column, date_column, no_dates,
                 fill, features, synthetic, backtest, workers, scheduler, device, quiet,
                 settings):
    """``train-series --id-column``: one model per series of a long-format CSV."""
    from numbarnn.runs.panels import train_panel
    from numbarnn.runs.parallel import WorkerLost
    from numbarnn.progress import Progress

    with user_errors():
        panel = _read_panel(csv_path, id_column, column, date_column, no_dates, fill, features,
                            synthetic, backtest)
        config = ForecastConfig(**_config_settings(settings))
        start_run_dir(out_dir, resume=resume, force=force, kind="panel")
    progress = Progress(enabled=not quiet)
    progress.log(f"{'resuming' if resume else 'training'} {len(panel.series)} series of {csv_path} "
                 f"({len(panel.failed)} unreadable): {config.cell.upper()} "
                 f"{config.hidden_size}x{config.num_layers}, window "
                 f"{config.window or 'auto'}, horizon {config.horizon}")

    def report(done, total, result, share):
        status = f"failed: {result['error']}" if result["error"] else \
            f"MASE {score_text(result['metrics']['model']['mase'])} (seasonal naive " \
            f"{score_text(result['metrics']['seasonal_naive']['mase'])})"
        progress.update(done / total, f"{done}/{total} series  beat seasonal naive "
                        f"{'n/a' if share is None else f'{share:.0%}'}  {result['id']}: {status}")

    with user_errors():
        try:
            summary = train_panel(panel, config, out_dir, workers=gpu_workers(workers, scheduler,
                                                                              device),
                                  scheduler=scheduler, on_result=report, resume=resume,
                                  device=device)
        except WorkerLost as e:
            raise click.ClickException(str(e)) from None
        finally:
            progress.close()
    execution = summary["execution"]
    if summary["status"] == "interrupted":
        restored = settle_run_dir()
        click.echo(f"interrupted before any series finished; the earlier run in {out_dir} is "
                   "back in place" if restored else
                   f"interrupted: {summary['trained']} series trained and saved in {out_dir}; "
                   "run the same command with --resume to train the rest", err=True)
        sys.exit(130)
    if execution["note"]:
        click.echo(execution["note"], err=True)
    for line in panel_summary_lines(summary):
        click.echo(line)
    if not summary["trained"]:
        raise RunFailed("no series could be trained (the reasons are listed above)"
                        + (f"; the earlier run in {out_dir} is back in place"
                           if settle_run_dir() else ""))
    click.echo(f"saved {summary['trained']} checkpoints under "
               f"{os.path.join(out_dir, 'series')}, metrics.csv and metrics.json")
    if summary["diverged"]:
        raise RunFailed(f"{len(summary['diverged'])} of {summary['trained']} series diverged "
                        "(listed above); try a lower --lr or --clip")


def gpu_workers(workers, scheduler, device):
    """The local cluster's size: one process per core, but one on the GPU (a process per
    core would each hold a CUDA context on the one GPU), unless the user said."""
    if device != "cpu" and workers is None and scheduler is None:
        return 1
    return workers


@click.command("forecast")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path())
@click.option("--horizon", type=click.IntRange(1), help="Steps to forecast [default: the "
              "model's horizon].")
@click.option("--output", "-o", help="Forecast CSV [default: DIR/forecast.csv].")
@click.option("--plot", help="Also draw history and forecast into this image (png, svg, pdf); "
              "needs matplotlib.")
@click.option("--level", "levels", metavar="L1,L2", callback=lambda c, p, v: _levels(v),
              help="Prediction intervals in percent, such as 80,95: columns lo-80, hi-80, ... "
              "(conformal, from the model's rolling-origin errors at training).")
@_data_options
def forecast(run_dir, csv_path, horizon, output, plot, levels, column, date_column, no_dates,
             fill):
    """Forecast from the model in DIR, continuing CSV (default: the end of the training data).

    For a many-series run (train-series --id-column) every series is forecast from
    the end of its training data into one long-format CSV; with CSV (long format, the
    run's columns), every series of it from the end of its data there.
    """
    from numbarnn.forecast.model import Forecaster
    from numbarnn.forecast.output import forecast_labels, plot_forecast, write_forecast_csv
    from numbarnn.forecast.panel import is_panel_run

    output = output or os.path.join(run_dir, "forecast.csv")
    with user_errors():
        # (a text run or a text sweep: its checkpoints, and no model of a series)
        if not os.path.exists(os.path.join(run_dir, "model.safetensors")) and any(
                os.path.exists(os.path.join(run_dir, name))
                for name in ("best.safetensors", "last.safetensors")):
            raise ValueError(f"{run_dir}: holds a train-text run; forecast is for train-series "
                             f"runs (numbarnn generate {run_dir} samples text from it)")
        for path in (output, plot):
            _refuse_to_replace_inputs(path, run_dir, csv_path)
        if plot:
            from numbarnn.forecast.output import plot_format

            plot_format(plot)  # (a format matplotlib lacks: said before the forecast is written)
    if is_panel_run(run_dir):
        _forecast_panel(run_dir, csv_path, horizon, output, plot, levels, fill, column,
                        False if no_dates else date_column)
        return
    with user_errors():
        model = Forecaster.load(os.path.join(run_dir, "model.safetensors"))
        series = None
        if csv_path:
            many, _, dates = _long_format(csv_path, None, date_column, no_dates)
            if many is not None:
                raise ValueError(f"{csv_path}: holds many series in statsforecast's layout; "
                                 f"{run_dir} is one series' model (train them with "
                                 "train-series on that file)")
            series = _read(csv_path, column or model.info["name"], dates, no_dates,
                           model.info["feature_names"], fill)
        result = model.forecast(horizon, series, levels)
        write_forecast_csv(output, result, model.info["name"])
        if plot:
            plot_forecast(plot, result, test=None if csv_path else model.info.get("test"),
                          title=f"{model.info['name']}: {len(result['values'])}-step forecast")
    for t, (label, value) in enumerate(zip(forecast_labels(result), result["values"])):
        bands = "".join(f"  [{lo[t]:.6g}, {hi[t]:.6g}]" for lo, hi in result["intervals"].values())
        click.echo(f"{label}  {value:.6g}{bands}")
    click.echo(f"wrote {output}" + (f" and {plot}" if plot else ""))


def _refuse_to_replace_inputs(path, run_dir, csv_path):
    """``forecast``'s output ``path`` may not be its input: the CSV it continues or a file
    of the run (its checkpoints and metrics)."""
    from numbarnn.runs.run_dir import RUN_DIRS, RUN_FILES

    if not path:
        return
    if csv_path and os.path.exists(path) and os.path.samefile(path, csv_path):
        raise ValueError(f"{path}: is the CSV being forecast; write the forecast elsewhere")
    inside = os.path.relpath(os.path.realpath(path), os.path.realpath(run_dir))
    if inside in RUN_FILES and inside != "forecast.csv" or \
            inside.split(os.sep)[0] in RUN_DIRS:
        raise ValueError(f"{path}: is a file of the run in {run_dir}; write the forecast "
                         "elsewhere")


def _levels(value):
    """``--level 80,95`` -> (80.0, 95.0); one line for anything else."""
    if value is None:
        return ()
    from numbarnn.forecast.config import check_levels

    try:
        levels = [float(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"got {value!r}, expected percentages such as 80,95") from None
    try:
        return check_levels(levels)
    except ValueError as e:
        raise click.BadParameter(str(e).replace("level: ", "")) from None


def _forecast_panel(run_dir, csv_path, horizon, output, plot, levels, fill, column,
                    date_column):
    """``forecast DIR [CSV]`` for a many-series run: every series (of CSV, continued from
    there) into one long-format CSV."""
    from numbarnn.forecast.panel import forecast_panel, write_panel_csv

    with user_errors():
        if plot:
            raise ValueError(f"{run_dir}: --plot is for single-series runs (a many-series "
                             "run's forecasts go into one long-format CSV)")
        header, rows = forecast_panel(run_dir, horizon, levels, csv_path, fill, column,
                                      date_column)
        write_panel_csv(output, rows, header)
    series = len({row[0] for row in rows})
    click.echo(f"wrote {output}: {len(rows)} forecasts of {series} series")
