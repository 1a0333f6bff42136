"""The chunks of a view-cache build: their crops and their view embeddings.

A build cuts the training manifest into chunks of consecutive utterances
(:func:`_chunks`), crops each chunk's audio (:func:`_chunk_crops`) and
encodes its distinct views in one call (:func:`_encode_views`). The
chunks, and the seeded augmentation of each, do not depend on what is
done or on the number of processes. :class:`seed_brain.views.cache.ViewCache`
writes the embeddings.

Authors
 * seed-brain developers 2026
"""

import numpy as np
import torch

from seed_brain.dataio.audio import load_audio
from seed_brain.views.crops import _seconds, crop_count, crop_starts, take_crop


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


def _crop_counts(
    rows, crops_per_utt, sample_rate, crops_per_second, max_crops_per_utt
):
    """Crops of each manifest row (durations read only when proportional)."""
    if crops_per_second is None:  # no durations needed
        return [int(crops_per_utt)] * len(rows)
    return [
        crop_count(
            _seconds(r, sample_rate),
            crops_per_utt,
            crops_per_second,
            max_crops_per_utt,
        )
        for r in rows
    ]


def _chunk_crops(chunk, counts, crop_samples, seed, sample_rate):
    """The crops ``[crops, crop_samples]`` of a chunk's utterances."""
    crops = []
    for row, n in zip(chunk, counts):
        uid, path = row[0], row[1]
        wav = load_audio(path, sample_rate)
        if wav.numel() == 0 or wav.abs().max() == 0:
            raise ValueError(
                f"{path} is empty or all silent: remove it from "
                "the clean training folder."
            )
        for s in crop_starts(uid, wav.numel(), crop_samples, n, seed):
            crops.append(take_crop(wav, int(s), crop_samples))
    return torch.stack(crops)


def _encode_views(brain, builder, wavs, chunk, precision):
    """Embeddings ``[crops, distinct views, D]`` of a chunk's crops."""
    with torch.inference_mode():
        lens = torch.ones(wavs.shape[0], device=wavs.device)
        # Only the distinct views: the augmenters draw from the RNG in
        # the same order as for all views.
        v = builder(wavs, lens, distinct_only=True)
        b, nv, length = v.shape
        try:
            emb = brain.encode(v.reshape(b * nv, length), precision=precision)
        except FloatingPointError as err:
            files = ", ".join(repr(r[1]) for r in chunk)
            raise FloatingPointError(
                f"{err} Building the embedding cache from {files}"
                f" ({b} crops x {nv} distinct views)."
            ) from err
    return emb.reshape(b, nv, -1)


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
