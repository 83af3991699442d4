"""Training placement settings and the rules that keep the LSTM on its fused cuDNN kernel."""

import pytest

from rnnpipe.config import ConfigError, ModelConfig, PipelineConfig, TextConfig, build_config, lstm_cudnn_problems
from rnnpipe.models import build_model, parameter_counts
from rnnpipe.training import GpuConfigError, GpuUnavailableError, check_device


def test_placement_defaults_train_locally():
    training = PipelineConfig().training

    assert training.placement == "local"
    assert training.gpu_wait_seconds == 300.0
    assert training.require_gpu is False


def test_book_settings_keep_the_fused_kernel():
    assert lstm_cudnn_problems(TextConfig(), ModelConfig()) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"model": {"recurrent_dropout": 0.2}},
            r"placement='gpu-pool' trains the LSTM on a GPU, but model\.recurrent_dropout=0\.2 makes the "
            r"LSTM leave the fused cuDNN kernel for the slower generic one\. Set model\.recurrent_dropout=0",
        ),
        (
            {"model": {"mask_zero": True}},
            r"model\.mask_zero=true with text\.padding='pre' gives a mask that the fused cuDNN kernel "
            r"rejects, because it accepts only sequences padded at the end\. Set text\.padding='post' "
            r"or model\.mask_zero=false",
        ),
    ],
)
def test_gpu_pool_rejects_settings_that_break_the_kernel(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config({**overrides, "training": {"placement": "gpu-pool"}})


@pytest.mark.parametrize(
    ("overrides", "placement"),
    [
        ({"model": {"mask_zero": True}, "text": {"padding": "post"}}, "gpu-pool"),
        ({"model": {"recurrent_dropout": 0.2, "names": ["simple_rnn"]}}, "gpu-pool"),
        ({"model": {"recurrent_dropout": 0.2}}, "local"),
    ],
)
def test_settings_without_a_gpu_lstm_are_accepted(overrides, placement):
    config = build_config({**overrides, "training": {"placement": placement}})

    assert config.training.placement == placement


def test_gpu_wait_seconds_must_not_be_negative():
    with pytest.raises(ConfigError, match=r"training\.gpu_wait_seconds: Input should be greater than or equal to 0"):
        build_config({"training": {"gpu_wait_seconds": -1}})


def test_require_gpu_rejects_training_on_a_cpu():
    config = build_config({"training": {"require_gpu": True}})

    with pytest.raises(GpuUnavailableError, match=r"TensorFlow finds no GPU on .* to train LSTM, and training\.require_gpu is set"):
        check_device("lstm", "CPU", config)


def test_lstm_on_a_gpu_rejects_recurrent_dropout():
    config = build_config({"model": {"recurrent_dropout": 0.1}})

    with pytest.raises(GpuConfigError, match=r"The LSTM would train on the GPU NVIDIA H100 of .*, but model\.recurrent_dropout=0\.1"):
        check_device("lstm", "NVIDIA H100", config)


def test_cpu_and_simple_rnn_accept_any_recurrent_settings():
    config = build_config({"model": {"recurrent_dropout": 0.1, "mask_zero": True}})

    check_device("lstm", "CPU", config)
    check_device("simple_rnn", "NVIDIA H100", config)


@pytest.mark.parametrize("name", ["simple_rnn", "lstm"])
def test_mask_and_dropout_leave_parameter_counts_unchanged(name):
    plain = build_model(name, TextConfig(), ModelConfig())
    masked = build_model(name, TextConfig(), ModelConfig(mask_zero=True, recurrent_dropout=0.2))

    assert parameter_counts(masked) == parameter_counts(plain)
    assert masked.get_layer("embedding").mask_zero is True
    assert masked.get_layer("recurrent").recurrent_dropout == 0.2
