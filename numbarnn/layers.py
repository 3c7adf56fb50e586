"""Recurrent layers with the interface of ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

A layer owns its parameters (PyTorch's names, shapes and gate order), the
gradients that ``backward`` fills, and the working buffers that the kernels
reuse from call to call.  The time loops themselves are the compiled kernels
of ``numbarnn.kernels``; this module only checks, arranges and dispatches.
"""
import copy
import warnings
from collections import namedtuple
from functools import partial

import numpy as np
from numba import njit

from ._checks import (as_float_array, as_seed_sequence, check_dtype, check_finite, check_int,
                      check_memory, check_number, check_shape, check_tokens, from_torch)
from .devices import get_device
from .kernels import RELU, TANH
from .kernels._jit import JIT_OPTIONS
from .kernels.cpu_linear import linear_backward, linear_forward


def _is_token_array(value):
    """A 2-D integer NumPy array: token ids standing for one-hot input vectors."""
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 2


def dropout_mask(rng, shape, p, dtype):
    """An inverted-dropout mask: ``1 / (1 - p)`` where a unit is kept (probability
    ``1 - p``), else 0.  Drawn on the host from ``rng``, so that a seed gives the same
    masks on every device; the stacked layers and the text model's output both use it."""
    dtype = np.dtype(dtype)
    return (rng.random(shape) >= p).astype(dtype) / dtype.type(1 - p)


#: What ``load_state_dict`` returns: the keys it missed and those it did not know.
IncompatibleKeys = namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")


