"""The train stage: fit one model on the padded splits and save what it learned.

Files written into the model's folder: ``model.keras`` (the weights of the epoch
with the best validation accuracy), ``history.json`` (per-epoch figures),
``metrics.json`` (the headline figures) and ``predictions.parquet`` (one row per
validation or test review).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from rnnpipe import storage
from rnnpipe.config import MODEL_DISPLAY_NAMES, PipelineConfig, lstm_cudnn_problems
from rnnpipe.dataset import load_sequences
from rnnpipe.errors import RnnpipeError

logger = logging.getLogger(__name__)


class EmptySplitError(RnnpipeError, ValueError):
    """A training or validation split without rows, found before training starts."""


class GpuUnavailableError(RnnpipeError):
    """No GPU for a model although ``training.require_gpu`` is set."""


class GpuConfigError(RnnpipeError):
    """Settings that keep the LSTM from its fused cuDNN kernel on a GPU."""


def configure_tensorflow() -> str:
    """Silence TensorFlow's start-up logging, enable GPU memory growth and name the device.

    Memory growth lets two training processes share one GPU instead of the first
    one taking all of its memory. Call this before anything imports Keras.

    Returns:
        The GPU's name when TensorFlow finds one, else ``"CPU"``.
    """
    # TensorFlow 2.21 writes oneDNN and CUDA-driver notes to stderr from C++
    # before its log level applies. On a machine without a GPU it also writes a
    # failed cuInit as an error line. Users take both for failures, so native
    # stderr is muted here. Python exceptions still propagate, and the run
    # records the device that was found.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    # TensorFlow's Python logger warns about tf.function retracing when models of
    # different shapes predict in one process, which is expected here.
    tf.get_logger().setLevel(logging.ERROR)
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # The GPU was already initialised by an earlier call in this process,
            # with the setting that call chose.
            pass
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", gpus[0].name))


def check_device(name: str, device: str, config: PipelineConfig) -> None:
    """Reject training ``name`` on ``device`` before it starts, when the settings forbid it.

    Args:
        name: the model, such as ``"lstm"``.
        device: the name ``configure_tensorflow`` returned: a GPU's name or ``"CPU"``.
        config: the run's configuration.
    """
    host = socket.gethostname()
    if device == "CPU" and config.training.require_gpu:
        raise GpuUnavailableError(
            f"TensorFlow finds no GPU on {host} to train {MODEL_DISPLAY_NAMES[name]}, and "
            "training.require_gpu is set. Run the model on a GPU worker "
            "(training.placement='gpu-pool'), or set training.require_gpu=false to allow the CPU."
        )
    if device != "CPU" and name == "lstm":
        problems = lstm_cudnn_problems(config.text, config.model)
        if problems:
            raise GpuConfigError(
                f"The LSTM would train on the GPU {device} of {host}, but " + "; ".join(problems) + "."
            )


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to /dev/null for a moment."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _epoch_logger(name: str, epochs: int, report_epoch: Callable[[str], None] | None):
    import keras

    class EpochLogger(keras.callbacks.Callback):
        """Log each epoch's figures as it ends, pass them to ``report_epoch`` and keep its duration."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch_seconds: list[float] = []
            self._started = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds = time.perf_counter() - self._started
            self.epoch_seconds.append(seconds)
            logs = logs or {}
            message = (
                f"{MODEL_DISPLAY_NAMES[name]} epoch {epoch + 1}/{epochs}: "
                f"loss {logs.get('loss', float('nan')):.4f}, "
                f"accuracy {logs.get('accuracy', float('nan')):.4f}, "
                f"val_loss {logs.get('val_loss', float('nan')):.4f}, "
                f"val_accuracy {logs.get('val_accuracy', float('nan')):.4f} ({seconds:.1f} s)"
            )
            logger.info(message)
            if report_epoch is not None:
                report_epoch(message)

    return EpochLogger()


