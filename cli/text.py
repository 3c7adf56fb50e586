"""``numbarnn train-text`` and ``numbarnn generate``: character-level text generation.

Only Click is imported here at start-up; numbarnn (and numba) load inside the
commands, so that ``numbarnn --help`` stays fast.
"""
import os
import sys

import click

from numbarnn import CELLS
from numbarnn.devices import DEVICES
from numbarnn.text.config import DEFAULT_STEPS, OPTIMIZERS, SCHEDULES, TextConfig

from .common import InputError, RunFailed, settle_run_dir, start_run_dir, user_errors

TEXT = TextConfig()  # every default below is the library's

# Options that define the model and its training; fixed once a run has started.
_RUN_OPTIONS = {
    "hidden": "hidden_size", "layers": "num_layers", "cell": "cell",
    "embedding": "embedding_dim", "dropout": "dropout", "batch_size": "batch_size",
    "seq_len": "seq_len", "val_frac": "val_frac", "optimizer": "optimizer", "lr": "lr",
    "weight_decay": "weight_decay", "clip": "clip", "clip_mode": "clip_mode",
    "lr_schedule": "lr_schedule", "lr_step": "lr_step", "lr_gamma": "lr_gamma",
    "eval_every": "eval_every", "seed": "seed", "dtype": "dtype", "workers": "workers",
}


def _load_corpus(corpus, encoding, echo):
    from numbarnn.text.corpus import builtin_corpus, read_corpus

    if corpus is None:
        text, description = builtin_corpus()
        echo(description)
        return text, "builtin"
    text = read_corpus(corpus, encoding)
    echo(f"corpus: {corpus} ({len(text):,} characters)")
    return text, os.path.abspath(corpus)


@click.command("train-text")
@click.argument("corpus", required=False, type=click.Path(dir_okay=True))
@click.option("--out", "out_dir", default=os.path.join("runs", "text"), show_default=True,
              type=click.Path(file_okay=False), help="Run directory for checkpoints and metrics.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of CORPUS.")
@click.option("--cell", type=click.Choice(CELLS), default=TEXT.cell, show_default=True)
@click.option("--hidden", default=TEXT.hidden_size, show_default=True, type=click.IntRange(1),
              help="Hidden units per layer.")
@click.option("--layers", default=TEXT.num_layers, show_default=True, type=click.IntRange(1),
              help="Stacked recurrent layers.")
@click.option("--dropout", default=TEXT.dropout, show_default=True,
              type=click.FloatRange(0, 1, max_open=True),
              help="Dropout on each layer's output, in training.")
@click.option("--embedding", default=TEXT.embedding_dim, show_default=True,
              type=click.IntRange(0), help="Embedding width; 0 feeds one-hot characters.")
@click.option("--batch-size", default=TEXT.batch_size, show_default=True, type=click.IntRange(1),
              help="Parallel streams over the text.")
@click.option("--seq-len", default=TEXT.seq_len, show_default=True, type=click.IntRange(1),
              help="Characters per chunk (the BPTT truncation length).")
@click.option("--val-frac", default=TEXT.val_frac, show_default=True,
              type=click.FloatRange(0, 1, max_open=True),
              help="Fraction at the end of the text held out for validation.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=TEXT.optimizer,
              show_default=True)
@click.option("--lr", default=TEXT.lr, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Learning rate.")
@click.option("--weight-decay", default=TEXT.weight_decay, show_default=True,
              type=click.FloatRange(0), help="L2 penalty added to the gradients.")
@click.option("--clip", default=TEXT.clip, show_default=True, type=click.FloatRange(0),
              help="Gradient clipping threshold; 0 turns it off.")
@click.option("--clip-mode", type=click.Choice(["norm", "value"]), default=TEXT.clip_mode,
              show_default=True, help="Clip the global gradient norm, or each value.")
@click.option("--lr-schedule", type=click.Choice(SCHEDULES), default=TEXT.lr_schedule,
              show_default=True)
@click.option("--lr-step", default=TEXT.lr_step, show_default=True, type=click.IntRange(1),
              help="Steps between decays of the 'step' schedule.")
@click.option("--lr-gamma", default=TEXT.lr_gamma, show_default=True, type=click.FloatRange(0, 1),
              help="Decay factor of the 'step' schedule.")
@click.option("--steps", type=click.IntRange(1), help="Stop after this many steps in all.")
@click.option("--epochs", type=click.IntRange(1), help="Stop after this many epochs in all.")
@click.option("--time-budget", type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="Stop after this many seconds of training in all.")
@click.option("--eval-every", default=TEXT.eval_every, show_default=True, type=click.IntRange(1),
              help="Steps between validations and checkpoints.")
@click.option("--seed", default=TEXT.seed, show_default=True, type=int)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=TEXT.dtype,
              show_default=True)
@click.option("--workers", default=TEXT.workers, show_default=True, type=click.IntRange(1),
              help="Threads that share each batch (part of the run's configuration: the "
                   "same seed and workers give the same run on any machine).")
@click.option("--device", type=click.Choice(DEVICES),
              help="Where the recurrent layers run; 'cuda' trains on one thread (--workers "
                   "1), with the weights and the optimiser on the host [default: cpu; with "
                   "--resume, the run's device].")
