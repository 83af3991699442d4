"""Render a run's summary as Markdown and as one self-contained HTML page.

Both renderers are pure functions of the summary from ``rnnpipe.summary.summarize_run``
and share the tables and sentences below, so report.md, report.html and the Prefect
Markdown artifact state the same figures. Sections without input (no predictions, no
champion decision, no trend, no health figures) are left out.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from rnnpipe.statistics import format_p_value, format_points
from rnnpipe.summary import SPLITS
from rnnpipe.trend import points_text

REPORT_FOLDER = "report"
LEARNING_CURVES_FILE = "learning_curves.png"
TREND_FILE = "trend.png"
# Relative to report/report.html and report/report.md in the run folder.
RUN_FOLDER_FROM_REPORT = ".."
# Only inline styles and data: images load, so the page fetches nothing even if a
# value in it were to contain markup.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# --- the headline ---------------------------------------------------------------


def headline_sentences(summary: dict) -> list[str]:
    """Return the sentences that open the report: the comparison and the champion decision."""
    sentences = []
    if summary["comparison_sentence"]:
        sentences.append(summary["comparison_sentence"])
    if summary.get("champion"):
        sentences.append(f"Champion: {summary['champion']['sentence']}")
    return sentences


def _drift_warnings(summary: dict) -> list[str]:
    trend = summary.get("trend")
    if not trend or not trend["flags"]:
        return []
    return [f"Drift: {flag}" for flag in trend["flags"]]


# --- is the difference real? ----------------------------------------------------


def _evaluation_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    evaluation = summary["evaluation"]
    headers = ["model", f"{evaluation['split']} accuracy", "95 % interval (Wilson)", "reviews"]
    rows = [
        [
            model["display_name"],
            _percent(model["accuracy"]),
            _interval_percent(model["accuracy_interval"]),
            f"{model['rows']:,}",
        ]
        for model in evaluation["models"]
    ]
    return headers, rows


def _comparison_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    headers = [
        "comparison",
        "difference",
        "95 % CI (bootstrap)",
        "McNemar p",
        "only the leader right",
        "only the other right",
        "verdict",
    ]
    rows = []
    for comparison in summary["evaluation"]["comparisons"]:
        low, high = comparison["difference_interval_points"]
        rows.append(
            [
                f"{comparison['leader']['display_name']} vs {comparison['trailer']['display_name']}",
                f"+{format_points(comparison['difference_points'])} points",
                f"{format_points(low)} to {format_points(high)}",
                format_p_value(comparison["mcnemar"]["p_value"]).removeprefix("p ").removeprefix("= "),
                f"{comparison['mcnemar']['only_leader_correct']:,}",
                f"{comparison['mcnemar']['only_trailer_correct']:,}",
                "clear difference" if comparison["clear"] else "no clear difference",
            ]
        )
    return headers, rows


def _evaluation_note(summary: dict) -> str:
    evaluation = summary["evaluation"]
    rows = evaluation["models"][0]["rows"] if evaluation["models"] else 0
    note = (
        f"Accuracy on the {rows:,} {evaluation['split']} reviews, with each model's weights from "
        "its best epoch. The interval of one accuracy is a 95 % Wilson score interval. The "
        "interval of a difference is a 95 % percentile bootstrap over reviews, each review "
        f"keeping both models' outcomes ({evaluation['bootstrap_resamples']:,} resamples, seed "
        f"{evaluation['seed']}). McNemar's exact test is a two-sided binomial test on the "
        "reviews where exactly one model is right. A difference is clear when its interval "
        "excludes zero."
    )
    if evaluation["split"] == "validation":
        note += (
            " The source has no test split, so the validation split is used. It also chose "
            "each model's best epoch, which makes these accuracies slightly optimistic."
        )
    return note


# --- the champion ---------------------------------------------------------------


def _champion_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    decision = summary["champion"]
    headers = ["", "model", "run", f"accuracy on this run's {decision['split']} reviews", "accuracy when promoted"]
    challenger = decision["challenger"]
    rows = [["challenger", challenger["display_name"], challenger["run_id"], _percent(challenger["accuracy"]), "–"]]
    champion = decision["champion"]
    if champion is not None:
        rows.append(
            [
                "champion",
                champion["display_name"],
                champion["run_id"],
                _percent(champion["accuracy"]),
                _percent(champion["accuracy_when_promoted"]),
            ]
        )
    return headers, rows


def _champion_facts(summary: dict) -> list[str]:
    decision = summary["champion"]
    facts = [f"Decision: {decision['decision']}. {decision['reason']}"]
    if decision["comparison"] is not None:
        facts.append(decision["comparison"]["sentence"])
    if decision["champion_reencoded"]:
        facts.append(
            "The champion was trained with another vocabulary or other text settings, so this "
            "run's reviews were encoded again with the champion run's vocabulary.json, maxlen, "
            "padding and truncating before it predicted them."
        )
    facts.append(
        f"The promotion margin is {decision['margin_points']:g} points (report.promotion_margin_points). "
        "champion.json in the artifact root moves only when a run with a 'promote' decision completes."
    )
    return facts


# --- the trend across runs ------------------------------------------------------


def _trend_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    runs = summary["trend"]["runs"]
    names = []
    for run in runs:
        names += [name for name in run["models"] if name not in names]
    show_test = any(model.get("test_accuracy") is not None for run in runs for model in run["models"].values())

    headers = ["run"]
    for name in names:
        display_name = next(run["models"][name]["display_name"] for run in runs if name in run["models"])
        headers.append(f"{display_name} validation")
        if show_test:
            headers.append(f"{display_name} test")
    headers += ["training time", "reviews", "positive share", "OOV rate", "champion decision", "drift flags"]

    rows = []
    for run in runs:
        label = run["run_id"] + (" (this run)" if run["run_id"] == summary["run_id"] else "")
        row = [label]
        for name in names:
            model = run["models"].get(name, {})
            row.append(_percent(model.get("val_accuracy")))
            if show_test:
                row.append(_percent(model.get("test_accuracy")))
        row += [
            _seconds(run["train_seconds"]),
            f"{run['rows']:,}",
            _percent(run["positive_share"]),
            _percent(run["oov_rate"], decimals=2),
            run["champion_decision"] or "–",
            str(len(run["flags"])) if run["flags"] else "–",
        ]
        rows.append(row)
    return headers, rows


def _trend_facts(summary: dict) -> list[str]:
    trend = summary["trend"]
    thresholds = trend["thresholds"]
    run_count = len(trend["runs"])
    facts = [
        f"{run_count} {'run' if run_count == 1 else 'runs'}, oldest first: the completed runs before this "
        f"one and this run, at most {thresholds['trend_runs']} (report.trend_runs). Validation "
        "accuracy is each model's best epoch.",
        f"A run is flagged when a model's accuracy moves more than "
        f"{points_text(thresholds['drift_threshold_points'])} from the run before, the positive "
        f"share more than {points_text(thresholds['balance_drift_points'])}, the OOV rate more "
        f"than {points_text(thresholds['oov_drift_points'])}, the number of reviews more than "
        f"{thresholds['row_count_drift_percent']:g} % or the training time more than "
        f"{thresholds['train_time_drift_percent']:g} %.",
    ]
    for run in trend["runs"]:
        facts += [f"Run {run['run_id']}: {flag}" for flag in run["flags"]]
    facts += [f"Run {item['run_id']} was left out: {item['reason']}" for item in trend["skipped"]]
    return facts


# --- the data's health ----------------------------------------------------------


def _health_facts(summary: dict) -> list[str]:
    health = summary["health"]
    facts = []
    if health["rows_in"] is not None:
        facts.append(f"{health['rows_in']:,} reviews were accepted at ingest, after rejected rows and any data.limit sample.")
    if health["rejected"] is None:
        facts.append("The ingest stage wrote no rejected.parquet, so no rejected rows are recorded.")
    else:
        facts.append(_rows_with_reasons(health["rejected"], "were rejected at ingest"))
    if health["set_aside"] is not None:
        facts.append(_rows_with_reasons(health["set_aside"], "were set aside before padding"))
    facts.append(f"{health['rows_padded']:,} reviews were padded for training, validation and test.")
    if health["truncated_share"] is not None:
        facts.append(f"{_percent(health['truncated_share'])} of the padded reviews were truncated.")
    if health["oov_rate"] is not None:
        facts.append(f"{_percent(health['oov_rate'], decimals=2)} of tokens are out of vocabulary.")
    facts.append(_validation_sentence(health["validation"]))
    return facts


def _validation_sentence(validation: dict | None) -> str:
    if validation is None:
        return "No validation result was found in the run's validation folder."
    met = validation["evaluated"] - validation["failed"] - validation["warned"]
    suites = ", ".join(suite["suite"] for suite in validation["suites"])
    sentence = (
        f"The validation gate {'passed' if validation['success'] else 'failed'}: {met} of "
        f"{validation['evaluated']} expectations met over the suites {suites}"
    )
    if validation["failed_expectations"]:
        sentence += f". Failed: {', '.join(validation['failed_expectations'])}"
    if validation["warned_expectations"]:
        sentence += f". Warnings: {', '.join(validation['warned_expectations'])}"
    return sentence + "."


def _rows_with_reasons(counts: dict, what_happened: str) -> str:
    noun = "review" if counts["rows"] == 1 else "reviews"
    text = f"{counts['rows']:,} {noun} {what_happened}"
    if counts["reasons"]:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in counts["reasons"].items())
        text += f", by reason: {reasons}"
    return text + "."


def _data_docs_links(summary: dict) -> list[tuple[str, str]]:
    """Return ``(text, relative link)`` for each suite's Data Docs, relative to the report."""
    health = summary.get("health") or {}
    return [
        (f"Data Docs of the {docs['suite']} suite", f"{RUN_FOLDER_FROM_REPORT}/{docs['path']}")
        for docs in health.get("data_docs") or []
    ]


