"""Check the CUDA kernels against the CPU kernels at real sizes and time them against cuDNN.

    python asv_benchmarks/gpu_check.py           # on a machine with a GPU (a few minutes)
    NUMBA_ENABLE_CUDASIM=1 python asv_benchmarks/gpu_check.py --tiny   # smoke test, no GPU

Parity: numbarnn on device='cuda' against numbarnn on the CPU (the reference
kernels), same weights and inputs, float64 and float32, at the timed sizes and
``PARITY_SIZES`` (among them a partial batch tile and a hidden size that the
tiled design's blocks do not divide evenly); the figure is the
largest relative error ||gpu - cpu|| / ||cpu|| over the output, the input
gradient and every parameter gradient.  Timing: median over repeats of the
layer with device arrays in and out (no host transfers), synchronised; torch
with cuDNN (same weights) where torch with CUDA is installed.  numbarnn runs its
GEMMs on cuBLAS through CuPy when CuPy is there; the column "own GEMM" is the
warp design's training step with the tiled numba GEMM instead.  Both designs of
the time loop (NUMBARNN_CUDA_LOOP = warp and tiled, see ``cuda_lstm``) are
checked and timed side by side, and the plan each ran with is printed.  Ratios
are numbarnn / cuDNN.
"""
import argparse
import contextlib
import os
import sys
import time

import numpy as np
from numba.core import config

config.CUDA_LOW_OCCUPANCY_WARNINGS = 0  # small grids are the point at small sizes

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numbarnn  # noqa: E402
from numbarnn.info import cuda_info  # noqa: E402
from numbarnn.kernels import _cuda_arrays, _cuda_gemm, _cuda_loop  # noqa: E402

SIZES = [(4, 100, 128, 256), (64, 100, 256, 512), (64, 100, 1024, 1024)]  # B, T, D, H
TINY = [(1, 2, 2, 3)]
# checked for parity only: a small size, and one with a partial batch tile (70 = 64 + 6
# rows) and a hidden size that the tiled design's units per block do not divide
PARITY_SIZES = [(4, 20, 32, 64), (70, 12, 40, 301)]
DESIGNS = ("warp", "tiled")


@contextlib.contextmanager
def kernel_setting(name, value):
    """Run the CUDA layers with environment setting ``name`` (NUMBARNN_CUDA_LOOP or
    NUMBARNN_CUDA_GEMM) at ``value`` inside the block, restored after it even on failure."""
    before = os.environ.get(name)
    os.environ[name] = value
    _cuda_gemm.gemm_backend.cache_clear()  # it reads its setting once
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before
        _cuda_gemm.gemm_backend.cache_clear()


def loop_design(design):
    """Run the CUDA layers with time-loop design ``design`` inside the block."""
    return kernel_setting("NUMBARNN_CUDA_LOOP", design)


def forward_loop(cell, B, H):
    """The plan of a float32 forward time loop of ``cell`` under the current design, and
    its persistent kernel."""
    from numbarnn.kernels import cuda_lstm, cuda_rnn

    G, module = (4, cuda_lstm) if cell == "lstm" else (1, cuda_rnn)
    plan = _cuda_loop.plan_time_loop(G, B, H, np.dtype(np.float32))
    kernels = module._kernels(np.dtype(np.float32), _cuda_loop.GEOMETRY)
    return plan, kernels[plan.design, "forward"][1]


def plan_text(cell, size):
    """How the forward time loop of ``cell`` at ``size`` runs under the current design."""
    B, T, D, H = size
    plan, loop = forward_loop(cell, B, H)
    resident = 1 if config.ENABLE_CUDASIM else _cuda_loop._resident_blocks.get(loop, 0)
    persistent = _cuda_loop.runs_persistent(plan, resident, loop)
    units = ""
    if plan.head:
        J, geometry = plan.head[0], _cuda_loop.GEOMETRY
        splits = _cuda_loop.column_splits(J, B, geometry.threads, geometry.batch_tile)
        units = f" J={J}" + (f" ({splits} threads a pair)" if splits > 1 else "")
    return (f"{plan.design}{units}, {plan.blocks} blocks of {plan.threads}, "
            f"{'persistent' if persistent else 'per step'}")


def relative_error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


