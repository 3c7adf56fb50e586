"""``numbarnn sweep``: a training command over every combination of a grid.

The training command's own options are parsed by that command (same types, same
checks, same defaults); ``--grid`` values by the option they name.  The work is
``numbarnn.runs.sweep.run_sweep``'s.  Only Click is imported at start-up, so that
``numbarnn --help`` stays fast.
"""
import math
import os
import sys
from dataclasses import fields

import click

from numbarnn.forecast.metrics import SWEEP_METRICS

from .common import settle_run_dir, start_run_dir, user_errors
from .series import (_config_settings, _long_format, _read, _read_panel, gpu_workers,
                     train_series)
from .text import _RUN_OPTIONS, _load_corpus, train_text

# what a grid may vary: not what is scored (horizon, test, validation, season) nor the data
SWEEPABLE = {
    "train-series": ("window", "strategy", "cell", "hidden", "layers", "dropout", "log", "diff",
                     "seasonal-diff", "scale", "winsorize", "combine", "nonnegative", "epochs",
                     "batch-size", "patience", "lr", "clip", "loss", "dtype", "members", "seed"),
    "train-text": ("cell", "hidden", "layers", "dropout", "embedding", "batch-size", "seq-len",
                   "optimizer", "lr", "weight-decay", "clip", "clip-mode", "lr-schedule",
                   "lr-step", "lr-gamma", "seed", "dtype", "steps", "epochs"),
}
COMMANDS = {"train-series": train_series, "train-text": train_text}


