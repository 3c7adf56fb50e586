"""Tests of ``numbarnn.optim``: optimisers, gradient clipping and learning-rate schedules.

Every optimiser is checked against its update rule written out here in NumPy (the
rules of ``torch.optim``, which the docstrings follow), in float32 and float64, and
against ``torch.optim`` itself where torch is installed.  Then: exact resume through
``state_dict``/``load_state_dict``, refusal of bad hyper-parameters and bad states,
``make_optimizer``, the clipping helpers and the schedules.
"""
import copy
import inspect
import json
import math

import numpy as np
import pytest

from numbarnn.optim import (SGD, Adagrad, Adam, RMSprop, clip_grad_norm, clip_grad_value,
                            global_norm, make_optimizer, scheduled_lr)

SHAPES = {"weight": (3, 4), "bias": (4,)}


# ------------------------------------------------------------------------------------ helpers
class Module:
    """The least an optimiser needs: ``params`` and ``grads`` with the same keys."""

    def __init__(self, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()}
        self.grads = {k: np.zeros(s, dtype) for k, s in SHAPES.items()}

    def set_grads(self, grads):
        """Write ``grads`` into the existing arrays (the optimiser holds references)."""
        for k, g in grads.items():
            self.grads[k][...] = g


def grad_sequence(steps, seed=1):
    """A reproducible gradient (float64, per parameter) for each step."""
    rng = np.random.default_rng(seed)
    return [{k: rng.normal(size=s) for k, s in SHAPES.items()} for _ in range(steps)]


# The optimisers under test: (class, constructor arguments).  Non-default betas, alpha
# and eps make sure the given values, not the defaults, are used.
BASE = {
    "sgd": (SGD, dict(lr=0.1)),
    "sgd_momentum": (SGD, dict(lr=0.1, momentum=0.9)),
    "adam": (Adam, dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3)),
    "rmsprop": (RMSprop, dict(lr=0.02, alpha=0.9, eps=1e-4)),
    "rmsprop_momentum": (RMSprop, dict(lr=0.02, alpha=0.9, eps=1e-4, momentum=0.5)),
    "adagrad": (Adagrad, dict(lr=0.1, eps=1e-6)),
}
CASES = [(name, wd) for name in BASE for wd in (0.0, 0.1)]
CASE_IDS = [f"{name}-wd{wd}" for name, wd in CASES]


def make(name, weight_decay, module):
    cls, kwargs = BASE[name]
    return cls(module, weight_decay=weight_decay, **kwargs)


def reference_run(name, weight_decay, params, grads_seq):
    """Apply the torch.optim update rules in float64 NumPy; returns the final parameters."""
    cls, kw = BASE[name]
    p = {k: v.astype(np.float64) for k, v in params.items()}
    state = {k: {"a": np.zeros_like(v), "b": np.zeros_like(v)} for k, v in p.items()}
    for t, grads in enumerate(grads_seq, start=1):
        for k in p:
            d = grads[k] + weight_decay * p[k]           # L2 term added to the gradient
            s = state[k]
            if cls is SGD:
                momentum = kw.get("momentum", 0.0)
                if momentum:
                    s["a"] = momentum * s["a"] + d         # heavy ball, no dampening
                    d = s["a"]
                p[k] = p[k] - kw["lr"] * d
            elif cls is Adam:
                b1, b2 = kw["betas"]
                s["a"] = b1 * s["a"] + (1 - b1) * d
                s["b"] = b2 * s["b"] + (1 - b2) * d * d
                m_hat = s["a"] / (1 - b1 ** t)
                v_hat = s["b"] / (1 - b2 ** t)
                p[k] = p[k] - kw["lr"] * m_hat / (np.sqrt(v_hat) + kw["eps"])
            elif cls is RMSprop:
                alpha, momentum = kw["alpha"], kw.get("momentum", 0.0)
                s["a"] = alpha * s["a"] + (1 - alpha) * d * d
                step = d / (np.sqrt(s["a"]) + kw["eps"])
                if momentum:
                    s["b"] = momentum * s["b"] + step
                    step = s["b"]
                p[k] = p[k] - kw["lr"] * step
            elif cls is Adagrad:
                s["a"] = s["a"] + d * d
                p[k] = p[k] - kw["lr"] * d / (np.sqrt(s["a"]) + kw["eps"])
    return p


TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}


# ---------------------------------------------------------------------- update rules vs NumPy
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("steps", [1, 4])
@pytest.mark.parametrize("name,weight_decay", CASES, ids=CASE_IDS)
def test_matches_numpy_reference(name, weight_decay, steps, dtype):
    module = Module(dtype)
    start = {k: v.copy() for k, v in module.params.items()}
    arrays = dict(module.params)                      # the optimiser must update in place
    opt = make(name, weight_decay, module)
    seq = grad_sequence(steps)
    for grads in seq:
        module.set_grads(grads)
        opt.step()
    expected = reference_run(name, weight_decay, start, seq)
    assert opt.steps == steps
    for k in SHAPES:
        assert module.params[k] is arrays[k]
        assert module.params[k].dtype == dtype
        np.testing.assert_allclose(module.params[k], expected[k], **TOL[dtype], err_msg=k)
        # and it did move: the test would notice an optimiser that does nothing
        assert np.all(module.params[k] != start[k])


def test_sgd_one_step_by_hand():
    module = Module()
    module.params["bias"][...] = [1.0, -2.0, 0.5, 0.0]
    module.set_grads({"weight": np.zeros((3, 4)), "bias": np.array([0.5, 1.0, -1.0, 2.0])})
    SGD(module, lr=0.1, weight_decay=0.2).step()
    # d = g + 0.2 p = [0.7, 0.6, -0.9, 2.0]; p - 0.1 d
    np.testing.assert_allclose(module.params["bias"], [0.93, -2.06, 0.59, -0.2], rtol=1e-14)


def test_sgd_momentum_two_steps_by_hand():
    module = Module()
    module.params["bias"][...] = 1.0
    opt = SGD(module, lr=0.5, momentum=0.9)
    module.set_grads({"weight": np.zeros((3, 4)), "bias": np.full(4, 1.0)})
    opt.step()                    # v = 1,          p = 1 - 0.5       = 0.5
    opt.step()                    # v = 0.9 + 1,    p = 0.5 - 0.5*1.9 = -0.45
    np.testing.assert_allclose(module.params["bias"], -0.45, rtol=1e-14)
    np.testing.assert_allclose(opt.state["velocity"][1], 1.9, rtol=1e-14)


def test_adam_first_step_moves_by_lr():
    # With bias correction, Adam's first step is lr * g / (|g| + eps) = lr * sign(g).
    module = Module()
    before = {k: v.copy() for k, v in module.params.items()}
    grads = grad_sequence(1)[0]
    module.set_grads(grads)
    Adam(module, lr=0.01, eps=0.0).step()
    for k in SHAPES:
        np.testing.assert_allclose(module.params[k], before[k] - 0.01 * np.sign(grads[k]),
                                   rtol=1e-13)


def test_adagrad_first_step_by_hand():
    module = Module()
    module.params["bias"][...] = 0.0
    module.set_grads({"weight": np.zeros((3, 4)), "bias": np.array([2.0, -0.5, 4.0, 1.0])})
    Adagrad(module, lr=0.1, eps=0.0).step()          # sum = g^2, step = lr * sign(g)
    np.testing.assert_allclose(module.params["bias"], [-0.1, 0.1, -0.1, -0.1], rtol=1e-14)