class Module:
    """Parameters and gradients under PyTorch's names, and their (de)serialisation.

    ``params`` and ``grads`` are dicts of arrays with the same keys; optimisers
    update ``params`` in place from ``grads``.
    """

    params: dict
    grads: dict
    dtype: np.dtype
    _dev = get_device("cpu")

    def __call__(self, *args, **kwargs):
        """``forward``, as ``module(x)`` runs it in torch."""
        return self.forward(*args, **kwargs)

    def state_dict(self):
        """A copy of the parameters under PyTorch's names, as NumPy arrays."""
        return {name: self._dev.to_host(p).copy() for name, p in self.params.items()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy parameters in place, from NumPy arrays or anything ``np.asarray`` reads.

        The keys and shapes must be exactly this module's (a ``torch.nn.LSTM``
        state dict converted to NumPy, or its tensors, fit a ``numbarnn.LSTM`` of the
        same configuration); with ``strict=False``, as in torch, only the keys this
        module has are loaded and the others are ignored.  Nothing is changed unless
        every entry loaded is valid.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``, as torch's ``load_state_dict`` returns.
        """
        if not hasattr(state_dict, "keys"):
            raise ValueError(f"state_dict: got {type(state_dict).__name__}, expected a mapping "
                             "of parameter names to arrays")
        missing = [k for k in self.params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in self.params]
        if strict and (missing or unexpected):
            raise ValueError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                             f"expected exactly {list(self.params)}")
        new = {}
        for name, p in self.params.items():
            if name in missing:
                continue
            value = state_dict[name]
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            arr = as_float_array(f"state_dict[{name!r}]", value, self.dtype)
            check_shape(f"state_dict[{name!r}]", arr, p.shape, "")
            check_finite(f"state_dict[{name!r}]", arr)
            new[name] = arr
        for name, arr in new.items():
            self._dev.assign(self.params[name], arr)
        self._forget("backward() needs a forward(train=True) after load_state_dict()")
        return IncompatibleKeys(missing, unexpected)

    def replica(self, seed=None):
        """A module that shares this one's parameter arrays but has its own gradients,
        work buffers and dropout generator (seeded by ``seed``).

        Replicas let threads run forward and backward on parts of a batch at the
        same time (the kernels release the GIL); the caller sums their gradients.
        """
        twin = copy.copy(self)
        twin.grads = {k: self._dev.zeros(g.shape, self.dtype) for k, g in self.grads.items()}
        twin._buffers = {}
        if hasattr(self, "_dropout_rng"):
            twin._dropout_rng = np.random.default_rng(seed)
        twin._forget("backward() needs a forward(train=True) first")
        return twin

    def _forget(self, note):
        """Drop what a training forward stored; ``note`` is what backward() will say."""
        self._cache = None
        self._cache_note = note

    def _init_params(self, shapes, bound, rng):
        """Every parameter uniform in +-bound, drawn in ``shapes`` order (as PyTorch's init)."""
        self.params = {name: self._dev.upload(rng.uniform(-bound, bound, shape).astype(self.dtype))
                       for name, shape in shapes}
        self.grads = {name: self._dev.zeros(p.shape, self.dtype) for name, p in self.params.items()}


# the bias argument of a map without one
_NO_BIAS = {name: np.zeros(0, name) for name in ("float32", "float64")}


class Linear(Module):
    """Affine map ``y = x W^T + b`` over the last axis, as ``torch.nn.Linear``.

    ``forward(x)`` takes (..., in_features) and returns (..., out_features);
    ``backward(dy)`` returns dx and fills ``grads['weight']``, ``grads['bias']``.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, seed=None):
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.bias = bool(bias)
        self.dtype = check_dtype(dtype)
        shapes = [("weight", (self.out_features, self.in_features))]
        if self.bias:
            shapes.append(("bias", (self.out_features,)))
        self._init_params(shapes, 1.0 / np.sqrt(self.in_features), np.random.default_rng(seed))
        self._cache = None

    def forward(self, x, train=True):
        x = as_float_array("x", x, self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x: got shape {x.shape}, expected (..., {self.in_features})")
        x2 = np.ascontiguousarray(x.reshape(-1, self.in_features))  # (one 2-D product)
        self._cache = (x2, x.shape[:-1]) if train else None
        y = np.empty((x2.shape[0], self.out_features), self.dtype)
        linear_forward(x2, self.params["weight"], self._bias_or_none(self.params), y)
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, dy):
        if self._cache is None:
            raise ValueError("backward() needs a forward(train=True) first")
        x2, lead = self._cache
        dy = as_float_array("dy", dy, self.dtype)
        check_shape("dy", dy, lead + (self.out_features,), "(the forward's output shape)")
        dx = np.empty_like(x2)
        linear_backward(x2, np.ascontiguousarray(dy.reshape(-1, self.out_features)),
                        self.params["weight"], dx, self.grads["weight"],
                        self._bias_or_none(self.grads))
        return dx.reshape(lead + (self.in_features,))

    def _bias_or_none(self, arrays):
        return arrays["bias"] if self.bias else _NO_BIAS[self.dtype.name]

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias})"


class Embedding(Module):
    """A lookup table of vectors, one row per token, as ``torch.nn.Embedding``.

    ``forward(tokens)`` takes an integer array of any shape and returns
    (*tokens.shape, embedding_dim); ``backward(dy)`` adds each row of ``dy``
    into the gradient of the row it was read from, and returns None (tokens
    have no gradient).
    """

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float32, seed=None):
        self.num_embeddings = check_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_int("embedding_dim", embedding_dim)
        self.dtype = check_dtype(dtype)
        # torch draws the table from N(0, 1)
        table = np.random.default_rng(seed).standard_normal((self.num_embeddings,
                                                             self.embedding_dim))
        self.params = {"weight": table.astype(self.dtype)}
        self.grads = {"weight": np.zeros_like(self.params["weight"])}
        self._cache = None

    def forward(self, tokens, train=True):
        tokens = check_tokens("tokens", tokens, self.num_embeddings)
        self._cache = tokens if train else None
        return self.params["weight"][tokens]

    def backward(self, dy):
        if self._cache is None:
            raise ValueError("backward() needs a forward(train=True) first")
        tokens = self._cache
        dy = as_float_array("dy", dy, self.dtype)
        check_shape("dy", dy, tokens.shape + (self.embedding_dim,), "(the forward's output shape)")
        _scatter_rows(tokens.reshape(-1), dy.reshape(-1, self.embedding_dim),
                      self.grads["weight"])

    def __repr__(self):
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


@njit(**JIT_OPTIONS)
def _scatter_rows(tokens, rows, grad):
    """``grad[tokens[n]] += rows[n]`` for every n, after zeroing ``grad``."""
    grad[:] = 0
    for n in range(tokens.size):
        grad[tokens[n]] += rows[n]


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: parameters, checks, buffers, layer stacking,
    directions, sequence lengths, dropout."""

    _gates = 1  # gate blocks per layer: 4 for the LSTM, 3 for the GRU
    _state_names = ("h",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, device="cpu", seed=None):
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            check_int(name, value)
        check_number("dropout", dropout, 0, 1, high_open=True, expected="a probability in [0, 1)")
        self._dev = get_device(device)
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout acts between stacked layers, so with num_layers=1 it does "
                          "nothing (as in torch.nn.RNN/LSTM)", stacklevel=3)
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        if not (isinstance(bidirectional, (bool, np.bool_, int, np.integer))
                and bidirectional in (0, 1)):  # (torch takes 0 and 1 too)
            raise ValueError(f"bidirectional: got {bidirectional!r}, expected True or False")
        self.bidirectional = bool(bidirectional)
        self._directions = 2 if self.bidirectional else 1
        self.dtype = check_dtype(dtype)
        init_seed, dropout_seed = as_seed_sequence(seed).spawn(2)
        self._dropout_rng = np.random.default_rng(dropout_seed)
        # parameters and gradients, and the float64 draw of the largest weight
        shapes = list(self._param_shapes())
        sizes = [np.prod(shape) for _, shape in shapes]
        check_memory(f"{type(self).__name__}({self.input_size}, {self.hidden_size}, "
                     f"num_layers={self.num_layers})",
                     2 * sum(sizes) * self.dtype.itemsize + 8 * max(sizes))

        self._init_params(shapes, 1.0 / np.sqrt(self.hidden_size),
                          np.random.default_rng(init_seed))
        self._buffers = {}
        self._forget("backward() needs a forward(train=True) first")

    @property
    def device(self):
        """'cpu' or 'cuda': where the parameters live and the kernels run."""
        return self._dev.name

    def to(self, device):
        """Move parameters and gradients to ``device`` ('cpu' or 'cuda'); returns self.

        The stored forward (if any) is dropped: run forward again before backward.
        """
        dev = get_device(device)
        if dev is not self._dev:
            params = {k: self._dev.to_host(p) for k, p in self.params.items()}
            grads = {k: self._dev.to_host(g) for k, g in self.grads.items()}
            self._dev = dev
            self.params = {k: dev.upload(p) for k, p in params.items()}
            self.grads = {k: dev.upload(g) for k, g in grads.items()}
            self._buffers = {}
            self._forget(f"backward() needs a forward(train=True) after to({device!r})")
        return self

    # ------------------------------------------------------------------ parameters
    def _param_shapes(self):
        GH, H = self._gates * self.hidden_size, self.hidden_size
        for k in range(self.num_layers):
            D = self.input_size if k == 0 else H * self._directions
            for d in range(self._directions):
                yield _name("weight_ih", k, d), (GH, D)
                yield _name("weight_hh", k, d), (GH, H)
                if self.bias:
                    yield _name("bias_ih", k, d), (GH,)
                    yield _name("bias_hh", k, d), (GH,)

    def __repr__(self):
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("num_layers", 1), ("bias", True), ("batch_first", False),
                         ("dropout", 0.0), ("bidirectional", False))
                        if getattr(self, k) != default)
        if self.device != "cpu":
            extra += f", device={self.device!r}"
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra}, "
                f"dtype={self.dtype.name})")

    # ------------------------------------------------------------------ buffers
    def _buffer(self, name, shape):
        """A reusable work array; reallocated only when its shape changes."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = self._dev.empty(shape, self.dtype)
            self._buffers[name] = buf
        return buf

    def _zero_bias(self):
        """Zeros in place of a bias, for a layer without biases (the kernels take one)."""
        key = ("zero bias",)
        if key not in self._buffers:
            self._buffers[key] = self._dev.zeros((self._gates * self.hidden_size,), self.dtype)
        return self._buffers[key]

    def _combined_bias(self, k, d):
        """``bias_ih + bias_hh`` of layer k, direction d, the one bias the RNN and LSTM
        kernels take (zeros without bias)."""
        if not self.bias:
            return self._zero_bias()
        bias = self._buffer(("bias", k, d), (self._gates * self.hidden_size,))
        self._dev.add(self.params[_name("bias_ih", k, d)], self.params[_name("bias_hh", k, d)],
                      bias)
        return bias

    # ------------------------------------------------------------------ checks
    def _sequence(self, name, value, size, unbatched=None):
        """``value`` on the layer's device, checked to be a (T, B, size) (or, batch
        first, (B, T, size)) sequence, the input's kind, and whether it was one unbatched
        (T, size) sequence (as torch takes it, whatever ``batch_first``), which comes
        back as a batch of one.  ``unbatched`` True or False asks for that form only.
        Its values are checked with the states' (``_check_finite``) before
        ``_time_major`` orders it."""
        arr, kind = self._dev.array(name, value, self.dtype)
        order = "(B, T, features)" if self.batch_first else "(T, B, features)"
        dims = {True: (2,), False: (3,), None: (2, 3)}[unbatched]
        if arr.ndim not in dims:
            forms = " or ".join([order] * (3 in dims) + ["(T, features) unbatched"] * (2 in dims))
            raise ValueError(f"{name}: got {arr.ndim} dimensions with shape {arr.shape}, "
                             f"expected {forms}")
        if arr.shape[arr.ndim - 1] != size or 0 in arr.shape:  # (no shape[-1] in the simulator)
            form, sizes = (order, "T, B") if arr.ndim == 3 else ("(T, features)", "T")
            raise ValueError(f"{name}: got shape {arr.shape}, expected {form} with features = "
                             f"{size} and {sizes} >= 1")
        single = arr.ndim == 2
        if single:  # a batch of one (a view: the array is C-contiguous)
            T = arr.shape[0]
            arr = arr.reshape((1, T, size) if self.batch_first else (T, 1, size))
        return arr, kind, single

    def _time_major(self, arr, copy):
        """A sequence from ``_sequence`` as a time-major contiguous array: a copy, unless
        ``copy`` is False and it already is one (then the array itself)."""
        if self.batch_first:
            return self._dev.swap_first_axes(arr)
        return self._dev.copy(arr) if copy else arr

    def _token_sequence(self, value):
        """(T, B) int64 token ids on the layer's device (the kernels look up columns of
        W_ih, and scatter their gradients), and the kind to return results in."""
        tokens = check_tokens("x", value, self.input_size)
        if tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(f"x: got token ids of shape {tokens.shape}, expected T, B >= 1")
        if self.batch_first:
            tokens = tokens.T
        tokens = np.array(tokens, dtype=np.int64, order="C")  # kept for backward: a copy
        if self._dev.name == "cpu":
            return tokens, None
        return self._dev.upload(tokens), "numpy"

    def _state(self, name, value, batch, single=False):
        """A (num_layers * directions, B, H) state array, zeros for None; for a ``single``
        (unbatched) sequence given as (num_layers * directions, H), as torch takes it."""
        shape = (self.num_layers * self._directions, batch, self.hidden_size)
        if value is None:  # kernels only read initial states, so one zero array serves all
            zeros = self._buffers.get(("zeros", shape))
            if zeros is None:
                zeros = self._buffers[("zeros", shape)] = self._dev.zeros(shape, self.dtype)
            return zeros
        arr, _ = self._dev.array(name, value, self.dtype)
        if single:
            check_shape(name, arr, shape[::2], "(num_layers * num_directions, hidden_size) "
                        "for an unbatched sequence")
            arr = arr.reshape(shape)
        check_shape(name, arr, shape, "(num_layers * num_directions, B, hidden_size)")
        return self._dev.copy(arr)  # kept for backward: later changes by the caller must not leak in

    def _unpack_state(self, state, batch, what, single=False):
        """The user's state argument as a list of (layers x directions, B, H) arrays, and the
        (name, array) pairs of those the user gave (None stands for our own zeros); for a
        ``single`` sequence each given as (layers x directions, H).

        Their values are not checked here: see ``_check_finite``.
        """
        if len(self._state_names) == 1:
            names, state = [what], [state]
        else:
            names = [f"{what}[{i}]" for i in range(len(self._state_names))]
            if state is None:
                state = (None,) * len(names)
            if not isinstance(state, (tuple, list)) or len(state) != len(names):
                raise ValueError(f"{what}: got {type(state).__name__}, expected a tuple "
                                 f"({', '.join(s + '0' for s in self._state_names)}) or None")
        arrays = [self._state(n, s, batch, single) for n, s in zip(names, state)]
        return arrays, [(n, a) for n, s, a in zip(names, state, arrays) if s is not None]

    def _check_finite(self, pairs, params=False):
        """One pass over the (name, array) pairs (and the parameters), in order: on a GPU
        one synchronisation per forward or backward."""
        if params:
            pairs = pairs + [(f"parameter {name}", p) for name, p in self.params.items()]
        self._dev.check_finite_all(pairs)

    def _pack_state(self, arrays):
        return arrays[0] if len(arrays) == 1 else tuple(arrays)

    # ------------------------------------------------------------------ forward / backward
    def _lengths(self, value, T, B):
        """``lengths`` checked: None, or a (B,) int64 array with 1 <= lengths[b] <= T."""
        if value is None:
            return None
        if hasattr(value, "detach"):  # a torch tensor, as pack_padded_sequence takes
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
        if arr.dtype == bool or arr.dtype.kind not in "iu":
            raise ValueError(f"lengths: got dtype {arr.dtype}, expected integers (one length "
                             "per sequence of the batch)")
        if arr.shape != (B,):
            raise ValueError(f"lengths: got shape {arr.shape}, expected ({B},): one length per "
                             "sequence of the batch")
        if arr.min() < 1 or arr.max() > T:
            bad = int(arr.min()) if arr.min() < 1 else int(arr.max())
            raise ValueError(f"lengths: got {bad}, expected lengths between 1 and T = {T} "
                             "(the padded length)")
        arr = np.ascontiguousarray(arr, np.int64)
        return arr if self._dev.name == "cpu" else self._dev.upload(arr)

    def forward(self, x, state=None, train=True, lengths=None):
        """Run the stack over a sequence.

        Parameters
        ----------
        x : array, (T, B, input_size), or (B, T, input_size) with ``batch_first``
            Or one sequence without a batch axis, a floating-point (T, input_size)
            array whatever ``batch_first``, as torch takes it: then ``out`` is (T,
            features), the states (num_layers * num_directions, hidden_size), and
            ``backward`` takes and returns the same forms (no ``lengths``).  (A 2-D
            integer array is token ids, below: a batch, never one sequence.)
            Or a (T, B) (or (B, T)) integer NumPy array of token ids in
            [0, input_size): the one-hot sequence they stand for, which the
            kernels (CPU and GPU) read as a column lookup in ``weight_ih_l0``
            instead of a matrix product (``backward`` then returns no dx).
        state : initial state, (num_layers * num_directions, B, hidden_size) per
            array; zeros if None.  ``h0`` for the RNN and GRU, ``(h0, c0)`` for
            the LSTM; with ``bidirectional`` layer k's directions are rows 2k, 2k + 1.
        train : bool
            True keeps what ``backward`` needs and applies dropout; False is
            inference: nothing is kept and no dropout is applied.
        lengths : (B,) integers, optional
            Each sequence's length in a padded batch, 1 <= lengths[b] <= T, in any
            order.  Sequence b stops at its own length: its outputs after it are
            zero, its final state is the one at its last step, backward starts
            there, and the reverse direction starts at its own end (the numbers of
            torch's ``pack_padded_sequence`` -> layer -> ``pad_packed_sequence``).

        Returns
        -------
        out : array shaped like ``x`` with hidden_size * num_directions features
            The last layer's hidden state at every step (forward direction first).
        state : the final state, in the form of ``state``.
        """
        dev = self._dev
        # whatever happens below, a backward may no longer use an earlier forward
        self._forget("backward() needs a forward(train=True); the last forward failed")
        try:
            x = from_torch(x)  # (so that a tensor of token ids reads as one)
        except ValueError as e:
            raise ValueError(f"x: {e}") from None
        single = False
        if _is_token_array(x):
            seq, kind = self._token_sequence(x)  # time-major already
            given, B = [], seq.shape[1]
        else:
            seq, kind, single = self._sequence("x", x, self.input_size)
            given, B = [("x", seq)], seq.shape[0 if self.batch_first else 1]
        init, states = self._unpack_state(state, B, "state", single)
        T = seq.shape[1 if self.batch_first and given else 0]
        if single and lengths is not None:
            raise ValueError("lengths: given for an unbatched (T, features) x, whose one "
                             "sequence has length T; lengths are for a padded batch")
        lengths = self._lengths(lengths, T, B)
        self._check_finite(given + states, params=True)
        if given:  # training keeps x for backward, so it takes a copy the caller cannot change
            seq = self._time_major(seq, copy=train)
        final = [dev.empty(s.shape, self.dtype) for s in init]
        K = max(1, min(T, dev.projection_elements // (B * self._gates * self.hidden_size)))
        dirs = self._directions
        layer_inputs, masks = [seq], []
        for k in range(self.num_layers):
            outs, calls = [], []
            for d in range(dirs):
                if train or k + 1 < self.num_layers or dirs > 1:
                    out = self._buffer(("out", k, d), (T, B, self.hidden_size))
                else:  # the inference output is the caller's: no buffer, no copy
                    out = dev.empty((T, B, self.hidden_size), self.dtype)
                x_d = layer_inputs[-1]
                if d == 1:  # (a float input's reversed copy in a buffer: no fresh pages)
                    x_d = dev.reverse_time(x_d, lengths, None if k == 0 and not given else
                                           self._buffer(("reversed", k), x_d.shape))
                rows = k * dirs + d
                calls.append(partial(self._layer_forward, k, d, x_d, [s[rows] for s in init],
                                     out, [s[rows] for s in final], train, K, lengths))
                outs.append(out)
            # the two directions at once, where the cores allow
            dev.side_by_side(calls, B, self._gates * self.hidden_size, self.hidden_size,
                             self.dtype.itemsize)
            out = outs[0] if dirs == 1 else dev.join_directions(outs[0], outs[1], lengths)
            if k + 1 < self.num_layers:
                if train and self.dropout > 0:
                    mask = dev.upload(dropout_mask(self._dropout_rng, out.shape, self.dropout,
                                                   self.dtype))
                    masks.append(mask)
                    out = dev.multiply(out, mask)
                layer_inputs.append(out)
        if train:
            self._cache = (layer_inputs, init, masks, _is_token_array(x), lengths, single)
            self._cache_note = None
            if dirs == 1 and not self.batch_first:
                out = dev.copy(out)  # the buffer stays with the layer for backward
        else:
            self._forget("backward() needs a forward(train=True); the last forward had train=False")
        if self.batch_first:
            out = dev.swap_first_axes(out)
        return self._results(out, final, kind, single)

    def _results(self, seq, states, kind, single):
        """A sequence (or its gradient) and states as the caller gave theirs: of ``kind``,
        and for a ``single`` (unbatched) sequence without the batch axis."""
        dev = self._dev
        if single:  # (C-contiguous: views)
            if seq is not None:
                seq = seq.reshape(seq.shape[1 if self.batch_first else 0], seq.shape[2])
            states = [s.reshape(s.shape[0], s.shape[2]) for s in states]
        return (None if seq is None else dev.as_kind(seq, kind),
                self._pack_state([dev.as_kind(s, kind) for s in states]))

    def backward(self, dout, dstate=None, input_grad=True):
        """Backpropagation through time through the last (training) forward.

        Parameters
        ----------
        dout : array shaped like that forward's output
            Gradient of the loss with respect to the output (ignored at the
            padded steps of a forward with ``lengths``, whose outputs are constants).
        dstate : gradient with respect to the final state, in the form of the
            state (``dh_n``, or ``(dh_n, dc_n)``, any part None); zeros if None.
        input_grad : bool, default True
            False skips the gradient with respect to ``x`` (one matrix product
            fewer, as for a torch input that does not require grad).

        Returns
        -------
        dx : array shaped like ``x``; None without ``input_grad`` or for token ids
        dstate0 : gradient with respect to the initial state, in the form of the state.

        The parameter gradients are written into ``self.grads`` (overwritten,
        not accumulated).
        """
        if self._cache is None:
            raise ValueError(self._cache_note)
        layer_inputs, init, masks, from_tokens, lengths, single = self._cache
        T, B = layer_inputs[0].shape[:2]
        dev = self._dev
        dirs, H = self._directions, self.hidden_size
        g, kind, _ = self._sequence("dout", dout, H * dirs, single)
        expected = (B, T, H * dirs) if self.batch_first else (T, B, H * dirs)
        if g.shape != expected:
            raise ValueError(f"dout: got shape {np.shape(dout)}, expected "
                             f"{(T, H * dirs) if single else expected} "
                             "(the shape of the last forward's output)")
        dfinal, states = self._unpack_state(dstate, B, "dstate", single)
        self._check_finite([("dout", g)] + states)
        g = self._time_major(g, copy=False)  # the kernels only read dout: no copy needed
        dinit = [dev.empty(s.shape, self.dtype) for s in init]
        # the kernels consume their stored gates: one backward per forward
        self._forget("backward() was already run for the last forward; run forward again")
        input_grad = input_grad and not from_tokens  # token ids have no gradient
        for k in reversed(range(self.num_layers)):
            D = self.hidden_size * dirs if k else self.input_size
            dxs, calls = [], []
            for d in range(dirs):
                dx = self._buffer(("dx", k, d), (T if k or input_grad else 0, B, D))
                g_d = g if dirs == 1 else dev.feature_block(g, d, H)
                x_d = layer_inputs[k]
                if d == 1:
                    g_d, x_d = dev.reverse_time(g_d, lengths), dev.reverse_time(x_d, lengths)
                rows = k * dirs + d
                calls.append(partial(self._layer_backward, k, d, x_d, [s[rows] for s in init],
                                     g_d, [s[rows] for s in dfinal], dx,
                                     [s[rows] for s in dinit], lengths))
                dxs.append(dx)
            dev.side_by_side(calls, B, self._gates * H, H, self.dtype.itemsize)
            total = None
            for d, dx in enumerate(dxs):
                if dx.shape[0] == 0:
                    continue
                if d == 1:
                    dx = dev.reverse_time(dx, lengths)
                if total is None:
                    total = dx
                else:
                    dev.add(total, dx, total)
            g = dev.multiply(total, masks[k - 1]) if k > 0 and masks else total
        if not input_grad:
            return self._results(None, dinit, kind, single)
        dx = dev.swap_first_axes(g) if self.batch_first else dev.copy(g)
        return self._results(dx, dinit, kind, single)

    def _bias_grad(self, k, d, name="bias_ih"):
        """Where the backward of layer k, direction d writes its bias gradient ``name``
        (the RNN and LSTM kernels write one, ``_copy_bias_grad`` then gives
        ``bias_hh`` the same), or scratch for a layer without biases."""
        if self.bias:
            return self.grads[_name(name, k, d)]
        return self._buffer(("dbias", name, k, d), (self._gates * self.hidden_size,))

    def _copy_bias_grad(self, k, d):
        if self.bias:
            self._dev.assign(self.grads[_name("bias_hh", k, d)],
                             self.grads[_name("bias_ih", k, d)])


def _name(param, k, d):
    """torch's parameter name: ``weight_ih_l0``, ``bias_hh_l1_reverse``, ..."""
    return f"{param}_l{k}{'_reverse' if d else ''}"


class RNN(_Recurrent):
    """Elman RNN, ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, as ``torch.nn.RNN``.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    nonlinearity : {'tanh', 'relu'}, default 'tanh'
    bias : bool, default True
    batch_first : bool, default False
    dropout : float, default 0.0
        Dropout on the outputs of every layer but the last, in training only.
    bidirectional : bool, default False
        A second direction per layer that reads each sequence backwards (from
        its own end, with ``lengths``); outputs have 2 * hidden_size features,
        forward direction first, and the parameters of the second carry torch's
        ``_reverse`` suffix.
    dtype : np.float32 or np.float64
    device : 'cpu' or 'cuda'
        Where the parameters live and the kernels run; ``to(device)`` moves them.
        On 'cuda', inputs may be NumPy arrays or GPU arrays (numba, CuPy: anything
        with ``__cuda_array_interface__``), and results come back of the same kind.
    seed : int or None
        Seeds the initialisation and the dropout masks.

    ``forward(x, h0=None, train=True, lengths=None)`` returns ``out, h_n``;
    ``backward(dout, dh_n=None)`` returns ``dx, dh0``.
    """

    _gates = 1
    _state_names = ("h",)

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32,
                 device="cpu", seed=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: got {nonlinearity!r}, expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        self._act = TANH if nonlinearity == "tanh" else RELU
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, device, seed)

    def _layer_forward(self, k, d, x, init, out, final, train, K, lengths):
        xproj = out if self._dev.projects_in_place else self._buffer(
            ("xproj", k, d), (K, x.shape[1], self.hidden_size))
        self._dev.rnn.rnn_forward(x, init[0], self.params[_name("weight_ih", k, d)],
                                  self.params[_name("weight_hh", k, d)],
                                  self._combined_bias(k, d), self._act, out, final[0], xproj,
                                  lengths)

    def _layer_backward(self, k, d, x, init, dout, dfinal, dx, dinit, lengths):
        dgates = self._buffer(("dgates", k, d), dout.shape)
        self._dev.rnn.rnn_backward(x, init[0], self.params[_name("weight_ih", k, d)],
                                   self.params[_name("weight_hh", k, d)], self._act,
                                   self._buffers[("out", k, d)], dout, dfinal[0], dx, dinit[0],
                                   self.grads[_name("weight_ih", k, d)],
                                   self.grads[_name("weight_hh", k, d)], self._bias_grad(k, d),
                                   dgates, lengths)
        self._copy_bias_grad(k, d)

    def __repr__(self):
        text = super().__repr__()
        return text if self.nonlinearity == "tanh" else text[:-1] + ", nonlinearity='relu')"


