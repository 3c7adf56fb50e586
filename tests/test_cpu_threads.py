"""The CPU time loops shared by threads: the same bits for any thread count (with and
without ``lengths``), and the register-blocked product (``kernels._tile``) they run on.

Each cell's threaded kernels are run with 1, 2 and 3 threads on shapes whose
hidden size does not split evenly (and is smaller than a tile, or a tile and a
bit), in training and inference, for float and token inputs; every output and
gradient must be bit-identical, and the float64 results must match the NumPy
reference.  Output buffers are NaN-filled, as in the kernel tests.
"""
import threading

import numpy as np
import pytest
from numba import njit

import reference as ref
from numbarnn.kernels import _parts, _tile, cpu_gru, cpu_lstm, cpu_rnn

THREADS = (1, 2, 3)
# (T, B, D, H); at B = 3 the backward loop's units are split between the threads where
# each gets a panel of them (H = 130: 2 threads in float32, 2 or 3 in float64), else one
# thread runs it; at B = 9 its rows, in tiles of 4 (rows 0-3 and 4-8: _parts.loop_share)
SHAPES = [(5, 3, 4, 7), (3, 6, 5, 37), (2, 5, 3, 70), (2, 3, 4, 130), (3, 9, 4, 20)]


def nan(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def lstm_case(T, B, D, H, dtype, tokens=False, seed=0):
    rng = np.random.default_rng(seed)
    u = lambda *shape: rng.uniform(-1, 1, shape).astype(dtype)  # noqa: E731
    x = rng.integers(0, D, (T, B)) if tokens else u(T, B, D)
    return dict(x=x, h0=u(B, H), c0=u(B, H), w_ih=u(4 * H, D), w_hh=u(4 * H, H),
                bias=u(4 * H), dout=u(T, B, H), dh_n=u(B, H), dc_n=u(B, H))


def run_lstm(a, threads, train=True, K=2, lengths=None):
    T, B = a["x"].shape[:2]
    H = a["h0"].shape[1]
    dt = a["h0"].dtype
    S = T if train else 1
    r = dict(out=nan((T, B, H), dt), h_n=nan((B, H), dt), c_n=nan((B, H), dt),
             gates=nan((S, B, 4 * H), dt), cells=nan((S, B, H), dt))
    cpu_lstm.lstm_forward_threads(threads, a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"],
                                  a["bias"], r["out"], r["h_n"], r["c_n"], r["gates"],
                                  r["cells"], nan((K, B, 4 * H), dt), lengths)
    if train:
        tokens = a["x"].ndim == 2
        r.update(dx=nan((0, B, a["w_ih"].shape[1]) if tokens else a["x"].shape, dt),
                 dh0=nan((B, H), dt), dc0=nan((B, H), dt), dw_ih=nan(a["w_ih"].shape, dt),
                 dw_hh=nan(a["w_hh"].shape, dt), dbias=nan(a["bias"].shape, dt))
        cpu_lstm.lstm_backward_threads(threads, a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"],
                                       r["out"], r["gates"], r["cells"], a["dout"], a["dh_n"],
                                       a["dc_n"], r["dx"], r["dh0"], r["dc0"], r["dw_ih"],
                                       r["dw_hh"], r["dbias"], lengths)
    return r


def rnn_case(T, B, D, H, dtype, tokens=False, seed=0):
    rng = np.random.default_rng(seed)
    u = lambda *shape: rng.uniform(-1, 1, shape).astype(dtype)  # noqa: E731
    x = rng.integers(0, D, (T, B)) if tokens else u(T, B, D)
    return dict(x=x, h0=u(B, H), w_ih=u(H, D), w_hh=u(H, H), bias=u(H), dout=u(T, B, H),
                dh_n=u(B, H))


def run_rnn(a, threads, nonlinearity=cpu_rnn.TANH, K=2, lengths=None):
    T, B = a["x"].shape[:2]
    H = a["h0"].shape[1]
    dt = a["h0"].dtype
    r = dict(out=nan((T, B, H), dt), h_n=nan((B, H), dt))
    cpu_rnn.rnn_forward_threads(threads, a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias"],
                                nonlinearity, r["out"], r["h_n"], nan((K, B, H), dt), lengths)
    tokens = a["x"].ndim == 2
    r.update(dx=nan((0, B, a["w_ih"].shape[1]) if tokens else a["x"].shape, dt),
             dh0=nan((B, H), dt), dw_ih=nan(a["w_ih"].shape, dt),
             dw_hh=nan(a["w_hh"].shape, dt), dbias=nan(a["bias"].shape, dt))
    cpu_rnn.rnn_backward_threads(threads, a["x"], a["h0"], a["w_ih"], a["w_hh"], nonlinearity,
                                 r["out"], a["dout"], a["dh_n"], r["dx"], r["dh0"], r["dw_ih"],
                                 r["dw_hh"], r["dbias"], nan((T, B, H), dt), lengths)
    return r


def gru_case(T, B, D, H, dtype, tokens=False, seed=0):
    rng = np.random.default_rng(seed)
    u = lambda *shape: rng.uniform(-1, 1, shape).astype(dtype)  # noqa: E731
    x = rng.integers(0, D, (T, B)) if tokens else u(T, B, D)
    return dict(x=x, h0=u(B, H), w_ih=u(3 * H, D), w_hh=u(3 * H, H), bias_ih=u(3 * H),
                bias_hh=u(3 * H), dout=u(T, B, H), dh_n=u(B, H))


def run_gru(a, threads, train=True, K=2, lengths=None):
    T, B = a["x"].shape[:2]
    H = a["h0"].shape[1]
    dt = a["h0"].dtype
    S = T if train else 1
    r = dict(out=nan((T, B, H), dt), h_n=nan((B, H), dt), gates=nan((S, B, 3 * H), dt),
             hidden_n=nan((S, B, H), dt))
    cpu_gru.gru_forward_threads(threads, a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias_ih"],
                                a["bias_hh"], r["out"], r["h_n"], r["gates"], r["hidden_n"],
                                nan((K, B, 3 * H), dt), lengths)
    if train:
        tokens = a["x"].ndim == 2
        r.update(dx=nan((0, B, a["w_ih"].shape[1]) if tokens else a["x"].shape, dt),
                 dh0=nan((B, H), dt), dw_ih=nan(a["w_ih"].shape, dt),
                 dw_hh=nan(a["w_hh"].shape, dt), dbias_ih=nan((3 * H,), dt),
                 dbias_hh=nan((3 * H,), dt))
        cpu_gru.gru_backward_threads(threads, a["x"], a["h0"], a["w_ih"], a["w_hh"], r["out"],
                                     r["gates"], r["hidden_n"], a["dout"], a["dh_n"], r["dx"],
                                     r["dh0"], r["dw_ih"], r["dw_hh"], r["dbias_ih"],
                                     r["dbias_hh"], nan((T, B, 3 * H), dt), lengths)
    return r


def assert_same_bits(results):
    first = results[0]
    for other in results[1:]:
        for name in first:
            np.testing.assert_array_equal(other[name], first[name], err_msg=name)
    for name, value in first.items():
        assert not np.isnan(value).any(), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_lstm_threads_give_identical_bits(shape, dtype, tokens):
    a = lstm_case(*shape, dtype, tokens)
    assert_same_bits([run_lstm(a, p) for p in THREADS])
    inference = [run_lstm(a, p, train=False, K=1) for p in THREADS]
    assert_same_bits(inference)
    np.testing.assert_array_equal(inference[0]["out"], run_lstm(a, 1)["out"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_rnn_threads_give_identical_bits(shape, dtype, tokens):
    a = rnn_case(*shape, dtype, tokens)
    for nonlinearity in (cpu_rnn.TANH, cpu_rnn.RELU):
        assert_same_bits([run_rnn(a, p, nonlinearity) for p in THREADS])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tokens", [False, True], ids=["floats", "tokens"])
def test_gru_threads_give_identical_bits(shape, dtype, tokens):
    a = gru_case(*shape, dtype, tokens)
    assert_same_bits([run_gru(a, p) for p in THREADS])
    inference = [run_gru(a, p, train=False, K=1) for p in THREADS]
    assert_same_bits(inference)
    np.testing.assert_array_equal(inference[0]["out"], run_gru(a, 1)["out"])


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_inputs_are_fused_or_not_for_every_thread_count_alike(cell):
    """The LSTM's packed [W_ih; W_hh] at D = 120, H = 200 (float32) takes 1.25 MiB: a
    thread's share of two fits ``_parts.FUSE_BYTES`` and one thread's whole does not.
    Deciding on the share made one thread project its inputs and two multiply them
    inside the step, which rounds differently (7.7e-7 apart); the decision is now on
    the whole weight.  Each size here sits on one side of ``FUSED_WEIGHT_BYTES``.  Five
    steps: projected inputs come in blocks of K steps, the next one projected between a
    step's two barrier halves, the last block short."""
    case, run = {"lstm": (lstm_case, run_lstm), "rnn": (rnn_case, run_rnn)}[cell]
    for D, H in ((120, 200), (300, 280)) if cell == "lstm" else ((120, 200), (1000, 400)):
        a = case(5, 2, D, H, np.float32)
        assert_same_bits([run(a, p) for p in THREADS])
        if cell == "lstm":
            inference = [run(a, p, train=False, K=K) for p in THREADS for K in (1, 2)]
            assert_same_bits(inference)
            want = ref.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], a["bias"])
            np.testing.assert_allclose(inference[0]["out"], want[0], rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_lengths_give_identical_bits_for_any_thread_count(cell):
    """Padded batches: the same bits for 1, 2 and 3 threads, zero outputs and input
    gradients past each length, and all-T lengths the same as none."""
    case, run = {"lstm": (lstm_case, run_lstm), "rnn": (rnn_case, run_rnn),
                 "gru": (gru_case, run_gru)}[cell]
    T, B, D, H = 5, 4, 3, 37
    a = case(T, B, D, H, np.float32, seed=4)
    lengths = np.array([3, 5, 1, 2], np.int64)
    results = [run(a, p, lengths=lengths) for p in THREADS]
    assert_same_bits(results)
    for b, n in enumerate(lengths):
        assert (results[0]["out"][n:, b] == 0).all() and (results[0]["dx"][n:, b] == 0).all()
    assert_same_bits([run(a, 2), run(a, 2, lengths=np.full(B, T, np.int64))])


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_gru_matches_reference(threads):
    a = gru_case(4, 5, 3, 37, np.float64, seed=3)
    got = run_gru(a, threads)
    out, h_n, cache = ref.gru_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias_ih"],
                                      a["bias_hh"])
    grads = ref.gru_backward(a["w_ih"], a["w_hh"], cache, a["dout"], a["dh_n"])
    want = dict(zip(("out", "h_n", "dx", "dh0", "dw_ih", "dw_hh", "dbias_ih", "dbias_hh"),
                    (out, h_n) + grads))
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-11, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_lstm_matches_reference(threads):
    a = lstm_case(4, 5, 3, 37, np.float64, seed=3)
    got = run_lstm(a, threads)
    out, h_n, c_n, cache = ref.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"],
                                            a["bias"])
    grads = ref.lstm_backward(a["w_ih"], a["w_hh"], cache, a["dout"], a["dh_n"], a["dc_n"])
    want = dict(zip(("out", "h_n", "c_n", "dx", "dh0", "dc0", "dw_ih", "dw_hh", "dbias"),
                    (out, h_n, c_n) + grads))
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-11, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_rnn_matches_reference(threads):
    a = rnn_case(4, 5, 3, 37, np.float64, seed=3)
    got = run_rnn(a, threads)
    out, h_n, cache = ref.rnn_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias"])
    grads = ref.rnn_backward(a["w_ih"], a["w_hh"], cache, a["dout"], a["dh_n"])
    want = dict(zip(("out", "h_n", "dx", "dh0", "dw_ih", "dw_hh", "dbias"), (out, h_n) + grads))
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-11, atol=1e-12, err_msg=name)


