"""Read a Keras ``imdb.npz`` without ``allow_pickle=True``.

The file is a ZIP archive of four ``.npy`` arrays: ``x_train`` and ``x_test`` are
object arrays whose items are lists of word ranks (1 is the most frequent word),
``y_train`` and ``y_test`` hold the 0/1 labels. NumPy stores object arrays as
pickles, and ``numpy.load(..., allow_pickle=True)`` would run any code a crafted
file names. This module reads each ``.npy`` header with ``numpy.lib.format`` and
unpickles object arrays with :class:`RestrictedUnpickler`, which rebuilds only
NumPy arrays, dtypes and scalars around plain lists and integers.

The sequences match ``keras.datasets.imdb.load_data`` with its defaults
(``start_char=1``, ``index_from=3``, ``oov_char=2``, ``skip_top=0``): each row
starts with id 1, every rank is shifted up by 3, and ids of ``num_words`` or more
become 2. Unlike ``load_data``, rows stay in file order (rnnpipe shuffles later
with its own seed) and long rows are kept, because padding truncates them.
"""

from __future__ import annotations

import codecs
import io
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import numpy.lib.format as npy_format

from rnnpipe.sources import SourceError, SourceReviews, accept_rows, raw_frame
from rnnpipe.vocabulary import OOV_ID, START_ID

try:
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct, scalar

logger = logging.getLogger(__name__)

NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
INDEX_FROM = 3


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy object arrays and nothing else.

    A pickled object array names ``_reconstruct``, ``ndarray`` and ``dtype``, and
    ``scalar`` when its items are NumPy scalars. Files written by NumPy 1.x name
    the module ``numpy.core.multiarray``, NumPy 2 ``numpy._core.multiarray``.
    Python 3 pickles of protocol 2 also name ``_codecs.encode``, which rebuilds
    the bytes of the array's header. Any other global, such as ``os.system``,
    raises ``pickle.UnpicklingError``.
    """

    _ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.multiarray", "scalar"): scalar,
        ("numpy._core.multiarray", "scalar"): scalar,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not allowed: only NumPy arrays of lists of integers are read"
            ) from None


def read_imdb_npz(path: Path, num_words: int | None = None) -> SourceReviews:
    """Read the training and test rows of a Keras ``imdb.npz``.

    Args:
        path: the ``.npz`` file, such as the one ``keras.datasets.imdb.load_data``
            caches in ``~/.keras/datasets/imdb.npz``.
        num_words: ids of ``num_words`` or more become the out-of-vocabulary id 2.
            ``None`` keeps every id, as ``load_data(num_words=None)`` does.

    Returns:
        Rows with null ``text`` and the ids in ``token_ids``; ``text_available``
        is False. Review ids are ``train-00000``, ``test-00000`` and so on, the
        number being the row's index in its array. A row without word ids has
        ``token_ids == [1]`` and is set aside as empty by the pad stage.

    Raises:
        SourceError: when the file is missing, not an ``.npz`` archive, lacks one
            of the four arrays, or contains something other than lists of integers.
    """
    path = Path(path)
    arrays = _read_arrays(path)

    rows: dict[str, list] = {name: [] for name in ("review_id", "source_row", "label", "split", "token_ids")}
    for split in ("train", "test"):
        sequences, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(sequences) != len(labels):
            raise SourceError(
                f"{path} has {len(sequences):,} rows in x_{split} but {len(labels):,} labels in "
                f"y_{split}. Each review needs one label; write the file again."
            )
        for index, (ranks, label) in enumerate(zip(sequences, labels)):
            rows["review_id"].append(f"{split}-{index:05d}")
            rows["source_row"].append(f"{split} index {index}")
            rows["label"].append(label.item() if isinstance(label, np.generic) else label)
            rows["split"].append(split)
            rows["token_ids"].append(keras_sequence(_word_ranks(path, split, index, ranks), num_words))

    source = accept_rows(raw_frame(rows), f"the Keras imdb.npz file {path}", text_available=False)
    logger.info(
        "read %d reviews as word ids from %s (train: %d, test: %d); the review text is not "
        "available in this format",
        len(source.reviews),
        path,
        len(arrays["x_train"]),
        len(arrays["x_test"]),
    )
    return source


def keras_sequence(ranks: list[int], num_words: int | None) -> list[int]:
    """Turn word ranks into ids the way ``keras.datasets.imdb.load_data`` does by default."""
    ids = [START_ID] + [rank + INDEX_FROM for rank in ranks]
    if num_words is None:
        return ids
    return [word_id if 0 <= word_id < num_words else OOV_ID for word_id in ids]


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise SourceError(
            f"The npz file {path} was not found. Set data.path to a Keras imdb.npz file, for "
            "example ~/.keras/datasets/imdb.npz after keras.datasets.imdb.load_data() has "
            "downloaded it on a machine that is online."
        )
    if path.is_dir():
        raise SourceError(f"{path} is a folder, but data.source='npz' reads one .npz file. Set data.path to the file.")
    if path.stat().st_size == 0:
        raise SourceError(f"The npz file {path} is empty (0 bytes). Download or copy imdb.npz again.")
    if not zipfile.is_zipfile(path):
        raise SourceError(
            f"{path} is not an .npz archive (a ZIP file of .npy arrays). Set data.path to a "
            "Keras imdb.npz, or set data.source='file' for a CSV, TSV, Parquet or JSON Lines file."
        )

    with zipfile.ZipFile(path) as archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist() if name.endswith(".npy")}
        missing = [name for name in NPZ_ARRAYS if name not in members]
        if missing:
            raise SourceError(
                f"{path} does not have the arrays of a Keras imdb.npz: missing "
                f"{', '.join(missing)}. Found: {', '.join(sorted(members)) or 'no arrays'}. "
                f"Expected: {', '.join(NPZ_ARRAYS)}."
            )
        arrays = {name: _read_npy(archive, members[name], path) for name in NPZ_ARRAYS}

    for name, array in arrays.items():
        if array.ndim != 1:
            raise SourceError(
                f"{path}: {name} has shape {array.shape}, but a Keras imdb.npz contains one row per "
                "review (a 1-D array)."
            )
    return arrays


def _read_npy(archive: zipfile.ZipFile, member: str, path: Path) -> np.ndarray:
    with archive.open(member) as stream:
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, fortran_order, dtype = npy_format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran_order, dtype = npy_format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
        except ValueError as error:
            raise SourceError(f"{path}: {member} is not a readable .npy array ({error}).") from None
        data = stream.read()

    if dtype.hasobject:
        return _unpickle_object_array(data, shape, member, path)

    count = int(np.prod(shape, dtype=np.int64))
    if len(data) < count * dtype.itemsize:
        raise SourceError(f"{path}: {member} is truncated ({len(data)} bytes for {count} values of {dtype}).")
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran_order else "C")


def _unpickle_object_array(data: bytes, shape: tuple, member: str, path: Path) -> np.ndarray:
    try:
        # "ASCII" is numpy.load's default for pickles written by Python 2.
        array = RestrictedUnpickler(io.BytesIO(data), encoding="ASCII").load()
    except pickle.UnpicklingError as error:
        raise SourceError(
            f"{path}: {member} could not be read safely: {error}. rnnpipe reads only lists of "
            "integer word ranks from an imdb.npz and never runs code stored in the file."
        ) from None
    except Exception as error:
        raise SourceError(f"{path}: {member} is not a readable object array ({error}).") from None

    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise SourceError(
            f"{path}: {member} does not hold the array its header describes (shape {tuple(shape)})."
        )
    return array


def _word_ranks(path: Path, split: str, index: int, ranks: object) -> list[int]:
    if isinstance(ranks, np.ndarray) and ranks.ndim == 1:
        ranks = ranks.tolist()
    if not isinstance(ranks, (list, tuple)) or not all(_is_integer(rank) for rank in ranks):
        raise SourceError(
            f"{path}: x_{split}[{index}] is {type(ranks).__name__} {str(ranks)[:60]}, not a list "
            "of integer word ranks. Set data.path to a Keras imdb.npz."
        )
    return [int(rank) for rank in ranks]


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
