"""The ``numbarnn`` command: a thin layer that parses, calls numbarnn and prints."""
import json
import sys
import time

import click

import numbarnn

from .analysis import gradient_flow
from .common import Commands
from .series import forecast, train_series
from .sweep import sweep
from .text import generate, train_text


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(numbarnn.__version__, prog_name="numbarnn")
def cli():
    """Recurrent networks (RNN, LSTM, GRU) compiled by Numba."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(as_json):
    """Versions, CPU, BLAS and threads, CUDA, and where compiled kernels are cached."""
    from numbarnn.info import system_info

    data = system_info()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key in ("numbarnn", "python", "platform", "numpy", "numba", "cpu", "tile", "cores",
                "numba_threads"):
        click.echo(f"{key:14s} {data[key]}")
    for lib in data["blas"] or [{"library": "none found"}]:
        click.echo(f"{'blas':14s} {lib.get('library')} {lib.get('version') or ''}, "
                   f"{lib.get('threads')} threads, {lib.get('architecture')} "
                   f"(used by {lib.get('used_by', '?')})")
    cuda = data["cuda"]
    click.echo(f"{'cuda':14s} {'yes' if cuda['available'] else 'no'}: {cuda['detail']}")
    kernels = cuda.get("kernels", {})
    if "error" in kernels:
        click.echo(f"{'cuda kernels':14s} {kernels['error']}")
    elif kernels:
        click.echo(f"{'cuda kernels':14s} time loop {kernels['time_loop']} (NUMBARNN_CUDA_LOOP), "
                   f"GEMM {kernels['gemm']} (NUMBARNN_CUDA_GEMM)")
    click.echo(f"{'compile cache':14s} {data['compile_cache']}")


@cli.command()
@click.option("--steps", default=300, show_default=True, type=click.IntRange(1),
              help="Training steps.")
@click.option("--hidden", default=24, show_default=True, type=click.IntRange(1),
              help="LSTM hidden size.")
@click.option("--delay", default=3, show_default=True, type=click.IntRange(1, 20),
              help="How many steps late the network must echo its input.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
def demo(steps, hidden, delay, seed):
    """Train a small LSTM to echo its input DELAY steps late, printing the falling loss."""
    from numbarnn.demo import train_echo

    click.echo(f"LSTM(1, {hidden}) -> Linear({hidden}, 1), Adam, MSE; target: the input "
               f"{delay} steps earlier (a constant guess scores about 0.9)")
    start = time.perf_counter()
    every = max(1, steps // 10)
    for step, loss in train_echo(steps=steps, hidden_size=hidden, delay=delay, seed=seed):
        if step == 1 or step % every == 0 or step == steps:
            click.echo(f"step {step:5d}  loss {loss:.5f}  ({time.perf_counter() - start:.1f} s)")


cli.add_command(train_text)
cli.add_command(generate)
cli.add_command(train_series)
cli.add_command(forecast)
cli.add_command(sweep)
cli.add_command(gradient_flow)


def main():
    try:
        cli(prog_name="numbarnn")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
