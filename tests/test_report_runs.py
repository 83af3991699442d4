"""Two runs built stage by stage on synthetic reviews, with real tiny Keras models.

The first run learns from correct labels and becomes the champion. The second run
is trained on shuffled training labels, so its models guess, and it uses a smaller
vocabulary, so the champion has to encode the second run's reviews again with its
own vocabulary before it predicts them. The report of the second run must show both
runs in its trend, keep the champion, and state statistics that match scipy's and
statsmodels' computations on the same predictions.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.stats import bootstrap
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from rnnpipe import runs, storage
from rnnpipe.champion import decide_champion, promote_champion, read_champion, read_champion_history
from flows.cli import main
from rnnpipe.config import build_config
from rnnpipe.dataset import pad_reviews
from rnnpipe.report import build_report, render_markdown
from rnnpipe.training import train_model
from rnnpipe.validation import validate_reviews

FIRST_RUN = "20260101T020000Z-aaaaaa"
SECOND_RUN = "20260102T020000Z-bbbbbb"
MODELS = ["simple_rnn", "lstm"]

POSITIVE_WORDS = ["great", "wonderful", "superb", "moving", "brilliant", "loved"]
NEGATIVE_WORDS = ["awful", "boring", "dull", "terrible", "wasted", "hated"]
FILLER_WORDS = ["film", "plot", "actor", "scene", "story", "music", "the", "a", "and", "was", "it", "this"]

TINY = {
    "text": {"num_words": 40, "maxlen": 16},
    "model": {"embedding_dim": 8, "units": 8},
    "training": {"epochs": 6, "batch_size": 16, "optimizer": "adam"},
    "validation": {"min_rows": 100},
    "report": {"bootstrap_resamples": 5_000},
}

CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Chromium quiet on the network. Even with the --disable-* flags,
# Chromium 156 headless still sends requests to Google's update, time and accounts
# servers. So every host name fails to resolve, and every HTTP request goes to a
# closed port on 127.0.0.1, and nothing leaves the machine.
CHROMIUM_QUIET_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


def synthetic_reviews(seed: int, train_rows: int = 240, test_rows: int = 80) -> pd.DataFrame:
    """Reviews of 12 words whose sentiment words give the label away."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(train_rows + test_rows):
        label = index % 2
        sentiment = POSITIVE_WORDS if label else NEGATIVE_WORDS
        words = list(rng.choice(sentiment, 4)) + list(rng.choice(FILLER_WORDS, 8))
        rng.shuffle(words)
        split = "train" if index < train_rows else "test"
        rows.append({"review_id": f"s{seed}-{index:04d}", "text": " ".join(words), "label": label, "split": split})
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].astype("int8")
    return frame


def build_run(artifact_root: Path, run_id: str, reviews: pd.DataFrame, config) -> Path:
    """Run every stage of the flow on ``reviews`` as plain library calls, in the flow's order."""
    run = runs.create_run(artifact_root, run_id)
    storage.write_parquet(run.reviews, pa.Table.from_pandas(reviews, preserve_index=False))
    validate_reviews(reviews, config.validation, run.validation_dir)
    pad_reviews(reviews, config.text, config.training.validation_fraction, config.training.seed, run.padded_dir)
    for name in MODELS:
        train_model(name, run.padded_dir, config, run.model_dir(name))

    decide_champion(run.path, artifact_root, config, MODELS)
    build_report(run.path, config, MODELS, artifact_root=artifact_root)
    runs.write_manifest(run, config, "completed", {})
    runs.point_latest_to(run, artifact_root)
    promote_champion(run.path, artifact_root)
    return run.path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("artifact-root")
    build_run(root, FIRST_RUN, synthetic_reviews(seed=1), build_config({**TINY, "artifact_root": str(root)}))

    # Shuffled training labels leave nothing to learn, and num_words=30 gives the
    # second run another vocabulary than the champion's.
    second = synthetic_reviews(seed=2)
    is_train = second["split"] == "train"
    second.loc[is_train, "label"] = np.random.default_rng(7).permutation(second.loc[is_train, "label"].to_numpy())
    second_config = build_config({**TINY, "artifact_root": str(root), "text": {"num_words": 30, "maxlen": 16}})
    build_run(root, SECOND_RUN, second, second_config)
    return root


def read_summary(root: Path, run_id: str) -> dict:
    return json.loads((root / "runs" / run_id / "report" / "summary.json").read_text())


def read_predictions(root: Path, run_id: str, name: str) -> pd.DataFrame:
    frame = pd.read_parquet(root / "runs" / run_id / "models" / name / "predictions.parquet")
    return frame[frame["split"] == "test"].sort_values("review_id").reset_index(drop=True)


# --- the report's rows and statistics ---------------------------------------------


