"""Embedding cache of training views.

Running the frozen encoder on every view of every crop, every epoch, is
what SEED training costs; the denoiser itself is tiny. The cache runs the
encoder once over random crops of each training utterance (``crops_per_utt``
per file, or in proportion to its duration: ``crops_per_second``, capped by
``max_crops_per_utt``, at least one), ``V`` views each, and stores the
embeddings in a memory-mapped ``float32`` (or ``float16``) array
``[N, V, D]`` with a JSON index. Views that are the same audio (the
``clean`` target and the ``clean`` input) are encoded once and written to
each of their slots. Training then reads embeddings (``use_cache: True``)
and draws fresh forward-process noise at every step.

The expected size of the array is logged, and checked against the free
space of the folder, before anything is encoded. A cache larger than RAM
is read in blocks of contiguous rows (:class:`BlockShuffleSampler` and
``dataset(block_rows=...)``): one sequential read per block instead of a
random disk read per row; nothing reads the whole array into memory.

The build is resumable and idempotent: utterances are processed in chunks,
a chunk's rows are flushed before its "done" flag is written (atomically),
and a rerun skips what is done. The array's space is reserved when it is
created, so a full disk stops the build at once with an error naming the
folder and the size (and a rerun with room starts it afresh). A finished
cache whose configuration matches is reused as is; one that does not match
is an error naming the folder.

Under ``torchrun`` the build is sharded: the main process creates the
array and the index, then process ``r`` of ``N`` encodes chunks ``r, r + N,
...`` into the shared memory map and records them in its own
``done.rank<r>.json`` (merged into ``done.json`` at the end). Chunks and
their augmentation seeds do not depend on ``N``, so a sharded cache equals
a single-process one. The folder must be visible to every process (one
machine, or a shared file system).

Authors
 * seed-brain developers 2026
"""

import errno
import glob
import json
import logging
import math
import os
import zlib
from collections import OrderedDict

import numpy as np
import speechbrain as sb
import torch
from tqdm import tqdm

from seed_brain.dataio.audio import load_audio
from seed_brain.utils.distributed import barrier, rank_and_world
from seed_brain.utils.errors import (
    _free_bytes,
    disk_space,
    human_bytes,
    no_space_error,
)
from seed_brain.utils.files import write_json

#: Advice in the error of a full disk.
_MOVE = (
    "point cache_folder elsewhere, or set cache_dtype: float16 (half the size)"
)

#: Storage types of the array and their file names.
DTYPES = {"float32": "views.f32", "float16": "views.f16"}

logger = logging.getLogger(__name__)


def crop_starts(uid, num_samples, crop_samples, crops, seed):
    """Deterministic random crop offsets for one utterance.

    Arguments
    ---------
    uid : str
        Utterance id (seeds the draw together with ``seed``).
    num_samples : int
        Utterance length.
    crop_samples : int
        Crop length.
    crops : int
        Number of crops.
    seed : int
        Global seed.

    Returns
    -------
    numpy.ndarray
        ``[crops]`` start offsets.

    Example
    -------
    >>> crop_starts("a", 100, 30, 3, 0).tolist() == crop_starts(
    ...     "a", 100, 30, 3, 0).tolist()
    True
    >>> int(crop_starts("a", 10, 30, 2, 0).max())
    0
    """
    rng = np.random.default_rng((zlib.crc32(uid.encode()), int(seed)))
    high = max(0, num_samples - crop_samples)
    return rng.integers(0, high + 1, size=crops)


def crop_count(
    seconds, crops_per_utt=None, crops_per_second=None, max_crops_per_utt=None
):
    """Number of crops of one utterance.

    A fixed ``crops_per_utt``, or (when ``crops_per_second`` is given) the
    duration times ``crops_per_second``, rounded, at least 1 and at most
    ``max_crops_per_utt`` (None: no cap).

    Arguments
    ---------
    seconds : float
        Duration of the utterance.
    crops_per_utt : int or None
        Fixed count (used when ``crops_per_second`` is None).
    crops_per_second : float or None
        Crops per second of speech.
    max_crops_per_utt : int or None
        Cap of the proportional count.

    Returns
    -------
    int
        The count.

    Example
    -------
    >>> crop_count(900.0, 30)
    30
    >>> [crop_count(s, crops_per_second=0.25, max_crops_per_utt=100)
    ...  for s in (1.5, 5.0, 12.5, 900.0)]
    [1, 1, 3, 100]
    """
    if crops_per_second is None:
        return int(crops_per_utt)
    count = max(1, int(math.floor(float(seconds) * crops_per_second + 0.5)))
    if max_crops_per_utt is not None:
        count = min(count, int(max_crops_per_utt))
    return count