class LSTM(_Recurrent):
    """Long short-term memory, gate order i, f, g, o, as ``torch.nn.LSTM``.

    Parameters as for ``RNN`` (without ``nonlinearity``).

    ``forward(x, (h0, c0)=None, train=True, lengths=None)`` returns ``out, (h_n, c_n)``;
    ``backward(dout, (dh_n, dc_n)=None)`` returns ``dx, (dh0, dc0)``.
    """

    _gates = 4
    _state_names = ("h", "c")

    def _layer_forward(self, k, d, x, init, out, final, train, K, lengths):
        T, B = x.shape[:2]
        H = self.hidden_size
        S = T if train else 1
        gates = self._buffer(("gates", k, d, train), (S, B, 4 * H))
        cells = self._buffer(("cells", k, d, train), (S, B, H))
        if train and self._dev.projects_in_place:
            xproj = gates
        else:
            xproj = self._buffer(("xproj", k, d), (K, B, 4 * H))
        self._dev.lstm.lstm_forward(x, init[0], init[1], self.params[_name("weight_ih", k, d)],
                                    self.params[_name("weight_hh", k, d)],
                                    self._combined_bias(k, d), out, final[0], final[1], gates,
                                    cells, xproj, lengths)

    def _layer_backward(self, k, d, x, init, dout, dfinal, dx, dinit, lengths):
        self._dev.lstm.lstm_backward(x, init[0], init[1], self.params[_name("weight_ih", k, d)],
                                     self.params[_name("weight_hh", k, d)],
                                     self._buffers[("out", k, d)],
                                     self._buffers[("gates", k, d, True)],
                                     self._buffers[("cells", k, d, True)], dout, dfinal[0],
                                     dfinal[1], dx, dinit[0], dinit[1],
                                     self.grads[_name("weight_ih", k, d)],
                                     self.grads[_name("weight_hh", k, d)], self._bias_grad(k, d),
                                     lengths)
        self._copy_bias_grad(k, d)


