"""Self-contained demo data for SEED: speech, noise and rooms, all generated.

The "embedded default" of seed-brain must run offline on a fresh machine,
so it cannot download a speech corpus, a noise set or measured room
impulse responses. :func:`make_demo_data` generates all three:

* **speech** with eSpeak NG, the formant synthesiser, driven through
  ``ctypes`` from the ``espeakng-loader`` wheel (which bundles
  ``libespeak-ng`` and its voice data; no system package is needed). Every
  speaker is a voice file of its own: an English accent (British, American,
  Scottish, Caribbean, RP, New York, Lancashire, West Midlands), a sex, a
  vocal-tract length (all formant frequencies scaled together, plus a small
  per-formant jitter), formant heights and bandwidths, pitch base and
  range, flutter, roughness, breathiness, consonant strength, speaking
  rate and, sometimes, one of eSpeak's Klatt glottal sources. Utterances
  are random English sentences from a built-in vocabulary, and every
  utterance also jitters the speaking rate, pitch and intonation range so
  that the same speaker never sounds exactly the same twice.
* **noise**, from two disjoint sets of families. Training noise: coloured
  noise (spectral slope from blue to brown), mains hum, rotating machines
  and speech-shaped noise with syllabic modulation. Test noise: babble
  (3 to 7 synthetic talkers that are neither training nor test speakers),
  music (random chords of harmonic tones) and clatter (trains of decaying
  resonant bursts over a rumble).
* **room impulse responses**: a shoe-box image-source model for the first
  60 ms (direct path and early reflections) followed by a diffuse tail of
  exponentially decaying noise whose decay follows Sabine's RT60, slower in
  the low bands than in the high ones. Training and test rooms are drawn
  from different seeds and different ranges of size and RT60.

Speaker separability, as measured with the pretrained GE2E encoder
(:class:`seed_brain.lobes.GE2E`, resemblyzer weights) and cosine scores
over all pairs of the default test set (8 speakers x 8 utterances, seed 0,
both sides of a trial corrupted independently): EER 2.3 % clean, 13 % and
24 % with test noise at 5 and 0 dB SNR (babble 27 %, music 19 %, clatter
8 % at 0 dB), 6.7 % in the test rooms and 18 % in the test rooms with 5 dB
noise. A larger draw of 32 test speakers gives 3.3 % clean: the voices are
distinguishable but not trivially so.

Everything is deterministic under ``seed``: every section has its own
random stream (so that, for instance, the test set does not change when
the number of training utterances does) and its own freshly loaded private
copy of ``libespeak-ng`` (whose synthesis otherwise depends on what it has
spoken before in the same process).

Layout written under ``out_folder``::

    clean/utt_0000.wav ...          label-free training speech
    test/spk_00/utt_00.wav ...      test speakers, one folder per speaker
    noise/<family>_000.wav ...      training noise
    test_noise/<family>_000.wav ... test noise (other families)
    rir/room_000.wav ...            training rooms (24-bit WAV)
    test_rir/room_000.wav ...       test rooms (24-bit WAV)
    demo_data.json                  parameters, file lists, speaker specs

``demo_data.json`` is written last and doubles as the completion marker:
a second call with the same parameters finds it and writes nothing. Each
audio file is written to a temporary name first and then renamed, so an
interrupted run never leaves a truncated file under its final name.

Command line::

    python -m seed_brain.dataio.demo OUT_FOLDER [--seed 0] [--n-train-utts 120]
    ...

Requires ``pip install "espeakng-loader==0.2.4"`` (see
:data:`ESPEAK_REQUIREMENT`).

Authors
 * seed-brain contributors
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from seed_brain.dataio.synthetic import (
    _TEST_ROOMS,
    _TRAIN_ROOMS,
    make_noise,
    make_rir,
)
from seed_brain.dataio.voices import (
    ESpeak,
    _speak,
    require_espeak,
    sample_voice,
)
from seed_brain.utils.files import write_json

__all__ = [
    "ESpeak",
    "make_demo_data",
    "make_noise",
    "make_rir",
    "require_espeak",
    "sample_voice",
    "TRAIN_NOISE_FAMILIES",
    "TEST_NOISE_FAMILIES",
]


#: Bumped whenever the generated data change for the same parameters.
DEMO_DATA_VERSION = 1

MARKER_NAME = "demo_data.json"

#: Noise families used for training and for testing (disjoint on purpose).
TRAIN_NOISE_FAMILIES = ("colored", "hum", "machine", "speech_shaped")
TEST_NOISE_FAMILIES = ("babble", "music", "clatter")

# Independent random streams, one per section (numpy SeedSequence keys).
_STREAMS = {
    "clean": 1,
    "test": 2,
    "noise": 3,
    "test_noise": 4,
    "rir": 5,
    "test_rir": 6,
}


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# eSpeak NG through ctypes
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Voices
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Signal helpers
# ---------------------------------------------------------------------------


def _write_wav(path: Path, wav: np.ndarray, sr: int, subtype="PCM_16"):
    """Write atomically: a temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(tmp, wav, sr, format="WAV", subtype=subtype)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Speech
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Room impulse responses
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(_STREAMS[stream],))
    )


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _make_clean(root, p, log):
    rng = _rng(p["seed"], "clean")
    sr = p["sample_rate"]
    specs = [sample_voice(rng) for _ in range(p["n_train_speakers"])]
    # Every speaker gets about the same number of utterances, in random order.
    owners = np.resize(np.arange(len(specs)), p["n_train_utts"])
    owners = rng.permutation(owners)
    entries = []
    with ESpeak() as tts:
        files = [tts.voice_path(s) for s in specs]
        for i, spk in enumerate(owners):
            wav, text = _speak(tts, rng, files[spk], specs[spk], sr)
            path = root / "clean" / f"utt_{i:04d}.wav"
            _write_wav(path, wav, sr)
            entries.append(
                {
                    "file": _rel(path, root),
                    "speaker": int(spk),
                    "seconds": round(len(wav) / sr, 3),
                    "text": text,
                }
            )
    log(f"clean: {len(entries)} utterances by {len(specs)} speakers")
    return entries, specs