def test_several_modules_are_updated_and_named_apart():
    a, b = Module(seed=0), Module(seed=5)
    before = [m.params["bias"].copy() for m in (a, b)]
    opt = SGD([a, b], lr=0.5)
    a.set_grads({"weight": np.zeros((3, 4)), "bias": np.ones(4)})
    b.set_grads({"weight": np.zeros((3, 4)), "bias": np.full(4, 2.0)})
    opt.step()
    np.testing.assert_allclose(a.params["bias"], before[0] - 0.5)
    np.testing.assert_allclose(b.params["bias"], before[1] - 1.0)
    assert set(opt.state_dict()["buffers"]) == {
        "velocity.0.weight", "velocity.0.bias", "velocity.1.weight", "velocity.1.bias"}


def test_non_contiguous_parameter_is_refused():
    module = Module()
    module.params["weight"] = np.asfortranarray(np.ones((3, 4)))
    module.grads["weight"] = np.zeros((3, 4), order="F")
    with pytest.raises(ValueError, match="weight"):
        SGD(module)


def test_gradient_of_another_shape_is_refused():
    module = Module()
    module.grads["bias"] = np.zeros(6)
    with pytest.raises(ValueError, match="bias"):
        SGD(module)


# ----------------------------------------------------------------------------- torch parity
TORCH_CLASSES = {SGD: "SGD", Adam: "Adam", RMSprop: "RMSprop", Adagrad: "Adagrad"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,weight_decay", CASES, ids=CASE_IDS)
def test_matches_torch_optim(name, weight_decay, dtype):
    torch = pytest.importorskip("torch")
    cls, kwargs = BASE[name]
    module = Module(dtype)
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in module.params.items()}
    topt = getattr(torch.optim, TORCH_CLASSES[cls])(list(tparams.values()),
                                                     weight_decay=weight_decay, **kwargs)
    opt = cls(module, weight_decay=weight_decay, **kwargs)
    for grads in grad_sequence(6):
        module.set_grads(grads)
        for k, p in tparams.items():
            p.grad = torch.tensor(grads[k].astype(dtype))
        opt.step()
        topt.step()
    tol = dict(rtol=1e-11, atol=1e-13) if dtype == np.float64 else dict(rtol=1e-5, atol=2e-6)
    for k, p in tparams.items():
        np.testing.assert_allclose(module.params[k], p.detach().numpy(), **tol, err_msg=k)


# ------------------------------------------------------------------------------ state dicts
def run_steps(opt, module, seq):
    for grads in seq:
        module.set_grads(grads)
        opt.step()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,weight_decay", CASES, ids=CASE_IDS)
def test_resume_from_state_dict_is_exact(name, weight_decay, dtype):
    cls, _ = BASE[name]
    seq = grad_sequence(6)
    first = Module(dtype)
    opt = make(name, weight_decay, first)
    run_steps(opt, first, seq[:3])
    state = opt.state_dict()
    # what a checkpoint keeps: the steps and hyper-parameters through JSON
    state = {**state, "steps": json.loads(json.dumps(state["steps"])),
             "hyper": json.loads(json.dumps(state["hyper"])),
             "buffers": {k: v.copy() for k, v in state["buffers"].items()}}
    saved = copy.deepcopy(state)

    second = Module(dtype, seed=99)                  # other values, overwritten below
    for k in SHAPES:
        second.params[k][...] = first.params[k]
    resumed = cls(second)                              # default hyper-parameters ...
    resumed.load_state_dict(state)                     # ... replaced by the saved ones
    assert resumed.steps == 3
    assert resumed.hyper() == opt.hyper()

    run_steps(opt, first, seq[3:])
    run_steps(resumed, second, seq[3:])
    for k in SHAPES:
        np.testing.assert_array_equal(second.params[k], first.params[k])
    # the state_dict was a snapshot: later steps did not change it
    for key, value in saved["buffers"].items():
        np.testing.assert_array_equal(state["buffers"][key], value)


def optimiser_snapshot(opt, module):
    return (opt.steps, dict(opt.hyper()),
            {s: [b.copy() for b in bufs] for s, bufs in opt.state.items()},
            {k: v.copy() for k, v in module.params.items()})


