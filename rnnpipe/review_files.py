"""Read labelled reviews from a CSV, TSV, Parquet or JSON Lines file.

The format comes from the extension: ``.csv``, ``.tsv``, ``.parquet``, and
``.jsonl`` or ``.ndjson``. Text formats are decoded as UTF-8 (a byte-order mark
is allowed) whatever the locale. CSV and TSV cells are read as strings, blank
cells included, so that every spelling of a label reaches the label rule in
``rnnpipe.labels`` unchanged. Rows are numbered from 1 in data order, without the
header, and rejected rows name that number.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rnnpipe.sources import SourceError, SourceReviews, accept_rows, raw_frame

logger = logging.getLogger(__name__)

FILE_FORMATS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".parquet": "Parquet",
    ".jsonl": "JSON Lines",
    ".ndjson": "JSON Lines",
}

# The first bytes of binary formats that are often given a wrong extension.
_SIGNATURES = {
    b"PAR1": "a Parquet file (rename it to .parquet)",
    b"PK\x03\x04": "a ZIP archive, such as an .npz or .xlsx file",
    b"\x1f\x8b": "a gzip-compressed file (decompress it first)",
    b"\x93NUMPY": "a NumPy .npy file",
}
_UTF8_BOM = b"\xef\xbb\xbf"

# The configuration field that names each column, for messages.
_COLUMN_SETTINGS = {"text": "data.text_column", "label": "data.label_column", "split": "data.split_column"}


def read_review_file(
    path: Path,
    text_column: str = "text",
    label_column: str = "label",
    split_column: str | None = None,
    label_map: Mapping[str, int] | None = None,
) -> SourceReviews:
    """Read one review per row from a CSV, TSV, Parquet or JSON Lines file.

    Args:
        path: the file; its extension selects the format.
        text_column, label_column: the columns with the review text and the label.
        split_column: a column with ``train`` or ``test`` per row. Without it
            every row is a ``"train"`` row.
        label_map: words accepted as labels, such as ``{"pos": 1, "neg": 0}``.

    Raises:
        SourceError: when the file is missing, empty, not in the format its
            extension names, not valid UTF-8, or without a configured column.
    """
    path = Path(path)
    format_name = _check_file(path)
    columns = {"text": text_column, "label": label_column}
    if split_column is not None:
        columns["split"] = split_column

    if format_name == "Parquet":
        values = _read_parquet(path, columns)
    elif format_name == "JSON Lines":
        values = _read_json_lines(path, columns)
    else:
        values = _read_delimited(path, columns, format_name)

    row_count = len(values["text"])
    if row_count == 0:
        raise SourceError(
            f"{path} has a header but no data rows. Write at least one review per row, or "
            "set data.path to another file."
        )
    raw = raw_frame(
        {
            "review_id": [f"row-{number}" for number in range(1, row_count + 1)],
            "source_row": [f"row {number}" for number in range(1, row_count + 1)],
            "text": values["text"],
            "label": values["label"],
            "split": values.get("split", ["train"] * row_count),
        }
    )
    source = accept_rows(raw, f"the {format_name} file {path}", label_map=label_map)
    logger.info(
        "read %d reviews from the %s file %s (%d rejected)",
        len(source.reviews),
        format_name,
        path,
        source.rows_read - len(source.reviews),
    )
    return source


def _check_file(path: Path) -> str:
    if not path.exists():
        raise SourceError(f"The review file {path} was not found. Set data.path to an existing file.")
    if path.is_dir():
        raise SourceError(
            f"{path} is a folder, but data.source='file' reads one file. Set data.path to a "
            "CSV, TSV, Parquet or JSON Lines file, or set data.source='aclimdb' for an aclImdb folder."
        )

    suffix = path.suffix.lower()
    if suffix not in FILE_FORMATS:
        raise SourceError(
            f"{path} has the extension {suffix or '(none)'!r}, which rnnpipe cannot read. "
            f"Supported extensions: {', '.join(FILE_FORMATS)}. Save the reviews in one of "
            "these formats, or set data.source='npz' for a Keras imdb.npz file."
        )
    if path.stat().st_size == 0:
        raise SourceError(f"The review file {path} is empty (0 bytes). Set data.path to a file with reviews.")
    return FILE_FORMATS[suffix]


def _detect_binary(head: bytes) -> str | None:
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            return kind
    return None


def _decode(path: Path, format_name: str) -> str:
    data = path.read_bytes()
    kind = _detect_binary(data[:8])
    if kind is not None:
        raise SourceError(
            f"{path} is {kind}, not a {format_name} file as its extension {path.suffix!r} "
            "states. Give the file the extension of its format, or export the reviews again "
            f"as {format_name}."
        )

    offset_base = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[offset_base:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = offset_base + error.start
        line = data[:offset].count(b"\n") + 1
        utf16 = " It starts with a UTF-16 byte-order mark." if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise SourceError(
            f"{path} is not valid UTF-8: the byte 0x{data[offset]:02x} at byte offset {offset} "
            f"(line {line}) cannot be decoded.{utf16} Save the file as UTF-8 (a spreadsheet's "
            "'CSV UTF-8' option, or iconv -f cp1252 -t utf-8 for a Windows-1252 file)."
        ) from None


def _read_delimited(path: Path, columns: dict[str, str], format_name: str) -> dict[str, list]:
    text = _decode(path, format_name)
    separator, separator_name = ("\t", "tabs") if format_name == "TSV" else (",", "commas")
    try:
        # na_filter=False keeps blank cells and words such as "NaN" as written, so
        # they reach the label rule unchanged.
        frame = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, na_filter=False)
    except pd.errors.EmptyDataError:
        raise SourceError(
            f"The review file {path} has no header and no rows. Set data.path to a file with reviews."
        ) from None
    except (pd.errors.ParserError, csv.Error) as error:
        raise SourceError(
            f"{path} could not be parsed as {format_name}: {error}. Check that fields with "
            f"{separator_name}, quotes or line breaks are quoted."
        ) from None

    found = [str(name) for name in frame.columns]
    _check_columns(path, columns, found, format_name)
    return {role: frame[name].tolist() for role, name in columns.items()}


def _read_json_lines(path: Path, columns: dict[str, str]) -> dict[str, list]:
    text = _decode(path, "JSON Lines")
    records: list[dict] = []
    # Split on "\n" only, because str.splitlines would also split on U+2028,
    # which JSON allows unescaped inside a string.
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SourceError(
                f"{path} line {line_number} is not valid JSON ({error.msg} at column "
                f"{error.colno}). A JSON Lines file holds one JSON object per line. Rename a "
                "CSV file to .csv and a TSV file to .tsv."
            ) from None
        if not isinstance(record, dict):
            raise SourceError(
                f"{path} line {line_number} is a JSON {type(record).__name__}, not an object. "
                'Write one object per line, such as {"text": "…", "label": 1}.'
            )
        records.append(record)

    found = list(dict.fromkeys(key for record in records for key in record))
    if not records:
        raise SourceError(f"The review file {path} contains only blank lines. Set data.path to a file with reviews.")
    _check_columns(path, columns, found, "JSON Lines")
    return {role: [record.get(name) for record in records] for role, name in columns.items()}


def _read_parquet(path: Path, columns: dict[str, str]) -> dict[str, list]:
    with path.open("rb") as stream:
        head = stream.read(4)
    if head != b"PAR1":
        raise SourceError(
            f"{path} is not a Parquet file: it does not start with the Parquet signature "
            f"PAR1 but with {head!r}. {_guess_format(path)}"
        )
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(
            f"{path} could not be read as Parquet: {error}. Export the reviews again as Parquet."
        ) from None
    _check_columns(path, columns, list(schema.names), "Parquet")

    text_type = schema.field(columns["text"]).type
    if pa.types.is_dictionary(text_type):
        text_type = text_type.value_type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type) or pa.types.is_null(text_type)):
        raise SourceError(
            f"The column {columns['text']!r} of {path} has the type {text_type}, not string. Set "
            "data.text_column to the column with the review text."
        )

    try:
        table = pq.read_table(path, columns=list(dict.fromkeys(columns.values())))
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(
            f"{path} could not be read as Parquet: {error}. Export the reviews again as Parquet."
        ) from None
    return {role: table.column(name).to_pylist() for role, name in columns.items()}


def _guess_format(path: Path) -> str:
    with path.open("rb") as stream:
        head = stream.read(200)
    kind = _detect_binary(head)
    if kind is not None:
        return f"It is {kind}."
    first_line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    if first_line.startswith("{"):
        return "It looks like JSON Lines: rename it to .jsonl."
    if "\t" in first_line:
        return "It looks like tab-separated text: rename it to .tsv."
    return f"Its first line is {first_line[:60]!r}. If it is a CSV file, rename it to .csv."


def _check_columns(path: Path, columns: dict[str, str], found: list[str], format_name: str) -> None:
    missing = [(role, name) for role, name in columns.items() if name not in found]
    if not missing:
        return

    names = " and ".join(repr(name) for _, name in missing)
    settings = " and ".join(_COLUMN_SETTINGS[role] for role, _ in missing)
    found_text = ", ".join(repr(name) for name in found[:20]) or "none"
    if len(found) > 20:
        found_text += " …"
    # Suggest a column that no setting names yet.
    unused = [name for name in found if name not in columns.values()]
    message = (
        f"{path} has no column {names}. Found columns: {found_text}. Set {settings} to the "
        "name of the column in this file, for example --set "
        f"{_COLUMN_SETTINGS[missing[0][0]]}={unused[0] if unused else 'NAME'}."
    )
    if len(found) == 1 and format_name in ("CSV", "TSV"):
        other = "TSV (.tsv)" if format_name == "CSV" else "CSV (.csv)"
        message += (
            f" The header has a single column, so the file may be {other} rather than "
            f"{format_name}: give it the extension of its separator."
        )
    raise SourceError(message)
