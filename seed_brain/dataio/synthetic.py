"""Synthetic noise and room impulse responses to widen the training banks.

Real noise and RIR collections are small (the shared data has 5 + 2 noise
files and 7 RIRs); SEED learns a mapping from corrupted to clean embeddings
and needs variety in the corruptions more than in anything else. These
functions write generated noise (coloured, hum, machine-like,
speech-shaped: the training families of :mod:`seed_brain.dataio.demo`) and
simulated shoe-box rooms (image sources plus a diffuse tail, RT60 drawn in a
range) as 16 kHz mono WAV files, deterministically from a seed, written
once. The recipe adds them to the training noise / RIR banks when
``synthetic_noise`` / ``synthetic_rirs`` are non-zero; the test conditions
never use them.

Authors
 * seed-brain developers 2026
"""

import os

import numpy as np
import torch

from seed_brain.dataio.audio import write_audio

NOISE_FAMILIES = ("colored", "hum", "machine", "speech_shaped")


def _rng(seed, kind, index):
    return np.random.default_rng(
        [int(seed), {"noise": 1, "rir": 2}[kind], index]
    )


def write_synthetic_noise(
    folder, count, seed=0, seconds=8.0, sample_rate=16000
):
    """Writes ``count`` generated noise files (idempotent).

    Arguments
    ---------
    folder : str
        Output folder.
    count : int
        Number of files (cycling through the noise families).
    seed : int
        Seed; file ``k`` depends only on ``(seed, k)``.
    seconds : float
        Length of each file.
    sample_rate : int
        Rate of the files.

    Returns
    -------
    list of str
        The file paths.

    Example
    -------
    >>> import tempfile
    >>> paths = write_synthetic_noise(tempfile.mkdtemp(), 2, seconds=0.5)
    >>> [os.path.basename(p) for p in paths]
    ['synthetic_colored_000.wav', 'synthetic_hum_001.wav']
    """
    from seed_brain.dataio.demo import make_noise

    paths = []
    for k in range(int(count)):
        family = NOISE_FAMILIES[k % len(NOISE_FAMILIES)]
        path = os.path.join(folder, f"synthetic_{family}_{k:03d}.wav")
        if not os.path.exists(path):
            wav = make_noise(
                family, _rng(seed, "noise", k), seconds, sample_rate
            )
            write_audio(path, torch.from_numpy(wav), sample_rate)
        paths.append(path)
    return paths


def write_synthetic_rirs(
    folder, count, seed=0, rt60_range=(0.2, 1.2), sample_rate=16000
):
    """Writes ``count`` simulated room impulse responses (idempotent).

    Arguments
    ---------
    folder : str
        Output folder.
    count : int
        Number of rooms.
    seed : int
        Seed; room ``k`` depends only on ``(seed, k)``.
    rt60_range : tuple
        Reverberation time range in seconds.
    sample_rate : int
        Rate of the files.

    Returns
    -------
    list of str
        The file paths.

    Example
    -------
    >>> import tempfile
    >>> paths = write_synthetic_rirs(tempfile.mkdtemp(), 1)
    >>> os.path.basename(paths[0])
    'synthetic_room_000.wav'
    """
    from seed_brain.dataio.demo import make_rir

    paths = []
    for k in range(int(count)):
        path = os.path.join(folder, f"synthetic_room_{k:03d}.wav")
        if not os.path.exists(path):
            rir = make_rir(
                _rng(seed, "rir", k),
                sample_rate=sample_rate,
                rt60_range=tuple(rt60_range),
            )
            rir = rir[0] if isinstance(rir, tuple) else rir
            write_audio(path, torch.from_numpy(np.asarray(rir)), sample_rate)
        paths.append(path)
    return paths
