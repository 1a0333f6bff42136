"""Corpora for training, idempotent like :mod:`seed_brain.dataio.corpora`.

* :func:`prepare_musan`: MUSAN split into ``music.csv``, ``noise.csv`` and
  ``speech.csv``, plus generated babble (3-7 speech files summed) in
  ``babble.csv``, all in the CSV format of SpeechBrain's ``AddNoise``.
* :func:`prepare_rirs`: room impulse responses (OpenSLR-28's
  ``simulated_rirs`` or any folder) in the CSV format of ``AddReverb``.
* :func:`prepare_speaker_segments`: speaker-labelled fixed-length segments
  of a one-folder-per-speaker corpus, for ``recipes/train_backbone.py``.

Authors
 * seed-brain developers 2026
"""

import csv
import logging
import math
import os

import numpy as np
import torch

from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio.audio import audio_info, load_audio, write_audio
from seed_brain.dataio.manifests import AUGMENT_HEADER
from seed_brain.utils.files import read_json, write_json, write_text

__all__ = [
    "prepare_musan",
    "prepare_rirs",
    "prepare_speaker_segments",
]

logger = logging.getLogger(__name__)


def _augment_rows(files, root, convert_folder, sample_rate):
    """AddNoise/AddReverb CSV rows; files not 16 kHz mono are converted."""
    rows, converted = [], 0
    for path in files:
        rel = dataprep._rel_posix(path, root)
        rate, frames, channels = audio_info(path)
        target = path
        if rate != sample_rate or channels != 1:
            target = os.path.join(
                convert_folder,
                *(os.path.splitext(rel)[0] + ".wav").split("/"),
            )
            if not dataprep._converted_is_current(path, target, sample_rate):
                write_audio(target, load_audio(path, sample_rate), sample_rate)
                converted += 1
            rate, frames, _ = audio_info(target)
        rows.append(
            {
                "ID": dataprep._make_id(rel),
                "duration": f"{frames / rate:.4f}",
                "wav": os.path.abspath(target),
                "wav_format": "wav",
                "wav_opts": "",
            }
        )
    dataprep._check_unique_ids(
        [r["ID"] for r in rows], [r["wav"] for r in rows], root
    )
    return rows, converted


def _write_augment_csv(csv_path, rows):
    return write_text(csv_path, dataprep._csv_text(AUGMENT_HEADER, rows))


def _babble(speech_files, out_folder, count, seconds, speakers, seed, rate):
    """Writes ``count`` babble files; returns their paths."""
    params = {
        "count": int(count),
        "seconds": float(seconds),
        "speakers": [int(speakers[0]), int(speakers[1])],
        "seed": int(seed),
        "sample_rate": int(rate),
        "sources": [os.path.abspath(f) for f in speech_files],
    }
    record_path = os.path.join(out_folder, "babble.json")
    record = read_json(record_path)
    paths = [
        os.path.join(out_folder, f"babble_{k:05d}.wav") for k in range(count)
    ]
    if record == params and all(os.path.isfile(p) for p in paths):
        return paths, 0
    length = int(seconds * rate)
    written = 0
    for k, path in enumerate(paths):
        if record == params and os.path.isfile(path):
            continue
        rng = np.random.default_rng([int(seed), k])
        n = int(rng.integers(speakers[0], speakers[1] + 1))
        n = min(n, len(speech_files))
        chosen = rng.choice(len(speech_files), size=n, replace=False)
        mix = torch.zeros(length)
        for index in chosen:
            wav = load_audio(speech_files[int(index)], rate)
            if wav.numel() >= length:
                start = int(rng.integers(wav.numel() - length + 1))
                piece = wav[start : start + length]
            else:
                piece = wav.repeat(math.ceil(length / wav.numel()))[:length]
            rms = piece.pow(2).mean().sqrt().clamp(min=1e-8)
            mix += piece / rms
        mix = 0.1 * mix / mix.pow(2).mean().sqrt().clamp(min=1e-8)
        peak = float(mix.abs().max())
        if peak > 0.99:
            mix = mix * (0.99 / peak)
        write_audio(path, mix, rate)
        written += 1
    write_json(record_path, params)
    return paths, written


