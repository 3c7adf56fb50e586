"""Optimisers, gradient clipping and learning-rate schedules.

The optimisers update a module's ``params`` in place from its ``grads``.  They
follow ``torch.optim``'s update rules and defaults (SGD with heavy-ball
momentum, Adam, RMSprop, Adagrad; ``weight_decay`` is the L2 term added to the
gradient), so a training recipe moves across unchanged.  Each update is one
compiled pass over a parameter, with no temporary arrays.

``state_dict()`` / ``load_state_dict()`` carry the step count, the
hyper-parameters and the per-parameter buffers, for exact resume.
"""
import math

import numpy as np
from numba import njit

from . import SCHEDULES
from .kernels._jit import JIT_OPTIONS, REDUCTION_OPTIONS

# torch's defaults, per optimiser
_DEFAULT_LR = {"sgd": 1e-3, "adam": 1e-3, "rmsprop": 1e-2, "adagrad": 1e-2}


@njit(**JIT_OPTIONS)
def _sgd_update(p, g, velocity, lr, momentum, weight_decay):
    for k in range(p.size):
        d = g[k] + weight_decay * p[k]
        if momentum != 0.0:
            velocity[k] = momentum * velocity[k] + d
            d = velocity[k]
        p[k] -= lr * d


@njit(**JIT_OPTIONS)
def _adam_update(p, g, m, v, step_size, beta1, beta2, v_correction, eps, weight_decay):
    for k in range(p.size):
        d = g[k] + weight_decay * p[k]
        m[k] = beta1 * m[k] + (1 - beta1) * d
        v[k] = beta2 * v[k] + (1 - beta2) * d * d
        p[k] -= step_size * m[k] / (np.sqrt(v[k] / v_correction) + eps)


@njit(**JIT_OPTIONS)
def _rmsprop_update(p, g, square_avg, velocity, lr, alpha, eps, momentum, weight_decay):
    for k in range(p.size):
        d = g[k] + weight_decay * p[k]
        square_avg[k] = alpha * square_avg[k] + (1 - alpha) * d * d
        step = d / (np.sqrt(square_avg[k]) + eps)
        if momentum != 0.0:
            velocity[k] = momentum * velocity[k] + step
            step = velocity[k]
        p[k] -= lr * step


@njit(**JIT_OPTIONS)
def _adagrad_update(p, g, sum_sq, lr, eps, weight_decay):
    for k in range(p.size):
        d = g[k] + weight_decay * p[k]
        sum_sq[k] += d * d
        p[k] -= lr * d / (np.sqrt(sum_sq[k]) + eps)


def _check(name, value, low, high=math.inf, low_open=False):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and (value > low if low_open else value >= low) and value < high
    if not ok:
        bound = f"({low}" if low_open else f"[{low}"
        raise ValueError(f"{name}: got {value!r}, expected a number in {bound}, {high})")
    return float(value)