class GRU(_Recurrent):
    """Gated recurrent unit, torch's (and cuDNN's) variant, as ``torch.nn.GRU``::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Parameters as for ``RNN`` (without ``nonlinearity``); the weights stack the
    gates in the order r, z, n: ``weight_ih_l{k}`` (3H, in), ``weight_hh_l{k}``
    (3H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (3H,).

    ``forward(x, h0=None, train=True, lengths=None)`` returns ``out, h_n``;
    ``backward(dout, dh_n=None)`` returns ``dx, dh0``.
    """

    _gates = 3
    _state_names = ("h",)

    def _biases(self, k, d):
        if not self.bias:
            return self._zero_bias(), self._zero_bias()
        return self.params[_name("bias_ih", k, d)], self.params[_name("bias_hh", k, d)]

    def _layer_forward(self, k, d, x, init, out, final, train, K, lengths):
        T, B = x.shape[:2]
        H = self.hidden_size
        S = T if train else 1
        gates = self._buffer(("gates", k, d, train), (S, B, 3 * H))
        hidden_n = self._buffer(("hidden_n", k, d, train), (S, B, H))
        if train and self._dev.projects_in_place:
            xproj = gates
        else:
            xproj = self._buffer(("xproj", k, d), (K, B, 3 * H))
        self._dev.gru.gru_forward(x, init[0], self.params[_name("weight_ih", k, d)],
                                  self.params[_name("weight_hh", k, d)], *self._biases(k, d),
                                  out, final[0], gates, hidden_n, xproj, lengths)

    def _layer_backward(self, k, d, x, init, dout, dfinal, dx, dinit, lengths):
        dgates = self._buffer(("dgates", k, d), dout.shape[:2] + (3 * self.hidden_size,))
        self._dev.gru.gru_backward(x, init[0], self.params[_name("weight_ih", k, d)],
                                   self.params[_name("weight_hh", k, d)],
                                   self._buffers[("out", k, d)],
                                   self._buffers[("gates", k, d, True)],
                                   self._buffers[("hidden_n", k, d, True)], dout, dfinal[0], dx,
                                   dinit[0], self.grads[_name("weight_ih", k, d)],
                                   self.grads[_name("weight_hh", k, d)],
                                   self._bias_grad(k, d, "bias_ih"),
                                   self._bias_grad(k, d, "bias_hh"), dgates, lengths)


