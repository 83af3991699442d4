import pytest

from rnnpipe.vocabulary import OOV_ID, Vocabulary


def test_fit_orders_words_by_frequency_then_alphabet():
    vocabulary = Vocabulary.fit([["b", "a", "c", "a"], ["c", "a", "d"]], num_words=6)

    assert vocabulary.word_index == {"a": 3, "c": 4, "b": 5}


def test_encode_maps_unknown_words_to_oov():
    vocabulary = Vocabulary.fit([["good", "film"]], num_words=10)

    assert vocabulary.encode(["good", "bad", "film"]) == [4, OOV_ID, 3]


def test_json_round_trip_keeps_ids(tmp_path):
    vocabulary = Vocabulary.fit([["x", "y", "y"]], num_words=10)

    loaded = Vocabulary.load(vocabulary.save(tmp_path / "vocabulary.json"))

    assert loaded == vocabulary
    assert loaded.to_json()["reserved_ids"] == {"padding": 0, "start": 1, "oov": 2}


def test_fit_rejects_num_words_without_room_for_words():
    with pytest.raises(ValueError, match=r"num_words must be greater than 3.*Received: num_words=3"):
        Vocabulary.fit([["a"]], num_words=3)