def prepare_musan(
    musan_folder,
    out_folder,
    babble_count=200,
    babble_seconds=20.0,
    babble_speakers=(3, 7),
    seed=0,
    sample_rate=16000,
):
    """MUSAN as SpeechBrain ``AddNoise`` CSVs, plus generated babble.

    Writes ``music.csv``, ``noise.csv`` and ``speech.csv`` (every audio
    file of ``musan/music``, ``musan/noise``, ``musan/speech``), and
    ``babble.csv`` listing ``babble_count`` files of ``babble_seconds``
    under ``out_folder/babble``, each the sum of 3-7 (``babble_speakers``)
    random MUSAN speech excerpts at equal level (SEED's babble view,
    switched off in the paper, uses 3-7 speech files at SNR U[13, 20] dB).
    Files already at ``sample_rate`` and mono are listed in place; others
    are converted under ``out_folder/converted``.

    Arguments
    ---------
    musan_folder : str
        The ``musan`` folder (holding ``music``, ``noise``, ``speech``).
    out_folder : str
        Output folder.
    babble_count : int
        Number of babble files (0: none).
    babble_seconds : float
        Length of each babble file.
    babble_speakers : tuple of int
        Fewest and most speech files per babble file.
    seed : int
        Seed of the babble choices.
    sample_rate : int
        Rate of the listed files.

    Returns
    -------
    dict
        ``{"music": csv, "noise": csv, "speech": csv, "babble": csv or
        None, "folders": {part: folder}}``.
    """
    musan_folder = dataprep._check_folder(musan_folder, "MUSAN folder")
    os.makedirs(out_folder, exist_ok=True)
    result, folders = {}, {}
    wrote = 0
    for part in ("music", "noise", "speech"):
        folder = os.path.join(musan_folder, part)
        files = dataprep.list_audio_files(folder)
        if not files:
            raise dataprep._no_audio_error(folder)
        rows, converted = _augment_rows(
            files,
            folder,
            os.path.join(out_folder, "converted", part),
            sample_rate,
        )
        csv_path = os.path.join(out_folder, f"{part}.csv")
        wrote += converted + _write_augment_csv(csv_path, rows)
        result[part] = os.path.abspath(csv_path)
        folders[part] = os.path.abspath(folder)
    result["babble"] = None
    if babble_count > 0:
        speech = _read_wavs(result["speech"])
        paths, written = _babble(
            speech,
            os.path.join(out_folder, "babble"),
            babble_count,
            babble_seconds,
            babble_speakers,
            seed,
            sample_rate,
        )
        rows, _ = _augment_rows(
            paths, os.path.join(out_folder, "babble"), "", sample_rate
        )
        csv_path = os.path.join(out_folder, "babble.csv")
        wrote += written + _write_augment_csv(csv_path, rows)
        result["babble"] = os.path.abspath(csv_path)
        folders["babble"] = os.path.abspath(os.path.join(out_folder, "babble"))
    result["folders"] = folders
    logger.info(
        "MUSAN: %s in %s.",
        "updated" if wrote else "already up to date",
        out_folder,
    )
    return result


def _read_wavs(csv_path):
    with open(csv_path, newline="", encoding="utf-8") as fin:
        return [row["wav"] for row in csv.DictReader(fin)]


def prepare_rirs(rir_folder, out_folder, sample_rate=16000):
    """Room impulse responses as a SpeechBrain ``AddReverb`` CSV.

    ``rir_folder`` is any folder of impulse responses; when it holds
    ``simulated_rirs`` (OpenSLR-28's ``RIRS_NOISES``), only those are used
    (the real RIRs and point-source noises are left out, as in SEED).

    Arguments
    ---------
    rir_folder : str
        Folder of RIRs, or OpenSLR-28's ``RIRS_NOISES``.
    out_folder : str
        ``rir.csv`` goes here (and converted files, for RIRs that are not
        mono at ``sample_rate``).
    sample_rate : int
        Rate of the listed files.

    Returns
    -------
    dict
        ``{"rir": csv, "folder": the folder used, "files": count}``.
    """
    rir_folder = dataprep._check_folder(rir_folder, "RIR folder")
    simulated = os.path.join(rir_folder, "simulated_rirs")
    folder = simulated if os.path.isdir(simulated) else rir_folder
    files = dataprep.list_audio_files(folder)
    if not files:
        raise dataprep._no_audio_error(folder)
    rows, converted = _augment_rows(
        files, folder, os.path.join(out_folder, "converted"), sample_rate
    )
    csv_path = os.path.join(out_folder, "rir.csv")
    wrote = _write_augment_csv(csv_path, rows)
    logger.info(
        "RIRs: %d files from %s; %s.",
        len(rows),
        folder,
        "wrote " + csv_path if wrote or converted else "already up to date",
    )
    return {
        "rir": os.path.abspath(csv_path),
        "folder": os.path.abspath(folder),
        "files": len(rows),
    }


SEGMENT_HEADER = ["ID", "duration", "wav", "start", "stop", "spk_id"]


