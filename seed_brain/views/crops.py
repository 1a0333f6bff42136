"""Random crops of training utterances for the view cache and online views.

Crop positions are drawn from an RNG seeded by the utterance id and the
global seed, so a crop does not depend on the order in which utterances
are read; the number of crops is fixed or in proportion to the duration.

Authors
 * seed-brain developers 2026
"""

import math
import zlib

import numpy as np


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
    >>> import torch
    >>> take_crop(torch.arange(3.0), 0, 7).tolist()
    [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]
    """
    if wav.numel() < crop_samples:
        reps = -(-crop_samples // wav.numel())
        wav = wav.repeat(reps)
    return wav[start : start + crop_samples]


def _seconds(row, sample_rate):
    """Duration of a manifest row ``(id, path[, seconds])``."""
    if len(row) > 2 and row[2] not in (None, ""):
        return float(row[2])
    from seed_brain.dataio.audio import audio_info

    rate, frames, _ = audio_info(row[1])
    return frames / rate
