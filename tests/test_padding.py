import keras
import numpy as np
import pytest

from rnnpipe.padding import pad_sequences

SEQUENCES = [[1, 2, 3, 4], [5], [], [6, 7]]


def test_maxlen_two_pins_both_ends():
    assert pad_sequences(SEQUENCES, 2, "pre", "pre").tolist() == [[3, 4], [0, 5], [0, 0], [6, 7]]
    assert pad_sequences(SEQUENCES, 2, "post", "post").tolist() == [[1, 2], [5, 0], [0, 0], [6, 7]]
    assert pad_sequences(SEQUENCES, 2, "pre", "post").tolist() == [[1, 2], [0, 5], [0, 0], [6, 7]]
    assert pad_sequences(SEQUENCES, 2, "post", "pre").tolist() == [[3, 4], [5, 0], [0, 0], [6, 7]]


@pytest.mark.parametrize("maxlen", [1, 2, 3, 5])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_matches_keras_pad_sequences(maxlen, padding, truncating):
    expected = keras.utils.pad_sequences(
        SEQUENCES, maxlen=maxlen, padding=padding, truncating=truncating, dtype="int32"
    )

    padded = pad_sequences(SEQUENCES, maxlen, padding, truncating)

    assert padded.dtype == np.int32
    np.testing.assert_array_equal(padded, expected)


def test_rejects_zero_maxlen():
    with pytest.raises(ValueError, match=r"maxlen must be at least 1\. Received: maxlen=0"):
        pad_sequences(SEQUENCES, 0)


def test_rejects_unknown_padding_end():
    with pytest.raises(ValueError, match=r"padding must be 'pre' or 'post'\. Received: padding='middle'"):
        pad_sequences(SEQUENCES, 2, padding="middle")
