"""The character-level language model: tokens -> recurrent stack -> logits.

::

    tokens (T, B) --one-hot or Embedding--> x (T, B, D)
                  --LSTM / RNN stack------> h (T, B, H)
                  --dropout, Linear-------> logits (T, B, V)

The model owns its layers and exposes their parameters and gradients as flat
dicts under dotted names (``rnn.weight_ih_l0``, ``head.weight``, ...), which is
what the optimisers and checkpoints use; the names after the dot are PyTorch's.
"""
import copy

import numpy as np

from .. import CELLS
from .._checks import (as_seed_sequence, check_choice, check_dtype, check_int, check_number,
                      check_tokens)
from ..checkpoints import join_states, part_state
from ..layers import LAYERS, Embedding, HostParams, Linear, dropout_mask



class CharRNN:
    """A character-level recurrent language model.

    Parameters
    ----------
    vocab_size : int
    hidden_size : int, default 256
    num_layers : int, default 1
    cell : {'lstm', 'rnn', 'gru'}, default 'lstm'
        'rnn' is the tanh Elman cell.
    embedding_dim : int, default 0
        0 feeds one-hot vectors (char-rnn's choice); otherwise a learned
        embedding table of this width.
    dropout : float, default 0.0
        Dropout on the output of every recurrent layer (between layers and
        before the head), in training only.
    forget_bias : float, default 1.0
        Initial value of the LSTM forget-gate bias (``bias_ih`` gets it,
        ``bias_hh`` 0), which helps the cell keep its memory early in training.
    dtype : np.float32 or np.float64
    seed : int or None
        Seeds the initialisation and the dropout masks.
    device : {'cpu', 'cuda'}, default 'cpu'
        Where the recurrent stack runs.  On 'cuda' its parameters and gradients
        stay on the host (``layers.HostParams``), as do the embedding and the head,
        so the optimisers and checkpoints are the CPU's; the same seed gives the
        same initial weights on either device.
    """

    def __init__(self, vocab_size, hidden_size=256, num_layers=1, cell="lstm", embedding_dim=0,
                 dropout=0.0, forget_bias=1.0, dtype=np.float32, seed=None, device="cpu"):
        self.vocab_size = check_int("vocab_size", vocab_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.num_layers = check_int("num_layers", num_layers)
        self.cell = check_choice("cell", cell, CELLS)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, 0,
                                       expected="0 (one-hot) or a positive integer")
        check_number("dropout", dropout, 0, 1, high_open=True, expected="a probability in [0, 1)")
        self.dropout, self.forget_bias = float(dropout), float(forget_bias)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        emb_seed, rnn_seed, head_seed, drop_seed = as_seed_sequence(seed).spawn(4)

        self.embedding = None
        if self.embedding_dim:
            self.embedding = Embedding(self.vocab_size, self.embedding_dim, self.dtype,
                                       seed=emb_seed)
        input_size = self.embedding_dim or self.vocab_size
        recurrent = LAYERS[cell]
        self.rnn = recurrent(input_size, self.hidden_size, self.num_layers,
                             dropout=self.dropout if self.num_layers > 1 else 0.0,
                             dtype=self.dtype, seed=rnn_seed, device=device)
        if device != "cpu":
            self.rnn = HostParams(self.rnn)
        self.head = Linear(self.hidden_size, self.vocab_size, dtype=self.dtype, seed=head_seed)
        self.dropout_rng = np.random.default_rng(drop_seed)
        if cell == "lstm":
            H = self.hidden_size
            for k in range(self.num_layers):
                self.rnn.params[f"bias_ih_l{k}"][H:2 * H] = self.forget_bias
                self.rnn.params[f"bias_hh_l{k}"][H:2 * H] = 0.0
        self._mask = None

    # ------------------------------------------------------------------ parameters
    def modules(self):
        """``(prefix, module)`` pairs in a fixed order."""
        pairs = [("embedding", self.embedding)] if self.embedding is not None else []
        return pairs + [("rnn", self.rnn), ("head", self.head)]

    @property
    def params(self):
        """Every parameter under a dotted name; the arrays themselves, not copies."""
        return join_states((p, m.params) for p, m in self.modules())

    @property
    def grads(self):
        """Every gradient, with the keys of ``params``."""
        return join_states((p, m.grads) for p, m in self.modules())

    def state_dict(self):
        """A copy of every parameter under its dotted name."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state_dict):
        """Load parameters saved by ``state_dict``; nothing changes unless all are valid."""
        expected = set(self.params)
        missing = sorted(expected - set(state_dict))
        unexpected = sorted(set(state_dict) - expected)
        if missing or unexpected:
            raise ValueError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        parts = {p: part_state(state_dict, p) for p, _ in self.modules()}
        backups = [(m, m.state_dict()) for _, m in self.modules()]
        try:
            for p, m in self.modules():
                m.load_state_dict(parts[p])
        except ValueError:
            for m, backup in backups:
                m.load_state_dict(backup)
            raise

    def config(self):
        """The constructor's arguments (without the seed), JSON-able."""
        return {"vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "cell": self.cell,
                "embedding_dim": self.embedding_dim, "dropout": self.dropout,
                "forget_bias": self.forget_bias, "dtype": self.dtype.name}

    def initial_state(self, batch_size):
        """Zero recurrent state for ``batch_size`` streams, in the layer's form."""
        zeros = np.zeros((self.num_layers, batch_size, self.hidden_size), self.dtype)
        return (zeros, zeros.copy()) if self.cell == "lstm" else zeros

    def __repr__(self):
        inp = f"Embedding({self.vocab_size}, {self.embedding_dim})" if self.embedding_dim \
            else f"one-hot({self.vocab_size})"
        return f"CharRNN({inp} -> {self.rnn!r} -> {self.head!r})"

    # ------------------------------------------------------------------ forward / backward
    def _inputs(self, tokens, train):
        if self.embedding is not None:
            return self.embedding.forward(tokens, train=train)
        return tokens  # the layer takes token ids as one-hot input

    def forward(self, tokens, state=None, train=True):
        """Logits for the next character at every position.

        Parameters
        ----------
        tokens : (T, B) integer array
        state : the recurrent state to start from (``initial_state``'s form); zeros if None
        train : bool
            True keeps what ``backward`` needs and applies dropout.

        Returns
        -------
        logits : (T, B, vocab_size) array
        state : the final recurrent state
        """
        tokens = check_tokens("tokens", tokens, self.vocab_size)
        if tokens.ndim != 2:
            raise ValueError(f"tokens: got shape {tokens.shape}, expected (T, B)")
        h, state = self.rnn.forward(self._inputs(tokens, train), state, train=train)
        self._mask = None
        if train and self.dropout > 0:
            self._mask = dropout_mask(self.dropout_rng, h.shape, self.dropout, self.dtype)
            h *= self._mask
        return self.head.forward(h, train=train), state

    def backward(self, dlogits, dstate=None):
        """Gradients of every parameter (into ``grads``) from the gradient of the logits."""
        dh = self.head.backward(dlogits)
        if self._mask is not None:
            dh *= self._mask
        dx, _ = self.rnn.backward(dh, dstate, input_grad=self.embedding is not None)
        if self.embedding is not None:
            self.embedding.backward(dx)

    def replica(self, seed):
        """A model sharing this one's parameter arrays, with its own gradients, work
        buffers and dropout generators (seeded from ``seed``): see ``Module.replica``."""
        twin = copy.copy(self)
        rnn_seed, drop_seed = as_seed_sequence(seed).spawn(2)
        if self.embedding is not None:
            twin.embedding = self.embedding.replica()
        twin.rnn = self.rnn.replica(rnn_seed)
        twin.head = self.head.replica()
        twin.dropout_rng = np.random.default_rng(drop_seed)
        twin._mask = None
        return twin

    # ------------------------------------------------------------------ random state
    def random_state(self):
        """The dropout generators' states (JSON-able), for exact resume."""
        return {"model": self.dropout_rng.bit_generator.state,
                "rnn": self.rnn._dropout_rng.bit_generator.state}

    def set_random_state(self, state):
        self.dropout_rng.bit_generator.state = state["model"]
        self.rnn._dropout_rng.bit_generator.state = state["rnn"]
