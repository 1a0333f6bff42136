"""Embedding cache of training views.

Running the frozen encoder on every view of every crop, every epoch, is
what SEED training costs; the denoiser itself is tiny. The cache runs the
encoder once over ``crops_per_utt`` random crops of each training
utterance, ``V`` views each, and stores the embeddings in a memory-mapped
``float32`` array ``[N, V, D]`` with a JSON index. Training then reads
embeddings (``use_cache: True``) and draws fresh forward-process noise at
every step.

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
import zlib

import numpy as np
import speechbrain as sb
import torch
from tqdm import tqdm

from seed_brain.dataio.audio import load_audio
from seed_brain.utils.distributed import barrier, rank_and_world
from seed_brain.utils.errors import disk_space
from seed_brain.utils.files import write_json

#: Advice in the error of a full disk.
_MOVE = "point cache_folder elsewhere"

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
        Cache folder (``views.f32``, ``index.json``, ``done.json``).

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
        self.data_path = os.path.join(folder, "views.f32")
        self.done_path = os.path.join(folder, "done.json")

    def exists(self):
        """Whether an index has been written."""
        return os.path.exists(self.index_path)

    def index(self):
        """The JSON index (ids, shape, configuration)."""
        with open(self.index_path, encoding="utf-8") as fin:
            return json.load(fin)

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

    def _create_array(self, shape):
        """Creates ``views.f32`` with its blocks reserved on the disk.

        The memory map alone would make a sparse file, whose writes fail
        later (SIGBUS) on a full disk; reserving the space up front makes
        a full disk an error now, naming the folder and the size. A file
        left by a failed attempt is removed (the index comes after it).
        """
        size = int(np.prod(shape)) * 4
        try:
            with disk_space(self.folder, size, "the embedding cache", _MOVE):
                np.memmap(
                    self.data_path, dtype=np.float32, mode="w+", shape=shape
                ).flush()
                fd = os.open(self.data_path, os.O_RDWR)
                try:
                    os.posix_fallocate(fd, 0, size)
                except OSError as err:
                    if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise  # no room (unsupported: left sparse)
                finally:
                    os.close(fd)
        except BaseException:
            if os.path.exists(self.data_path):
                os.remove(self.data_path)
            raise

    def array(self, mode="r"):
        """The memory-mapped array."""
        shape = tuple(self.index()["shape"])
        return np.memmap(
            self.data_path, dtype=np.float32, mode=mode, shape=shape
        )

    def complete(self):
        """Whether every utterance of the index is done."""
        return self.exists() and self.done() >= set(self.index()["utterances"])

    def dataset(self):
        """A ``DynamicItemDataset`` of crops yielding ``emb`` ``[V, D]``."""
        index = self.index()
        array = self.array()
        data = {cid: {"row": i} for i, cid in enumerate(index["crops"])}

        @sb.utils.data_pipeline.takes("row")
        @sb.utils.data_pipeline.provides("emb")
        def read_row(row):
            return torch.from_numpy(np.array(array[row]))

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
    ):
        """Fills the cache (resuming a partial build).

        Arguments
        ---------
        brain : seed_brain.model.brain.SEEDBrain
            Provides ``encode`` and ``hparams.view_builder``.
        rows : list of tuple
            ``(utterance id, audio path)`` of the training manifest.
        crops_per_utt : int
            Crops per utterance (``M``).
        crop_samples : int
            Samples per crop.
        seed : int
            Seed of crop positions and augmentation draws.
        batch_size : int
            Crops per encoder call (times ``V`` views).
        sample_rate : int
            Audio rate.
        config : dict or None
            Extra settings recorded in the index (views, encoder, ...); a
            cache built with other settings is refused.

        Returns
        -------
        ViewCache
            ``self``.
        """
        views = list(brain.hparams.view_builder.views)
        config = dict(config or {})
        config.update(
            crops_per_utt=int(crops_per_utt),
            crop_samples=int(crop_samples),
            seed=int(seed),
            views=views,
            sample_rate=int(sample_rate),
        )
        utterances = [uid for uid, _ in rows]
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
            os.makedirs(self.folder, exist_ok=True)
            probe = brain.encode(torch.zeros(1, crop_samples) + 1e-3)
            dim = probe.shape[-1]
            crops = [
                f"{u}/{k}" for u in utterances for k in range(crops_per_utt)
            ]
            shape = [len(crops), len(views), dim]
            self._create_array(tuple(shape))
            self._write_json(
                {
                    "config": config,
                    "utterances": utterances,
                    "crops": crops,
                    "shape": shape,
                },
                self.index_path,
            )
        barrier()  # the main process has created the array and the index
        if self.complete():
            logger.info("Embedding cache %s is complete", self.folder)
            return self
        array = self.array("r+")
        done = self.done()
        position = {uid: i for i, uid in enumerate(utterances)}
        # Chunks are cut from the whole manifest, so that their content
        # (and their seeded augmentation) does not depend on what is done
        # or on the number of processes; process r takes chunks r, r + N...
        per_chunk = max(1, batch_size // crops_per_utt)
        chunks = [
            rows[start : start + per_chunk]
            for start in range(0, len(rows), per_chunk)
        ]
        todo = [
            chunk
            for k, chunk in enumerate(chunks)
            if k % world == rank and any(u not in done for u, _ in chunk)
        ]
        done_path = self._rank_done_path(rank)
        logger.info(
            "Embedding cache: %d of %d utterances to encode (%d crops x %d "
            "views each)%s",
            sum(len(chunk) for chunk in todo),
            len(rows),
            crops_per_utt,
            len(views),
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
                for uid, path in chunk:
                    wav = load_audio(path, sample_rate)
                    if wav.numel() == 0 or wav.abs().max() == 0:
                        raise ValueError(
                            f"{path} is empty or all silent: remove it from "
                            "the clean training folder."
                        )
                    for s in crop_starts(
                        uid, wav.numel(), crop_samples, crops_per_utt, seed
                    ):
                        crops.append(take_crop(wav, int(s), crop_samples))
                wavs = torch.stack(crops).to(brain.device)
                # Augmentation draws come from the global RNG: seed it per
                # chunk so that a resumed build equals an uninterrupted one.
                torch.manual_seed(int(seed) * 100003 + position[chunk[0][0]])
                _reset_augmenter_loaders(brain.hparams.view_builder)
                with torch.inference_mode():
                    lens = torch.ones(wavs.shape[0], device=wavs.device)
                    v = brain.hparams.view_builder(wavs, lens)
                    b, nv, length = v.shape
                    try:
                        emb = brain.encode(v.reshape(b * nv, length))
                    except FloatingPointError as err:
                        files = ", ".join(repr(p) for _, p in chunk)
                        raise FloatingPointError(
                            f"{err} Building the embedding cache from {files}"
                            f" ({crops_per_utt} crops x {nv} views each)."
                        ) from err
                emb = emb.reshape(b, nv, -1).cpu().numpy()
                for j, (uid, _) in enumerate(chunk):
                    row = position[uid] * crops_per_utt
                    array[row : row + crops_per_utt] = emb[
                        j * crops_per_utt : (j + 1) * crops_per_utt
                    ]
                array.flush()
                done.update(uid for uid, _ in chunk)
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
