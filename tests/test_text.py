"""Corpus reading, the built-in corpus, the vocabulary and the truncated-BPTT batches."""
import numpy as np
import pytest

from numbarnn.text.corpus import (StreamBatches, Vocabulary, builtin_corpus, read_corpus,
                                  split_text, text_fingerprint)


# ------------------------------------------------------------------------------ vocabulary
def test_vocabulary_is_sorted_and_round_trips():
    text = "héllo wörld 😀\n"
    vocab = Vocabulary.from_text(text)
    assert vocab.chars == sorted(set(text))
    tokens = vocab.encode(text)
    assert tokens.dtype == np.int32 and tokens.shape == (len(text),)
    assert [vocab.chars[t] for t in tokens] == list(text)
    assert vocab.decode(tokens) == text
    assert len(vocab) == len(set(text))


def test_vocabulary_lists_unknown_characters():
    vocab = Vocabulary("abc")
    assert vocab.unknown("abxzx") == ["x", "z"]
    with pytest.raises(ValueError, match=r"2 character\(s\) the model never saw: 'x' 'z'"):
        vocab.encode("abxzx")


@pytest.mark.parametrize("bad", ["", ["ab"], [1]])
def test_vocabulary_refuses_bad_characters(bad):
    with pytest.raises(ValueError, match="vocabulary"):
        Vocabulary(bad)


# ------------------------------------------------------------------------------ reading
def test_read_corpus_utf8_and_other_encodings(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("naïve café".encode("utf-8"))
    assert read_corpus(path) == "naïve café"
    path.write_bytes("naïve café".encode("latin-1"))
    assert read_corpus(path, encoding="latin-1") == "naïve café"


def test_read_corpus_reports_the_byte_offset_of_invalid_bytes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"abc\xffdef")
    with pytest.raises(ValueError, match=r"not valid utf-8 at byte offset 3.*--encoding"):
        read_corpus(path)


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"), ("directory", "is a directory"), ("empty", "the file is empty"),
])
def test_read_corpus_bad_paths(tmp_path, case, message):
    path = tmp_path / "c.txt"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    with pytest.raises(ValueError, match=message):
        read_corpus(path)


def test_read_corpus_unknown_encoding(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("abc")
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        read_corpus(path, encoding="klingon")


# ------------------------------------------------------------------------------ built-in corpus
def test_builtin_corpus_is_deterministic_and_capped(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache1"))
    text, description = builtin_corpus(max_chars=20_000)
    assert len(text) == 20_000
    assert "standard library" in description and "20,000" in description
    # parsed again from scratch (another cache), the same text
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache2"))
    again, _ = builtin_corpus(max_chars=20_000)
    assert again == text
    # and from the cache it wrote
    cached, _ = builtin_corpus(max_chars=20_000)
    assert cached == text
    assert any((tmp_path / "cache2" / "numbarnn").iterdir())


def test_builtin_corpus_without_a_writable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    text, _ = builtin_corpus(max_chars=5_000)
    assert len(text) == 5_000


# ------------------------------------------------------------------------------ split and batches
def test_split_text_holds_out_the_end():
    train, val = split_text("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")
    assert split_text("abc", 0.0) == ("abc", "")
    with pytest.raises(ValueError, match="--val-frac"):
        split_text("abc", 1.0)


def test_stream_batches_lay_contiguous_streams_side_by_side():
    tokens = np.arange(103)
    batches = StreamBatches(tokens, batch_size=4, seq_len=5)
    length = (103 - 1) // 4  # 25 steps per stream
    assert len(batches) == length // 5 == 5
    for i in range(len(batches)):
        x, y = batches.chunk(i)
        assert x.shape == y.shape == (5, 4)
        for b in range(4):
            start = b * length + i * 5
            np.testing.assert_array_equal(x[:, b], tokens[start:start + 5])
            np.testing.assert_array_equal(y[:, b], tokens[start + 1:start + 6])
    # each chunk continues the previous one in every stream
    for i in range(1, len(batches)):
        assert np.all(batches.chunk(i)[0][0] == batches.chunk(i - 1)[0][-1] + 1)


def test_stream_batches_need_one_full_batch():
    StreamBatches(np.arange(21), batch_size=4, seq_len=5)  # exactly B * S + 1
    with pytest.raises(ValueError, match=r"has 20 characters; one batch of 4 sequences of 5 "
                                         r"needs at least 21"):
        StreamBatches(np.arange(20), batch_size=4, seq_len=5, what="training text")


def test_fingerprint_tells_texts_apart():
    assert text_fingerprint("abc") == text_fingerprint("abc") != text_fingerprint("abd")