class Optimizer:
    """Base class: the parameters of one or more modules and their buffers.

    ``modules`` is a module (anything with ``params`` and ``grads`` dicts of
    arrays with the same keys) or a list of them.
    """

    slots = ()  # names of the per-parameter buffers
    # a subclass's compiled update of one parameter, called as
    # ``_kernel(p, g, *buffers, *self._constants())`` over flat arrays
    _kernel = None

    def __init__(self, modules, lr, weight_decay=0.0):
        modules = modules if isinstance(modules, (list, tuple)) else [modules]
        self.lr = _check("lr", lr, 0.0, low_open=True)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        prefix = len(modules) > 1
        self.names = [f"{i}.{name}" if prefix else name
                      for i, m in enumerate(modules) for name in m.params]
        self.pairs = [(m.params[name], m.grads[name]) for m in modules for name in m.params]
        for (p, g), name in zip(self.pairs, self.names):
            if not p.flags.c_contiguous:
                raise ValueError(f"parameter {name}: optimisers need C-contiguous arrays")
            if g.shape != p.shape or not g.flags.c_contiguous:
                raise ValueError(f"gradient of {name}: got shape {g.shape}, expected a "
                                 f"C-contiguous array of the parameter's shape {p.shape}")
        self.state = {slot: [np.zeros_like(p) for p, _ in self.pairs] for slot in self.slots}
        # each parameter's arrays, flat, for the compiled update (made once: a step costs
        # only the calls; the parameters and buffers are only ever changed in place)
        self._flat = [(p.reshape(-1), g.reshape(-1),
                       *[self.state[s][k].reshape(-1) for s in self.slots])
                      for k, (p, g) in enumerate(self.pairs)]
        self.steps = 0

    def step(self):
        """Update every parameter once from its gradient."""
        self.steps += 1
        constants = self._constants()
        for arrays in self._flat:
            self._kernel(*arrays, *constants)

    def hyper(self):
        """The hyper-parameters, as keyword arguments of the constructor."""
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def state_dict(self):
        """``{'steps', 'hyper', 'buffers': {slot + '.' + name: array}}``: everything to resume."""
        buffers = {f"{slot}.{name}": self.state[slot][k].copy()
                   for slot in self.slots for k, name in enumerate(self.names)}
        return {"type": type(self).__name__, "steps": self.steps, "hyper": self.hyper(),
                "buffers": buffers}

    def load_state_dict(self, state):
        """Restore a ``state_dict()`` of the same optimiser over the same parameters."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state: of {state.get('type')!r}, expected "
                             f"{type(self).__name__!r}")
        steps, hyper, buffers = int(state["steps"]), dict(state["hyper"]), state["buffers"]
        unknown = sorted(set(hyper) - set(self.hyper()))
        if unknown:
            raise ValueError(f"optimizer state: unknown hyper-parameters {unknown}")
        new = {}
        for slot in self.slots:
            for k, name in enumerate(self.names):
                key = f"{slot}.{name}"
                value = buffers.get(key)
                expected = self.pairs[k][0]
                if value is None or np.shape(value) != expected.shape:
                    raise ValueError(f"optimizer state: {key!r} missing or of the wrong shape")
                new[slot, k] = np.asarray(value, dtype=expected.dtype)
        for (slot, k), value in new.items():
            self.state[slot][k][...] = value
        self.steps = steps
        for key, value in hyper.items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)


class SGD(Optimizer):
    """Stochastic gradient descent with optional heavy-ball momentum, as ``torch.optim.SGD``."""

    slots = ("velocity",)

    def __init__(self, modules, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super().__init__(modules, lr, weight_decay)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)

    def hyper(self):
        return {**super().hyper(), "momentum": self.momentum}

    _kernel = staticmethod(_sgd_update)

    def _constants(self):
        return self.lr, self.momentum, self.weight_decay


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``."""

    slots = ("m", "v")

    def __init__(self, modules, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(modules, lr, weight_decay)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"betas: got {betas!r}, expected two numbers in [0, 1)")
        self.betas = tuple(_check("betas", b, 0.0, 1.0) for b in betas)
        self.eps = _check("eps", eps, 0.0)

    def hyper(self):
        return {**super().hyper(), "betas": list(self.betas), "eps": self.eps}

    _kernel = staticmethod(_adam_update)

    def _constants(self):
        b1, b2 = self.betas
        return (self.lr / (1 - b1 ** self.steps), b1, b2, 1 - b2 ** self.steps, self.eps,
                self.weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Hinton), as ``torch.optim.RMSprop`` (not centred)."""

    slots = ("square_avg", "velocity")

    def __init__(self, modules, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
        super().__init__(modules, lr, weight_decay)
        self.alpha = _check("alpha", alpha, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)

    def hyper(self):
        return {**super().hyper(), "alpha": self.alpha, "eps": self.eps,
                "momentum": self.momentum}

    _kernel = staticmethod(_rmsprop_update)

    def _constants(self):
        return self.lr, self.alpha, self.eps, self.momentum, self.weight_decay


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), as ``torch.optim.Adagrad`` (no learning-rate decay)."""

    slots = ("sum",)

    def __init__(self, modules, lr=1e-2, eps=1e-10, weight_decay=0.0):
        super().__init__(modules, lr, weight_decay)
        self.eps = _check("eps", eps, 0.0)

    def hyper(self):
        return {**super().hyper(), "eps": self.eps}

    _kernel = staticmethod(_adagrad_update)

    def _constants(self):
        return self.lr, self.eps, self.weight_decay


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad}


def make_optimizer(name, modules, lr=None, **options):
    """An optimiser by name ('adam', 'sgd', 'rmsprop', 'adagrad'); ``lr=None`` takes torch's default."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: got {name!r}, expected one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](modules, lr=_DEFAULT_LR[name] if lr is None else lr, **options)


@njit(**REDUCTION_OPTIONS)
def _sum_squares(g):
    total = 0.0
    for k in range(g.size):
        x = np.float64(g[k])
        total += x * x
    return total


@njit(**JIT_OPTIONS)
def _scale(g, factor):
    for k in range(g.size):
        g[k] *= factor


@njit(**JIT_OPTIONS)
def _clamp(g, limit):
    for k in range(g.size):
        g[k] = min(max(g[k], -limit), limit)


def _flat_view(g):
    """``g`` as a 1-D view for the compiled loops, or None if that would need a copy."""
    return g.ravel(order="K") if g.flags.c_contiguous or g.flags.f_contiguous else None


def global_norm(grads):
    """The L2 norm of all gradients together (accumulated in float64)."""
    return math.sqrt(sum(_sum_squares(g.ravel(order="K")) for g in grads))


def clip_grad_norm(grads, max_norm):
    """Scale all gradients in place so that their global L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the factor is ``max_norm / (norm + 1e-6)``,
    applied only when below 1.  Returns the norm before clipping.
    """
    grads = list(grads)
    norm = global_norm(grads)
    factor = max_norm / (norm + 1e-6)
    if factor < 1.0:
        for g in grads:
            flat = _flat_view(g)
            if flat is None:
                np.multiply(g, factor, out=g)
            else:
                _scale(flat, factor)
    return norm


def clip_grad_value(grads, limit):
    """Clamp every gradient element into [-limit, limit] in place."""
    for g in grads:
        flat = _flat_view(g)
        if flat is None:
            np.clip(g, -limit, limit, out=g)
        else:
            _clamp(flat, limit)




def scheduled_lr(schedule, base_lr, step, total_steps=None, step_size=1000, gamma=0.5,
                 min_lr=0.0):
    """The learning rate for (1-based) ``step`` under a schedule.

    constant : ``base_lr``
    step     : ``base_lr * gamma ** ((step - 1) // step_size)``
    cosine   : from ``base_lr`` down to ``min_lr`` over ``total_steps`` (half a cosine)
    """
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * gamma ** ((step - 1) // step_size)
    if schedule == "cosine":
        if not total_steps:
            raise ValueError("lr schedule 'cosine' needs a known number of steps "
                             "(give --steps or --epochs)")
        progress = min(1.0, (step - 1) / max(1, total_steps - 1))
        return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))
    raise ValueError(f"lr schedule: got {schedule!r}, expected one of {', '.join(SCHEDULES)}")