def _make_test(root, p, log):
    rng = _rng(p["seed"], "test")
    sr = p["sample_rate"]
    specs = [sample_voice(rng) for _ in range(p["n_test_speakers"])]
    entries = []
    with ESpeak() as tts:
        for s, spec in enumerate(specs):
            voice_file = tts.voice_path(spec)
            for u in range(p["n_test_utts"]):
                wav, text = _speak(tts, rng, voice_file, spec, sr)
                path = root / "test" / f"spk_{s:02d}" / f"utt_{u:02d}.wav"
                _write_wav(path, wav, sr)
                entries.append(
                    {
                        "file": _rel(path, root),
                        "speaker": f"spk_{s:02d}",
                        "seconds": round(len(wav) / sr, 3),
                        "text": text,
                    }
                )
    log(f"test: {len(specs)} speakers x {p['n_test_utts']} utterances")
    return entries, specs


def _make_noise(root, p, section, families, count, log):
    rng = _rng(p["seed"], section)
    sr = p["sample_rate"]
    entries = []
    tts = ESpeak() if "babble" in families and count else None
    try:
        for i in range(count):
            family = families[i % len(families)]
            x = make_noise(family, rng, p["noise_seconds"], sr, tts=tts)
            path = root / section / f"{family}_{i:03d}.wav"
            _write_wav(path, x, sr)
            entries.append({"file": _rel(path, root), "family": family})
    finally:
        if tts is not None:
            tts.close()
    log(f"{section}: {count} files ({', '.join(families)})")
    return entries


def _make_rirs(root, p, section, rooms, count, log):
    rng = _rng(p["seed"], section)
    entries = []
    for i in range(count):
        rir, info = make_rir(
            rng, p["sample_rate"], rooms["size"], rooms["rt60"]
        )
        path = root / section / f"room_{i:03d}.wav"
        _write_wav(path, rir, p["sample_rate"], subtype="PCM_24")
        entries.append({"file": _rel(path, root), **info})
    log(f"{section}: {count} rooms, RT60 {rooms['rt60']} s")
    return entries