def parity(cell, size, dtype):
    """Largest relative error of a GPU training step against the CPU's, per design."""
    from numba import cuda

    B, T, D, H = size
    cls = numbarnn.LSTM if cell == "lstm" else numbarnn.RNN
    cpu = cls(D, H, dtype=dtype, seed=1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dout = rng.standard_normal((T, B, H)).astype(dtype)
    out_c, _ = cpu.forward(x)
    dx_c, _ = cpu.backward(dout)
    errors = {}
    for design in DESIGNS:
        try:
            with loop_design(design):
                gpu = cls(D, H, dtype=dtype, seed=1, device="cuda")
                out_g, _ = gpu.forward(x)
                dx_g, _ = gpu.backward(dout)
                cuda.synchronize()
        except Exception as exc:  # report it and go on: GPU time is scarce
            errors[design] = f"{type(exc).__name__}: {exc}"
            continue
        found = [relative_error(out_g, out_c), relative_error(dx_g, dx_c)]
        found += [relative_error(gpu.grads[k].copy_to_host(), g) for k, g in cpu.grads.items()]
        errors[design] = max(found)
    return errors


def median_time(func, repeats, sync):
    if repeats > 1:  # a warm-up call (compilation); a single repeat is a smoke test
        func()
        sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        func()
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def cuda_layer_steps(cell, size):
    """An inference forward and a training step (forward + backward) of a float32 layer
    on the GPU, device arrays in and out, as two functions."""
    from numba import cuda

    B, T, D, H = size
    cls = numbarnn.LSTM if cell == "lstm" else numbarnn.RNN
    layer = cls(D, H, seed=1, device="cuda")
    rng = np.random.default_rng(3)
    x = cuda.to_device(rng.standard_normal((T, B, D)).astype(np.float32))
    dout = cuda.to_device(rng.standard_normal((T, B, H)).astype(np.float32))

    def infer():
        layer.forward(x, train=False)

    def train():
        layer.forward(x)
        layer.backward(dout)

    return infer, train


def time_numbarnn(cell, size, repeats):
    from numba import cuda

    infer, train = cuda_layer_steps(cell, size)
    return (median_time(infer, repeats, cuda.synchronize),
            median_time(train, repeats, cuda.synchronize))


def time_cudnn(cell, size, repeats):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    B, T, D, H = size
    cls = torch.nn.LSTM if cell == "lstm" else torch.nn.RNN
    twin = cls(D, H).cuda()
    ours = (numbarnn.LSTM if cell == "lstm" else numbarnn.RNN)(D, H, seed=1)  # time_numbarnn's
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = torch.randn(T, B, D, device="cuda", requires_grad=True)
    dout = torch.randn(T, B, H, device="cuda")

    def infer():
        with torch.no_grad():
            twin(x)

    def train():
        out, _ = twin(x)
        out.backward(dout)

    return (median_time(infer, repeats, torch.cuda.synchronize),
            median_time(train, repeats, torch.cuda.synchronize))


def breakdown(cell, size, repeats):
    """Where a float32 inference forward spends its time: layer, kernel launcher, time loop.

    For the design in use (NUMBARNN_CUDA_LOOP).  Returns milliseconds for: the
    layer's forward; the kernel launcher alone (``cuda_lstm.lstm_forward`` on
    preallocated arrays); the persistent time loop alone (NaN where it cannot run
    persistent); and the launcher with one launch per step instead.
    """
    from numba import cuda

    from numbarnn.kernels import cuda_lstm, cuda_rnn

    B, T, D, H = size
    G = 4 if cell == "lstm" else 1
    rng = np.random.default_rng(4)

    def dev(*shape):
        return cuda.to_device(rng.standard_normal(shape).astype(np.float32) * 0.1)

    x, h0, c0, w_ih, w_hh, bias = dev(T, B, D), dev(B, H), dev(B, H), dev(G * H, D), \
        dev(G * H, H), dev(G * H)
    out, h_n, c_n, xproj = dev(T, B, H), dev(B, H), dev(B, H), dev(T, B, G * H)
    gates, cells = dev(1, B, 4 * H), dev(1, B, H)
    if cell == "lstm":
        def launcher():
            cuda_lstm.lstm_forward(x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells, xproj)
        args = (xproj, h0, c0, w_hh, bias, out, gates, cells, False)
    else:
        def launcher():
            cuda_rnn.rnn_forward(x, h0, w_ih, w_hh, bias, 0, out, h_n, xproj)
        args = (xproj, h0, w_hh, bias, 0, out)
    plan, loop = forward_loop(cell, B, H)
    loop_args = plan.head + (0, T) + args
    resident = _cuda_loop.resident_blocks(loop, loop_args, plan.threads)
    blocks = min(resident, plan.blocks)

    def loop_only():
        loop[blocks, plan.threads](*loop_args)

    # the tiled loop covers its units only with all its blocks resident; else the
    # layer runs it per step, and a loop-only time would be of partial work
    persistent = _cuda_loop.runs_persistent(plan, resident, loop)

    cls = numbarnn.LSTM if cell == "lstm" else numbarnn.RNN
    layer = cls(D, H, device="cuda")

    def layer_forward():
        layer.forward(x, train=False)

    times = [median_time(f, repeats, cuda.synchronize) if persistent or f is not loop_only
             else float("nan") for f in (layer_forward, launcher, loop_only)]
    _cuda_loop._cooperative["available"] = False
    try:
        times.append(median_time(launcher, repeats, cuda.synchronize))
    finally:  # a failure here must not leave the later rows on per-step launches
        _cuda_loop._cooperative["available"] = True
    return [t * 1e3 for t in times], blocks


def host_profile(cell, size, repeats, top=15):
    """The host functions a training step (forward + backward, device arrays in and
    out) spends its time in: cProfile's top entries by own time, as text."""
    import cProfile
    import io
    import pstats

    from numba import cuda

    _, train = cuda_layer_steps(cell, size)
    train()  # compile and allocate outside the profile
    cuda.synchronize()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeats):
        train()
        cuda.synchronize()
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def barrier_microseconds(blocks, n=2000):
    """Cost of one grid-wide barrier (``this_grid().sync()``) with ``blocks`` blocks."""
    from numba import cuda

    @cuda.jit
    def barriers(n, out):
        grid = cuda.cg.this_grid()
        for _ in range(n):
            grid.sync()
        if cuda.grid(1) == 0:
            out[0] = n

    out = cuda.device_array(1, np.int32)
    barriers[blocks, _cuda_arrays.THREADS](1, out)
    cuda.synchronize()
    start = time.perf_counter()
    barriers[blocks, _cuda_arrays.THREADS](n, out)
    cuda.synchronize()
    return (time.perf_counter() - start) / n * 1e6