def test_more_threads_than_units():
    a = lstm_case(3, 2, 2, 2, np.float64)
    assert_same_bits([run_lstm(a, 1), run_lstm(a, 3)])


# ------------------------------------------------------------------ the tile product
def unpack(packed):
    """A packed (panels, K, tile_columns) array as the (K, panels * tile_columns) matrix it holds."""
    panels, K, step = packed.shape
    return packed.transpose(1, 0, 2).reshape(K, panels * step)


def test_the_tile_is_as_wide_as_the_cpus_vectors():
    # llvmlite's feature map lists every feature, present or not ('-avx512f' on an AVX2
    # CPU): the width comes from its value (a substring test once gave AVX2 machines
    # 512-bit tiles, three times slower)
    assert _tile.vector_bytes({"avx2": True, "avx512f": False}) == 32
    assert _tile.vector_bytes({"avx2": True}) == 32
    assert _tile.vector_bytes({"avx2": True, "avx512f": True}) == 64
    try:  # and on this machine, where the kernel says which (Linux)
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags here")
    assert _tile.VECTOR_BYTES == (64 if "avx512f" in flags else 32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# (K = 1100: more than one chunk of k at every vector width, _tile.K_CHUNK)
@pytest.mark.parametrize("B,K,R", [(1, 1, 1), (3, 5, 17), (4, 8, 64), (9, 33, 130), (2, 300, 300),
                                   (5, 1100, 40)])
def test_packed_product_matches_numpy_and_writes_only_its_part(B, K, R, dtype):
    rng = np.random.default_rng(B * K * R)
    a = rng.standard_normal((B, K)).astype(dtype)
    w = rng.standard_normal((R, K)).astype(dtype)
    step = _tile.tile_columns(a.itemsize)
    # two spare rows of NaN: a product reads only the K rows that ``a`` has columns for
    packed = np.full((_tile.panels(R, a.itemsize), K + 2, step), np.nan, dtype)
    _tile.pack_transposed_rows(w, np.arange(R), packed, 0)
    np.testing.assert_array_equal(unpack(packed)[:K, :R], w.T)
    assert (unpack(packed)[:K, R:] == 0).all() and np.isnan(unpack(packed)[K:]).all()
    wide = np.full((B + 1, R + 5), np.nan, dtype)  # a strided view of the first B rows
    _tile.packed_product(a, packed, wide[:B, :R], False)
    np.testing.assert_allclose(wide[:B, :R], a @ w.T, rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-5 if dtype == np.float32 else 1e-13)
    assert np.isnan(wide[B:]).all() and np.isnan(wide[:, R:]).all()
    # accumulating, from views of the leading columns of wider arrays
    a_wide = np.concatenate([a, np.full((B, 3), np.nan, dtype)], axis=1)
    _tile.packed_product(a_wide[:, :K], packed, wide[:B, :R], True)
    np.testing.assert_allclose(wide[:B, :R], 2 * (a @ w.T),
                               rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-5 if dtype == np.float32 else 1e-13)
    assert np.isnan(wide[B:]).all() and np.isnan(wide[:, R:]).all()


def test_packing_stacks_weights_and_takes_columns():
    # [W_ih; W_hh] of the chosen rows, one above the other (``_parts.pack_part``), and a
    # range of columns of the leading rows of a matrix (the backward's packed W_hh)
    rng = np.random.default_rng(1)
    w_ih, w_hh = rng.standard_normal((40, 3)), rng.standard_normal((40, 7))
    rows = np.array([1, 5, 6, 30, 39])
    packed = _tile.empty_packed(10, rows.size, w_ih)
    _tile.pack_transposed_rows(w_hh, rows, packed, 3)
    _tile.pack_transposed_rows(w_ih, rows, packed, 0)
    np.testing.assert_array_equal(unpack(packed)[:, :5], np.vstack([w_ih[rows].T, w_hh[rows].T]))
    assert (unpack(packed)[:, 5:] == 0).all()
    m = rng.standard_normal((9, 21))
    step = _tile.tile_columns(8)
    packed = np.full((_tile.panels(13, 8), 12, step), np.nan)
    _tile.pack_columns(m[:6], 4, 17, packed)
    np.testing.assert_array_equal(unpack(packed)[:6, :13], m[:6, 4:17])
    assert (unpack(packed)[:6, 13:] == 0).all() and np.isnan(packed[:, 6:]).all()


def test_packed_product_sums_in_order_wherever_a_column_sits():
    # the same column computed inside a big tile, at a tile edge, or alone: the same bits
    # (330 columns: a left-over row takes ROW_PANELS panels at once, then one at a time)
    rng = np.random.default_rng(0)
    R = 330
    a = rng.standard_normal((5, 300)).astype(np.float32)
    w = rng.standard_normal((R, 300)).astype(np.float32)
    full = np.empty((5, R), np.float32)
    packed = _tile.empty_packed(300, R, a)
    _tile.pack_transposed_rows(w, np.arange(R), packed, 0)
    _tile.packed_product(a, packed, full, False)
    for lo, hi in ((0, 1), (7, 77), (150, 200), (10, R)):
        part = np.empty((5, hi - lo), np.float32)
        packed = _tile.empty_packed(300, hi - lo, a)
        _tile.pack_transposed_rows(w, np.arange(lo, hi), packed, 0)
        _tile.packed_product(a, packed, part, False)
        np.testing.assert_array_equal(part, full[:, lo:hi])
    # and whether a row falls in a whole tile or is left over (done in a one-row tile)
    packed = _tile.empty_packed(300, R, a)
    _tile.pack_transposed_rows(w, np.arange(R), packed, 0)
    for rows in ((0, 1), (1, 3), (0, 4), (3, 5)):
        some = np.empty((rows[1] - rows[0], R), np.float32)
        _tile.packed_product(a[rows[0]:rows[1]], packed, some, False)
        np.testing.assert_array_equal(some, full[rows[0]:rows[1]])


# ------------------------------------------------------------------ how many threads
@njit
def loop_parts(parts, H, itemsize):  # (the helper has no Python wrapper of its own)
    return _parts.loop_parts(parts, H, itemsize)


@njit
def loop_share(part, parts, B, GH, H, itemsize):
    return _parts.loop_share(part, parts, B, GH, H, itemsize)


def test_backward_loops_share_units_only_a_panel_at_a_time_else_rows():
    panel32, panel64 = _tile.tile_columns(4), _tile.tile_columns(8)  # float32, float64
    assert loop_parts(2, 2 * panel32, 4) == 2
    assert loop_parts(2, 2 * panel32 - 1, 4) == 1
    assert loop_parts(3, 3 * panel64, 8) == 3
    assert loop_parts(1, 5, 8) == 1
    # units: a weight too large for every part to keep (4 MiB), or too few rows for a tile
    # each; every part all rows, meeting at every step
    assert [loop_share(p, 2, 16, 2048, 512, 4) for p in (0, 1)] == [(0, 256, 0, 16, 2),
                                                                     (256, 512, 0, 16, 2)]
    assert [loop_share(p, 2, 4, 512, 128, 4) for p in (0, 1)] == [(0, 64, 0, 4, 2),
                                                                   (64, 128, 0, 4, 2)]
    # rows, in whole tiles where B allows; no part waits for another
    assert [loop_share(p, 2, 16, 256, 64, 4) for p in (0, 1)] == [(0, 64, 0, 8, 1),
                                                                   (0, 64, 8, 16, 1)]
    assert [loop_share(p, 3, 9, 80, 20, 8) for p in (0, 1, 2)] == [(0, 20, 0, 4, 1),
                                                                    (0, 20, 4, 8, 1),
                                                                    (0, 20, 8, 9, 1)]
    # too few units to split and too few rows for a tile each: one part runs the loop
    assert [loop_share(p, 3, 6, 80, 20, 8)[2:4] for p in (0, 1, 2)] == [(0, 0), (0, 4), (4, 6)]
    assert loop_share(0, 1, 16, 256, 64, 4) == (0, 64, 0, 16, 1)


def test_kernel_threads_follows_the_environment(monkeypatch):
    monkeypatch.setenv("NUMBARNN_THREADS", "3")
    assert _parts.kernel_threads(64, 1024, 256) == 3
    assert _parts.kernel_threads(64, 8, 2) == 2  # never more threads than units
    monkeypatch.setenv("NUMBARNN_THREADS", "two")
    with pytest.raises(ValueError, match="NUMBARNN_THREADS: got 'two', expected a positive"):
        _parts.kernel_threads(64, 1024, 256)


def test_kernel_threads_by_size_and_thread(monkeypatch):
    monkeypatch.delenv("NUMBARNN_THREADS", raising=False)
    monkeypatch.setattr(_parts, "usable_cores", lambda: 2)
    assert _parts.kernel_threads(64, 1024, 256) == 2
    assert _parts.kernel_threads(1, 4, 1) == 1  # too small a step to share
    monkeypatch.setattr(_parts, "usable_cores", lambda: 1)
    assert _parts.kernel_threads(64, 1024, 256) == 1
    monkeypatch.setattr(_parts, "usable_cores", lambda: 2)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_parts.kernel_threads(64, 1024, 256)))
    worker.start()
    worker.join()
    assert seen == [1]  # a worker thread: its caller already runs work side by side


