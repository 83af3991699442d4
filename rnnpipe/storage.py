"""Atomic file writes, so that a crash never leaves a file that looks complete.

Every writer puts its bytes in a temporary file beside the target and then
renames it over the target: a rename within one folder is atomic on POSIX.

An artifact root may also be an fsspec URL (``s3://bucket/rnnpipe``,
``file:///mnt/shared/rnnpipe``). The stages still read and write local files,
because each machine works in a local mirror of the run folder (``mirror_path``).
``upload`` and ``download`` copy whole folders between the mirror and the URL
where another machine needs them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import fsspec.core
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)


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
        # mkstemp creates the file readable by its owner only, but the outputs are
        # reports and data that other users and a web server read.
        os.chmod(temporary, 0o644)
        # Flushing the bytes before the rename, and the folder after it, keeps a
        # power loss from leaving an empty file under the final name.
        _fsync_path(temporary)
        os.replace(temporary, path)
        _fsync_path(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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


# --- artifact roots behind an fsspec URL ------------------------------------------

# A scheme followed by "://", as in s3://bucket or file:///mnt/shared.
_URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

MIRROR_DIR_VARIABLE = "RNNPIPE_MIRROR_DIR"


def is_url(location: str | Path) -> bool:
    """Tell an fsspec URL such as ``s3://bucket/rnnpipe`` from a local path."""
    return isinstance(location, str) and bool(_URL_PATTERN.match(location))


def join(location: str | Path, *parts: str) -> str:
    """Append path parts to a local path or a URL, with the URL's "/" separator."""
    if is_url(location):
        return "/".join([str(location).rstrip("/"), *parts])
    return str(Path(location, *parts))


def mirror_path(url: str) -> Path:
    """Return the local folder that mirrors ``url`` on this machine.

    The mirrors live under ``$RNNPIPE_MIRROR_DIR``, by default
    ``~/.cache/rnnpipe/mirror``, in a folder per protocol, so
    ``s3://bucket/rnnpipe/runs/x`` becomes ``<mirror>/s3/bucket/rnnpipe/runs/x``.
    """
    protocol, path = fsspec.core.split_protocol(url)
    base = os.environ.get(MIRROR_DIR_VARIABLE) or Path.home() / ".cache" / "rnnpipe" / "mirror"
    return Path(base, protocol or "file", path.strip("/"))


def upload(local_dir: Path, url: str, last: Iterable[str] = ()) -> int:
    """Copy every file under ``local_dir`` to the same relative name under ``url``.

    Files named in ``last`` (relative paths, such as ``"manifest.json"``) are copied
    after all others, so a reader that waits for them finds the rest complete.
    Temporary files of ``write_atomically``, whose names start with a dot, are skipped.

    Returns:
        The number of files copied.
    """
    fs, root = _filesystem(url)
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        return 0
    relative_names = [
        path.relative_to(local_dir).as_posix()
        for path in sorted(local_dir.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(local_dir).parts)
    ]
    closing = [name for name in last if name in relative_names]
    ordered = [name for name in relative_names if name not in closing] + closing
    for name in ordered:
        target = f"{root}/{name}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        # NOTE: an object store writes each file whole, but on a file:// root a
        # crash mid-copy can leave a partial file. The manifest goes last, so a
        # run whose manifest is missing must be treated as incomplete.
        fs.put_file(str(local_dir / name), target)
    logger.info("uploaded %d files from %s to %s", len(ordered), local_dir, url)
    return len(ordered)


def download(url: str, local_dir: Path) -> int:
    """Copy every file under ``url`` to the same relative name under ``local_dir``.

    A file that exists locally is replaced atomically, so a reader of the mirror
    never reads half a file. Names starting with a dot are temporary files and are
    skipped. A URL with no files copies nothing.

    Returns:
        The number of files copied.
    """
    fs, root = _filesystem(url)
    if not fs.exists(root):
        return 0
    count = 0
    for remote in sorted(fs.find(root)):
        relative = remote[len(root) :].lstrip("/")
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        write_atomically(Path(local_dir, relative), lambda temporary, remote=remote: fs.get_file(remote, str(temporary)))
        count += 1
    logger.info("downloaded %d files from %s to %s", count, url, local_dir)
    return count


def read_json_at(location: str | Path) -> Any:
    """Read a JSON document from a local path or a URL."""
    if not is_url(location):
        return read_json(Path(location))
    fs, path = _filesystem(str(location))
    with fs.open(path, "rb") as file:
        return json.loads(file.read().decode("utf-8"))


def exists_at(location: str | Path) -> bool:
    """Tell whether a file or folder exists at a local path or a URL."""
    if not is_url(location):
        return Path(location).exists()
    fs, path = _filesystem(str(location))
    return fs.exists(path)


def write_json_at(location: str | Path, document: Any) -> str:
    """Write a JSON document to a local path or a URL, replacing it in one step.

    At a URL the document goes to a temporary name first and is then moved over
    the target. On object stores a move is a copy and a delete, and a reader sees
    either the old or the new document, never part of one.
    """
    if not is_url(location):
        return str(write_json(Path(location), document))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    fs, path = _filesystem(str(location))
    parent, name = path.rsplit("/", 1)
    temporary = f"{parent}/.{name}.tmp-{secrets.token_hex(4)}"
    fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(temporary, text.encode("utf-8"))
    fs.mv(temporary, path)
    return str(location)


def _filesystem(url: str):
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path.rstrip("/")
