"""Whole audio files embedded by SEEDBrain's frozen encoder, with a cache.

:class:`FileEmbedding` is the part of
:class:`seed_brain.model.brain.SEEDBrain` that embeds the dev and test files
once (sorted by length, batched, sharded under DDP) and keeps the embeddings
on disk, keyed by id, path and file size, so that evaluating another
checkpoint reruns only the denoiser; :func:`embeddings_dataset` serves them
to the evaluation.

Authors
 * seed-brain developers 2026
"""

import logging
import os

import speechbrain as sb
import torch

from seed_brain.dataio.audio import load_audio
from seed_brain.utils.distributed import gather_dict, rank_and_world
from seed_brain.utils.files import file_key, save_torch
from seed_brain.utils.progress import progress

logger = logging.getLogger(__name__)


class FileEmbedding:
    """File embedding of :class:`seed_brain.model.brain.SEEDBrain`.

    A mixin: it uses the brain's ``encode``, ``embedding_dim``, ``device``
    and ``_hp``.
    """

    # ---------------------------------------------------------- embedding
    def embed_files(self, items, cache_path=None, batch_size=8, desc="embed"):
        """Embeds whole audio files with the frozen encoder, with a cache.

        Files are sorted by length and batched, so that padding stays small.
        The embeddings are saved to ``cache_path`` (keyed by id, path and
        file size) and reused by later runs, e.g. when another checkpoint is
        evaluated.

        Arguments
        ---------
        items : dict
            Maps utterance id to audio path.
        cache_path : str or None
            Where to keep the embeddings.
        batch_size : int
            Files per encoder call.
        desc : str
            Progress-bar label.

        Returns
        -------
        dict
            Maps id to a ``[D]`` float32 embedding.
        """
        cached = self._cached_embeddings(items, cache_path)
        todo = [uid for uid in items if uid not in cached]
        logger.info(
            "%s: %d of %d embeddings reused from the cache, %d to compute",
            desc,
            len(cached),
            len(items),
            len(todo),
        )
        if todo:
            new = self._embed_missing(items, todo, batch_size, desc)
            cached.update(gather_dict(new))
            if cache_path and sb.utils.distributed.if_main_process():
                ids = sorted(cached)
                save_torch(
                    {
                        "ids": ids,
                        "emb": torch.stack([cached[u] for u in ids]),
                        "keys": [file_key(items[u]) for u in ids],
                    },
                    cache_path,
                )
            sb.utils.distributed.ddp_barrier()
        return {uid: cached[uid] for uid in items}

    def _cached_embeddings(self, items, cache_path):
        """The embeddings of ``items`` that ``cache_path`` holds up to date."""
        if not (cache_path and os.path.exists(cache_path)):
            return {}
        blob = torch.load(cache_path, weights_only=True)
        return {
            uid: emb
            for uid, emb, key in zip(blob["ids"], blob["emb"], blob["keys"])
            if uid in items
            and key == file_key(items[uid])
            and emb.shape[-1] == self.embedding_dim  # same encoder size
        }

    def _embed_missing(self, items, todo, batch_size, desc):
        """Embeds the files ``todo`` (this process's batches of them)."""
        sizes = {uid: os.path.getsize(items[uid]) for uid in todo}
        todo.sort(key=lambda u: (sizes[u], u))
        sample_rate = int(self._hp("sample_rate", 16000))
        # Under DDP each process embeds every N-th batch; the batches
        # are the same as in one process, so are the embeddings.
        rank, world = rank_and_world()
        batches = [
            todo[start : start + batch_size]
            for start in range(0, len(todo), batch_size)
        ][rank::world]
        new = {}
        with progress(
            total=sum(len(chunk) for chunk in batches),
            desc=desc,
            always=True,
            disable=rank != 0,
        ) as bar:
            for chunk in batches:
                wavs = [load_audio(items[u], sample_rate) for u in chunk]
                for uid, wav in zip(chunk, wavs):
                    if wav.numel() == 0 or wav.abs().max() == 0:
                        raise ValueError(
                            f"{items[uid]} is empty or all silent: "
                            "remove it from the test set or trial list."
                        )
                batch = sb.dataio.batch.PaddedBatch([{"sig": w} for w in wavs])
                sig, lens = batch.sig
                with torch.inference_mode():
                    emb = self.encode(
                        sig.to(self.device),
                        lens.to(self.device),
                        names=[items[u] for u in chunk],
                    )
                emb = emb.cpu().clone()  # a normal tensor again
                for uid, e in zip(chunk, emb):
                    new[uid] = e
                bar.update(len(chunk))
        return new


def embeddings_dataset(embeddings):
    """A ``DynamicItemDataset`` of stored utterance embeddings.

    Arguments
    ---------
    embeddings : dict
        Maps id to a ``[D]`` embedding.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id`` and ``emb``.

    Example
    -------
    >>> ds = embeddings_dataset({"a": torch.zeros(4)})
    >>> ds[0]["emb"].shape
    torch.Size([4])
    """
    data = {uid: {"emb": emb} for uid, emb in embeddings.items()}
    return sb.dataio.dataset.DynamicItemDataset(data, output_keys=["id", "emb"])