def test_pass_threads_by_size_and_thread(monkeypatch):
    monkeypatch.delenv("NUMBARNN_THREADS", raising=False)
    monkeypatch.setattr(_parts, "usable_cores", lambda: 2)
    assert _parts.pass_threads(_parts.SHARED_PASS_BYTES) == 2
    assert _parts.pass_threads(_parts.SHARED_PASS_BYTES - 1) == 1  # waking a thread costs more
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_parts.pass_threads(1 << 30)))
    worker.start()
    worker.join()
    assert seen == [1]
    monkeypatch.setattr(_parts, "usable_cores", lambda: 1)
    assert _parts.pass_threads(1 << 30) == 1
    monkeypatch.setenv("NUMBARNN_THREADS", "3")
    assert _parts.pass_threads(1 << 30) == 2  # the setting, at most two halves
    assert _parts.pass_threads(16) == 1  # (and never for a short pass)
    monkeypatch.setenv("NUMBARNN_THREADS", "1")
    assert _parts.pass_threads(1 << 30) == 1


def test_in_parts_returns_every_part_in_order_and_waits_for_all():
    names = {}

    def task(part):
        names[part] = threading.current_thread().name
        return part * 10
    assert _parts.in_parts(task, 3) == [0, 10, 20]
    assert names[0] == threading.main_thread().name
    assert all(names[p].startswith("numbarnn-kernel") for p in (1, 2))
    finished = []

    def failing(part):
        if part == 0:
            raise RuntimeError("part 0")
        finished.append(part)
    with pytest.raises(RuntimeError, match="part 0"):
        _parts.in_parts(failing, 2)
    assert finished == [1]  # (the other part had ended before the error left)


