"""The text job: character-level generators.

==========  ===============================================================
config      ``TextConfig``: every setting of ``numbarnn train-text``
corpus      reading a corpus, the built-in one, the vocabulary, the batches
model       ``CharRNN``: one-hot or embedded input, a recurrent stack, a head
training    ``TextTrainer``: truncated BPTT on worker threads, resumable runs
sampling    ``Sampler``: compiled generation on one or two threads
generator   ``fit(text, config) -> (TextGenerator, report)``; ``TextGenerator``
            ``.generate``, ``.save``, ``.load``
==========  ===============================================================
"""
from .._lazy import lazy_exports

__all__ = ["CharRNN", "Sampler", "TextConfig", "TextGenerator", "TextTrainer", "Vocabulary",
           "builtin_corpus", "fit", "load_text_model", "read_corpus"]
__getattr__, __dir__ = lazy_exports(globals(), {
    "TextConfig": "config", "Vocabulary": "corpus", "builtin_corpus": "corpus",
    "read_corpus": "corpus", "split_text": "corpus", "StreamBatches": "corpus",
    "CharRNN": "model", "TextTrainer": "training", "load_text_model": "training",
    "Sampler": "sampling", "TextGenerator": "generator", "fit": "generator",
})