# --- the tables and sentences both renderers share -------------------------------


def _accuracy_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    models = summary["models"]
    show_test = any(model["test_accuracy"] is not None for model in models)
    headers = [
        "model",
        "best validation accuracy",
        "best epoch",
        "book",
        "difference from book",
        "final validation accuracy",
    ]
    if show_test:
        headers.append("test accuracy")

    rows = []
    for model in models:
        row = [
            model["display_name"],
            _percent(model["best_val_accuracy"]),
            f"{model['best_epoch']} of {model['epochs']}",
            _percent(model["book_val_accuracy"], decimals=0),
            _signed_points(model["difference_from_book_points"]),
            _percent(model["final_val_accuracy"]),
        ]
        if show_test:
            row.append(_percent(model["test_accuracy"]))
        rows.append(row)
    return headers, rows


def _size_and_time_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    headers = [
        "model",
        "embedding",
        "recurrent",
        "dense",
        "total parameters",
        "training time",
        "time per epoch",
        "device",
    ]
    rows = [
        [
            model["display_name"],
            f"{model['params']['embedding']:,}",
            f"{model['params']['recurrent']:,}",
            f"{model['params']['dense']:,}",
            f"{model['params']['total']:,}",
            _seconds(model["train_seconds"]),
            _seconds(model["mean_epoch_seconds"]),
            model["device"],
        ]
        for model in summary["models"]
    ]
    return headers, rows


