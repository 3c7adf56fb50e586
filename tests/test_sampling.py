"""The compiled sampler against the model's own forward pass."""
import numpy as np
import pytest

from numba import njit

from numbarnn.text import sampling
from numbarnn.text.model import CharRNN
from numbarnn.text.sampling import Sampler
from numbarnn.text.corpus import Vocabulary

VOCAB = Vocabulary("abcdefg \n")
CONFIGS = [("lstm", 1, 0), ("lstm", 2, 4), ("rnn", 2, 0), ("gru", 1, 0), ("gru", 2, 4)]


def make(cell="lstm", layers=1, emb=0, seed=0, threads=None):
    model = CharRNN(len(VOCAB), 8, layers, cell, emb, dtype=np.float64, seed=seed)
    # larger weights than the initialisation: peaked, decisive distributions
    for p in model.params.values():
        p *= 3
    return model, Sampler(model, VOCAB, threads=threads)


def next_logits(model, text):
    logits, _ = model.forward(VOCAB.encode(text)[:, None], train=False)
    return logits[-1, 0]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cell, layers, emb", CONFIGS)
def test_greedy_text_is_the_argmax_rollout_of_the_model(cell, layers, emb, threads):
    model, sampler = make(cell, layers, emb, threads=threads)
    prime = "bad cafe"
    got = "".join(sampler.generate(20, prime=prime, greedy=True))
    text = prime
    for _ in range(20):
        text += VOCAB.chars[int(np.argmax(next_logits(model, text)))]
    assert got == text[len(prime):]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cell, layers, emb", CONFIGS)
def test_state_after_the_prime_matches_the_model(cell, layers, emb, threads):
    model, sampler = make(cell, layers, emb, threads=threads)
    sampler.reset()
    sampler.feed(VOCAB.encode("gab"))
    x = model._inputs(VOCAB.encode("gab")[:, None], False)
    _, state = model.rnn.forward(x, train=False)
    h_n = state[0] if cell == "lstm" else state
    np.testing.assert_allclose(sampler.h, h_n[:, 0], rtol=0, atol=1e-12)


def test_low_temperature_tends_to_greedy():
    model, sampler = make()
    greedy = "".join(sampler.generate(50, prime="a", greedy=True))
    cold = "".join(sampler.generate(50, prime="a", temperature=1e-4, seed=5))
    assert cold == greedy


def test_top_k_never_leaves_the_k_best():
    model, sampler = make("lstm", 2, 4)
    prime = "fed"
    for k in (1, 2, 3):
        text = prime + "".join(sampler.generate(40, prime=prime, top_k=k, temperature=2.0,
                                                seed=k))
        for n in range(len(prime), len(text)):
            logits = next_logits(model, text[:n])
            rank = int(np.sum(logits > logits[VOCAB.index[text[n]]]))
            assert rank < k, (k, n)
    top1 = "".join(sampler.generate(30, prime=prime, top_k=1, temperature=5.0, seed=0))
    assert top1 == "".join(sampler.generate(30, prime=prime, greedy=True))


@njit
def keep_top(logits, k):  # (the helper has no Python wrapper of its own)
    sampling._keep_top(logits, k)


def test_keep_top_keeps_the_k_largest_and_the_first_of_equals():
    rng = np.random.default_rng(0)
    for trial in range(500):
        V = int(rng.integers(2, 30 if trial < 450 else 3000))  # (quickselect's deeper paths)
        k = int(rng.integers(1, V))
        x = rng.integers(0, 5, V).astype(float) if trial % 2 else rng.standard_normal(V)
        if trial % 7 == 0:
            x.sort()  # (sorted input: the worst case of a naive pivot)
        kept = x.copy()
        keep_top(kept, k)
        best = np.argsort(-x, kind="stable")[:k]
        expected = np.full(V, -np.inf)
        expected[best] = x[best]
        np.testing.assert_array_equal(kept, expected)


def test_sampling_follows_the_distribution():
    model, sampler = make()
    model.params["head.weight"][:] = 0  # a fixed distribution: softmax of the head bias
    model.params["head.bias"][:] = np.log(np.arange(1, len(VOCAB) + 1))
    sampler = Sampler(model, VOCAB)
    text = "".join(sampler.generate(20000, seed=0))
    counts = np.array([text.count(c) for c in VOCAB.chars])
    expected = np.arange(1, len(VOCAB) + 1) / np.arange(1, len(VOCAB) + 1).sum()
    np.testing.assert_allclose(counts / len(text), expected, atol=0.01)


def test_seed_reproducibility_and_chunking():
    _, sampler = make()
    a = "".join(sampler.generate(300, prime="ab", seed=7))
    b = "".join(sampler.generate(300, prime="ab", seed=7, chunk=17))
    c = "".join(sampler.generate(300, prime="ab", seed=8))
    assert a == b and a != c and len(a) == 300
    assert [len(p) for p in sampler.generate(40, seed=1, chunk=16)] == [16, 16, 8]
    with pytest.raises(ValueError, match="chunk"):
        sampler.generate(40, chunk=0)  # (it used to fail with an IndexError)


def test_sampler_copies_the_weights():
    model, sampler = make()
    before = "".join(sampler.generate(30, prime="a", greedy=True))
    for p in model.params.values():
        p[...] = 0
    assert "".join(sampler.generate(30, prime="a", greedy=True)) == before


def test_bad_arguments():
    _, sampler = make()
    with pytest.raises(ValueError, match=r"prime: characters the model never saw: 'x' 'z'"):
        sampler.generate(5, prime="zax")
    for kwargs, name in [({"temperature": 0}, "temperature"), ({"temperature": float("nan")},
                         "temperature"), ({"top_k": -1}, "top_k"), ({"top_k": True}, "top_k")]:
        with pytest.raises(ValueError, match=name):
            sampler.generate(5, **kwargs)
    with pytest.raises(ValueError, match="length"):
        sampler.generate(-1)
    with pytest.raises(ValueError, match="vocabulary of 3"):
        Sampler(CharRNN(len(VOCAB), 4), Vocabulary("abc"))


@pytest.mark.parametrize("cell, layers, emb", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_thread_and_two_give_the_same_text(cell, layers, emb, dtype):
    model = CharRNN(len(VOCAB), 24, layers, cell, emb, dtype=dtype, seed=4)
    texts, states = [], []
    for threads in (1, 2):
        sampler = Sampler(model, VOCAB, threads=threads)
        texts.append("".join(sampler.generate(500, prime="abc", temperature=1.5, seed=9,
                                              chunk=64)))
        states.append((sampler.h.copy(), sampler.c.copy()))
    assert texts[0] == texts[1]
    np.testing.assert_array_equal(states[0][0], states[1][0])
    np.testing.assert_array_equal(states[0][1], states[1][1])


def test_thread_count_is_checked():
    for model in (CharRNN(len(VOCAB), 5), CharRNN(len(VOCAB), 12, cell="rnn")):
        assert Sampler(model, VOCAB).parts == 1  # halves that are not blocks of four rows
        with pytest.raises(ValueError, match="threads"):
            Sampler(model, VOCAB, threads=2)
    with pytest.raises(ValueError, match="threads"):
        Sampler(CharRNN(len(VOCAB), 8), VOCAB, threads=3)
