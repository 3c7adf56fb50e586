"""Sampling text from a trained ``CharRNN``, one character at a time, in compiled code.

For one stream the recurrent step is a few matrix-vector products, and at
H = 256 it is bound by reading the recurrent weights (1 MiB per layer and
character) from memory.  ``Sampler`` therefore lays the weights out once:

* the first layer's input projection of every token, plus its bias, is a
  precomputed (V, G H) table (a one-hot input, or an embedding row, times
  ``W_ih``), so each step reads one row instead of a product;
* the hidden units are split between two threads (``parts``), each with its own
  rows of every gate, packed into the panels of the time loops' tile product
  (``kernels._tile``), so that each core reads only its half of the weights (which
  then stays in its own cache), as one contiguous stream, and updates only its
  own units; a barrier after each layer makes the new hidden state visible to both;

* the head is split the same way: each thread multiplies its own units of the top
  layer by their rows of the head as soon as it has them, and the top layer's
  barrier then also completes the head's two pieces;

and ``generate_part`` runs the step, the head, the temperature/top-k softmax and
the draw for many characters per call, in every thread (each thread adds the
head's pieces and draws the same token, which is cheaper than another barrier).
Every output of a matrix-vector product is one chain of multiply-adds in the
order of its inputs, wherever it sits, and the head's pieces follow the halves of
the hidden units whatever the number of threads, so one thread and two give
bit-identical text.  The random numbers are drawn beforehand from a seeded NumPy
generator, so a seed gives the same text.

Measured at H = 256 (one layer, 102 characters): the packed product reads a
part's 512 KiB of recurrent weights at about the rate of the L2 cache, 2.6 to
2.8 microseconds, against 3.5 to 5.4 for a loop that adds one input's row of
products to all the outputs at a time; the whole head, 2.9 microseconds with
float64 sums, took 1.2 in the model's dtype, and in pieces beside the top layer
a character went from 5.8 to 4.9-5.3 microseconds (7.6 before all three).
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from .._checks import check_int, check_number
from ..devices import aligned_empty
from ..kernels._jit import HELPER_OPTIONS, JIT_OPTIONS, exp, fma, sigmoid, tanh
from ..kernels._sync import COUNTER_STRIDE, barrier
from ..kernels._tile import empty_packed, pack_columns, packed_product


RNN, LSTM, GRU = 0, 1, 2  # the cell codes of the compiled step


@njit(**HELPER_OPTIONS)
def _step(part, parts, token, weights, cell, hb, cur, c, a, ah, counters, seq):
    """Advance every layer by one token for this part's hidden units.

    ``hb[cur]`` holds the state before the step, ``hb[1 - cur]`` receives the
    state after it; ``c`` (L, H) is updated in place (LSTM).  ``a`` receives the
    pre-activations; ``ah`` the GRU's recurrent ones, which its n gate keeps
    apart.  A barrier follows every layer but the last (the caller's: this part's
    units of the top layer may be used before the others are complete).  Returns
    the number of the last barrier passed.
    """
    table, w_ih, w_hh, bias = weights[0][part], weights[1][part], weights[2][part], weights[3][part]
    bias_hn = weights[6][part]
    L, H = hb.shape[1], hb.shape[2]
    n = H // parts
    u0 = part * n
    one = hb.dtype.type(1)
    old, new = hb[cur], hb[1 - cur]
    R = a.size
    a_row, ah_row = a.reshape((1, R)), ah.reshape((1, R))
    for k in range(L):
        if k == 0:
            a[:] = table[token]  # the bias is in the table
        else:
            a[:] = bias[k]
            packed_product(new[k - 1].reshape((1, H)), w_ih[k - 1], a_row, True)
        hk = new[k, u0:u0 + n]
        if cell == GRU:
            packed_product(old[k].reshape((1, H)), w_hh[k], ah_row, False)
            hp = old[k, u0:u0 + n]
            for j in range(n):
                r = sigmoid(a[j] + ah[j])
                z = sigmoid(a[n + j] + ah[n + j])
                g = tanh(a[2 * n + j] + r * (ah[2 * n + j] + bias_hn[k, j]))
                hk[j] = fma(one - z, g, z * hp[j])
        else:
            packed_product(old[k].reshape((1, H)), w_hh[k], a_row, True)
        if cell == LSTM:
            ck = c[k, u0:u0 + n]
            i, f, g, o = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
            for j in range(n):
                ck[j] = fma(sigmoid(f[j]), ck[j], sigmoid(i[j]) * tanh(g[j]))
            for j in range(n):
                hk[j] = sigmoid(o[j]) * tanh(ck[j])
        elif cell == RNN:
            for j in range(n):
                hk[j] = tanh(a[j])
        if k + 1 < L:
            seq += 1
            barrier(counters, part, parts, seq)  # layer k's new state is complete
    return seq


@njit(**HELPER_OPTIONS)
def _kth_largest(values, k):
    """The k-th largest of ``values`` (k = 1: the largest), by quickselect on a copy."""
    a = values.copy()
    lo, hi, target = 0, a.size - 1, k - 1  # (target: the index in descending order)
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:  # larger values to the left, smaller to the right
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:  # between the two sides: equal to the pivot
            return pivot
    return a[target]


@njit(**HELPER_OPTIONS)
def _keep_top(logits, k):
    """Set every logit but the k largest to -inf (of equal ones, the first stay).

    The k-th largest by quickselect, then one pass: O(V) on average and no sort (whose
    compiled code cost a first ``generate`` 1.6 s of its 8).
    """
    threshold = _kth_largest(logits, k)
    ties = k  # how many of the logits equal to the threshold stay: k minus those above it
    for v in range(logits.size):
        if logits[v] > threshold:
            ties -= 1
    for v in range(logits.size):
        if logits[v] > threshold:
            continue
        if logits[v] == threshold and ties > 0:
            ties -= 1
            continue
        logits[v] = -np.inf


@njit(**HELPER_OPTIONS)
def _pick(logits, temperature, top_k, greedy, u):
    """A token from the logits: the arg-max, or a draw at ``temperature`` among the top k."""
    V = logits.size
    if greedy:
        return np.argmax(logits)
    if 0 < top_k < V:  # everything below the k best is never drawn
        _keep_top(logits, top_k)
    top = np.max(logits)
    for v in range(V):
        logits[v] = exp((logits[v] - top) / temperature)
    total = 0.0
    for v in range(V):  # (apart: a sum in order does not vectorise, the exps do)
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
def feed_part(part, parts, tokens, weights, cell, hb, cur, c, counters):
    """Advance the state through ``tokens`` (no output); returns the new ``cur``."""
    a, ah = np.empty(weights[0].shape[2], hb.dtype), np.empty(weights[0].shape[2], hb.dtype)
    seq = 0
    for t in range(tokens.size):
        seq = _step(part, parts, tokens[t], weights, cell, hb, cur, c, a, ah, counters, seq) + 1
        barrier(counters, part, parts, seq)  # the top layer's new state is complete
        cur = 1 - cur
    return cur


@njit(**JIT_OPTIONS)
def generate_part(part, parts, token, weights, cell, hb, cur, c, heads, uniforms, temperature,
                  top_k, greedy, out, counters):
    """Generate ``out.size`` tokens after ``token``: this thread's part of the work.

    Parameters
    ----------
    part, parts : int
        This thread's index and the number of threads (each runs this function
        with the same other arguments).
    token : int
        The last token seen (fed first).
    weights : tuple
        ``(table, w_ih, w_hh, bias, head_w, head_b, bias_hn)`` as laid out by ``Sampler``
        (``w_ih``, ``w_hh`` and the pieces of ``head_w`` packed for ``packed_product``).
    cell : int
        ``RNN``, ``LSTM`` or ``GRU``.
    hb : (2, L, H) array
        The hidden state in ``hb[cur]``; the two halves alternate.
    cur : int
    c : (L, H) array
        The cell state (unused for the RNN).
    heads : (2, P, >= V) array
        Work space shared by the threads: the head's P pieces (one per half of the
        hidden units where the threads may split them), for odd and even tokens; rows
        a whole number of cache lines long (no line written by both threads).
    uniforms : (n,) float64 array in [0, 1)
        One random number per generated token.
    temperature : float > 0
    top_k : int
        Draw only among the k most likely tokens; 0 for all.
    greedy : bool
        Take the most likely token (no randomness).
    out : (n,) integer array
        Receives the generated tokens (written by part 0).
    counters : int64 array
        Barrier counters, zeros, shared by the threads.

    Returns
    -------
    int
        The new ``cur``.
    """
    head_w, head_b = weights[4], weights[5]
    a, ah = np.empty(weights[0].shape[2], hb.dtype), np.empty(weights[0].shape[2], hb.dtype)
    P, V = heads.shape[1], head_b.size
    m = hb.shape[2] // P  # hidden units per piece of the head
    logits = np.empty(V, np.float64)  # (the softmax and the draw in float64)
    top = hb.shape[1] - 1
    seq = 0
    for t in range(out.size):
        seq = _step(part, parts, token, weights, cell, hb, cur, c, a, ah, counters, seq) + 1
        cur = 1 - cur
        # the head's pieces of this part's units, before the others' units are complete
        # (with one thread, all pieces: the same sums); every token's own buffer, so that
        # a part that runs ahead never writes a piece the other is still reading
        pieces = heads[t % 2]
        for j in range(part * P // parts, (part + 1) * P // parts):
            packed_product(hb[cur, top, j * m:(j + 1) * m].reshape((1, m)), head_w[j],
                           pieces[j:j + 1, :V], False)
        barrier(counters, part, parts, seq)  # the top layer's state and the pieces are complete
        for v in range(V):
            total = head_b[v]
            for j in range(P):
                total += pieces[j, v]
            logits[v] = total
        token = _pick(logits, temperature, top_k, greedy, uniforms[t])
        if part == 0:
            out[t] = token
    return cur


def _packed(wT):
    """``wT`` (K, R) in the panels of ``kernels._tile.packed_product``."""
    out = empty_packed(wT.shape[0], wT.shape[1], wT)
    pack_columns(np.ascontiguousarray(wT), 0, wT.shape[1], out)
    return out


def _usable_cores():
    """Cores this process may run on (its affinity mask, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Sampler:
    """Generate text from a ``CharRNN`` and its ``Vocabulary``.

    >>> sampler = Sampler(model, vocab)
    >>> text = "".join(sampler.generate(200, prime="def ", temperature=0.8, seed=0))

    The weights are copied when the sampler is made: later training does not
    change what it samples.

    Parameters
    ----------
    model : CharRNN
    vocab : Vocabulary
    threads : {None, 1, 2}
        Threads that share each step (the text is the same either way).  None:
        two where this process may use two cores and the hidden units split
        into whole blocks of four gate rows (an LSTM with an even hidden size, an
        RNN or a GRU with one divisible by 8), else one.  The threads wait for each other
        by spinning, so give 1 where two cores are not really available (a CPU
        quota in a container, say).
    """

    def __init__(self, model, vocab, threads=None):
        if len(vocab) != model.vocab_size:
            raise ValueError(f"vocabulary of {len(vocab)} characters for a model of "
                             f"{model.vocab_size}")
        L, H = model.num_layers, model.hidden_size
        G = model.params["rnn.weight_ih_l0"].shape[0] // H
        halves = H % 2 == 0 and (G * H // 2) % 4 == 0  # whole blocks of four rows per part
        if threads is None:  # the threads spin at their barriers: only with two cores to run on
            threads = 2 if _usable_cores() >= 2 and halves else 1
        if threads not in (1, 2) or (threads == 2 and not halves):
            raise ValueError(f"threads: got {threads!r}, expected 1, or 2 when each half of the "
                             "gate rows is a multiple of 4 (an LSTM with an even hidden size, "
                             "an RNN or a GRU with a hidden size divisible by 8)")
        self.vocab = vocab
        self.cell = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[model.cell]
        self.parts = threads
        dt = model.dtype
        p = model.params
        # the inputs' side takes both biases, except b_hn (inside the GRU's r * (...))
        b_hh = np.stack([p[f"rnn.bias_hh_l{k}"] for k in range(L)])
        bias_hn = np.zeros((L, H), dt)
        if self.cell == GRU:
            bias_hn = b_hh[:, 2 * H:].copy()
            b_hh[:, 2 * H:] = 0
        bias = np.stack([p[f"rnn.bias_ih_l{k}"] for k in range(L)]) + b_hh
        w_ih0 = p["rnn.weight_ih_l0"]
        table = (p["embedding.weight"] @ w_ih0.T) if model.embedding_dim else w_ih0.T.copy()
        table += bias[0]
        w_ih = np.stack([p[f"rnn.weight_ih_l{k}"] for k in range(1, L)]) if L > 1 \
            else np.zeros((0, G * H, H), dt)
        w_hh = np.stack([p[f"rnn.weight_hh_l{k}"] for k in range(L)])
        # each part's rows of every gate, [i, f, g, o] for its units, side by side
        n = H // threads
        rows = [np.concatenate([np.arange(g * H + q * n, g * H + (q + 1) * n) for g in range(G)])
                for q in range(threads)]
        per_part = [np.stack([w[..., r] for r in rows]) for w in (table, bias)]
        # the head in pieces of the halves of the hidden units wherever two threads may
        # split them, whatever the threads: their sums are added in one order
        pieces = 2 if halves else 1
        # (each thread's pieces are its own units: two threads only where there are halves)
        assert pieces % threads == 0
        head_wT = p["head.weight"].T
        m = H // pieces
        head_pieces = np.stack([_packed(head_wT[j * m:(j + 1) * m]) for j in range(pieces)])
        packed = [np.stack([[_packed(w[k, r].T) for k in range(len(w))] for r in rows])
                  if len(w) else np.zeros((threads, 0, 1, H, 1), dt) for w in (w_ih, w_hh)]
        hn_parts = np.stack([bias_hn[:, q * n:(q + 1) * n] for q in range(threads)])
        self.weights = tuple(np.array(w, dtype=dt, order="C") for w in
                             [per_part[0]] + packed + [per_part[1], head_pieces,
                                                       p["head.bias"], hn_parts])
        line = 64 // np.dtype(dt).itemsize
        self._heads = aligned_empty((2, pieces, -(-model.vocab_size // line) * line), dt)
        self._hb = np.zeros((2, L, H), dt)
        self._cur = 0
        self.c = np.zeros((L, H), dt)
        self._counters = np.zeros(threads * COUNTER_STRIDE, np.int64)
        self._pool = ThreadPoolExecutor(threads - 1, "numbarnn-sample") if threads > 1 else None

    @property
    def h(self):
        """The hidden state (L, H) after the last character."""
        return self._hb[self._cur]

    def reset(self):
        """Back to the zero state."""
        self._hb[:] = 0
        self._cur = 0
        self.c[:] = 0

    def _run(self, function, *args):
        """``function(part, parts, *args)`` in every thread at once; part 0's result."""
        self._counters[:] = 0
        others = [self._pool.submit(function, q, self.parts, *args)
                  for q in range(1, self.parts)]
        result = function(0, self.parts, *args)
        for other in others:
            other.result()
        return result

    def feed(self, tokens):
        """Advance the state through ``tokens`` (integer ids), producing nothing."""
        self._cur = self._run(feed_part, np.asarray(tokens, np.int64), self.weights,
                              self.cell, self._hb, self._cur, self.c, self._counters)

    def generate(self, length, prime="", temperature=1.0, top_k=0, greedy=False, seed=None,
                 chunk=1024):
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
            Characters per compiled call (each call's text is yielded at once).  Each
            call wakes the second thread, about 50 us: at one layer of 256 units, 1024
            characters a call (a few milliseconds of text) sampled 6 % faster than 256.
        """
        check_int("length", length, 0)
        check_int("chunk", chunk, 1)
        check_number("temperature", temperature, 0, low_open=True, expected="a positive number")
        check_int("top_k", top_k, 0, expected="0 (all) or a positive integer")
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
            self.feed(tokens[:-1])
            token = int(tokens[-1])
        else:
            token = self.vocab.index.get("\n", int(rng.integers(len(self.vocab))))
        out = np.empty(chunk, np.int64)
        done = 0
        while done < length:
            n = min(chunk, length - done)
            self._cur = self._run(generate_part, token, self.weights, self.cell, self._hb,
                                  self._cur, self.c, self._heads, rng.random(n), temperature,
                                  top_k, greedy, out[:n], self._counters)
            token = int(out[n - 1])
            done += n
            yield self.vocab.decode(out[:n])
