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
import os
from dataclasses import dataclass

import numpy as np
import speechbrain as sb
import torch
from tqdm import tqdm

from seed_brain.utils.distributed import barrier, rank_and_world
from seed_brain.utils.errors import (
    _free_bytes,
    disk_space,
    human_bytes,
    no_space_error,
)
from seed_brain.utils.files import write_json
from seed_brain.utils.precision import resolve_precision

# Re-exported: these lived here and are imported from here.
from seed_brain.views.blocks import BlockReader, BlockShuffleSampler  # noqa: F401
from seed_brain.views.chunks import (  # noqa: F401
    _chunk_crops,
    _chunks,
    _crop_counts,
    _encode_views,
    _reset_augmenter_loaders,
    _to_float16,
)
from seed_brain.views.crops import (  # noqa: F401
    _seconds,
    check_crop_settings,
    crop_count,
    crop_starts,
    take_crop,
)

#: Advice in the error of a full disk.
_MOVE = (
    "point cache_folder elsewhere, or set cache_dtype: float16 (half the size)"
)

#: Storage types of the array and their file names.
DTYPES = {"float32": "views.f32", "float16": "views.f16"}

logger = logging.getLogger(__name__)


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
        precision : str or None
            The encoder's arithmetic while caching (``cache_precision``):
            ``fp32``, ``bf16`` / ``fp16`` autocast, or ``auto`` (bf16 where
            ``brain.device`` computes it natively), resolved here by
            :func:`seed_brain.utils.precision.resolve_precision`; the index
            records the resolved one.

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
        precision = resolve_precision(precision, brain.device)
        settings = _BuildSettings(
            crops_per_utt,
            crop_samples,
            seed,
            batch_size,
            sample_rate,
            crops_per_second,
            max_crops_per_utt,
            dtype,
            precision,
        )
        views = list(brain.hparams.view_builder.views)
        config = settings.index_config(config, views)
        rows = [tuple(r) for r in rows]
        utterances = [r[0] for r in rows]
        rank, world = rank_and_world()
        if self.exists():
            self._check_reuse(brain, config, utterances)
        elif rank == 0:
            counts = _crop_counts(
                rows,
                crops_per_utt,
                sample_rate,
                crops_per_second,
                max_crops_per_utt,
            )
            self._create(brain, config, utterances, counts, settings)
        barrier()  # the main process has created the array and the index
        if self.complete():
            logger.info("Embedding cache %s is complete", self.folder)
            return self
        self._encode_missing(brain, rows, settings)
        barrier()  # every process has flushed its rows
        if rank == 0:
            self._merge_done_flags()
        return self

    def _encode_missing(self, brain, rows, settings):
        """Encodes this process's chunks that are not done yet."""
        crops_per_utt = settings.crops_per_utt
        crops_per_second = settings.crops_per_second
        crop_samples, seed = settings.crop_samples, settings.seed
        dtype, precision = settings.dtype, settings.precision
        rank, world = rank_and_world()
        utterances = [r[0] for r in rows]
        index = self.index()
        views = index["config"]["views"]
        counts = index.get("counts") or [int(crops_per_utt)] * len(rows)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        array = self.array("r+")
        done = self.done()
        position = {uid: i for i, uid in enumerate(utterances)}
        # Chunks are cut from the whole manifest, so that their content
        # (and their seeded augmentation) does not depend on what is done
        # or on the number of processes; process r takes chunks r, r + N...
        chunks = _chunks(rows, counts, settings.batch_size)
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
                first = position[chunk[0][0]]
                wavs = _chunk_crops(
                    chunk,
                    [counts[position[r[0]]] for r in chunk],
                    crop_samples,
                    seed,
                    settings.sample_rate,
                ).to(brain.device)
                # Augmentation draws come from the global RNG: seed it per
                # chunk so that a resumed build equals an uninterrupted one.
                torch.manual_seed(int(seed) * 100003 + first)
                _reset_augmenter_loaders(builder)
                emb = _encode_views(brain, builder, wavs, chunk, precision)
                emb = emb[:, slots].cpu().numpy()
                if dtype == "float16":
                    emb = _to_float16(emb, chunk)
                # A chunk is a run of consecutive utterances: one slice.
                array[offsets[first] : offsets[first] + len(emb)] = emb
                array.flush()
                done.update(r[0] for r in chunk)
                self._write_json(sorted(done), done_path)
                bar.update(len(chunk))

    def _check_reuse(self, brain, config, utterances):
        """Refuses an existing cache built with other settings."""
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

    def _create(self, brain, config, utterances, counts, settings):
        """Creates the array (its space reserved) and writes the index."""
        crop_samples, dtype = settings.crop_samples, settings.dtype
        precision = settings.precision
        os.makedirs(self.folder, exist_ok=True)
        probe = brain.encode(
            torch.zeros(1, crop_samples) + 1e-3, precision=precision
        )
        dim = probe.shape[-1]
        crops = [
            f"{u}/{k}" for u, n in zip(utterances, counts) for k in range(n)
        ]
        shape = [len(crops), len(config["views"]), dim]
        self.check_free_space(tuple(shape), dtype)
        self._create_array(tuple(shape), dtype)
        index = {
            "config": config,
            "utterances": utterances,
            "crops": crops,
            "shape": shape,
        }
        if settings.crops_per_second is not None:  # proportional counts
            index["counts"] = counts
        if dtype != "float32":
            index["dtype"] = dtype
        self._write_json(index, self.index_path)

    def _merge_done_flags(self):
        """Folds the other processes' done flags into ``done.json``."""
        others = glob.glob(os.path.join(self.folder, "done.rank*.json"))
        if others:
            self._write_json(sorted(self.done()), self.done_path)
            for path in others:
                os.remove(path)


@dataclass(frozen=True)
class _BuildSettings:
    """The settings of one :meth:`ViewCache.build` (its arguments)."""

    crops_per_utt: int
    crop_samples: int
    seed: int
    batch_size: int
    sample_rate: int
    crops_per_second: float = None
    max_crops_per_utt: int = None
    dtype: str = "float32"
    precision: str = "fp32"

    def index_config(self, config, views):
        """The settings a cache records in its index (and must match)."""
        config = dict(config or {})
        config.update(
            crop_samples=int(self.crop_samples),
            seed=int(self.seed),
            views=views,
            sample_rate=int(self.sample_rate),
        )
        # A fixed-count float32 cache keeps the index of earlier versions,
        # so that caches built before these settings existed are reused.
        if self.crops_per_second is None:
            config["crops_per_utt"] = int(self.crops_per_utt)
        else:
            config["crops_per_second"] = float(self.crops_per_second)
            config["max_crops_per_utt"] = (
                None
                if self.max_crops_per_utt is None
                else int(self.max_crops_per_utt)
            )
        if self.dtype != "float32":
            config["dtype"] = self.dtype
        if self.precision != "fp32":
            config["precision"] = self.precision
        return config