def assert_same_snapshot(a, b):
    assert a[0] == b[0] and a[1] == b[1]
    for s in a[2]:
        for x, y in zip(a[2][s], b[2][s]):
            np.testing.assert_array_equal(x, y)
    for k in a[3]:
        np.testing.assert_array_equal(a[3][k], b[3][k])


def test_loading_state_of_another_optimiser_type_raises_and_changes_nothing():
    module = Module()
    sgd = SGD(module, lr=0.1, momentum=0.9)
    run_steps(sgd, module, grad_sequence(2))
    other = Module()
    adam = Adam(other, lr=0.5)
    run_steps(adam, other, grad_sequence(2, seed=7))
    before = optimiser_snapshot(sgd, module)
    with pytest.raises(ValueError, match="Adam"):
        sgd.load_state_dict(adam.state_dict())
    assert_same_snapshot(optimiser_snapshot(sgd, module), before)


@pytest.mark.parametrize("broken", ["wrong_shape", "missing"])
def test_loading_state_with_bad_buffer_raises_and_changes_nothing(broken):
    module = Module()
    opt = Adam(module, lr=0.01)
    run_steps(opt, module, grad_sequence(2))
    source = Adam(Module(seed=3), lr=0.3, betas=(0.5, 0.6))
    state = source.state_dict()
    state["steps"] = 17
    for key in state["buffers"]:
        state["buffers"][key] += 1.0               # every buffer differs from opt's
    # the last buffer checked is the bad one, so a non-atomic load would have copied the rest
    if broken == "wrong_shape":
        state["buffers"]["v.bias"] = np.zeros(5)
    else:
        del state["buffers"]["v.bias"]
    before = optimiser_snapshot(opt, module)
    with pytest.raises(ValueError, match="v.bias"):
        opt.load_state_dict(state)
    assert_same_snapshot(optimiser_snapshot(opt, module), before)


# ------------------------------------------------------------------------ hyper-parameters
BAD = [
    (SGD, dict(lr=0.0), "lr"),
    (SGD, dict(lr=-0.1), "lr"),
    (SGD, dict(lr=True), "lr"),
    (SGD, dict(lr="0.1"), "lr"),
    (SGD, dict(lr=float("nan")), "lr"),
    (SGD, dict(momentum=1.0), "momentum"),
    (SGD, dict(momentum=-0.1), "momentum"),
    (SGD, dict(momentum=True), "momentum"),
    (SGD, dict(weight_decay=-1e-4), "weight_decay"),
    (SGD, dict(weight_decay=False), "weight_decay"),
    (Adam, dict(lr=-1.0), "lr"),
    (Adam, dict(betas=(0.9,)), "betas"),
    (Adam, dict(betas=(0.9, 0.99, 0.999)), "betas"),
    (Adam, dict(betas=0.9), "betas"),
    (Adam, dict(betas=(1.0, 0.999)), "betas"),
    (Adam, dict(betas=(0.9, -0.5)), "betas"),
    (Adam, dict(betas=(True, 0.999)), "betas"),
    (Adam, dict(eps=-1e-8), "eps"),
    (Adam, dict(weight_decay=-1.0), "weight_decay"),
    (RMSprop, dict(alpha=1.0), "alpha"),
    (RMSprop, dict(momentum=1.5), "momentum"),
    (RMSprop, dict(momentum=-0.5), "momentum"),
    (RMSprop, dict(weight_decay=-0.1), "weight_decay"),
    (Adagrad, dict(lr=0), "lr"),
    (Adagrad, dict(eps=-1.0), "eps"),
    (Adagrad, dict(weight_decay=True), "weight_decay"),
]