def train_model(
    name: str,
    dataset_dir: Path,
    config: PipelineConfig,
    output_dir: Path,
    report_epoch: Callable[[str], None] | None = None,
    *,
    placement: str = "local",
    prefect_worker: str | None = None,
    flow_run_id: str | None = None,
) -> dict:
    """Train model ``name`` on the padded splits in ``dataset_dir`` and write its files.

    ``report_epoch`` receives one line of figures as each epoch ends, so a caller
    such as a Prefect task can show progress in its own log. ``placement``,
    ``prefect_worker`` and ``flow_run_id`` record where the model trained. They are
    copied into the metrics beside the device and the host name.

    Returns:
        The ``metrics.json`` document.

    Raises:
        GpuUnavailableError: when ``training.require_gpu`` is set and TensorFlow
            finds no GPU.
        GpuConfigError: when the model is the LSTM, TensorFlow finds a GPU and the
            settings keep the LSTM from its fused cuDNN kernel.
    """
    device = configure_tensorflow()
    check_device(name, device, config)
    import keras

    from rnnpipe.models import build_model, parameter_counts

    x_train, y_train, _ = load_sequences(dataset_dir / "train.parquet")
    x_val, y_val, val_ids = load_sequences(dataset_dir / "validation.parquet")
    if len(x_train) == 0 or len(x_val) == 0:
        raise EmptySplitError(
            f"Cannot train {name}: the training split in {dataset_dir} has {len(x_train)} rows "
            f"and the validation split {len(x_val)}. Use a source with more reviews, or keep "
            "validation.severity.splits at 'fail' so the gate stops such a run first."
        )

    keras.utils.set_random_seed(config.training.seed)
    network = build_model(name, config.text, config.model)
    network.compile(optimizer=config.training.optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    epoch_logger = _epoch_logger(name, config.training.epochs, report_epoch)

    with tempfile.TemporaryDirectory(prefix="rnnpipe-checkpoint-") as checkpoint_dir:
        # Validation accuracy swings by several points between epochs with
        # rmsprop, so the best epoch's weights are kept rather than the last.
        checkpoint_path = Path(checkpoint_dir) / "best.weights.h5"
        checkpoint = keras.callbacks.ModelCheckpoint(
            checkpoint_path, monitor="val_accuracy", mode="max", save_best_only=True, save_weights_only=True
        )
        started = time.perf_counter()
        fitted = network.fit(
            x_train,
            y_train.astype("float32"),
            batch_size=config.training.batch_size,
            epochs=config.training.epochs,
            validation_data=(x_val, y_val.astype("float32")),
            shuffle=True,
            callbacks=[checkpoint, epoch_logger],
            verbose=0,
        )
        train_seconds = time.perf_counter() - started
        network.load_weights(checkpoint_path)

    history = {"epoch": [epoch + 1 for epoch in fitted.epoch]}
    history.update({key: [float(value) for value in values] for key, values in fitted.history.items()})
    history["epoch_seconds"] = [round(seconds, 3) for seconds in epoch_logger.epoch_seconds]
    best_index = int(np.argmax(history["val_accuracy"]))

    predictions = [_predict(network, x_val, y_val, val_ids, "validation", config.training.batch_size)]
    test_accuracy = None
    test_path = dataset_dir / "test.parquet"
    x_test, y_test, test_ids = load_sequences(test_path)
    if len(x_test):
        predictions.append(_predict(network, x_test, y_test, test_ids, "test", config.training.batch_size))
        test_accuracy = _accuracy(predictions[-1])

    metrics = {
        "model": name,
        "display_name": MODEL_DISPLAY_NAMES[name],
        "params": parameter_counts(network),
        "epochs": config.training.epochs,
        "best_epoch": best_index + 1,
        "best_val_accuracy": round(history["val_accuracy"][best_index], 6),
        "best_val_loss": round(history["val_loss"][best_index], 6),
        "final_val_accuracy": round(history["val_accuracy"][-1], 6),
        "restored_val_accuracy": _accuracy(predictions[0]),
        "test_accuracy": test_accuracy,
        "train_seconds": round(train_seconds, 3),
        "mean_epoch_seconds": round(float(np.mean(epoch_logger.epoch_seconds)), 3),
        "train_rows": int(len(x_train)),
        "validation_rows": int(len(x_val)),
        "test_rows": int(len(x_test)),
        "device": device,
        "worker": socket.gethostname(),
        "prefect_worker": prefect_worker,
        "placement": placement,
        "flow_run_id": flow_run_id,
        "tensorflow_version": _tensorflow_version(),
        "keras_version": keras.__version__,
    }

    storage.write_atomically(output_dir / "model.keras", network.save)
    storage.write_json(output_dir / "history.json", history)
    storage.write_parquet(output_dir / "predictions.parquet", pa.concat_tables(predictions))
    storage.write_json(output_dir / "metrics.json", metrics)
    logger.info(
        "trained %s on %d reviews in %.1f s on %s: best val_accuracy %.4f at epoch %d of %d",
        metrics["display_name"],
        metrics["train_rows"],
        train_seconds,
        device,
        metrics["best_val_accuracy"],
        metrics["best_epoch"],
        metrics["epochs"],
    )
    return metrics


def _predict(network, x: np.ndarray, y: np.ndarray, review_ids: list[str], split: str, batch_size: int) -> pa.Table:
    probability = network.predict(x, batch_size=batch_size, verbose=0).reshape(-1).astype(np.float32)
    return pa.table(
        {
            "review_id": pa.array(review_ids, type=pa.string()),
            "split": pa.array([split] * len(review_ids), type=pa.string()),
            "label": pa.array(y, type=pa.int8()),
            "probability": pa.array(probability, type=pa.float32()),
            "prediction": pa.array((probability >= 0.5).astype(np.int8), type=pa.int8()),
        }
    )


def _accuracy(predictions: pa.Table) -> float:
    labels = predictions.column("label").to_numpy()
    predicted = predictions.column("prediction").to_numpy()
    return round(float(np.mean(labels == predicted)), 6)


def _tensorflow_version() -> str:
    import tensorflow as tf

    return tf.__version__