def _epoch_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    models = summary["models"]
    epoch_count = max(len(model["val_accuracy_by_epoch"]) for model in models)
    headers = ["epoch"] + [model["display_name"] for model in models]
    rows = []
    for index in range(epoch_count):
        row = [str(index + 1)]
        for model in models:
            values = model["val_accuracy_by_epoch"]
            row.append(_percent(values[index]) if index < len(values) else "–")
        rows.append(row)
    return headers, rows


def _dataset_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    dataset = summary["dataset"]
    headers = ["split", "reviews", "positive share"]
    rows = [
        [split, f"{dataset['rows'][split]:,}", _percent(dataset["positive_share"][split])]
        for split in SPLITS
    ]
    return headers, rows


def _dataset_facts(summary: dict) -> list[str]:
    dataset = summary["dataset"]
    source_facts = []
    if not dataset.get("text_available", True):
        source_facts.append(
            "The review text was not available: the source gave word ids (a Keras imdb.npz), "
            "so the text was not cleaned or tokenized and no vocabulary was fitted."
        )
    return [
        *source_facts,
        dataset["truncation_sentence"],
        f"{dataset['truncated_count']:,} reviews ({_percent(dataset['truncated_share'])}) "
        f"were longer than {dataset['maxlen']} tokens and were truncated.",
        dataset["padding_sentence"],
        f"{_percent(dataset['oov_rate'])} of tokens are out of vocabulary "
        f"(num_words={dataset['num_words']:,}, reserved ids included).",
        f"{dataset['empty_after_cleaning']:,} reviews were empty after cleaning and were "
        "set aside.",
    ]


def _settings_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["setting", "this run", "book"]
    rows = [
        [name, _setting_value(name, value), _setting_value(name, summary["book_settings"][name])]
        for name, value in summary["settings"].items()
    ]
    return headers, rows


