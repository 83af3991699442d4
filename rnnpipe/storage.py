"""Atomic file writes, so that a crash never leaves a file that looks complete.

Every writer puts its bytes in a temporary file beside the target and then
renames it over the target: a rename within one folder is atomic on POSIX.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    The temporary name ends with the target's own suffix because some writers,
    such as ``keras.Model.save``, choose the format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix
    )
    os.close(descriptor)
    temporary = Path(temporary_name)
    try:
        write(temporary)
        # mkstemp creates the file readable by its owner only; the outputs are
        # reports and data that other users and a web server read.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return write_atomically(path, lambda temporary: temporary.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json(path: Path, document: Any) -> Path:
    text = json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return write_text(path, text)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_parquet(path: Path, table: pa.Table) -> Path:
    return write_atomically(path, lambda temporary: pq.write_table(table, temporary))
