"""The reference: Chollet's IMDB experiment as a plain Keras script, timed.

It reads the same 25,000 packaged reviews as rnnpipe, tokenizes with a regex,
pads with ``keras.utils.pad_sequences`` and holds out the last 20 % with
``validation_split=0.2`` (after one seeded shuffle, since the file is sorted by
label). It prints the best validation accuracy and the wall time per model, so
the figures can be set beside an rnnpipe run on the same machine.

Usage: ``python benchmarks/plain_keras.py [--epochs 10]``
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

import numpy as np
import pandas as pd

from rnnpipe.sources import movie_reviews_path
from rnnpipe.training import configure_tensorflow

NUM_WORDS = 10_000
MAXLEN = 500


def load_sequences(seed: int) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(movie_reviews_path())
    frame = frame[frame["source"] == "imdb"].sample(frac=1.0, random_state=seed)
    token_lists = [re.findall(r"[a-z0-9']+", text.lower().replace("<br />", " ")) for text in frame["text"]]

    counts = Counter(token for tokens in token_lists for token in tokens)
    word_index = {word: rank + 3 for rank, (word, _) in enumerate(counts.most_common(NUM_WORDS - 3))}
    sequences = [[word_index.get(token, 2) for token in tokens] for tokens in token_lists]

    import keras

    return keras.utils.pad_sequences(sequences, maxlen=MAXLEN), frame["label"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1337)
    arguments = parser.parse_args()

    # The same quiet TensorFlow start-up as an rnnpipe run, so both print alike.
    configure_tensorflow()
    import keras

    started = time.perf_counter()
    x, y = load_sequences(arguments.seed)
    print(f"prepared {len(x)} sequences in {time.perf_counter() - started:.1f} s")

    for name, recurrent in (("SimpleRNN", keras.layers.SimpleRNN), ("LSTM", keras.layers.LSTM)):
        keras.utils.set_random_seed(arguments.seed)
        model = keras.Sequential(
            [
                keras.Input(shape=(MAXLEN,), dtype="int32"),
                keras.layers.Embedding(NUM_WORDS, 32),
                recurrent(32),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
        started = time.perf_counter()
        history = model.fit(
            x, y, epochs=arguments.epochs, batch_size=128, validation_split=0.2, verbose=0
        )
        seconds = time.perf_counter() - started
        best = max(history.history["val_accuracy"])
        print(f"{name}: best val_accuracy {best:.4f}, {seconds:.0f} s for {arguments.epochs} epochs")


if __name__ == "__main__":
    main()
