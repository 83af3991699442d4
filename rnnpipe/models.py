"""Keras builders for the recurrent classifiers that rnnpipe compares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnnpipe.config import MODEL_DISPLAY_NAMES, ModelConfig, TextConfig

if TYPE_CHECKING:
    import keras


def build_model(name: str, text: TextConfig, model: ModelConfig) -> keras.Model:
    """Build Embedding(num_words, embedding_dim) -> SimpleRNN or LSTM(units) -> Dense(1, sigmoid).

    The LSTM keeps Keras' default activations, which lets TensorFlow use the
    fused cuDNN kernel on a GPU unless ``model.recurrent_dropout`` is above 0 or
    ``model.mask_zero`` masks front-padded sequences (see
    ``rnnpipe.config.lstm_cudnn_problems``). Front padding needs no mask: the
    zeros come before the words, so the last state has read the whole review.
    """
    import keras

    recurrent_layers = {
        "simple_rnn": lambda: keras.layers.SimpleRNN(
            model.units, recurrent_dropout=model.recurrent_dropout, name="recurrent"
        ),
        "lstm": lambda: keras.layers.LSTM(
            model.units, recurrent_dropout=model.recurrent_dropout, name="recurrent"
        ),
    }
    if name not in recurrent_layers:
        raise ValueError(
            f"Unknown model name {name!r}. Expected one of: {', '.join(recurrent_layers)}."
        )

    network = keras.Sequential(
        [
            keras.Input(shape=(text.maxlen,), dtype="int32", name="tokens"),
            keras.layers.Embedding(
                text.num_words, model.embedding_dim, mask_zero=model.mask_zero, name="embedding"
            ),
            recurrent_layers[name](),
            keras.layers.Dense(1, activation="sigmoid", name="classifier"),
        ],
        name=MODEL_DISPLAY_NAMES[name],
    )
    return network


def parameter_counts(network: keras.Model) -> dict[str, int]:
    """Count the weights of each layer: embedding, recurrent, dense and the total."""
    counts = {
        "embedding": network.get_layer("embedding").count_params(),
        "recurrent": network.get_layer("recurrent").count_params(),
        "dense": network.get_layer("classifier").count_params(),
    }
    counts["total"] = network.count_params()
    return counts
