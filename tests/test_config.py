import pytest

from rnnpipe.config import ConfigError, PipelineConfig, build_config, describe_preset


def test_defaults_are_the_book_settings():
    config = PipelineConfig()

    assert config.text.num_words == 10_000
    assert config.text.maxlen == 500
    assert (config.text.padding, config.text.truncating) == ("pre", "pre")
    assert (config.model.embedding_dim, config.model.units) == (32, 32)
    assert config.model.names == ["simple_rnn", "lstm"]
    assert config.training.optimizer == "rmsprop"
    assert (config.training.batch_size, config.training.epochs) == (128, 10)
    assert config.training.validation_fraction == 0.2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"text": {"maxlen": 0}}, r"text\.maxlen: Input should be greater than or equal to 1\. Received: text\.maxlen=0"),
        ({"text": {"num_words": 2}}, r"text\.num_words: Input should be greater than or equal to 4\. Received: text\.num_words=2"),
        ({"model": {"names": ["gru"]}}, r"model\.names\.0: Input should be 'simple_rnn' or 'lstm'\. Received: model\.names\.0='gru'"),
        (
            {"training": {"validation_fraction": 1.5}},
            r"training\.validation_fraction: Input should be less than 1\. Received: training\.validation_fraction=1\.5",
        ),
        ({"text": {"padding": "middle"}}, r"text\.padding: Input should be 'pre' or 'post'\. Received: text\.padding='middle'"),
        ({"text": {"max_len": 10}}, r"text\.max_len: Extra inputs are not permitted\. Received: text\.max_len=10"),
        ({"model": {"names": ["lstm", "lstm"]}}, r"model names must be unique\. Received: names=\['lstm', 'lstm'\]"),
    ],
)
def test_invalid_values_are_rejected(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config(overrides)


def test_unknown_preset_is_rejected():
    with pytest.raises(ConfigError, match=r"Unknown preset 'fast'\. Expected one of: book, quick\."):
        build_config(preset="fast")


def test_quick_preset_keeps_overrides_on_top():
    config = build_config({"training": {"epochs": 7}}, preset="quick")

    assert config.training.epochs == 7
    assert config.text.maxlen == 200
    assert config.data.limit == 5_000


def test_describe_preset_lists_quick_settings():
    assert describe_preset("quick") == (
        "data.limit=5,000, text.num_words=5,000, text.maxlen=200, training.epochs=3, training.batch_size=32"
    )


def test_blank_path_means_no_path():
    config = build_config({"data": {"path": "  "}})

    assert config.data.path is None