def check_crop_settings(crops_per_utt, crops_per_second, max_crops_per_utt):
    """Refuses crop settings out of range (``ValueError`` naming the key).

    Example
    -------
    >>> check_crop_settings(30, None, None)
    >>> check_crop_settings(30, 0.0, 10)
    Traceback (most recent call last):
    ...
    ValueError: crops_per_second must be > 0, got 0.0 ...
    """
    if crops_per_second is None:
        if int(crops_per_utt) < 1:
            raise ValueError(
                f"crops_per_utt must be >= 1, got {crops_per_utt}: set it in "
                "the yaml or with --crops_per_utt."
            )
        return
    if not float(crops_per_second) > 0:
        raise ValueError(
            f"crops_per_second must be > 0, got {crops_per_second} (e.g. "
            "0.25: one 2 s crop per 4 s of speech); or set "
            "crop_mode: fixed to use crops_per_utt."
        )
    if max_crops_per_utt is not None and int(max_crops_per_utt) < 1:
        raise ValueError(
            f"max_crops_per_utt must be >= 1 or null, got {max_crops_per_utt}."
        )


def take_crop(wav, start, crop_samples):
    """A crop of ``crop_samples``; short audio is repeated to fill it.

    Example
    -------
    >>> take_crop(torch.arange(3.0), 0, 7).tolist()
    [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]
    """
    if wav.numel() < crop_samples:
        reps = -(-crop_samples // wav.numel())
        wav = wav.repeat(reps)
    return wav[start : start + crop_samples]


def _reset_augmenter_loaders(module):
    """Drops the data-loader iterators SpeechBrain's augmenters keep.

    ``AddNoise`` / ``AddReverb`` create their CSV loader at the first call
    and keep iterating it; a resumed build would start fresh iterators and
    draw other files. Recreating them per (seeded) chunk makes every chunk
    independent of the ones before it.
    """
    for sub in module.modules():
        for name in ("data_loader", "noise_data", "rir_data"):
            if name in sub.__dict__:
                delattr(sub, name)


class ViewCache:
    """A memory-mapped cache of view embeddings ``[N, V, D]``.

    Arguments
    ---------
    folder : str
        Cache folder (``views.f32`` or ``views.f16``, ``index.json``,
        ``done.json``).

    Example
    -------
    >>> import tempfile
    >>> tmp = tempfile.mkdtemp()
    >>> cache = ViewCache(tmp)
    >>> cache.exists()
    False
    """

    def __init__(self, folder):
        self.folder = folder
        self.index_path = os.path.join(folder, "index.json")
        self.done_path = os.path.join(folder, "done.json")
        self._index = None

    def exists(self):
        """Whether an index has been written."""
        return os.path.exists(self.index_path)

    def index(self):
        """The JSON index (ids, shape, configuration, per-file counts).

        Read once and kept while the file is unchanged (the index of a
        large cache lists every crop).
        """
        stat = os.stat(self.index_path)
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._index is None or self._index[0] != key:
            with open(self.index_path, encoding="utf-8") as fin:
                self._index = (key, json.load(fin))
        return self._index[1]

    @property
    def dtype(self):
        """Storage type: ``"float32"`` (default) or ``"float16"``."""
        if not self.exists():
            return "float32"
        return self.index().get("dtype", "float32")

    @property
    def data_path(self):
        """The array's file (``views.f32`` or ``views.f16``)."""
        return os.path.join(self.folder, DTYPES[self.dtype])

    def _rank_done_path(self, rank):
        """Done flags of one process (``done.json`` for the main one)."""
        if rank == 0:
            return self.done_path
        return os.path.join(self.folder, f"done.rank{rank}.json")

    def done(self):
        """Set of utterance ids whose rows are complete.

        The union of the main process's ``done.json`` and the
        ``done.rank<r>.json`` of the other processes of a sharded build.
        """
        paths = [self.done_path] + sorted(
            glob.glob(os.path.join(self.folder, "done.rank*.json"))
        )
        done = set()
        for path in paths:
            try:
                with open(path, encoding="utf-8") as fin:
                    done.update(json.load(fin))
            except FileNotFoundError:
                continue  # never written, or merged away meanwhile
        return done

    def _write_json(self, obj, path):
        write_json(path, obj, None, "the cache index", _MOVE, if_changed=False)

    def _create_array(self, shape, dtype="float32"):
        """Creates the array file with its blocks reserved on the disk.

        The memory map alone would make a sparse file, whose writes fail
        later (SIGBUS) on a full disk; reserving the space up front makes
        a full disk an error now, naming the folder and the size. A file
        left by a failed attempt is removed (the index comes after it).
        """
        path = os.path.join(self.folder, DTYPES[dtype])
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        try:
            with disk_space(self.folder, size, "the embedding cache", _MOVE):
                np.memmap(path, dtype=dtype, mode="w+", shape=shape).flush()
                fd = os.open(path, os.O_RDWR)
                try:
                    os.posix_fallocate(fd, 0, size)
                except OSError as err:
                    if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise  # no room (unsupported: left sparse)
                finally:
                    os.close(fd)
        except BaseException:
            if os.path.exists(path):
                os.remove(path)
            raise

    def check_free_space(self, shape, dtype="float32"):
        """Logs the array's size; a ``DiskFullError`` if it cannot fit.

        Arguments
        ---------
        shape : tuple of int
            ``(N, V, D)``.
        dtype : str
            ``"float32"`` or ``"float16"``.

        Returns
        -------
        int
            Bytes the array needs.

        Example
        -------
        >>> import tempfile
        >>> ViewCache(tempfile.mkdtemp()).check_free_space((10, 7, 256))
        71680
        >>> ViewCache(tempfile.mkdtemp()).check_free_space((2**40, 7, 512))
        Traceback (most recent call last):
        ...
        seed_brain.utils.errors.DiskFullError: No space left to write the ...
        """
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        free = _free_bytes(self.folder)
        logger.info(
            "Embedding cache %s: %d crops x %d views x %d dims in %s = %s "
            "(%s free there)",
            self.folder,
            *shape,
            dtype,
            human_bytes(size),
            human_bytes(free),
        )
        if free is not None and size > free:
            err = OSError(errno.ENOSPC, "No space left on device")
            raise no_space_error(
                self.folder, err, size, "the embedding cache", _MOVE
            )
        return size

    def array(self, mode="r"):
        """The memory-mapped array (nothing is read until indexed)."""
        shape = tuple(self.index()["shape"])
        return np.memmap(
            self.data_path, dtype=self.dtype, mode=mode, shape=shape
        )

    def complete(self):
        """Whether every utterance of the index is done."""
        return self.exists() and self.done() >= set(self.index()["utterances"])

    def dataset(self, block_rows=None, buffer_blocks=16):
        """A ``DynamicItemDataset`` of crops yielding ``emb`` ``[V, D]``.

        Arguments
        ---------
        block_rows : int or None
            None: each row is read from the memory map on its own (random
            reads once the array is larger than RAM). An int: rows are read
            a block of ``block_rows`` contiguous rows at a time (one
            sequential read), keeping the last ``buffer_blocks`` blocks in
            memory; use it with :class:`BlockShuffleSampler` of the same
            sizes.
        buffer_blocks : int
            Blocks kept in memory (block reading only).

        Returns
        -------
        speechbrain.dataio.dataset.DynamicItemDataset
            Items ``{"id", "emb"}`` in row order (``emb`` in the cache's
            dtype: ``float16`` caches yield ``float16``).
        """
        index = self.index()
        if block_rows is None:
            array = self.array()

            def read(row):
                return np.array(array[row])

        else:
            read = BlockReader(
                self.data_path,
                index["shape"],
                self.dtype,
                block_rows,
                buffer_blocks,
            )
        data = {cid: {"row": i} for i, cid in enumerate(index["crops"])}

        @sb.utils.data_pipeline.takes("row")
        @sb.utils.data_pipeline.provides("emb")
        def read_row(row):
            return torch.from_numpy(read(row))

        return sb.dataio.dataset.DynamicItemDataset(
            data, dynamic_items=[read_row], output_keys=["id", "emb"]
        )

    def build(
        self,
        brain,
        rows,
        crops_per_utt,
        crop_samples,
        seed,
        batch_size=64,
        sample_rate=16000,
        config=None,
        crops_per_second=None,
        max_crops_per_utt=None,
        dtype="float32",
        precision="fp32",
    ):
        """Fills the cache (resuming a partial build).

        Arguments
        ---------
        brain : seed_brain.model.brain.SEEDBrain
            Provides ``encode`` and ``hparams.view_builder``.
        rows : list of tuple
            ``(utterance id, audio path)`` of the training manifest, or
            ``(id, path, seconds)`` (the duration of the manifest; without
            it, proportional counts read the file's header).
        crops_per_utt : int
            Crops per utterance (``M``) when ``crops_per_second`` is None.
        crop_samples : int
            Samples per crop.
        seed : int
            Seed of crop positions and augmentation draws.
        batch_size : int
            Crops per encoder call (times the distinct views); an
            utterance with more crops is encoded alone.
        sample_rate : int
            Audio rate.
        config : dict or None
            Extra settings recorded in the index (views, encoder, ...); a
            cache built with other settings is refused.
        crops_per_second : float or None
            Crops in proportion to duration (see :func:`crop_count`).
        max_crops_per_utt : int or None
            Cap of the proportional count.
        dtype : str
            ``"float32"`` or ``"float16"`` (half the size).
        precision : str
            The encoder's arithmetic while caching: ``fp32``, or ``bf16`` /
            ``fp16`` autocast (``cache_precision``, resolved by
            :func:`seed_brain.utils.precision.resolve_precision`).

        Returns
        -------
        ViewCache
            ``self``.
        """
        if dtype not in DTYPES:
            raise ValueError(
                f"cache_dtype must be one of {sorted(DTYPES)}, got {dtype!r}."
            )
        check_crop_settings(crops_per_utt, crops_per_second, max_crops_per_utt)
        views = list(brain.hparams.view_builder.views)
        config = dict(config or {})
        config.update(
            crop_samples=int(crop_samples),
            seed=int(seed),
            views=views,
            sample_rate=int(sample_rate),
        )
        # A fixed-count float32 cache keeps the index of earlier versions,
        # so that caches built before these settings existed are reused.
        if crops_per_second is None:
            config["crops_per_utt"] = int(crops_per_utt)
        else:
            config["crops_per_second"] = float(crops_per_second)
            config["max_crops_per_utt"] = (
                None if max_crops_per_utt is None else int(max_crops_per_utt)
            )
        if dtype != "float32":
            config["dtype"] = dtype
        if precision != "fp32":
            config["precision"] = precision
        rows = [tuple(r) for r in rows]
        utterances = [r[0] for r in rows]
        rank, world = rank_and_world()
        if self.exists():
            index = self.index()
            dim = getattr(brain, "embedding_dim", index["shape"][-1])
            if (
                index["config"] != config
                or index["utterances"] != utterances
                or index["shape"][-1] != dim  # another encoder
            ):
                raise ValueError(
                    f"The embedding cache in {self.folder} was built with "
                    "other settings or another manifest; delete that folder "
                    "or point 'cache_folder' elsewhere to rebuild it."
                )
        elif rank == 0:
            if crops_per_second is None:  # no durations needed
                counts = [int(crops_per_utt)] * len(rows)
            else:
                counts = [
                    crop_count(
                        _seconds(r, sample_rate),
                        crops_per_utt,
                        crops_per_second,
                        max_crops_per_utt,
                    )
                    for r in rows
                ]
            os.makedirs(self.folder, exist_ok=True)
            probe = brain.encode(
                torch.zeros(1, crop_samples) + 1e-3, precision=precision
            )
            dim = probe.shape[-1]
            crops = [
                f"{u}/{k}" for u, n in zip(utterances, counts) for k in range(n)
            ]
            shape = [len(crops), len(views), dim]
            self.check_free_space(tuple(shape), dtype)
            self._create_array(tuple(shape), dtype)
            index = {
                "config": config,
                "utterances": utterances,
                "crops": crops,
                "shape": shape,
            }
            if crops_per_second is not None:
                index["counts"] = counts
            if dtype != "float32":
                index["dtype"] = dtype
            self._write_json(index, self.index_path)
        barrier()  # the main process has created the array and the index
        if self.complete():
            logger.info("Embedding cache %s is complete", self.folder)
            return self
        index = self.index()
        counts = index.get("counts") or [int(crops_per_utt)] * len(rows)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        array = self.array("r+")
        done = self.done()
        position = {uid: i for i, uid in enumerate(utterances)}
        # Chunks are cut from the whole manifest, so that their content
        # (and their seeded augmentation) does not depend on what is done
        # or on the number of processes; process r takes chunks r, r + N...
        chunks = _chunks(rows, counts, batch_size)
        todo = [
            chunk
            for k, chunk in enumerate(chunks)
            if k % world == rank and any(r[0] not in done for r in chunk)
        ]
        builder = brain.hparams.view_builder
        distinct, slots = builder.distinct_views()
        done_path = self._rank_done_path(rank)
        logger.info(
            "Embedding cache: %d of %d utterances to encode (%s crops x %d "
            "views each, %d distinct), encoder in %s%s",
            sum(len(chunk) for chunk in todo),
            len(rows),
            (
                f"{crops_per_utt}"
                if crops_per_second is None
                else f"{crops_per_second:g} per second, {min(counts)}-"
                f"{max(counts)}"
            ),
            len(views),
            len(distinct),
            precision,
            f" in process {rank} of {world}" if world > 1 else "",
        )
        with tqdm(
            total=sum(len(chunk) for chunk in todo),
            desc="view cache",
            dynamic_ncols=True,
            disable=rank != 0,
        ) as bar:
            for chunk in todo:
                crops = []
                for row in chunk:
                    uid, path = row[0], row[1]
                    wav = load_audio(path, sample_rate)
                    if wav.numel() == 0 or wav.abs().max() == 0:
                        raise ValueError(
                            f"{path} is empty or all silent: remove it from "
                            "the clean training folder."
                        )
                    n = counts[position[uid]]
                    for s in crop_starts(
                        uid, wav.numel(), crop_samples, n, seed
                    ):
                        crops.append(take_crop(wav, int(s), crop_samples))
                wavs = torch.stack(crops).to(brain.device)
                # Augmentation draws come from the global RNG: seed it per
                # chunk so that a resumed build equals an uninterrupted one.
                torch.manual_seed(int(seed) * 100003 + position[chunk[0][0]])
                _reset_augmenter_loaders(builder)
                with torch.inference_mode():
                    lens = torch.ones(wavs.shape[0], device=wavs.device)
                    # Only the distinct views: the augmenters draw from the
                    # RNG in the same order as for all views.
                    v = builder(wavs, lens, distinct_only=True)
                    b, nv, length = v.shape
                    try:
                        emb = brain.encode(
                            v.reshape(b * nv, length), precision=precision
                        )
                    except FloatingPointError as err:
                        files = ", ".join(repr(r[1]) for r in chunk)
                        raise FloatingPointError(
                            f"{err} Building the embedding cache from {files}"
                            f" ({len(crops)} crops x {nv} distinct views)."
                        ) from err
                emb = emb.reshape(b, nv, -1)[:, slots].cpu().numpy()
                if dtype == "float16":
                    emb = _to_float16(emb, chunk)
                first = offsets[position[chunk[0][0]]]
                # A chunk is a run of consecutive utterances: one slice.
                array[first : first + b] = emb
                array.flush()
                done.update(r[0] for r in chunk)
                self._write_json(sorted(done), done_path)
                bar.update(len(chunk))
        barrier()  # every process has flushed its rows
        if rank == 0:
            self._merge_done_flags()
        return self

    def _merge_done_flags(self):
        """Folds the other processes' done flags into ``done.json``."""
        others = glob.glob(os.path.join(self.folder, "done.rank*.json"))
        if others:
            self._write_json(sorted(self.done()), self.done_path)
            for path in others:
                os.remove(path)


def _seconds(row, sample_rate):
    """Duration of a manifest row ``(id, path[, seconds])``."""
    if len(row) > 2 and row[2] not in (None, ""):
        return float(row[2])
    from seed_brain.dataio.audio import audio_info

    rate, frames, _ = audio_info(row[1])
    return frames / rate


def _chunks(rows, counts, batch_size):
    """Consecutive utterances of about ``batch_size`` crops per chunk.

    Whole utterances only: an utterance with more crops than
    ``batch_size`` is a chunk of its own. With equal counts ``c`` this is
    ``batch_size // c`` utterances per chunk (the layout of a fixed count).

    Example
    -------
    >>> [len(c) for c in _chunks(list("abcde"), [30] * 5, 64)]
    [2, 2, 1]
    >>> [len(c) for c in _chunks(list("abcd"), [1, 100, 2, 3], 64)]
    [1, 1, 2]
    """
    chunks, current, total = [], [], 0
    for row, count in zip(rows, counts):
        if current and total + count > batch_size:
            chunks.append(current)
            current, total = [], 0
        current.append(row)
        total += count
    if current:
        chunks.append(current)
    return chunks


def _to_float16(emb, chunk):
    """``emb`` as float16; an error naming the files if it overflows."""
    with np.errstate(over="ignore"):
        out = emb.astype(np.float16)
    if not np.isfinite(out).all():
        files = ", ".join(repr(r[1]) for r in chunk)
        raise ValueError(
            f"Embeddings of {files} exceed the float16 range "
            f"(largest |value| {np.abs(emb).max():.3g} > 65504): set "
            "cache_dtype: float32 for this encoder."
        )
    return out


class BlockReader:
    """Reads rows of a cache file a block of contiguous rows at a time.

    A miss reads the whole block with one ``pread`` (sequential I/O, no
    memory map: the process holds only the blocks it keeps), and the last
    ``buffer_blocks`` blocks stay in memory, so the rows of a
    :class:`BlockShuffleSampler` buffer cost one disk read per block.

    Arguments
    ---------
    path : str
        The array file (``[N, V, D]``, C order, no header).
    shape : sequence of int
        ``(N, V, D)``.
    dtype : str
        Storage type.
    block_rows : int
        Rows per block.
    buffer_blocks : int
        Blocks kept.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.f32")
    >>> np.arange(24, dtype=np.float32).reshape(6, 2, 2).tofile(path)
    >>> read = BlockReader(path, (6, 2, 2), "float32", 4, 1)
    >>> read(5).tolist(), read.reads
    ([[20.0, 21.0], [22.0, 23.0]], 1)
    >>> _ = read(4); read.reads
    1
    """

    def __init__(self, path, shape, dtype, block_rows, buffer_blocks):
        if int(block_rows) < 1 or int(buffer_blocks) < 1:
            raise ValueError(
                "cache_block_rows and cache_buffer_blocks must be >= 1, got "
                f"{block_rows} and {buffer_blocks}."
            )
        self.path = path
        self.shape = tuple(int(x) for x in shape)
        self.dtype = np.dtype(dtype)
        self.block_rows = int(block_rows)
        self.buffer_blocks = int(buffer_blocks)
        self.row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self.blocks = OrderedDict()
        self.reads = 0
        self._fd = None
        self._pid = None

    def _file(self):
        # One descriptor per process (data-loader workers fork).
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY)
            self._pid = os.getpid()
            self.blocks = OrderedDict()
        return self._fd

    def block(self, k):
        """Block ``k`` as an array ``[rows, V, D]`` (read on a miss)."""
        fd = self._file()
        if k in self.blocks:
            self.blocks.move_to_end(k)
            return self.blocks[k]
        first = k * self.block_rows
        rows = min(self.block_rows, self.shape[0] - first)
        data = os.pread(fd, rows * self.row_bytes, first * self.row_bytes)
        if len(data) != rows * self.row_bytes:
            raise ValueError(
                f"{self.path} is shorter than its index says (truncated?): "
                "delete the cache folder to rebuild it."
            )
        block = np.frombuffer(data, dtype=self.dtype).reshape(
            rows, *self.shape[1:]
        )
        self.reads += 1
        self.blocks[k] = block
        if len(self.blocks) > self.buffer_blocks:
            self.blocks.popitem(last=False)
        return block

    def __call__(self, row):
        block = self.block(row // self.block_rows)
        return np.array(block[row % self.block_rows])

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_fd=None, _pid=None, blocks=OrderedDict())
        return state


