"""A small deterministic corpus for the text tests: generated, no third-party prose."""
import numpy as np


def small_corpus(chars=6000, seed=0):
    """Sentences from a tiny grammar: learnable structure in a few thousand characters."""
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "my bird", "one fox"]
    verbs = ["sat on", "ran to", "looked at", "jumped over"]
    objects = ["the mat.", "a log.", "the moon!", "its bowl."]
    parts = []
    while sum(len(p) for p in parts) < chars:
        parts.append(" ".join(rng.choice(x) for x in (subjects, verbs, objects)))
    return "\n".join(parts)[:chars]
