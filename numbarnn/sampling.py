"""Sampling text from a trained ``CharRNN``, one character at a time, in compiled code.

For one stream the recurrent step is a few matrix-vector products, so the
per-character cost is dominated by overheads unless the whole loop is
compiled.  ``Sampler`` therefore lays the weights out once for that loop:

* the first layer's input projection of every token, plus its bias, is a
  precomputed (V, G H) table (a one-hot input, or an embedding row, times
  ``W_ih``), so each step reads one row instead of a product;
* the other layers' weights are stacked into (L-1, G H, H) and (L, G H, H) arrays;

and ``generate_tokens`` runs the step, the head, the temperature/top-k softmax
and the draw for many characters per call.  The random numbers are drawn
beforehand from a seeded NumPy generator, so a seed gives the same text.
"""
import math

import numpy as np
from numba import njit

from .kernels._jit import JIT_OPTIONS, sigmoid, tanh


@njit(**JIT_OPTIONS)
def _advance(token, weights, is_lstm, h, c, a, work):
    """Feed one token through every layer; ``h`` and ``c`` (L, H) are updated in place."""
    table, w_ih, w_hh, bias = weights[0], weights[1], weights[2], weights[3]
    L, H = h.shape
    for k in range(L):
        if k == 0:
            a[:] = table[token]
        else:
            np.dot(w_ih[k - 1], h[k - 1], a)
            a += bias[k]
        np.dot(w_hh[k], h[k], work)
        a += work
        hk = h[k]
        if is_lstm:
            ck = c[k]
            i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            for j in range(H):
                ck[j] = sigmoid(f[j]) * ck[j] + sigmoid(i[j]) * tanh(g[j])
            for j in range(H):
                hk[j] = sigmoid(o[j]) * tanh(ck[j])
        else:
            for j in range(H):
                hk[j] = tanh(a[j])


@njit(**JIT_OPTIONS)
def _pick(logits, temperature, top_k, greedy, u):
    """A token from the logits: the arg-max, or a draw at ``temperature`` among the top k."""
    V = logits.size
    if greedy:
        return np.argmax(logits)
    if 0 < top_k < V:
        order = np.argsort(logits)
        for r in range(V - top_k):  # everything below the k best is never drawn
            logits[order[r]] = -np.inf
    top = np.max(logits)
    total = 0.0
    for v in range(V):
        logits[v] = math.exp((logits[v] - top) / temperature)
        total += logits[v]
    threshold = u * total
    running = 0.0
    last = 0
    for v in range(V):
        if logits[v] > 0:
            running += logits[v]
            last = v
            if running > threshold:
                return v
    return last  # u * total rounded up to the sum


@njit(**JIT_OPTIONS)
def feed_tokens(tokens, weights, is_lstm, h, c):
    """Advance the state ``h``, ``c`` through ``tokens`` (no output)."""
    GH = weights[2].shape[1]
    a, work = np.empty(GH, h.dtype), np.empty(GH, h.dtype)
    for n in range(tokens.size):
        _advance(tokens[n], weights, is_lstm, h, c, a, work)


@njit(**JIT_OPTIONS)
def generate_tokens(token, weights, is_lstm, h, c, uniforms, temperature, top_k, greedy, out):
    """Generate ``out.size`` tokens after ``token``, advancing ``h``, ``c``.

    Parameters
    ----------
    token : int
        The last token seen (fed first).
    weights : tuple
        ``(table, w_ih, w_hh, bias, head_w, head_b)`` as laid out by ``Sampler``.
    is_lstm : bool
    h, c : (L, H) arrays
        The state, updated in place (``c`` unused for the RNN).
    uniforms : (n,) float64 array in [0, 1)
        One random number per generated token.
    temperature : float > 0
    top_k : int
        Draw only among the k most likely tokens; 0 for all.
    greedy : bool
        Take the most likely token (no randomness).
    out : (n,) integer array
        Receives the generated tokens.
    """
    head_w, head_b = weights[4], weights[5]
    GH = weights[2].shape[1]
    a, work = np.empty(GH, h.dtype), np.empty(GH, h.dtype)
    logits = np.empty(head_b.size, np.float64)
    top = h.shape[0] - 1
    for n in range(out.size):
        _advance(token, weights, is_lstm, h, c, a, work)
        for v in range(head_b.size):
            logits[v] = head_b[v]
        logits += np.dot(head_w, h[top])
        token = _pick(logits, temperature, top_k, greedy, uniforms[n])
        out[n] = token