def _settings_sentence(summary: dict) -> str:
    differing = summary["settings_differing_from_book"]
    if not differing:
        return "Every setting matches the book."
    changes = [
        f"{item['setting']} ({_setting_value(item['setting'], item['value'])} instead of "
        f"{_setting_value(item['setting'], item['book_value'])})"
        for item in differing
    ]
    return f"Settings that differ from the book: {', '.join(changes)}."


def _training_facts(summary: dict) -> list[str]:
    facts = []
    for model in summary["models"]:
        where = f"{model['display_name']} trained on {model['device']}"
        if model["worker"]:
            where += f" on {model['worker']}"
        if model.get("prefect_worker"):
            where += f" (Prefect worker {model['prefect_worker']})"
        versions = [
            f"{library} {model[key]}"
            for library, key in (("TensorFlow", "tensorflow_version"), ("Keras", "keras_version"))
            if model[key]
        ]
        if versions:
            where += f" with {' and '.join(versions)}"
        facts.append(where + ".")
    return facts


_ACCURACY_NOTE = (
    "Best validation accuracy is the highest validation accuracy over all epochs. "
    "The book column is the best validation accuracy published in Chollet, "
    "Deep Learning with Python (1st ed., section 6.2), and differences are in percentage points."
)


def _setting_value(name: str, value: Any) -> str:
    if name == "limit" and value is None:
        return "all reviews"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _percent(fraction: float | None, decimals: int = 1) -> str:
    if fraction is None:
        return "–"
    return f"{fraction * 100:.{decimals}f} %"


def _signed_points(points: float | None) -> str:
    if points is None:
        return "–"
    return f"{points:+.1f} points"


def _interval_percent(interval: list[float]) -> str:
    low, high = interval
    return f"{low * 100:.1f} to {high * 100:.1f} %"