def prepare_speaker_segments(
    folders,
    out_folder,
    segment_seconds=3.0,
    valid_per_speaker=1,
    max_segments_per_utt=None,
    seed=1234,
):
    """Cuts a one-folder-per-speaker corpus into fixed-length segments.

    Every audio file below ``<folder>/<speaker>/`` (any depth: VoxCeleb's
    ``id/session/utt.wav``, LibriSpeech's ``spk/chapter/utt.flac``) is cut
    into consecutive segments of ``segment_seconds`` (at most
    ``max_segments_per_utt``; files shorter than one segment are left out).
    Per speaker, ``valid_per_speaker`` random segments go to ``valid.csv``
    (when the speaker has more), the rest to ``train.csv``. Columns:
    ``ID,duration,wav,start,stop,spk_id`` (``start``/``stop`` in seconds).

    Arguments
    ---------
    folders : str or list of str
        Corpus folder(s); the speaker is the first path component below.
    out_folder : str
        Where ``train.csv``, ``valid.csv`` and ``segments.json`` go.
    segment_seconds : float
        Segment length.
    valid_per_speaker : int
        Held-out segments per speaker.
    max_segments_per_utt : int or None
        Cap on the segments of one file.
    seed : int
        Seed of the held-out choice.

    Returns
    -------
    dict
        ``{"train": csv, "valid": csv, "speakers": n, "train_segments": n,
        "valid_segments": n}``.

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.dataio.audio import write_audio
    >>> root = tempfile.mkdtemp()
    >>> for spk in ["s1", "s2"]:
    ...     write_audio(os.path.join(root, "c", spk, "u.wav"),
    ...                 torch.zeros(16000 * 7))
    >>> out = prepare_speaker_segments(os.path.join(root, "c"),
    ...                                os.path.join(root, "o"), 2.0)
    >>> out["speakers"], out["train_segments"], out["valid_segments"]
    (2, 4, 2)
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    folders = [os.path.abspath(os.fspath(f)) for f in folders]
    params = {
        "folders": folders,
        "segment_seconds": float(segment_seconds),
        "valid_per_speaker": int(valid_per_speaker),
        "max_segments_per_utt": max_segments_per_utt,
        "seed": int(seed),
    }
    record_path = os.path.join(out_folder, "segments.json")
    train_csv = os.path.join(out_folder, "train.csv")
    valid_csv = os.path.join(out_folder, "valid.csv")
    record = read_json(record_path)
    if (
        record is not None
        and record.get("params") == params
        and os.path.isfile(train_csv)
        and os.path.isfile(valid_csv)
    ):
        logger.info("Speaker segments in %s are up to date.", out_folder)
        return record["result"]
    per_speaker, too_short = {}, 0
    for folder in folders:
        dataprep._check_folder(folder, "Speaker folder")
        for path in dataprep.list_audio_files(folder):
            rel = dataprep._rel_posix(path, folder)
            if "/" not in rel:
                raise ValueError(
                    f"'{path}' is not inside a speaker folder: the corpus "
                    "needs one sub-folder per speaker."
                )
            speaker = rel.split("/", 1)[0]
            rate, frames, _ = audio_info(path)
            count = int((frames / rate) // segment_seconds)
            if max_segments_per_utt is not None:
                count = min(count, int(max_segments_per_utt))
            if count < 1:
                too_short += 1
                continue
            stem = dataprep._make_id(rel)
            for k in range(count):
                start = k * segment_seconds
                per_speaker.setdefault(speaker, []).append(
                    {
                        "ID": f"{stem}_{k}",
                        "duration": f"{segment_seconds:.4f}",
                        "wav": os.path.abspath(path),
                        "start": f"{start:.4f}",
                        "stop": f"{start + segment_seconds:.4f}",
                        "spk_id": speaker,
                    }
                )
    if not per_speaker:
        raise ValueError(
            f"No file of {folders} lasts {segment_seconds} s: lower "
            "segment_seconds."
        )
    train, valid = [], []
    for speaker in sorted(per_speaker):
        segs = per_speaker[speaker]
        rng = np.random.default_rng([int(seed), *map(ord, speaker[-16:])])
        take = valid_per_speaker if len(segs) > valid_per_speaker else 0
        held = set(rng.choice(len(segs), size=take, replace=False).tolist())
        for i, seg in enumerate(segs):
            (valid if i in held else train).append(seg)
    dataprep._check_unique_ids(
        [r["ID"] for r in train + valid],
        [r["wav"] for r in train + valid],
        out_folder,
    )
    if not valid:
        raise ValueError(
            "No validation segment: every speaker has at most "
            f"{valid_per_speaker} segment(s). Lower segment_seconds."
        )
    write_text(train_csv, dataprep._csv_text(SEGMENT_HEADER, train))
    write_text(valid_csv, dataprep._csv_text(SEGMENT_HEADER, valid))
    result = {
        "train": os.path.abspath(train_csv),
        "valid": os.path.abspath(valid_csv),
        "speakers": len(per_speaker),
        "train_segments": len(train),
        "valid_segments": len(valid),
        "too_short": too_short,
    }
    write_json(record_path, {"params": params, "result": result})
    logger.info(
        "%d speakers: %d training and %d validation segments of %.1f s "
        "(%d files too short).",
        len(per_speaker),
        len(train),
        len(valid),
        segment_seconds,
        too_short,
    )
    return result
