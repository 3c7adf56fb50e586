"""Character-level training and sampling: numbarnn against PyTorch, in one run.

    python asv_benchmarks/compare_text.py                      # 300 s each, built-in corpus
    python asv_benchmarks/compare_text.py --corpus book.txt    # another text
    python asv_benchmarks/compare_text.py --throughput-only    # just the speed ratios
    python asv_benchmarks/compare_text.py --quick              # a smoke test (seconds)

Both sides get the same configuration (numbarnn's ``train-text`` defaults
unless overridden: one-hot input, LSTM, linear head, softmax cross-entropy,
Adam, global-norm clipping), the same batches (numbarnn's truncated-BPTT
streams, hidden state carried between chunks and reset each epoch), the same
initial weights and the same validation text and schedule.  So their curves
differ only by rounding and by how many steps each fits into the wall-clock
budget.

Throughput is measured apart from the budgeted runs, in alternating blocks of
training steps, and of sampled texts (numbarnn, torch, numbarnn, ...), and quoted
as medians; the time-to-quality runs go one after the other, each with the whole
machine.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from asv_benchmarks.compare_torch import alternating_medians  # noqa: E402
from numbarnn.text.sampling import Sampler  # noqa: E402
from numbarnn.text.corpus import builtin_corpus, read_corpus  # noqa: E402
from numbarnn.text.training import TextTrainer  # noqa: E402


class TorchTwin:
    """The same model, data, optimiser and evaluation as a ``TextTrainer``, in PyTorch."""

    def __init__(self, torch, trainer):
        self.torch, self.trainer = torch, trainer
        c, model = trainer.config, trainer.model
        if c["cell"] != "lstm" or c["embedding_dim"] or c["optimizer"] != "adam":
            raise SystemExit("the torch twin covers the default model: one-hot LSTM and Adam")
        nn = torch.nn
        V, H, L = model.vocab_size, model.hidden_size, model.num_layers
        self.lstm = nn.LSTM(V, H, L, dropout=c["dropout"] if L > 1 else 0.0)
        self.head = nn.Linear(H, V)
        self.lstm.load_state_dict({k[4:]: torch.from_numpy(v.copy())
                                   for k, v in model.params.items() if k.startswith("rnn.")})
        self.head.load_state_dict({k[5:]: torch.from_numpy(v.copy())
                                   for k, v in model.params.items() if k.startswith("head.")})
        self.params = list(self.lstm.parameters()) + list(self.head.parameters())
        self.opt = torch.optim.Adam(self.params, lr=c["lr"])
        self.drop = nn.Dropout(c["dropout"])
        self.V, self.clip = V, c["clip"]
        self.step = self.chunk = 0
        self.carry = None

    def forward(self, tokens, state):
        x = self.torch.nn.functional.one_hot(self.torch.from_numpy(tokens).long(),
                                             self.V).float()
        out, state = self.lstm(x, state)
        return self.head(self.drop(out)), state

    def train_step(self):
        torch, batches = self.torch, self.trainer.batches
        if self.chunk == 0:
            self.carry = None
        inputs, targets = batches.chunk(self.chunk)
        self.lstm.train()
        self.drop.train()
        logits, state = self.forward(inputs, self.carry)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, self.V),
                                                 torch.from_numpy(targets.reshape(-1)).long())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.opt.step()
        self.carry = tuple(s.detach() for s in state)
        self.step += 1
        self.chunk = (self.chunk + 1) % len(batches)
        return float(loss.detach())

    def evaluate(self):
        torch, val = self.torch, self.trainer.val_batches
        self.lstm.eval()
        self.drop.eval()
        total, state = 0.0, None
        with torch.no_grad():
            for i in range(len(val)):
                inputs, targets = val.chunk(i)
                logits, state = self.forward(inputs, state)
                total += float(torch.nn.functional.cross_entropy(
                    logits.reshape(-1, self.V), torch.from_numpy(targets.reshape(-1)).long()))
        return total / len(val)

    def state(self):
        return {k: v.detach().clone() for k, v in
                list(self.lstm.state_dict().items()) + list(self.head.state_dict().items())}

    def sample(self, length, prime, temperature=0.8, seed=0, weights=None):
        """One character at a time at batch 1, as a char-rnn script does."""
        torch = self.torch
        if weights is not None:
            lstm_keys = set(self.lstm.state_dict())
            self.lstm.load_state_dict({k: v for k, v in weights.items() if k in lstm_keys})
            self.head.load_state_dict({k: v for k, v in weights.items() if k not in lstm_keys})
        vocab = self.trainer.vocab
        gen = torch.Generator().manual_seed(seed)
        self.lstm.eval()
        out = []
        with torch.no_grad():
            state = None
            tokens = vocab.encode(prime)
            for t in tokens[:-1]:
                _, state = self.forward(np.array([[t]]), state)
            token = int(tokens[-1])
            for _ in range(length):
                logits, state = self.forward(np.array([[token]]), state)
                probs = torch.softmax(logits[0, 0] / temperature, dim=0)
                token = int(torch.multinomial(probs, 1, generator=gen))
                out.append(token)
        return vocab.decode(out)


def budgeted_run(side, seconds, eval_every, best_state):
    """Train ``side`` for ``seconds`` of wall time (evaluation included); returns its curve."""
    curve, best, best_weights, losses = [], math.inf, None, []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        losses.append(side.train_step())
        step = side.step
        if step % eval_every == 0:
            val = side.evaluate()
            elapsed = time.perf_counter() - start
            curve.append((step, elapsed, float(np.mean(losses)), val))
            losses = []
            if val < best:
                best, best_weights = val, best_state()
    val = side.evaluate()
    curve.append((side.step, time.perf_counter() - start, float(np.mean(losses or [np.nan])), val))
    if val < best:
        best, best_weights = val, best_state()
    return curve, best, best_weights


def sampling_rates(make_texts, lengths, min_seconds):
    """Characters per second of each ``make_text(n)``, for its ``n`` of ``lengths``:
    medians over alternating blocks, like the training rate (each block after an untimed
    call, which compiles and allocates)."""
    times = alternating_medians([lambda f=f, n=n: f(n) for f, n in zip(make_texts, lengths)],
                                min_seconds)
    return [n / t for n, t in zip(lengths, times)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a text file (default: the built-in corpus)")
    parser.add_argument("--seconds", type=float, default=300.0, help="wall-clock budget per side")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.corpus:
        text, name = read_corpus(args.corpus), args.corpus
    else:
        text, name = builtin_corpus()
    config = dict(hidden_size=args.hidden, num_layers=args.layers, dropout=args.dropout)
    seconds, sample_length, rate_length = args.seconds, 300, 20000
    if args.quick:
        text = text[:20000]
        config.update(hidden_size=16, batch_size=4, seq_len=16, eval_every=10)
        seconds, sample_length, rate_length = 1.0, 20, 200
    ours = TextTrainer(text, name, **config)
    theirs = TorchTwin(torch, ours)
    c = ours.config
    print(f"corpus: {name} ({len(text):,} chars, vocabulary {len(ours.vocab)}); "
          f"one-hot LSTM {c['num_layers']}x{c['hidden_size']}, batch {c['batch_size']}, "
          f"seq-len {c['seq_len']}, Adam {c['lr']}, clip {c['clip']}, dropout {c['dropout']}; "
          f"numbarnn {sys.modules['numbarnn'].__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")

    # -- training throughput: alternating blocks of steps, medians
    chars = ours.batches.chars_per_chunk
    t_ours, t_theirs = alternating_medians([ours.train_step, theirs.train_step],
                                           2.0 if args.quick else 40.0)
    print(f"\ntraining step (median): numbarnn {t_ours * 1e3:.1f} ms = {chars / t_ours:,.0f} "
          f"chars/s; torch {t_theirs * 1e3:.1f} ms = {chars / t_theirs:,.0f} chars/s; "
          f"speed-up {t_theirs / t_ours:.2f}x")

    # -- sampling throughput at batch 1
    sampler = Sampler(ours.model, ours.vocab)
    ours_rate, theirs_rate = sampling_rates(
        [lambda n: "".join(sampler.generate(n, prime="T", seed=0)),
         lambda n: theirs.sample(n, "T")], [rate_length, rate_length // 10],
        0.5 if args.quick else 20.0)
    print(f"sampling at batch 1: numbarnn {ours_rate:,.0f} chars/s; torch {theirs_rate:,.0f} "
          f"chars/s; speed-up {ours_rate / theirs_rate:.1f}x")
    if args.throughput_only:
        return 0

    # -- time to quality: fresh runs from the same start, one after the other
    results = {}
    for label in ("numbarnn", "torch"):
        trainer = TextTrainer(text, name, **config)
        side = trainer if label == "numbarnn" else TorchTwin(torch, trainer)
        state = (trainer.model.state_dict if label == "numbarnn" else side.state)
        curve, best, weights = budgeted_run(side, seconds, c["eval_every"], state)
        if label == "numbarnn":
            trainer.model.load_state_dict(weights)
            sample = "".join(Sampler(trainer.model, trainer.vocab).generate(
                sample_length, prime="The ", temperature=0.8, seed=0))
        else:
            sample = side.sample(sample_length, "The ", weights=weights)
        results[label] = (curve, best, sample)
        print(f"\n{label}: {curve[-1][0]} steps in {curve[-1][1]:.0f} s; validation loss best "
              f"{best:.4f}, final {curve[-1][3]:.4f} nats/char")
        for step, elapsed, train_loss, val in curve[:: max(1, len(curve) // 10)] + curve[-1:]:
            print(f"  step {step:6d}  {elapsed:6.1f} s  train {train_loss:.4f}  val {val:.4f}")
        print(f"  sample (best weights, temperature 0.8): {'The ' + sample!r}")
    better = results["numbarnn"][1] < results["torch"][1]
    print(f"\nbest validation loss within {seconds:.0f} s: numbarnn {results['numbarnn'][1]:.4f}, "
          f"torch {results['torch'][1]:.4f} ({'numbarnn' if better else 'torch'} lower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