@pytest.mark.parametrize("cls,kwargs,arg", BAD,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_hyper_parameter_raises_naming_it(cls, kwargs, arg):
    with pytest.raises(ValueError, match=rf"^{arg}: "):
        cls(Module(), **kwargs)


def test_good_edge_hyper_parameters_are_accepted():
    SGD(Module(), lr=1e-12, momentum=0.0, weight_decay=0.0)
    SGD(Module(), lr=1, momentum=0.999)                # ints count as numbers
    Adam(Module(), betas=[0.0, 0.0], eps=0.0)          # a list of two is fine
    RMSprop(Module(), alpha=0.0, momentum=0.0)


def test_make_optimizer_unknown_name_raises():
    with pytest.raises(ValueError, match="lbfgs"):
        make_optimizer("lbfgs", Module())


@pytest.mark.parametrize("name,cls", [("adam", Adam), ("sgd", SGD), ("rmsprop", RMSprop),
                                      ("adagrad", Adagrad)])
def test_make_optimizer_builds_the_named_class_with_options(name, cls):
    opt = make_optimizer(name, Module(), lr=0.25, weight_decay=0.5)
    assert type(opt) is cls
    assert opt.lr == 0.25 and opt.weight_decay == 0.5


# torch's default learning rates (torch >= 2.4 gives SGD a default of 1e-3)
TORCH_DEFAULT_LR = [
    ("sgd", 1e-3),
    ("adam", 1e-3), ("rmsprop", 1e-2), ("adagrad", 1e-2),
]


@pytest.mark.parametrize("name,lr", TORCH_DEFAULT_LR)
def test_make_optimizer_default_lr_is_torchs(name, lr):
    assert make_optimizer(name, Module(), lr=None).lr == lr


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adagrad", "sgd"])
def test_default_lr_matches_installed_torch(name):
    torch = pytest.importorskip("torch")
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop,
           "adagrad": torch.optim.Adagrad}[name]
    default = inspect.signature(cls).parameters["lr"].default
    if not isinstance(default, float):
        pytest.skip("this torch has no default lr for " + name)
    assert make_optimizer(name, Module(), lr=None).lr == default


# ----------------------------------------------------------------------------------- clipping
def test_global_norm_is_the_norm_of_all_gradients_together():
    grads = [np.array([3.0, 0.0]), np.array([[4.0]], np.float32), np.zeros(3)]
    assert global_norm(grads) == 5.0
    assert global_norm([]) == 0.0
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(5, 7)), rng.normal(size=11)]
    expected = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads))
    assert global_norm(grads) == pytest.approx(expected, rel=1e-12)
    # float32 gradients: within float32 precision in any case
    grads32 = [g.astype(np.float32) for g in grads]
    expected32 = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads32))
    assert global_norm(grads32) == pytest.approx(expected32, rel=1e-7)