def _remove_listed(root: Path, manifest: dict):
    """Delete the files an older manifest lists (before regenerating)."""
    for key in ("clean", "test", "noise", "test_noise", "rir", "test_rir"):
        for entry in manifest.get("files", {}).get(key, []):
            path = root / entry["file"]
            if path.is_file():
                path.unlink()
    for folder in sorted(root.glob("test/*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def make_demo_data(
    out_folder,
    seed: int = 0,
    n_train_utts: int = 120,
    n_test_speakers: int = 8,
    n_test_utts: int = 8,
    sample_rate: int = 16000,
    n_train_speakers: int = 40,
    n_noise: int = 24,
    n_test_noise: int = 12,
    n_rir: int = 40,
    n_test_rir: int = 20,
    noise_seconds: float = 8.0,
    verbose: bool = False,
) -> dict:
    """Generate the demo corpus, noise and rooms (see the module docstring).

    Nothing is written if ``out_folder/demo_data.json`` already records the
    same parameters. With other parameters, the files listed by the old
    ``demo_data.json`` are deleted and everything is generated anew.

    Arguments
    ---------
    out_folder : str or os.PathLike
        Where to write (created if needed).
    seed : int
        Seed of every random choice; same seed, same bytes.
    n_train_utts : int
        Number of label-free training utterances (``clean/``).
    n_test_speakers : int
        Number of test speakers (``test/<speaker>/``), whose voices are
        drawn independently of the training voices.
    n_test_utts : int
        Utterances per test speaker.
    sample_rate : int
        Sampling rate of every file, in Hz.
    n_train_speakers : int
        Number of distinct voices that speak the training utterances.
    n_noise, n_test_noise : int
        Number of training / test noise files (families in turn).
    n_rir, n_test_rir : int
        Number of training / test room impulse responses.
    noise_seconds : float
        Duration of every noise file.
    verbose : bool
        Print progress.

    Returns
    -------
    dict
        Absolute paths (str): ``"root"``, ``"manifest"`` (the JSON file)
        and one folder per section: ``"clean"``, ``"test"``, ``"noise"``,
        ``"test_noise"``, ``"rir"``, ``"test_rir"``. ``"written"`` is
        ``True`` when this call generated the data, ``False`` when it
        found them complete; ``"seconds"`` is how long generation took.

    Example
    -------
    >>> import tempfile
    >>> tiny = dict(
    ...     n_train_utts=2, n_train_speakers=2, n_test_speakers=2,
    ...     n_test_utts=1, n_noise=1, n_test_noise=1, n_rir=1,
    ...     n_test_rir=1, noise_seconds=0.5,
    ... )
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = make_demo_data(tmp, **tiny)
    ...     again = make_demo_data(tmp, **tiny)
    ...     n_test = len(list(Path(paths["test"]).glob("*/*.wav")))
    >>> paths["written"], again["written"], n_test
    (True, False, 2)
    """
    counts = {
        "n_train_utts": n_train_utts,
        "n_test_speakers": n_test_speakers,
        "n_test_utts": n_test_utts,
        "n_train_speakers": n_train_speakers,
        "n_noise": n_noise,
        "n_test_noise": n_test_noise,
        "n_rir": n_rir,
        "n_test_rir": n_test_rir,
    }
    for name, value in counts.items():
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value}")
    if n_train_utts > 0 and n_train_speakers < 1:
        raise ValueError("n_train_speakers must be >= 1 for training speech")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000, got {sample_rate}")
    if noise_seconds <= 0:
        raise ValueError(f"noise_seconds must be > 0, got {noise_seconds}")
    params = {
        "version": DEMO_DATA_VERSION,
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "noise_seconds": float(noise_seconds),
        **{k: int(v) for k, v in counts.items()},
    }
    root = Path(out_folder).resolve()
    sections = ("clean", "test", "noise", "test_noise", "rir", "test_rir")
    paths = {"root": str(root), "manifest": str(root / MARKER_NAME)}
    paths.update({s: str(root / s) for s in sections})

    marker = root / MARKER_NAME
    old = None
    if marker.is_file():
        try:
            old = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
    if old is not None and old.get("params") == params:
        return {**paths, "written": False, "seconds": 0.0}

    def log(msg):
        if verbose:
            print(msg, flush=True)

    require_espeak()
    root.mkdir(parents=True, exist_ok=True)
    if old is not None:
        _remove_listed(root, old)
        marker.unlink()
    start = time.perf_counter()
    clean, train_specs = _make_clean(root, params, log)
    test, test_specs = _make_test(root, params, log)
    noise = _make_noise(
        root, params, "noise", TRAIN_NOISE_FAMILIES, n_noise, log
    )
    test_noise = _make_noise(
        root, params, "test_noise", TEST_NOISE_FAMILIES, n_test_noise, log
    )
    rir = _make_rirs(root, params, "rir", _TRAIN_ROOMS, n_rir, log)
    test_rir = _make_rirs(
        root, params, "test_rir", _TEST_ROOMS, n_test_rir, log
    )
    for s in sections:
        (root / s).mkdir(exist_ok=True)
    manifest = {
        "params": params,
        "files": {
            "clean": clean,
            "test": test,
            "noise": noise,
            "test_noise": test_noise,
            "rir": rir,
            "test_rir": test_rir,
        },
        "speakers": {
            "train": train_specs,
            "test": {f"spk_{i:02d}": s for i, s in enumerate(test_specs)},
        },
        "noise_families": {
            "train": list(TRAIN_NOISE_FAMILIES),
            "test": list(TEST_NOISE_FAMILIES),
        },
    }
    write_json(marker, manifest)
    seconds = round(time.perf_counter() - start, 2)
    log(f"wrote {root} in {seconds} s")
    return {**paths, "written": True, "seconds": seconds}


