"""Charts of the report, drawn with matplotlib and returned as PNG bytes.

matplotlib is imported on the first call, so importing this module stays cheap. Each
chart draws on a Figure with its own Agg canvas, which needs no pyplot and changes no
global backend.
"""

from __future__ import annotations

import io
import re

from rnnpipe.config import MODEL_DISPLAY_NAMES
from rnnpipe.summary import ReportError, check_history

# --- the learning curves --------------------------------------------------------


def plot_learning_curves(histories: dict[str, dict]) -> bytes:
    """Plot accuracy and loss per epoch for each model and return the figure as PNG bytes.

    Each model gets one colour: solid lines are validation, dashed lines training, and
    a star marks the epoch with the best validation accuracy. The loss panel is left
    out when no history has ``loss`` or ``val_loss``.

    Raises:
        ReportError: when ``histories`` is empty or a history is missing a field.
    """
    # Imported here so that importing rnnpipe.report stays cheap. Figure with its own
    # Agg canvas needs no pyplot and changes no global backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not histories:
        raise ReportError("histories must contain at least one model's history. Received: {}")
    for name, history in histories.items():
        check_history(name, history)

    has_loss = any("loss" in history or "val_loss" in history for history in histories.values())
    panels = [("accuracy", "val_accuracy", "accuracy")]
    if has_loss:
        panels.append(("loss", "val_loss", "loss"))
    colours = {name: f"C{index}" for index, name in enumerate(histories)}

    # Panels stack vertically so the image stays legible on a narrow phone screen.
    figure = Figure(figsize=(7, 1.2 + 3 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]

    for (train_key, validation_key, label), axes in zip(panels, axes_list):
        for name, history in histories.items():
            _plot_model(axes, history, train_key, validation_key, colours[name])
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)

    # One legend entry per model colour and one per line style keeps the legend short
    # and off the curves.
    handles = [
        Line2D([], [], color=colour, linewidth=3, label=MODEL_DISPLAY_NAMES.get(name, name))
        for name, colour in colours.items()
    ]
    handles += [
        Line2D([], [], color="grey", linestyle="--", label="training"),
        Line2D([], [], color="grey", linestyle="-", label="validation"),
        Line2D([], [], color="grey", marker="*", markersize=12, markeredgecolor="black",
               linestyle="none", label="best validation accuracy"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _plot_model(axes, history: dict, train_key: str, validation_key: str, colour: str) -> None:
    epochs = history["epoch"]
    if train_key in history:
        axes.plot(epochs, history[train_key], "--", color=colour)
    if validation_key not in history:
        return

    # The star sits at the epoch of best validation accuracy on every panel, so the
    # loss panel shows the loss of the epoch that the accuracy table reports.
    axes.plot(epochs, history[validation_key], "-", color=colour)
    best_index = max(range(len(epochs)), key=lambda i: history["val_accuracy"][i])
    axes.plot(
        [epochs[best_index]],
        [history[validation_key][best_index]],
        "*",
        color=colour,
        markersize=14,
        markeredgecolor="black",
    )



# --- the trend across runs ------------------------------------------------------

_RUN_ID_TIME = re.compile(r"^\d{4}(\d{2})(\d{2})T(\d{2})(\d{2})\d{2}Z")


def plot_trend(trend: dict) -> bytes:
    """Plot each run's accuracies, training time and data figures, oldest run first.

    Four panels share the run axis: accuracy per model (solid validation, dashed
    test), training time per model, the number of padded reviews, and the share of
    positive reviews with the out-of-vocabulary rate. A run with a drift flag gets a
    red band across every panel.

    Args:
        trend: the dict from ``rnnpipe.trend.collect_trend``.

    Raises:
        ReportError: when ``trend`` contains no run.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = trend["runs"]
    if not runs:
        raise ReportError("trend must contain at least one run. Received: runs=[]")

    positions = list(range(len(runs)))
    names = [name for name in MODEL_DISPLAY_NAMES if any(name in run["models"] for run in runs)]
    names += sorted({name for run in runs for name in run["models"]} - set(names))
    colours = {name: f"C{index}" for index, name in enumerate(names)}

    figure = Figure(figsize=(7, 11), layout="constrained")
    FigureCanvasAgg(figure)
    accuracy_axes, time_axes, rows_axes, data_axes = figure.subplots(4, 1, sharex=True)

    for name in names:
        display_name = _display_name(runs, name)
        for key, style, label in (("val_accuracy", "o-", "validation"), ("test_accuracy", "s--", "test")):
            values = [_percent_or_none(run["models"].get(name, {}).get(key)) for run in runs]
            if any(value is not None for value in values):
                accuracy_axes.plot(
                    positions, _masked(values), style, color=colours[name], label=f"{display_name} {label}"
                )
        seconds = [run["models"].get(name, {}).get("train_seconds") for run in runs]
        time_axes.plot(positions, _masked(seconds), "o-", color=colours[name], label=display_name)

    rows_axes.plot(positions, [run.get("rows") for run in runs], "o-", color="C2")
    data_axes.plot(
        positions, _masked([_percent_or_none(run.get("positive_share")) for run in runs]), "o-",
        color="C4", label="positive reviews",
    )
    data_axes.plot(
        positions, _masked([_percent_or_none(run.get("oov_rate")) for run in runs]), "s--",
        color="C5", label="out-of-vocabulary tokens",
    )

    panels = (
        (accuracy_axes, "accuracy (%)"),
        (time_axes, "training time (s)"),
        (rows_axes, "padded reviews"),
        (data_axes, "share (%)"),
    )
    for axes, label in panels:
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        for position, run in zip(positions, runs):
            if run["flags"]:
                axes.axvspan(position - 0.4, position + 0.4, color="tab:red", alpha=0.15, linewidth=0)
    for axes in (accuracy_axes, time_axes, data_axes):
        axes.legend(fontsize="small", loc="best")

    data_axes.set_xticks(positions, [_short_run_label(run["run_id"]) for run in runs], rotation=45, ha="right")
    data_axes.set_xlabel("run (UTC start, oldest first); red bands mark drift flags")
    data_axes.set_xlim(-0.5, len(runs) - 0.5)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _short_run_label(run_id: str) -> str:
    """Shorten "20250101T020000Z-ab12cd" to "01-01 02:00 ab12cd"; other ids stay whole."""
    match = _RUN_ID_TIME.match(run_id)
    if not match:
        return run_id
    month, day, hour, minute = match.groups()
    suffix = run_id[match.end() :].lstrip("-")
    return f"{month}-{day} {hour}:{minute} {suffix}".strip()


def _display_name(runs: list[dict], name: str) -> str:
    for run in runs:
        if name in run["models"]:
            return run["models"][name]["display_name"]
    return MODEL_DISPLAY_NAMES.get(name, name)


def _percent_or_none(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100


def _masked(values: list[float | None]) -> list[float]:
    # matplotlib leaves a gap at NaN, so a run without a figure breaks the line there.
    return [float("nan") if value is None else value for value in values]