@click.option("--resume", is_flag=True, help="Continue the run in --out where it stopped.")
@click.option("--force", is_flag=True, help="Start over in an --out that holds a run.")
@click.option("--sample", "sample_length", default=300, show_default=True,
              type=click.IntRange(0), help="Characters to sample when training ends; 0 for none.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.pass_context
def train_text(ctx, corpus, out_dir, encoding, steps, epochs, time_budget, device, resume,
               force, sample_length, quiet, **options):
    """Train a character-level language model on CORPUS (a text file).

    Without CORPUS it trains on a built-in corpus: the docstrings of this
    Python's standard library.  Without --steps, --epochs or --time-budget it
    stops after 2000 steps.  Writes OUT/best.safetensors (best validation
    loss), OUT/last.safetensors and OUT/metrics.json; Ctrl-C saves and stops.
    """
    echo = (lambda *a, **k: None) if quiet else click.echo
    with user_errors():
        from numbarnn.devices import get_device
        from numbarnn.progress import Progress
        from numbarnn.text.training import TextTrainer

        if device is not None:
            get_device(device)  # no GPU: say so before anything else
        start_run_dir(out_dir, resume=resume, force=force, kind="text")
        text, corpus_name = _load_corpus(corpus, encoding, echo)
        if steps is None and epochs is None and time_budget is None:
            steps = DEFAULT_STEPS
        if resume:
            last = os.path.join(out_dir, "last.safetensors")
            trainer = TextTrainer.resume(last, text, corpus_name, device=device)
            _check_unchanged(ctx, options, trainer.config)
            echo(f"resuming {last} at step {trainer.step} on device {trainer.config['device']}")
        else:
            config = {_RUN_OPTIONS[k]: v for k, v in options.items()}
            device = device or "cpu"
            if device != "cpu" and ctx.get_parameter_source("workers") is \
                    click.core.ParameterSource.DEFAULT:
                config["workers"] = 1  # the GPU's default: one thread drives it
            trainer = TextTrainer(text, corpus_name, device=device, **config)
        echo(f"{trainer.model!r}: {sum(p.size for p in trainer.model.params.values()):,} "
             f"parameters, vocabulary of {len(trainer.vocab)}, {len(trainer.batches)} steps "
             f"per epoch")
        progress = Progress(enabled=not quiet)
        start_step = trainer.step
        try:
            summary = trainer.train(steps=steps, epochs=epochs, time_budget=time_budget,
                                    out_dir=out_dir, progress=progress)
        finally:
            progress.close()
    if summary["status"] == "interrupted":
        if settle_run_dir():
            click.echo(f"interrupted before the first step; the earlier run in {out_dir} is "
                       "back in place", err=True)
        elif trainer.step == start_step:
            click.echo("interrupted before a step; nothing new was saved", err=True)
        else:
            click.echo(f"interrupted at step {trainer.step}: saved {out_dir}/last.safetensors; "
                       "run the same command with --resume to continue", err=True)
        sys.exit(130)
    if summary["status"] == "diverged":
        from numbarnn.text.training import diverged_message

        raise RunFailed(diverged_message(summary))
    best = summary["best_val_loss"]
    echo(f"done: {trainer.step} steps in {summary['seconds']:.1f} s, "
         f"{summary['chars_per_second']:,.0f} chars/s"
         + (f"; best validation loss {best:.4f} nats/char at step {summary['best_step']}"
            if best is not None else ""))
    if sample_length and not quiet:
        with user_errors():
            _print_sample(out_dir, "", sample_length, 0.8, 0, None, False,
                          header=f"sample ({'best' if best is not None else 'last'} "
                                 "checkpoint, temperature 0.8):")


def _check_unchanged(ctx, options, config):
    for name, value in options.items():
        source = ctx.get_parameter_source(name)
        if source is click.core.ParameterSource.COMMANDLINE and config[_RUN_OPTIONS[name]] != value:
            raise InputError(f"--{name.replace('_', '-')} {value}: a resumed run keeps its "
                             f"settings (this one has {config[_RUN_OPTIONS[name]]}); "
                             "use --force to start over")


def _print_sample(path, prime, length, temperature, top_k, seed, greedy, header=None,
                  threads=None):
    from numbarnn.text.sampling import Sampler
    from numbarnn.text.training import load_text_model

    model, vocab, _ = load_text_model(path)
    sampler = Sampler(model, vocab, threads=threads)
    pieces = sampler.generate(length, prime=prime, temperature=temperature, top_k=top_k,
                              greedy=greedy, seed=seed)
    if header:
        click.echo(header)
    click.echo(prime, nl=False)
    for piece in pieces:
        click.echo(piece, nl=False)
        sys.stdout.flush()
    click.echo()


@click.command()
@click.argument("run", type=click.Path())
@click.option("--prime", default="", help="Text to start from (not repeated in the output).")
@click.option("--length", default=500, show_default=True, type=click.IntRange(0),
              help="Characters to generate.")
@click.option("--temperature", default=1.0, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="Below 1: safer choices; above 1: more surprising ones.")
@click.option("--top-k", default=0, show_default=True, type=click.IntRange(0),
              help="Draw only among the K most likely characters; 0 for all.")
@click.option("--seed", type=int, help="Random seed (the same seed, the same text).")
@click.option("--greedy", is_flag=True, help="Always take the most likely character.")
@click.option("--threads", type=click.IntRange(1, 2),
              help="Threads per step [default: 2 where two cores are free]; the text is the "
                   "same either way.")
def generate(run, prime, length, temperature, top_k, seed, greedy, threads):
    """Sample text from a trained model: RUN is a train-text directory or a checkpoint file.

    The prime is printed, then the generated text as it comes.
    """
    with user_errors():
        _print_sample(run, prime, length, temperature, top_k, seed, greedy, threads=threads)
