"""The text job in two verbs: ``fit`` a generator, then ``generate`` with it.

``fit(text, config) -> (TextGenerator, report)`` and ``TextGenerator.load(path)`` /
``generator.save(path)`` have the shape of the series job's ``numbarnn.forecast.fit``
and ``Forecaster.load`` / ``save``; the device is the configuration's in both.
``TextTrainer`` (``numbarnn.text.training``) stays the finer tool: step by step,
resumable runs with their optimiser state.
"""
import os
import tempfile

from .. import __version__
from ..checkpoints import save_checkpoint
from .config import DEFAULT_STEPS
from .training import CHECKPOINT_KIND, TextTrainer, load_text_model


class TextGenerator:
    """A trained character-level model and its vocabulary.

    Parameters
    ----------
    model : CharRNN
    vocab : Vocabulary
    config : dict, optional
        The training settings it came from (``TextConfig.to_dict()``), kept in ``save``.
    """

    def __init__(self, model, vocab, config=None):
        if len(vocab) != model.vocab_size:
            raise ValueError(f"vocabulary of {len(vocab)} characters for a model of "
                             f"{model.vocab_size}")
        self.model, self.vocab, self.config = model, vocab, config

    def generate(self, length, prime="", temperature=1.0, top_k=0, greedy=False, seed=None,
                 threads=None):
        """``length`` characters after ``prime``, as one string (``Sampler.generate``'s
        arguments; ``threads`` as ``Sampler``'s)."""
        from .sampling import Sampler

        return "".join(Sampler(self.model, self.vocab, threads=threads).generate(
            length, prime=prime, temperature=temperature, top_k=top_k, greedy=greedy,
            seed=seed))

    def save(self, path):
        """Write the weights and vocabulary as one text checkpoint (atomically), which
        ``load``, ``numbarnn generate`` and ``load_text_model`` read."""
        metadata = {"numbarnn": __version__, "model": self.model.config(),
                    "vocab": self.vocab.chars, "train": self.config}
        save_checkpoint(path, dict(self.model.state_dict()), metadata, CHECKPOINT_KIND)

    @classmethod
    def load(cls, path):
        """The generator of a text checkpoint, or of a run directory (its best model)."""
        model, vocab, meta = load_text_model(path)
        return cls(model, vocab, meta.get("train"))


def fit(text, config=None, steps=None, epochs=None, time_budget=None, out_dir=None,
        progress=None, corpus_name="text", **options):
    """Train a text generator on ``text``.

    Parameters
    ----------
    text : str
    config : TextConfig, optional
        Every setting, the device included; its defaults if None.
    steps, epochs, time_budget
        When to stop (``TextTrainer.train``); ``DEFAULT_STEPS`` (2,000, as
        ``train-text``) if none is given.
    out_dir : str, optional
        Where the run's checkpoints and ``metrics.json`` go as it trains; a temporary
        directory if None.
    progress : numbarnn.progress.Progress, optional
    corpus_name : str
    **options
        Settings changed from ``config``.

    Returns
    -------
    generator : TextGenerator
        At its best validation step (the last one without validation).
    report : dict
        What ``metrics.json`` holds; its ``status`` is ``'diverged'`` when the loss
        blew up (``diverged_message(report)`` says how), and the generator is then at
        its best step before that.
    """
    trainer = TextTrainer(text, corpus_name, config=config, **options)
    if steps is None and epochs is None and time_budget is None:
        steps = DEFAULT_STEPS
    with tempfile.TemporaryDirectory(prefix="numbarnn-") as scratch:
        where = scratch if out_dir is None else os.fspath(out_dir)
        report = trainer.train(steps=steps, epochs=epochs, time_budget=time_budget,
                               out_dir=where, progress=progress, handle_interrupt=False)
        generator = TextGenerator.load(where)
    return generator, report