def _seconds(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    return f"{seconds:.1f} s"


# --- Markdown -------------------------------------------------------------------


def render_markdown(summary: dict) -> str:
    """Render the summary as a Markdown report, for report.md and a Prefect artifact.

    The charts are not embedded, because a Prefect Markdown artifact cannot show a
    file from the run folder. The text names the PNG files instead.
    """
    lines = [f"# rnnpipe run {summary['run_id']}", ""]
    for sentence in headline_sentences(summary):
        lines += [sentence, ""]
    for warning in _drift_warnings(summary):
        lines += [f"> **{warning}**", ""]

    if summary.get("evaluation"):
        lines += ["## Is the difference real?", "", *_markdown_table(*_evaluation_table(summary)), ""]
        if summary["evaluation"]["comparisons"]:
            lines += [*_markdown_table(*_comparison_table(summary)), ""]
        lines += [_evaluation_note(summary), ""]
    if summary.get("champion"):
        lines += [
            "## Champion",
            "",
            *_markdown_table(*_champion_table(summary)),
            "",
            *[f"- {fact}" for fact in _champion_facts(summary)],
            "",
        ]

    lines += ["## Accuracy", "", *_markdown_table(*_accuracy_table(summary)), "", _ACCURACY_NOTE, ""]
    lines += [
        "## Validation accuracy per epoch",
        "",
        *_markdown_table(*_epoch_table(summary)),
        "",
        f"The learning curves are in {REPORT_FOLDER}/{LEARNING_CURVES_FILE} in the run folder.",
        "",
    ]
    if summary.get("trend"):
        lines += [
            "## Trend across runs",
            "",
            *_markdown_table(*_trend_table(summary)),
            "",
            *[f"- {fact}" for fact in _trend_facts(summary)],
            "",
            f"The trend charts are in {REPORT_FOLDER}/{TREND_FILE} in the run folder.",
            "",
        ]
    if summary.get("health"):
        lines += ["## Data health", "", *[f"- {fact}" for fact in _health_facts(summary)], ""]
        for text, link in _data_docs_links(summary):
            lines += [f"- [{text}]({link})"]
        lines.append("")

    lines += [
        "## Parameters and training time",
        "",
        *_markdown_table(*_size_and_time_table(summary)),
        "",
        *[f"- {fact}" for fact in _training_facts(summary)],
        "",
    ]
    lines += [
        "## Dataset",
        "",
        *_markdown_table(*_dataset_table(summary)),
        "",
        *[f"- {fact}" for fact in _dataset_facts(summary)],
        "",
    ]
    lines += ["## Settings", "", *_markdown_table(*_settings_table(summary)), ""]
    lines += [_settings_sentence(summary), ""]
    return "\n".join(lines)


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    # The first column names the row; the others hold values and align right.
    alignment = ["---"] + ["---:"] * (len(headers) - 1)
    lines = [_markdown_row(headers), _markdown_row(alignment)]
    lines += [_markdown_row(row) for row in rows]
    return lines


def _markdown_row(cells: list[str]) -> str:
    escaped = [str(cell).replace("|", "\\|") for cell in cells]
    return "| " + " | ".join(escaped) + " |"


# --- HTML -----------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.5;
       color: #1f2328; background: #fff; margin: 0 auto; padding: 1rem; max-width: 60rem; }
h1 { font-size: 1.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.lead { font-size: 1.1rem; font-weight: 600; }
.warning { background: #fff1f0; border-left: 4px solid #cf222e; padding: 0.4rem 0.8rem; }
.table-scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; min-width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid #d0d7de; text-align: right;
         white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f8fa; }
img { max-width: 100%; height: auto; }
li { overflow-wrap: anywhere; }
.note { color: #59636e; font-size: 0.9rem; }
@media (max-width: 600px) { body { padding: 0.5rem; font-size: 0.95rem; } }
"""


def render_html(summary: dict, learning_curves_png: bytes, trend_png: bytes | None = None) -> str:
    """Render the summary as one self-contained HTML page.

    The PNGs are embedded as base64 data URIs and the CSS is inline, so the page
    loads no external resource and can be opened from disk or mailed as one file. A
    Content-Security-Policy meta tag makes the browser refuse any other load. The
    only links are relative links to the validation gate's Data Docs in the run
    folder.
    """
    title = f"rnnpipe run {summary['run_id']}"
    body = [f"<h1>{_escape(title)}</h1>"]
    body += [f'<p class="lead">{_escape(sentence)}</p>' for sentence in headline_sentences(summary)]
    body += [f'<p class="warning">{_escape(warning)}</p>' for warning in _drift_warnings(summary)]

    if summary.get("evaluation"):
        body += ['<h2 id="difference">Is the difference real?</h2>', _html_table(*_evaluation_table(summary))]
        if summary["evaluation"]["comparisons"]:
            body.append(_html_table(*_comparison_table(summary)))
        body.append(f'<p class="note">{_escape(_evaluation_note(summary))}</p>')
    if summary.get("champion"):
        body += [
            '<h2 id="champion">Champion</h2>',
            _html_table(*_champion_table(summary)),
            _html_list(_champion_facts(summary)),
        ]

    body += [
        '<h2 id="accuracy">Accuracy</h2>',
        _html_table(*_accuracy_table(summary)),
        f'<p class="note">{_escape(_ACCURACY_NOTE)}</p>',
        '<h2 id="learning-curves">Learning curves</h2>',
        _html_image(
            learning_curves_png,
            "Training and validation accuracy and loss per epoch for each model, with the best epoch starred",
        ),
        "<h2>Validation accuracy per epoch</h2>",
        _html_table(*_epoch_table(summary)),
    ]
    if summary.get("trend"):
        body += ['<h2 id="trend">Trend across runs</h2>', _html_table(*_trend_table(summary))]
        if trend_png is not None:
            body.append(
                _html_image(
                    trend_png,
                    "Accuracy, training time, number of reviews, positive share and out-of-vocabulary "
                    "rate per run",
                )
            )
        body.append(_html_list(_trend_facts(summary)))
    if summary.get("health"):
        body += ['<h2 id="data-health">Data health</h2>', _html_list(_health_facts(summary))]
        links = _data_docs_links(summary)
        if links:
            items = "".join(f'<li><a href="{_escape(link)}">{_escape(text)}</a></li>' for text, link in links)
            body.append(f"<ul>{items}</ul>")

    body += [
        "<h2>Parameters and training time</h2>",
        _html_table(*_size_and_time_table(summary)),
        _html_list(_training_facts(summary)),
        "<h2>Dataset</h2>",
        _html_table(*_dataset_table(summary)),
        _html_list(_dataset_facts(summary)),
        "<h2>Settings</h2>",
        _html_table(*_settings_table(summary)),
        f"<p>{_escape(_settings_sentence(summary))}</p>",
    ]

    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_escape(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _html_image(png: bytes, description: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_escape(description)}">'


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_escape(cell)}</th>" for cell in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_escape(item)}</li>" for item in items) + "</ul>"


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)