@click.command("sweep", context_settings={"ignore_unknown_options": True})
@click.argument("command", metavar="COMMAND", type=click.Choice(list(COMMANDS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--grid", "grids", multiple=True, metavar="NAME=V1,V2,...",
              help="An option of COMMAND and the values to try (repeat for more options).")
@click.option("--metric", type=click.Choice(SWEEP_METRICS),
              help="train-series: the validation score that ranks combinations "
              "[default: mase]; train-text ranks by validation loss.")
@click.option("--out", "out_dir", default=os.path.join("runs", "sweep"), show_default=True,
              type=click.Path(file_okay=False), help="Sweep directory.")
@click.option("--workers", type=click.IntRange(0), help="Processes of the local Dask cluster "
              "[default: one per core; 0: serially in this process].")
@click.option("--scheduler", metavar="ADDRESS", help="Run on this Dask scheduler "
              "(tcp://host:8786) instead of a local cluster.")
@click.option("--resume", is_flag=True, help="Continue the sweep in --out: combinations "
              "already trained there are kept (the grid may have grown).")
@click.option("--force", is_flag=True, help="Start over in an --out that holds a run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress, only the ranking.")
def sweep(command, args, grids, metric, out_dir, workers, scheduler, resume, force, quiet):
    """Run COMMAND (train-series or train-text) for every combination of the --grid values.

    ARGS are COMMAND's own arguments and options (numbarnn COMMAND --help), shared by
    every combination; the sweep's options below may come anywhere.  The combinations
    are ranked by a validation score (the test takes no part): OUT/sweep.csv lists
    them best first, OUT/sweep.json holds everything, OUT/trials/ every
    combination's model, and the best model is copied to the top of OUT, so that
    `numbarnn forecast OUT` or `numbarnn generate OUT` use it.

    \b
    numbarnn sweep train-series sales.csv --grid hidden=16,32,64 --grid window=12,24
    numbarnn sweep train-text notes.txt --steps 500 --grid lr=1e-3,3e-3 --grid layers=1,2
    """
    from numbarnn.devices import get_device
    from numbarnn.runs.parallel import WorkerLost
    from numbarnn.progress import Progress
    from numbarnn.runs.sweep import expand_grid, run_sweep

    target = COMMANDS[command]
    # COMMAND's own parser reads ARGS: its types, checks and defaults (its mistakes name
    # COMMAND's own help: `numbarnn train-series --help`)
    context = target.make_context(f"{click.get_current_context().find_root().info_name} "
                                  f"{command}", list(args))
    with user_errors():
        device = context.params.get("device") or "cpu"
        if device != "cpu":
            get_device(device)  # no GPU: one line now, not one per task
        grid = parse_grid(target, context, grids, SWEEPABLE[command])
        combinations = expand_grid(grid)
        spec = (_series_spec(context, metric or "mase") if command == "train-series"
                else _text_spec(context, metric))
        start_run_dir(out_dir, resume=resume, force=force, kind="sweep")
    progress = Progress(enabled=not quiet)
    progress.log(f"{'resuming' if resume else 'running'} {len(combinations)} combinations of "
                 f"{command}: " + ", ".join(f"{k} in {{{', '.join(map(str, v))}}}"
                                             for k, v in grid.items()))

    def report(done, total, combination, result, best):
        status = f"failed: {result['error']}" if result.get("error") else \
            f"{spec.score_name} {_format(spec.score([result]))}"
        best_text = "n/a" if best is None else \
            f"{_format(best[0])} ({_params(best[1])})"
        progress.update(done / total, f"{done}/{total}  best {best_text}  "
                        f"{_params(combination)}: {status}")

    with user_errors():
        try:
            summary = run_sweep(spec, grid, out_dir, resume=resume,
                                workers=gpu_workers(workers, scheduler, device),
                                scheduler=scheduler, on_result=report)
        except WorkerLost as e:
            raise click.ClickException(str(e)) from None
        finally:
            progress.close()
    if summary["execution"]["note"]:
        click.echo(summary["execution"]["note"], err=True)
    if summary["status"] == "interrupted":
        click.echo(f"interrupted before anything finished; the earlier run in {out_dir} is "
                   "back in place" if settle_run_dir() else
                   f"interrupted: {summary['finished']} of {summary['combinations']} "
                   f"combinations trained and saved in {out_dir}; run the same command with "
                   "--resume to train the rest", err=True)
        sys.exit(130)
    for line in ranking_lines(summary, list(grid)):
        click.echo(line)
    if summary["best"] is None:  # (nothing to rank: the earlier run goes back)
        raise click.ClickException("no combination could be trained and scored; see the "
                                   "errors above" + (f"; the earlier run in {out_dir} is back "
                                                     "in place" if settle_run_dir(False)
                                                     else ""))
    use = "forecast" if command == "train-series" else "generate"
    click.echo(f"best: {_params(summary['best']['params'])}; its model is in {out_dir} "
               f"(numbarnn {use} {out_dir})")


def parse_grid(command, context, specs, sweepable):
    """``NAME=V1,V2`` specs as ``{option name: [values]}``, each value converted and
    checked by the option's own type.

    Raises
    ------
    ValueError
        For a malformed spec, an unknown or unsweepable option, an option given twice
        (in two specs, or also as a fixed option), an empty list or a bad value.
    """
    if not specs:
        raise ValueError("give at least one --grid NAME=V1,V2,...")
    options = {opt[2:]: param for param in command.params if isinstance(param, click.Option)
               for opt in param.opts if opt.startswith("--")}
    grid = {}
    for spec in specs:
        name, equals, text = spec.partition("=")
        name = name.strip().lstrip("-").replace("_", "-")
        if not equals or not name:
            raise ValueError(f"--grid {spec!r}: expected NAME=V1,V2,... (for example "
                             "hidden=16,32)")
        if name not in options:
            raise ValueError(f"--grid {name}: {command.name} has no option --{name}; a grid "
                             f"can vary {', '.join(sweepable)}")
        if name not in sweepable:
            raise ValueError(f"--grid {name}: not for a sweep (it changes what is scored, or "
                             f"the data); a grid can vary {', '.join(sweepable)}")
        param = options[name]
        if param.name in grid:
            raise ValueError(f"--grid {name}: given twice; list every value in one --grid")
        if context.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE:
            raise ValueError(f"--grid {name}: also given as --{name}; keep one")
        raw = [value.strip() for value in text.split(",")]
        if not any(raw):
            raise ValueError(f"--grid {name}: no values (expected {name}=V1,V2,...)")
        if not all(raw):
            raise ValueError(f"--grid {spec!r}: an empty value")
        values = []
        for value in raw:
            try:
                values.append(param.type.convert(value, param, context))
            except click.BadParameter as e:
                raise ValueError(f"--grid {name}: {e.message}") from None
        grid[param.name] = values
    return grid


def _series_spec(context, metric):
    """A train-series sweep: one series, or with --id-column every series of a long-format
    file per combination."""
    from numbarnn.forecast.config import ForecastConfig
    from numbarnn.forecast.datasets import load_airline, synthetic as make_synthetic
    from numbarnn.runs.sweep_specs import PanelSweep, SeriesSweep

    p = context.params
    if p["backtest"]:
        raise ValueError("sweep train-series: not with --backtest (combinations are ranked on "
                         "the validation steps)")
    if p["csv_path"] and p["synthetic"]:
        raise ValueError("CSV and --synthetic: give one or the other")
    config_keys = {"hidden", "layers"} | {f.name for f in fields(ForecastConfig)}
    config = ForecastConfig(**_config_settings({k: v for k, v in p.items() if k in config_keys}))
    names = {"hidden": "hidden_size", "layers": "num_layers"}
    id_column, column, date_column = p["id_column"], p["column"], p["date_column"]
    if id_column is None and p["csv_path"]:  # (statsforecast's columns, as train-series)
        id_column, column, date_column = _long_format(p["csv_path"], column, date_column,
                                                      p["no_dates"])
    if id_column is not None:
        panel = _read_panel(p["csv_path"], id_column, column, date_column, p["no_dates"],
                            p["fill"], p["features"], p["synthetic"])
        return PanelSweep(panel, config, metric, names)
    if p["csv_path"]:
        series = _read(p["csv_path"], column, date_column, p["no_dates"], p["features"],
                       p["fill"])
    elif p["synthetic"]:
        series = make_synthetic(p["synthetic"], p["length"], seed=p["seed"])
    else:
        series = load_airline()
    return SeriesSweep(series, config, metric, names)


def _text_spec(context, metric):
    """A train-text sweep: one thread per combination."""
    from numbarnn.runs.sweep_specs import TextSweep
    from numbarnn.text.config import TextConfig

    p = context.params
    if metric:
        raise ValueError("--metric: train-text sweeps rank by validation loss")
    text, corpus_name = _load_corpus(p["corpus"], p["encoding"], lambda *a, **k: None)
    config = TextConfig(**{_RUN_OPTIONS[k]: v for k, v in p.items() if k in _RUN_OPTIONS},
                        device=p["device"] or "cpu")
    return TextSweep(text, config, corpus_name, steps=p["steps"], epochs=p["epochs"],
                     time_budget=p["time_budget"], names=_RUN_OPTIONS)


def _format(value):
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _params(combination):
    return " ".join(f"{k.replace('_', '-')}={v}" for k, v in combination.items())


def ranking_lines(summary, parameters, top=10):
    """The best combinations as an aligned table, and the failed ones."""
    ranked = [e for e in summary["ranking"] if e["rank"] is not None]
    failed = [e for e in summary["ranking"] if e["rank"] is None]
    execution = summary["execution"]
    reused = execution["reused"]
    lines = [f"{len(ranked)} of {summary['combinations']} combinations trained in "
             f"{summary['seconds']:.1f} s"
             + (f" ({reused} stored by the earlier run)" if reused else "")
             + f"; ranked by {summary['score']} (validation), best first:"]
    rows = [("rank", *(p.replace("_", "-") for p in parameters), summary["score"])]
    rows += [(str(e["rank"]), *(str(e["params"][p]) for p in parameters), _format(e["score"]))
             for e in ranked[:top]]
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    if len(ranked) > top:
        lines.append(f"... {len(ranked) - top} more in sweep.csv")
    if failed:
        lines.append(f"{len(failed)} combination{'s' if len(failed) > 1 else ''} failed:")
        lines += [f"  {_params(e['params'])}: {e['error']}" for e in failed]
    return lines


__all__ = ["parse_grid", "ranking_lines", "sweep"]