def test_report_has_row_per_model(two_runs):
    summary = read_summary(two_runs, SECOND_RUN)
    markdown = (two_runs / "runs" / SECOND_RUN / "report" / "report.md").read_text()

    evaluation = summary["evaluation"]
    assert evaluation["split"] == "test"
    assert [model["model"] for model in evaluation["models"]] == MODELS
    for model in evaluation["models"]:
        predictions = read_predictions(two_runs, SECOND_RUN, model["model"])
        correct = int((predictions["prediction"] == predictions["label"]).sum())
        low, high = proportion_confint(correct, len(predictions), alpha=0.05, method="wilson")
        assert model["rows"] == 80
        assert model["accuracy"] == pytest.approx(correct / 80)
        assert model["accuracy_interval"] == pytest.approx([low, high], abs=1e-6)
        row = (
            f"| {model['display_name']} | {correct / 80 * 100:.1f} % | "
            f"{low * 100:.1f} to {high * 100:.1f} % | 80 |"
        )
        assert row in markdown.splitlines()


def test_mcnemar_matches_statsmodels(two_runs):
    (comparison,) = read_summary(two_runs, SECOND_RUN)["evaluation"]["comparisons"]
    first = read_predictions(two_runs, SECOND_RUN, "simple_rnn")
    second = read_predictions(two_runs, SECOND_RUN, "lstm")
    first_correct = (first["prediction"] == first["label"]).to_numpy()
    second_correct = (second["prediction"] == second["label"]).to_numpy()
    table = [
        [np.sum(first_correct & second_correct), np.sum(first_correct & ~second_correct)],
        [np.sum(~first_correct & second_correct), np.sum(~first_correct & ~second_correct)],
    ]

    reference = mcnemar(np.array(table), exact=True)

    assert comparison["mcnemar"]["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    discordant = {comparison["mcnemar"]["only_leader_correct"], comparison["mcnemar"]["only_trailer_correct"]}
    assert discordant == {table[0][1], table[1][0]}


def test_bootstrap_interval_matches_scipy(two_runs):
    (comparison,) = read_summary(two_runs, SECOND_RUN)["evaluation"]["comparisons"]
    leader = read_predictions(two_runs, SECOND_RUN, comparison["leader"]["model"])
    trailer = read_predictions(two_runs, SECOND_RUN, comparison["trailer"]["model"])
    leader_correct = (leader["prediction"] == leader["label"]).to_numpy().astype(float)
    trailer_correct = (trailer["prediction"] == trailer["label"]).to_numpy().astype(float)

    reference = bootstrap(
        (leader_correct, trailer_correct),
        lambda a, b, axis=-1: np.mean(a, axis=axis) - np.mean(b, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=20_000,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval

    # Both are Monte Carlo estimates of the same percentiles. On 80 rows the
    # bootstrap distribution moves in steps of 1/80, so they agree within a step.
    step_points = 100 / 80
    low, high = comparison["difference_interval_points"]
    assert comparison["difference_points"] == pytest.approx((leader_correct.mean() - trailer_correct.mean()) * 100)
    assert low == pytest.approx(reference.low * 100, abs=step_points)
    assert high == pytest.approx(reference.high * 100, abs=step_points)


def test_comparison_sentence_states_figures(two_runs):
    summary = read_summary(two_runs, SECOND_RUN)
    (comparison,) = summary["evaluation"]["comparisons"]

    sentence = summary["comparison_sentence"]
    assert "the 80 test reviews" in sentence
    assert "95 % CI" in sentence
    assert "McNemar p" in sentence
    assert sentence.startswith("No clear difference") == (not comparison["clear"])
    assert sentence in (two_runs / "runs" / SECOND_RUN / "report" / "report.md").read_text()


# --- the champion -------------------------------------------------------------------


def test_first_run_is_promoted(two_runs):
    decision = json.loads((two_runs / "runs" / FIRST_RUN / "champion_decision.json").read_text())

    assert decision["decision"] == "promote"
    assert decision["reason"] == "There is no champion yet."
    assert decision["champion"] is None
    history = read_champion_history(two_runs)
    assert [entry["run_id"] for entry in history] == [FIRST_RUN]


def test_worse_run_keeps_champion(two_runs):
    decision = json.loads((two_runs / "runs" / SECOND_RUN / "champion_decision.json").read_text())

    assert decision["decision"] == "keep"
    assert decision["champion"]["run_id"] == FIRST_RUN
    assert decision["champion_reencoded"] is True
    assert decision["rows"] == 80
    assert decision["champion"]["accuracy"] > decision["challenger"]["accuracy"]
    assert decision["difference_points"] < 0
    assert read_champion(two_runs)["run_id"] == FIRST_RUN
    assert len(read_champion_history(two_runs)) == 1


def test_champion_decision_in_report(two_runs):
    summary = read_summary(two_runs, SECOND_RUN)
    markdown = render_markdown(summary)

    assert summary["champion"]["decision"] == "keep"
    assert f"Champion: Keep the champion, {summary['champion']['champion']['display_name']} of run {FIRST_RUN}" in markdown
    assert "encoded again with the champion run's vocabulary.json" in markdown


# --- the trend ----------------------------------------------------------------------


def test_trend_shows_both_runs(two_runs):
    trend = read_summary(two_runs, SECOND_RUN)["trend"]

    assert [run["run_id"] for run in trend["runs"]] == [FIRST_RUN, SECOND_RUN]
    assert [run["champion_decision"] for run in trend["runs"]] == ["promote", "keep"]
    assert all(set(run["models"]) == set(MODELS) for run in trend["runs"])
    assert (two_runs / "runs" / SECOND_RUN / "report" / "trend.png").stat().st_size > 10_000


def test_trend_flags_accuracy_drop(two_runs):
    trend = read_summary(two_runs, SECOND_RUN)["trend"]

    assert trend["runs"][0]["flags"] == []
    assert any("test accuracy fell by" in flag and f"since run {FIRST_RUN}" in flag for flag in trend["flags"])


# --- the commands -------------------------------------------------------------------


def test_runs_command_lists_both_runs(two_runs, capsys):
    assert main(["runs", "--artifact-root", str(two_runs)]) == 0

    output = capsys.readouterr().out
    assert FIRST_RUN in output
    assert SECOND_RUN in output
    assert "champion" in output


def test_champion_command_shows_history(two_runs, capsys):
    assert main(["champion", "--artifact-root", str(two_runs)]) == 0

    output = capsys.readouterr().out
    assert f"of run {FIRST_RUN}" in output
    assert "History (1 promotion, newest first):" in output


def test_report_command_rebuilds_latest(two_runs, capsys):
    report_path = two_runs / "runs" / SECOND_RUN / "report" / "report.md"
    before = report_path.read_text()
    report_path.unlink()

    assert main(["report", "--artifact-root", str(two_runs)]) == 0

    assert report_path.read_text() == before
    assert str(report_path.with_name("report.html")) in capsys.readouterr().out


# --- the HTML page in a browser ------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Path:
    # A missing browser fails the test instead of skipping it, so a CI machine
    # without Chromium cannot pass while checking nothing.
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} was not found. Run 'make test', which installs Debian's chromium package.")
    return CHROMIUM


def run_chromium(chromium: Path, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(chromium), *CHROMIUM_QUIET_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def page_requests(net_log: Path) -> list[str]:
    """Return the URLs that the page itself requested over the network, from a Chromium net log.

    A request made for a page opened from disk carries the network isolation key
    "file://"; Chromium's own background requests carry another key or none.
    """
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job and event["params"].get("network_isolation_key", "").startswith("file://")
    ]


def test_net_log_shows_page_requests(chromium, tmp_path):
    page = tmp_path / "fetches.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/missing.png"></body></html>')
    net_log = tmp_path / "net-log.json"

    run_chromium(chromium, tmp_path / "profile", f"--log-net-log={net_log}", "--dump-dom", page.as_uri())

    assert page_requests(net_log) == ["http://127.0.0.1:9/missing.png"]


def test_html_report_in_chromium(two_runs, chromium, tmp_path):
    page = two_runs / "runs" / SECOND_RUN / "report" / "report.html"
    screenshot = tmp_path / "report.png"
    net_log = tmp_path / "net-log.json"

    shot = run_chromium(
        chromium,
        tmp_path / "profile-screenshot",
        "--window-size=1200,2400",
        f"--screenshot={screenshot}",
        f"--log-net-log={net_log}",
        page.as_uri(),
    )
    dom = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", page.as_uri())

    assert shot.returncode == 0, shot.stderr
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert screenshot.stat().st_size > 50_000
    assert dom.returncode == 0, dom.stderr
    for element in (
        'id="difference"',
        'id="champion"',
        'id="accuracy"',
        'id="learning-curves"',
        'id="trend"',
        'id="data-health"',
        "<table>",
        'src="data:image/png;base64,',
    ):
        assert element in dom.stdout, element
    assert "McNemar p" in dom.stdout
    assert page_requests(net_log) == []


def test_html_report_loads_nothing_from_network(two_runs):
    page = (two_runs / "runs" / SECOND_RUN / "report" / "report.html").read_text()

    assert "default-src 'none'; img-src data:; style-src 'unsafe-inline'" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert re.findall(r'href="([^"]+)"', page) == ["../validation/data_docs/reviews/index.html"]
    assert (two_runs / "runs" / SECOND_RUN / "validation" / "data_docs" / "reviews" / "index.html").is_file()