def main(argv=None) -> int:
    """Command line entry point: ``python -m seed_brain.dataio.demo OUT``."""
    parser = argparse.ArgumentParser(
        prog="python -m seed_brain.dataio.demo",
        description="Generate the offline SEED demo data: synthetic speech "
        "(eSpeak NG), train/test noise and simulated room impulse responses.",
    )
    parser.add_argument("out_folder", help="where to write the data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train-utts", type=int, default=120)
    parser.add_argument("--n-train-speakers", type=int, default=40)
    parser.add_argument("--n-test-speakers", type=int, default=8)
    parser.add_argument("--n-test-utts", type=int, default=8)
    parser.add_argument("--n-noise", type=int, default=24)
    parser.add_argument("--n-test-noise", type=int, default=12)
    parser.add_argument("--n-rir", type=int, default=40)
    parser.add_argument("--n-test-rir", type=int, default=20)
    parser.add_argument("--noise-seconds", type=float, default=8.0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    args = parser.parse_args(argv)
    try:
        paths = make_demo_data(
            args.out_folder,
            seed=args.seed,
            n_train_utts=args.n_train_utts,
            n_test_speakers=args.n_test_speakers,
            n_test_utts=args.n_test_utts,
            sample_rate=args.sample_rate,
            n_train_speakers=args.n_train_speakers,
            n_noise=args.n_noise,
            n_test_noise=args.n_test_noise,
            n_rir=args.n_rir,
            n_test_rir=args.n_test_rir,
            noise_seconds=args.noise_seconds,
            verbose=True,
        )
    except ImportError as err:
        print(err, file=sys.stderr)
        return 1
    if not paths["written"]:
        print(f"{paths['root']}: already complete, nothing written")
    manifest = json.loads(Path(paths["manifest"]).read_text(encoding="utf-8"))
    for key in ("clean", "test", "noise", "test_noise", "rir", "test_rir"):
        print(f"{key:>10}: {len(manifest['files'][key]):4d} files in "
              f"{paths[key]}")  # fmt: skip
    print(f"  manifest: {paths['manifest']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