@pytest.fixture
def passes_in_halves(monkeypatch):
    """Every pass over memory (a check, a copy) split between two threads, however short."""
    monkeypatch.delenv("NUMBARNN_THREADS", raising=False)
    monkeypatch.setattr(_parts, "usable_cores", lambda: 2)
    monkeypatch.setattr(_parts, "SHARED_PASS_BYTES", 0)


@pytest.mark.parametrize("bad_at", [0, 2 * 3 * 5 - 1, 2 * 3 * 5 + 17])
def test_shared_finite_check_names_the_first_bad_value(bad_at, passes_in_halves):
    from numbarnn.devices import CPU

    a, b = np.ones((2, 3, 5), np.float32), np.ones((7, 5))
    assert CPU().check_finite_all([("a", a), ("b", b)]) is None
    flat = np.concatenate([a.ravel(), b.ravel()]).astype(np.float64)
    flat[bad_at] = np.inf
    a[...], b[...] = flat[:a.size].reshape(a.shape), flat[a.size:].reshape(b.shape)
    name, index = ("a", np.unravel_index(bad_at, a.shape)) if bad_at < a.size else \
        ("b", np.unravel_index(bad_at - a.size, b.shape))
    with pytest.raises(ValueError, match=rf"^{name}: contains a non-finite value \(NaN or inf\) "
                                         rf"at index \({', '.join(map(str, index))}\)"):
        CPU().check_finite_all([("a", a), ("b", b)])


@pytest.mark.parametrize("lengths", [None, np.array([3, 1, 5])], ids=["full", "lengths"])
def test_reversed_copies_in_halves_and_in_place(lengths, passes_in_halves):
    from numbarnn.devices import CPU

    arr = np.arange(5 * 3 * 2, dtype=np.float32).reshape(5, 3, 2)
    steps = np.arange(5)[:, None]
    ends = np.full(3, 5) if lengths is None else lengths
    expected = arr[np.where(steps < ends, ends - 1 - steps, steps), np.arange(3)]
    np.testing.assert_array_equal(CPU().reverse_time(arr, lengths), expected)
    same = arr.copy()  # (in place: in one piece, as each half reads steps the other writes)
    assert CPU().reverse_time(same, lengths, same) is same
    np.testing.assert_array_equal(same, expected)