class BlockShuffleSampler(torch.utils.data.Sampler):
    """Random order that reads a cache in blocks of contiguous rows.

    Each pass over the ``num_rows`` rows shuffles the blocks of
    ``block_rows`` rows, takes them ``buffer_blocks`` at a time and
    shuffles the rows inside each such buffer: every row once per pass,
    and at any time only ``buffer_blocks`` blocks in use (with
    ``ViewCache.dataset(block_rows, buffer_blocks)``, one disk read per
    block per pass). ``num_samples`` rows make an epoch (passes follow
    each other; default one pass); :meth:`set_epoch` changes the order as
    SpeechBrain's ``ReproducibleRandomSampler`` does. Under DDP,
    SpeechBrain's ``DistributedSamplerWrapper`` gives process ``r`` the
    positions ``r, r + N, ...`` of this order: disjoint shards that cover
    it, each within the same buffers.

    Arguments
    ---------
    num_rows : int
        Rows of the cache (or a dataset: its length).
    block_rows : int
        Rows per block.
    buffer_blocks : int
        Blocks shuffled together.
    seed : int
        Base seed.
    num_samples : int or None
        Rows per epoch (None: ``num_rows``).
    epoch : int
        Starting epoch.

    Example
    -------
    >>> sampler = BlockShuffleSampler(10, block_rows=2, buffer_blocks=2)
    >>> sorted(sampler) == list(range(10))
    True
    >>> len(sampler)
    10
    """

    def __init__(
        self,
        num_rows,
        block_rows=256,
        buffer_blocks=16,
        seed=0,
        num_samples=None,
        epoch=0,
    ):
        if not isinstance(num_rows, int):
            num_rows = len(num_rows)
        if int(block_rows) < 1 or int(buffer_blocks) < 1:
            raise ValueError(
                "cache_block_rows and cache_buffer_blocks must be >= 1, got "
                f"{block_rows} and {buffer_blocks}."
            )
        if num_rows < 1:
            raise ValueError("BlockShuffleSampler needs at least one row.")
        self.num_rows = int(num_rows)
        self.block_rows = int(block_rows)
        self.buffer_blocks = int(buffer_blocks)
        self.seed = int(seed)
        self.num_samples = int(num_samples or num_rows)
        self.epoch = int(epoch)

    def set_epoch(self, epoch):
        """Selects the order of an epoch."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def one_pass(self, rng):
        """Row indices of one pass, as an array."""
        blocks = rng.permutation(-(-self.num_rows // self.block_rows))
        parts = []
        for start in range(0, len(blocks), self.buffer_blocks):
            rows = np.concatenate(
                [
                    np.arange(
                        k * self.block_rows,
                        min((k + 1) * self.block_rows, self.num_rows),
                    )
                    for k in blocks[start : start + self.buffer_blocks]
                ]
            )
            parts.append(rng.permutation(rows))
        return np.concatenate(parts)

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        left = self.num_samples
        while left > 0:
            order = self.one_pass(rng)[:left]
            left -= len(order)
            yield from order.tolist()