class Sampler:
    """Generate text from a ``CharRNN`` and its ``Vocabulary``.

    >>> sampler = Sampler(model, vocab)
    >>> text = "".join(sampler.generate(200, prime="def ", temperature=0.8, seed=0))

    The weights are copied when the sampler is made: later training does not
    change what it samples.
    """

    def __init__(self, model, vocab):
        if len(vocab) != model.vocab_size:
            raise ValueError(f"vocabulary of {len(vocab)} characters for a model of "
                             f"{model.vocab_size}")
        self.vocab = vocab
        self.is_lstm = model.cell == "lstm"
        dt = model.dtype
        p = model.params
        L, H = model.num_layers, model.hidden_size
        bias = np.stack([p[f"rnn.bias_ih_l{k}"] + p[f"rnn.bias_hh_l{k}"] for k in range(L)])
        w_ih0 = p["rnn.weight_ih_l0"]
        if model.embedding_dim:
            table = p["embedding.weight"] @ w_ih0.T
        else:
            table = w_ih0.T.copy()
        table += bias[0]
        GH = w_ih0.shape[0]
        w_ih = np.stack([p[f"rnn.weight_ih_l{k}"] for k in range(1, L)]) if L > 1 \
            else np.zeros((0, GH, H), dt)
        w_hh = np.stack([p[f"rnn.weight_hh_l{k}"] for k in range(L)])
        self.weights = tuple(np.array(w, dtype=dt, order="C") for w in
                             (table, w_ih, w_hh, bias, p["head.weight"], p["head.bias"]))
        self.h = np.zeros((L, H), dt)
        self.c = np.zeros((L, H), dt)

    def reset(self):
        """Back to the zero state."""
        self.h[:] = 0
        self.c[:] = 0

    def generate(self, length, prime="", temperature=1.0, top_k=0, greedy=False, seed=None,
                 chunk=256):
        """The generated text, as an iterator over pieces of up to ``chunk`` characters.

        The arguments are checked at once; the text is made as it is consumed.

        Parameters
        ----------
        length : int
            Characters to generate (after the prime).
        prime : str
            Text to condition on; it is not repeated in the output.  Empty:
            start from a newline (or a random character if the vocabulary has none).
        temperature : float > 0
            Below 1 is more conservative, above 1 more adventurous.
        top_k : int
            Draw only among the k most likely characters; 0 for all.
        greedy : bool
            Always take the most likely character.
        seed : int or None
        chunk : int
            Characters per compiled call (each call's text is yielded at once).
        """
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"length: got {length!r}, expected a non-negative integer")
        if not (isinstance(temperature, (int, float)) and temperature > 0
                and math.isfinite(temperature)):
            raise ValueError(f"temperature: got {temperature!r}, expected a positive number")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
            raise ValueError(f"top_k: got {top_k!r}, expected 0 (all) or a positive integer")
        missing = self.vocab.unknown(prime)
        if missing:
            raise ValueError("prime: characters the model never saw: "
                             + " ".join(repr(c) for c in missing))
        return self._pieces(length, prime, float(temperature), int(top_k), bool(greedy),
                            np.random.default_rng(seed), chunk)

    def _pieces(self, length, prime, temperature, top_k, greedy, rng, chunk):
        self.reset()
        if prime:
            tokens = self.vocab.encode(prime)
            feed_tokens(tokens[:-1], self.weights, self.is_lstm, self.h, self.c)
            token = int(tokens[-1])
        else:
            token = self.vocab.index.get("\n", int(rng.integers(len(self.vocab))))
        out = np.empty(chunk, np.int64)
        done = 0
        while done < length:
            n = min(chunk, length - done)
            generate_tokens(token, self.weights, self.is_lstm, self.h, self.c, rng.random(n),
                            temperature, top_k, greedy, out[:n])
            token = int(out[n - 1])
            done += n
            yield self.vocab.decode(out[:n])
