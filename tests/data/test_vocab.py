import nltk
import pytest

from vision_attention.data import Vocabulary, tokenize


def test_tokenize_needs_no_nltk_data(monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [])
    assert tokenize("A dog, running; isn't it? The man's hat.") == [
        "a",
        "dog",
        "running",
        "is",
        "n't",
        "it",
        "the",
        "man",
        "'s",
        "hat",
    ]


def test_vocabulary_specials_encode_decode_and_json(tmp_path):
    vocab = Vocabulary.build([["a", "dog"], ["a", "cat"], ["a", "dog", "runs"]], min_count=2)
    assert vocab.itos[:6] == ["<pad>", "<start>", "<end>", "<unk>", "a", "dog"]
    assert (vocab.pad_id, vocab.start_id, vocab.end_id, vocab.unk_id) == (0, 1, 2, 3)
    ids = vocab.encode(["a", "cat", "dog"])
    assert ids == [1, 4, 3, 5, 2]
    assert vocab.decode(ids + [4, 4]) == ["a", "<unk>", "dog"]
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == vocab
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        Vocabulary.load(tmp_path / "bad.json")
