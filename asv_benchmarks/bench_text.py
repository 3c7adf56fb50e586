"""The text generator: one training step and sampling, at train-text's default sizes."""
from numbarnn.text.sampling import Sampler
from numbarnn.text.training import TextTrainer

# a deterministic synthetic text with a vocabulary of about 90 characters, long
# enough for one epoch of a few dozen steps at batch 32 x seq-len 64
_ALPHABET = "".join(chr(c) for c in range(32, 122)) + "\n"


def synthetic_text(chars=100_000):
    return "".join(_ALPHABET[(i * i + 7 * i) % len(_ALPHABET)] for i in range(chars))


class TextGenerator:
    params = ([1, 2], ["lstm", "rnn"])
    param_names = ["layers", "cell"]
    timeout = 300
    sizes = {"hidden_size": 256, "batch_size": 32, "seq_len": 64}
    text_chars = 100_000
    sample_chars = 2000

    def setup(self, layers, cell):
        self.trainer = TextTrainer(synthetic_text(self.text_chars), num_layers=layers, cell=cell,
                                   **self.sizes)
        self.trainer.train_step()  # compile / load and size buffers
        self.sampler = Sampler(self.trainer.model, self.trainer.vocab)
        self.time_generate(layers, cell)

    def time_train_step(self, layers, cell):
        """One truncated-BPTT step: forward, loss, backward, clipping, Adam."""
        self.trainer.train_step()

    def time_generate(self, layers, cell):
        """``sample_chars`` characters, one at a time at batch 1."""
        for _ in self.sampler.generate(self.sample_chars, seed=0):
            pass

    def peakmem_train_step(self, layers, cell):
        self.trainer.train_step()