#: The layer class of each ``--cell`` name (``numbarnn.CELLS``).
LAYERS = {"lstm": LSTM, "rnn": RNN, "gru": GRU}


class HostParams:
    """A layer on the GPU whose parameters and gradients the host owns.

    ``params`` and ``grads`` are NumPy arrays, so the compiled optimisers, clipping
    and checkpoints work on them as on the CPU, and a checkpoint loads anywhere.
    The price is two copies per training step: the weights go up before each
    forward, the gradients come down after each backward (as optimiser offloading
    does in large-model training).  Everything else is the layer's.

    Parameters
    ----------
    layer : RNN, LSTM or GRU
        On any device (on the CPU the copies are plain copies).
    """

    def __init__(self, layer):
        self.layer = layer
        self.params = layer.state_dict()
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def __getattr__(self, name):  # hidden_size, dtype, device ...: the layer's
        if name == "layer":
            raise AttributeError(name)
        return getattr(self.layer, name)

    def __repr__(self):
        return f"HostParams({self.layer!r})"

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        """The layer's ``forward``, with the host's weights."""
        for name, p in self.params.items():
            self.layer._dev.assign(self.layer.params[name], p)
        return self.layer.forward(*args, **kwargs)

    def backward(self, *args, **kwargs):
        """The layer's ``backward``; its gradients are then copied into ``grads``."""
        result = self.layer.backward(*args, **kwargs)
        for name, g in self.grads.items():
            self.layer._dev.download(g, self.layer.grads[name])
        return result

    def state_dict(self):
        return {name: p.copy() for name, p in self.params.items()}

    def load_state_dict(self, state_dict, strict=True):
        """Checked by the layer (all or nothing), then kept on the host."""
        result = self.layer.load_state_dict(state_dict, strict)
        for name, p in self.params.items():
            self.layer._dev.download(p, self.layer.params[name])
        return result

    def to(self, device):
        """Move the layer (its work arrays) to ``device``; the host keeps the weights."""
        self.layer.to(device)
        return self

    def replica(self, seed=None):
        raise ValueError("a layer on the GPU trains on one thread: use one worker "
                         "(workers=1) with device='cuda'")
