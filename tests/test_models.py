import numpy as np
import pytest

from rnnpipe.config import ModelConfig, TextConfig
from rnnpipe.models import build_model, parameter_counts


@pytest.mark.parametrize(
    ("name", "recurrent_params"),
    [("simple_rnn", 2_080), ("lstm", 8_320)],
)
def test_book_sizes_give_book_parameter_counts(name, recurrent_params):
    network = build_model(name, TextConfig(), ModelConfig())

    assert parameter_counts(network) == {
        "embedding": 320_000,
        "recurrent": recurrent_params,
        "dense": 33,
        "total": 320_000 + recurrent_params + 33,
    }


def test_model_outputs_one_probability_per_review():
    network = build_model("lstm", TextConfig(num_words=20, maxlen=7), ModelConfig(embedding_dim=4, units=3))

    probabilities = network.predict(np.zeros((5, 7), dtype="int32"), verbose=0)

    assert probabilities.shape == (5, 1)
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_unknown_model_name_is_rejected():
    with pytest.raises(ValueError, match=r"Unknown model name 'gru'\. Expected one of: simple_rnn, lstm\."):
        build_model("gru", TextConfig(), ModelConfig())