def test_global_norm_squares_float32_gradients_in_float64():
    rng = np.random.default_rng(0)
    g = rng.normal(size=11).astype(np.float32)
    assert global_norm([g]) == pytest.approx(
        math.sqrt(float(np.sum(g.astype(np.float64) ** 2))), rel=1e-12)
    big = np.array([1e20, 1.0], np.float32)
    assert global_norm([big]) == pytest.approx(1e20, rel=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_scales_above_max_norm(dtype):
    grads = [np.array([3.0, 0.0], dtype), np.array([[0.0, 4.0]], dtype)]     # norm 5
    originals = [g.copy() for g in grads]
    arrays = list(grads)
    norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(5.0, rel=1e-12)
    factor = 1.0 / (5.0 + 1e-6)
    for g, g0, a in zip(grads, originals, arrays):
        assert g is a and g.dtype == dtype                               # in place
        np.testing.assert_allclose(g, g0 * factor, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    grads = [np.array([0.3, -0.4]), np.array([0.0, 0.1])]
    originals = [g.copy() for g in grads]
    norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(math.sqrt(0.26), rel=1e-14)
    for g, g0 in zip(grads, originals):
        np.testing.assert_array_equal(g, g0)


def test_clip_grad_norm_accepts_any_iterable():
    grads = {"a": np.array([6.0, 8.0])}
    assert clip_grad_norm(grads.values(), 5.0) == 10.0
    np.testing.assert_allclose(grads["a"], np.array([6.0, 8.0]) * (5.0 / (10.0 + 1e-6)))


def test_clip_grad_norm_clips_a_fortran_ordered_gradient():
    g = np.asfortranarray(np.full((3, 4), 2.0))
    clip_grad_norm([g], 1.0)
    assert global_norm([g]) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_value_clamps_a_fortran_ordered_gradient():
    g = np.asfortranarray(np.full((3, 4), 2.0))
    clip_grad_value([g], 0.5)
    assert g.max() == 0.5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(dtype, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=(4, 6)).astype(dtype), rng.normal(size=6).astype(dtype)]
    tparams = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
               for g in grads]
    for p, g in zip(tparams, grads):
        p.grad = torch.from_numpy(g.copy())
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
    norm = clip_grad_norm(grads, max_norm)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    assert norm == pytest.approx(float(tnorm), rel=tol)
    for p, g in zip(tparams, grads):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=tol, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_clamps_in_place(dtype):
    a = np.array([[-3.0, -0.5], [0.25, 2.0]], dtype)
    b = np.array([1.0, -1.0, 0.0], dtype)
    arrays = [a, b]
    clip_grad_value([a, b], 0.75)
    np.testing.assert_array_equal(a, np.array([[-0.75, -0.5], [0.25, 0.75]], dtype))
    np.testing.assert_array_equal(b, np.array([0.75, -0.75, 0.0], dtype))
    assert arrays[0] is a and a.dtype == dtype


# ---------------------------------------------------------------------------------- schedules
def test_constant_schedule():
    assert [scheduled_lr("constant", 0.1, s) for s in (1, 10, 10_000)] == [0.1] * 3
    assert scheduled_lr("constant", 0.1, 5, total_steps=10) == 0.1


def test_step_schedule_decays_every_step_size_steps():
    lrs = [scheduled_lr("step", 1.0, s, step_size=3, gamma=0.5) for s in range(1, 11)]
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    assert scheduled_lr("step", 0.2, 1000) == 0.2                    # default step_size 1000
    assert scheduled_lr("step", 0.2, 1001) == pytest.approx(0.1)     # default gamma 0.5


def test_cosine_schedule():
    base, low, total = 0.1, 0.01, 11
    lrs = [scheduled_lr("cosine", base, s, total_steps=total, min_lr=low)
           for s in range(1, total + 1)]
    assert lrs[0] == pytest.approx(base, rel=1e-15)
    assert lrs[-1] == pytest.approx(low, rel=1e-12)
    assert lrs[5] == pytest.approx((base + low) / 2, rel=1e-12)     # step 6 of 11: halfway
    assert lrs[2] == pytest.approx(low + 0.5 * (base - low) * (1 + math.cos(math.pi * 0.2)))
    assert all(x > y for x, y in zip(lrs, lrs[1:]))                  # strictly decreasing
    # past the end it stays at min_lr; min_lr defaults to 0
    assert scheduled_lr("cosine", base, 50, total_steps=total, min_lr=low) == pytest.approx(low)
    assert scheduled_lr("cosine", base, total, total_steps=total) == pytest.approx(0.0, abs=1e-17)
    assert scheduled_lr("cosine", base, 1, total_steps=1) == base


@pytest.mark.parametrize("total", [None, 0])
def test_cosine_schedule_needs_total_steps(total):
    with pytest.raises(ValueError, match="cosine"):
        scheduled_lr("cosine", 0.1, 1, total_steps=total)


def test_unknown_schedule_raises():
    with pytest.raises(ValueError, match="'linear'.*constant, step, cosine"):
        scheduled_lr("linear", 0.1, 1)
