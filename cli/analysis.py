"""``numbarnn gradient-flow``: the vanishing gradient, measured per cell."""
import os

import click

from .common import user_errors


def _cells(value):
    return [c.strip() for c in value.split(",") if c.strip()]


def _delays(value):
    try:
        return [int(d) for d in value.split(",") if d.strip()]
    except ValueError:
        raise click.BadParameter(f"got {value!r}, expected integers such as 10,20,40") from None


@click.command("gradient-flow")
@click.option("--cells", default="rnn,lstm,gru", show_default=True,
              help="Cells to measure, comma-separated.")
@click.option("--steps", default=100, show_default=True, type=click.IntRange(2),
              help="Sequence length of the gradient measurement (steps back from the loss).")
@click.option("--hidden", default=32, show_default=True, type=click.IntRange(1),
              help="Hidden size of every layer.")
@click.option("--init-scale", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Multiply torch's initial weights by this (above 1: the exploding side).")
@click.option("--forget-bias", default=None, type=float,
              help="Start the LSTM's forget-gate bias here (default: torch's init; numbarnn's "
                   "text model uses 1).")
@click.option("--delays", default="10,20,40,80,160", show_default=True, callback=lambda c, p, v:
              _delays(v), help="Lengths of the adding problem to train on; '' skips it.")
@click.option("--train-steps", default=400, show_default=True, type=click.IntRange(1),
              help="Adam steps per cell and delay.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Random seed.")
@click.option("--out", "out_dir", default="gradient-flow", show_default=True,
              type=click.Path(file_okay=False),
              help="Directory for gradient_norms.csv, adding.csv and gradient_flow.png.")
def gradient_flow(cells, steps, hidden, init_scale, forget_bias, delays, train_steps, seed,
                  out_dir):
    """Measure the vanishing gradient: how far back each cell's gradient reaches at its
    initialisation, and the longest adding problem each learns in a fixed budget.

    Prints a table, writes CSVs and (with matplotlib) a plot to --out.
    """
    with user_errors():
        from numbarnn.analysis import gradient_flow as measure

        result = measure(_cells(cells), steps, hidden, init_scale, seed, delays, train_steps,
                         forget_bias=forget_bias, progress=lambda line: click.echo(line, err=True))
        os.makedirs(out_dir, exist_ok=True)
        norms_csv = os.path.join(out_dir, "gradient_norms.csv")
        adding_csv = os.path.join(out_dir, "adding.csv")
        result.write_csv(norms_csv, adding_csv)
    click.echo(result.table())
    written = [norms_csv] + ([adding_csv] if result.accuracy else [])
    try:
        plot = os.path.join(out_dir, "gradient_flow.png")
        result.plot(plot)
        written.append(plot)
    except ImportError:
        click.echo("(no plot: pip install 'numbarnn[plot]' for matplotlib)", err=True)
    click.echo("wrote " + ", ".join(written))