def time_text_training(tiny, repeats):
    """ms per train-text step (its defaults, one thread) on the CPU and with --device
    cuda, and how much of the latter is HostParams' copies of weights and gradients."""
    from numba import cuda

    from numbarnn.text.training import TextTrainer

    rng = np.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:'\n")
    text = "".join(rng.choice(alphabet, 4_000 if tiny else 400_000))
    config = dict(hidden_size=4, batch_size=2, seq_len=3) if tiny else {}
    times = {}
    for device in ("cpu", "cuda"):
        trainer = TextTrainer(text, "random", workers=1, device=device, **config)
        trainer.train_step()  # compile, allocate
        times[device] = median_time(trainer.train_step, repeats, cuda.synchronize)
    rnn = trainer.model.rnn

    def copies():
        for name, p in rnn.params.items():
            rnn.layer._dev.assign(rnn.layer.params[name], p)
        for name, g in rnn.grads.items():
            rnn.layer._dev.download(g, rnn.layer.grads[name])

    return times["cpu"], times["cuda"], median_time(copies, repeats, cuda.synchronize)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--breakdown", action="store_true",
                        help="only: where an inference forward spends its time")
    args = parser.parse_args(argv)
    status = cuda_info()
    print(f"CUDA: {status['detail']}")
    if not status["available"]:
        return 1
    sizes = TINY if args.tiny else SIZES
    repeats = 1 if args.tiny else args.repeats
    if args.breakdown:
        print(f"{'B, T, D, H':>22} {'cell':4} {'design':6} | {'layer':>8} {'launcher':>8} "
              f"{'loop':>8} {'per-step':>8} ms | grid")
        for size in sizes:
            for cell in ("lstm", "rnn"):
                for design in DESIGNS:
                    try:
                        with loop_design(design):
                            (lay, lau, loop, per_step), blocks = breakdown(cell, size, repeats)
                    except Exception as exc:  # report it and go on
                        print(f"{str(size):>22} {cell:4} {design:6} | failed: "
                              f"{type(exc).__name__}: {str(exc)[:200]}", flush=True)
                        continue
                    print(f"{str(size):>22} {cell:4} {design:6} | {lay:8.3f} {lau:8.3f} "
                          f"{loop:8.3f} {per_step:8.3f}    | {blocks}", flush=True)
        print(f"\nhost time of {repeats} training steps, LSTM {sizes[0]} (cProfile, own time)")
        print(host_profile("lstm", sizes[0], repeats))
        return 0

    print("\nparity with the CPU kernels (max relative error over output and all gradients)")
    failures = 0
    for size in (TINY if args.tiny else PARITY_SIZES + sizes):
        B, T, D, H = size
        for cell in ("lstm", "rnn"):
            for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
                if dtype == np.float64 and B * T * H > 500_000:
                    continue  # the CPU reference in float64 at the largest sizes takes too long
                for design, err in parity(cell, size, dtype).items():
                    if isinstance(err, str):  # the design failed to run
                        ok, text = False, f"FAIL {err[:300]}"
                    else:
                        ok = err <= tol
                        text = f"{err:9.2e} {'ok' if ok else 'FAIL'}"
                    failures += not ok
                    print(f"  {str(size):>22} {cell:4} {np.dtype(dtype).name:7} {design:5} "
                          f"{text}", flush=True)
    mode = "one cooperative launch" if _cuda_loop._cooperative["available"] else "per-step launches"
    failed = len(_cuda_loop._cooperative_failed)
    print(f"time loops may run as: {mode} ({failed} loop kernels fell back to per-step launches "
          f"after a failed cooperative launch); GEMM backend: {_cuda_gemm.gemm_backend()}")
    if not args.tiny and _cuda_loop._cooperative["available"]:
        grids = sorted(set(_cuda_loop._resident_blocks.values()))
        print(f"persistent grids capped at {grids} blocks")
        for blocks in (1, 132, 264):
            print(f"grid barrier with {blocks:3d} blocks: {barrier_microseconds(blocks):6.2f} us")

    rows = []
    for size in sizes:
        for cell in ("lstm", "rnn"):
            timed, plans = {}, {}
            for design in DESIGNS:
                try:
                    with loop_design(design):
                        timed[design] = time_numbarnn(cell, size, repeats)
                        plans[design] = plan_text(cell, size)
                except Exception as exc:  # report it and time the rest
                    timed[design] = (float("nan"), float("nan"))
                    plans[design] = f"{design} failed: {type(exc).__name__}: {str(exc)[:200]}"
            own = None
            if _cuda_gemm.gemm_backend() == "cupy":
                try:
                    with kernel_setting("NUMBARNN_CUDA_GEMM", "numba"), loop_design("warp"):
                        own = time_numbarnn(cell, size, repeats)[1]
                except Exception as exc:  # report it and time the rest
                    print(f"  own GEMM failed: {type(exc).__name__}: {str(exc)[:200]}")
            ref = time_cudnn(cell, size, repeats) or (float("nan"), float("nan"))
            rows.append((size, cell, timed, ref, own))
            # the figures as they come, in case the run is cut short before the table
            print(f"  timed {size} {cell} (infer, train ms): cuDNN {ref[0] * 1e3:.3f}, "
                  f"{ref[1] * 1e3:.3f}; " + "; ".join(
                      f"{plans[d]}: {timed[d][0] * 1e3:.3f}, {timed[d][1] * 1e3:.3f}"
                      for d in DESIGNS), flush=True)

    print("\nfloat32, ms (median); ratio = numbarnn / cuDNN, < 1: numbarnn faster")
    print(f"{'B, T, D, H':>22} {'cell':4} | {'infer':>5} {'warp':>7} {'tiled':>7} {'cuDNN':>7} | "
          f"{'train':>5} {'warp':>7} {'tiled':>7} {'cuDNN':>7} | {'ratio':>5} {'warp':>5} "
          f"{'tiled':>5} {'warp':>5} {'tiled':>5} | {'own GEMM':>8}")
    for size, cell, timed, (ref_inf, ref_train), own in rows:
        (w_inf, w_train), (t_inf, t_train) = timed["warp"], timed["tiled"]
        own_text = f"{own * 1e3:8.3f}" if own is not None else f"{'-':>8}"
        print(f"{str(size):>22} {cell:4} | {'':5} {w_inf * 1e3:7.3f} {t_inf * 1e3:7.3f} "
              f"{ref_inf * 1e3:7.3f} | {'':5} {w_train * 1e3:7.3f} {t_train * 1e3:7.3f} "
              f"{ref_train * 1e3:7.3f} | {'':5} {w_inf / ref_inf:5.2f} {t_inf / ref_inf:5.2f} "
              f"{w_train / ref_train:5.2f} {t_train / ref_train:5.2f} | {own_text}")
    print("(ratio columns: infer warp, infer tiled, train warp, train tiled)")
    cpu_step, gpu_step, copy = time_text_training(args.tiny, repeats)
    print(f"\ntrain-text step (its defaults, one thread), ms: cpu {cpu_step * 1e3:.2f}, "
          f"--device cuda {gpu_step * 1e3:.2f} (of which weight and gradient copies "
          f"{copy * 1e3:.2f}); ratio cuda / cpu {gpu_step / cpu_step:.2f}")
    print(f"parity failures: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
