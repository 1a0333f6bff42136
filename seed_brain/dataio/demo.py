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
import ctypes
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from seed_brain.dataio.synthetic import (
    _TEST_ROOMS,
    _TRAIN_ROOMS,
    _fade,
    _set_level,
    _shaped_noise,
    make_noise,
    make_rir,
)
from seed_brain.utils.files import write_json

__all__ = [
    "ESPEAK_REQUIREMENT",
    "ESpeak",
    "make_demo_data",
    "make_noise",
    "make_rir",
    "random_sentence",
    "require_espeak",
    "sample_voice",
    "voice_file_text",
    "TRAIN_NOISE_FAMILIES",
    "TEST_NOISE_FAMILIES",
]

#: The pip requirement that provides eSpeak NG (library and voice data).
ESPEAK_REQUIREMENT = "espeakng-loader==0.2.4"

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

_SUBJECTS = (
    "the old man", "my sister", "a young girl", "the doctor", "our neighbour",
    "the farmer", "his brother", "the teacher", "a tall woman", "the driver",
    "every student", "the captain", "her mother", "the baker", "a quiet boy",
    "the singer", "my friend", "the pilot", "the children", "the nurse",
    "the mayor", "a stranger", "the gardener", "my uncle", "the fisherman",
)  # fmt: skip
_VERBS = (
    "found", "painted", "carried", "opened", "bought", "cleaned", "moved",
    "watched", "sold", "fixed", "lost", "borrowed", "cooked", "packed",
    "counted", "described", "followed", "ordered", "wrapped", "repaired",
    "noticed", "hid", "measured", "delivered", "forgot",
)  # fmt: skip
_OBJECTS = (
    "a red box", "the broken chair", "seven apples", "the blue car",
    "an old map", "the heavy door", "a wooden boat", "the letters",
    "a warm coat", "the garden gate", "three books", "the silver key",
    "a paper kite", "the kitchen table", "two bottles of milk",
    "the green lamp", "a bag of rice", "the small window", "a loaf of bread",
    "the yellow bicycle", "a basket of eggs", "the new piano",
    "a pair of boots", "the morning paper", "a jar of honey",
)  # fmt: skip
_PLACES = (
    "near the river", "in the kitchen", "behind the station",
    "at the market", "on the hill", "by the window", "under the bridge",
    "in the garden", "at the harbour", "across the street",
    "inside the library", "on the top floor", "beside the lake",
    "in the village", "at the old farm", "outside the church",
    "in the narrow lane", "at the bus stop",
)  # fmt: skip
_TIMES = (
    "this morning", "last night", "on Sunday", "before lunch",
    "after the storm", "in the summer", "every evening", "yesterday",
    "at noon", "two weeks ago", "during the winter", "after school",
    "on a rainy day", "just before dawn",
)  # fmt: skip
_LINKS = ("and then", "but", "because", "so", "while", "although", "and")
_QUESTIONS = (
    "did {s} really see {o} {p}",
    "why did {s} leave {o} {p}",
    "where did {s} put {o}",
    "when will {s} bring {o} back",
)


def _clause(rng: np.random.Generator) -> str:
    s = rng.choice(_SUBJECTS)
    o = rng.choice(_OBJECTS)
    parts = [s, rng.choice(_VERBS), o]
    if rng.random() < 0.6:
        parts.append(rng.choice(_PLACES))
    if rng.random() < 0.4:
        parts.append(rng.choice(_TIMES))
    return " ".join(parts)


def random_sentence(rng: np.random.Generator, min_words: int = 6) -> str:
    """A random English sentence of at least ``min_words`` words.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of randomness.
    min_words : int
        Clauses are joined until the sentence has at least this many words.

    Returns
    -------
    str
        A capitalised sentence ending with ``.``, ``!`` or ``?``.

    Example
    -------
    >>> s = random_sentence(np.random.default_rng(0), min_words=12)
    >>> len(s.split()) >= 12, s[0].isupper(), s[-1] in ".!?"
    (True, True, True)
    """
    if rng.random() < 0.15:
        q = rng.choice(_QUESTIONS).format(
            s=rng.choice(_SUBJECTS),
            o=rng.choice(_OBJECTS),
            p=rng.choice(_PLACES),
        )
        words, end = q.split(), "?"
    else:
        words, end = _clause(rng).split(), "!" if rng.random() < 0.1 else "."
    while len(words) < min_words:
        sep = "," if rng.random() < 0.5 else ""
        words[-1] += sep
        words += [*rng.choice(_LINKS).split(), *_clause(rng).split()]
    text = " ".join(words)
    return text[0].upper() + text[1:] + end


# ---------------------------------------------------------------------------
# eSpeak NG through ctypes
# ---------------------------------------------------------------------------


def require_espeak():
    """Import ``espeakng_loader`` or fail with the command that installs it.

    Returns
    -------
    module
        The ``espeakng_loader`` module.

    Raises
    ------
    ImportError
        With the pip command to run, when the wheel is missing.

    Example
    -------
    >>> require_espeak().__name__
    'espeakng_loader'
    """
    try:
        import espeakng_loader
    except ImportError as err:
        raise ImportError(
            "The seed-brain demo synthesises its speech with eSpeak NG, "
            "which comes from the espeakng-loader wheel. Install it with:\n"
            f'    pip install "{ESPEAK_REQUIREMENT}"'
        ) from err
    return espeakng_loader


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4


def _declare_signatures(lib):
    c = ctypes
    lib.espeak_Initialize.argtypes = [c.c_int, c.c_int, c.c_char_p, c.c_int]
    lib.espeak_Initialize.restype = c.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByFile.argtypes = [c.c_char_p]
    lib.espeak_SetVoiceByName.argtypes = [c.c_char_p]
    lib.espeak_SetParameter.argtypes = [c.c_int, c.c_int, c.c_int]
    if hasattr(lib, "espeak_ng_SetRandSeed"):  # eSpeak NG >= 1.52
        lib.espeak_ng_SetRandSeed.argtypes = [c.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
    lib.espeak_Synth.argtypes = [
        c.c_void_p, c.c_size_t, c.c_uint, c.c_int, c.c_uint, c.c_uint,
        c.POINTER(c.c_uint), c.c_void_p,
    ]  # fmt: skip
    for name in ("espeak_SetVoiceByFile", "espeak_SetVoiceByName",
                 "espeak_SetParameter", "espeak_Synth",
                 "espeak_Synchronize", "espeak_Terminate"):  # fmt: skip
        getattr(lib, name).restype = c.c_int


class ESpeak:
    """A private instance of eSpeak NG that renders text to NumPy arrays.

    ``libespeak-ng`` keeps synthesis state in static variables (pitch
    flutter phase, gain control, random generators), so the same text
    spoken twice by one library instance gives two slightly different
    waveforms. For reproducible output, every :class:`ESpeak` loads its own
    copy of the shared library (copied to a temporary file, so the dynamic
    loader maps it afresh) and seeds eSpeak's random generators before each
    utterance: the same sequence of :meth:`synth` calls on a new instance
    then gives the same samples. Use it as a context manager, or call
    :meth:`close`.

    Example
    -------
    >>> with ESpeak() as tts:
    ...     wav = tts.synth("Hello world.", voice="en-us")
    >>> tts.sample_rate, wav.dtype, bool(np.abs(wav).max() > 0.01)
    (22050, dtype('float32'), True)
    """

    def __init__(self):
        loader = require_espeak()
        self._data_path = loader.get_data_path()
        self._tmp = tempfile.TemporaryDirectory(prefix="seed_espeak_")
        self._lib = self._load_private_copy(loader.get_library_path())
        _declare_signatures(self._lib)
        try:
            self._libc = ctypes.CDLL(None)
        except OSError:  # no process-wide symbol table (Windows)
            self._libc = None
        self.sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data_path.encode(), 0
        )
        if self.sample_rate <= 0:
            raise RuntimeError(
                f"espeak_Initialize failed with {self.sample_rate} "
                f"(data path {self._data_path})"
            )
        self._chunks = []
        self._callback = _SYNTH_CALLBACK(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)
        self._n_voices = 0

    def _load_private_copy(self, library_path):
        copy = os.path.join(self._tmp.name, os.path.basename(library_path))
        try:
            shutil.copy(library_path, copy)
            return ctypes.CDLL(copy)
        except OSError as err:  # e.g. a temporary folder mounted noexec
            warnings.warn(
                f"could not load a private copy of libespeak-ng ({err}); "
                "using the shared one: speech is then reproducible across "
                "processes but not within one",
                stacklevel=3,
            )
            return ctypes.CDLL(library_path)

    def _collect(self, wav, n_samples, events):
        if n_samples > 0:
            chunk = np.ctypeslib.as_array(wav, shape=(n_samples,))
            self._chunks.append(chunk.copy())
        return 0

    def voice_path(self, spec: dict) -> str:
        """Write the voice file of ``spec`` (see :func:`sample_voice`).

        Arguments
        ---------
        spec : dict
            Voice specification.

        Returns
        -------
        str
            Absolute path of the voice file, for :meth:`synth`.
        """
        self._n_voices += 1
        path = os.path.join(self._tmp.name, f"voice_{self._n_voices:05d}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(voice_file_text(spec, self._data_path, self._n_voices))
        return path

    def synth(
        self,
        text: str,
        voice: str = "en",
        voice_file: str | None = None,
        rate: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        seed: int = 0,
    ) -> np.ndarray:
        """Speak ``text``.

        Arguments
        ---------
        text : str
            UTF-8 text.
        voice : str
            An eSpeak voice name such as ``"en-us"`` or ``"en+m3"``; ignored
            when ``voice_file`` is given.
        voice_file : str, optional
            Path of a voice file (see :meth:`voice_path`).
        rate : int
            Speaking rate in words per minute (80 to 450).
        pitch, pitch_range : int
            eSpeak's relative pitch and intonation range (0 to 99).
        seed : int
            Seed of eSpeak's random generators for this utterance.

        Returns
        -------
        numpy.ndarray
            float32 waveform in [-1, 1] at :attr:`sample_rate`.
        """
        if self._lib is None:
            raise RuntimeError("this ESpeak instance is closed")
        if voice_file is not None:
            status = self._lib.espeak_SetVoiceByFile(voice_file.encode())
        else:
            status = self._lib.espeak_SetVoiceByName(voice.encode())
        if status != 0:
            raise ValueError(
                f"eSpeak could not select voice {voice_file or voice!r} "
                f"(status {status})"
            )
        for param, value in (
            (_ESPEAK_RATE, int(np.clip(rate, 80, 450))),
            (_ESPEAK_PITCH, int(np.clip(pitch, 0, 99))),
            (_ESPEAK_RANGE, int(np.clip(pitch_range, 0, 99))),
        ):
            self._lib.espeak_SetParameter(param, value, 0)
        seed = int(seed) % (2**31 - 1) + 1
        if hasattr(self._lib, "espeak_ng_SetRandSeed"):
            self._lib.espeak_ng_SetRandSeed(seed)
        if self._libc is not None:  # breathiness noise uses C's rand()
            self._libc.srand(seed)
        self._chunks = []
        data = text.encode("utf-8")
        buf = ctypes.create_string_buffer(data)
        status = self._lib.espeak_Synth(
            buf, len(data) + 1, 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None
        )
        self._lib.espeak_Synchronize()
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._chunks).astype(np.float32) / 32768.0

    def close(self):
        """Terminate eSpeak and unload the private library copy."""
        if self._lib is None:
            return
        self._lib.espeak_Terminate()
        handle, self._lib = self._lib._handle, None
        try:
            import _ctypes

            _ctypes.dlclose(handle)
        except (ImportError, AttributeError, OSError):
            pass
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# Voices
# ---------------------------------------------------------------------------

# eSpeak language files (relative to espeak-ng-data/lang) with the accents
# used for speakers, and how often each is drawn.
_ACCENTS = {
    "gmw/en": 0.22,
    "gmw/en-US": 0.22,
    "gmw/en-GB-scotland": 0.1,
    "gmw/en-029": 0.1,
    "gmw/en-GB-x-rp": 0.12,
    "gmw/en-US-nyc": 0.1,
    "gmw/en-GB-x-gbclan": 0.07,
    "gmw/en-GB-x-gbcwmd": 0.07,
}
_KEPT_LANGUAGE_KEYS = (
    "language",
    "phonemes",
    "dictrules",
    "replace",
    "stressLength",
    "stressAmp",
    "tunes",
    "dictionary",
)


def sample_voice(rng: np.random.Generator, spread: float = 1.0) -> dict:
    """Draw a random speaker: accent, sex, vocal tract, source, prosody.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of randomness.
    spread : float
        Scales how far speakers lie from the average voice (vocal-tract
        length, pitch, formant details); smaller values make speakers
        harder to tell apart.

    Returns
    -------
    dict
        A JSON-serialisable voice specification, for
        :func:`voice_file_text` and :meth:`ESpeak.voice_path`.

    Example
    -------
    >>> spec = sample_voice(np.random.default_rng(0))
    >>> sorted(spec)[:4]
    ['accent', 'breath', 'consonants', 'flutter']
    """
    accents = list(_ACCENTS)
    probs = np.array([_ACCENTS[a] for a in accents])
    accent = accents[rng.choice(len(accents), p=probs / probs.sum())]
    female = bool(rng.random() < 0.5)
    # Vocal-tract length: all formants scale together (+15 % for women on
    # average), plus a small per-formant jitter.
    vtl = (1.14 if female else 1.0) * math.exp(rng.normal(0.0, 0.06) * spread)
    freq = vtl * np.exp(rng.normal(0.0, 0.035 * spread, size=9))
    height = np.exp(rng.normal(0.0, 0.18 * spread, size=9))
    width = np.exp(rng.normal(0.0, 0.15 * spread, size=9))
    mean_f0 = 200.0 if female else 110.0
    f0 = mean_f0 * math.exp(rng.normal(0.0, 0.13 * spread))
    base = f0 * (0.78 + 0.08 * rng.random())
    f0_range = f0 * rng.uniform(0.25, 0.65)
    klatt = int(rng.choice(6) + 1) if rng.random() < 0.25 else 0
    breath = None
    if rng.random() < 0.3:
        breath = [int(v) for v in rng.integers(0, 6, size=8)]
        breath[0] = 1 if any(breath[1:]) else 0
    return {
        "accent": accent,
        "gender": "female" if female else "male",
        "pitch": [int(round(base)), int(round(base + f0_range))],
        "formant": [
            [int(round(100 * f)), int(round(100 * h)), int(round(100 * w))]
            for f, h, w in zip(freq, height, width)
        ],
        "flutter": int(rng.integers(0, 100)),
        "roughness": int(rng.integers(0, 6)),
        "breath": breath,
        "consonants": int(rng.integers(70, 131)),
        "klatt": klatt,
        "rate": int(rng.integers(135, 206)),
        "pitch_range": int(rng.integers(30, 81)),
    }


def voice_file_text(spec: dict, data_path: str | None = None, uid=0) -> str:
    """eSpeak voice file for a specification from :func:`sample_voice`.

    Arguments
    ---------
    spec : dict
        Voice specification.
    data_path : str, optional
        ``espeak-ng-data`` folder, whose language file for ``spec["accent"]``
        provides the accent lines (phonemes, dictionary rules, stress);
        the default is the one of ``espeakng_loader``.
    uid : int
        Makes the voice name unique.

    Returns
    -------
    str
        The voice file.

    Example
    -------
    >>> text = voice_file_text(sample_voice(np.random.default_rng(0)))
    >>> text.splitlines()[0]
    'name seed_speaker_0'
    """
    if data_path is None:
        data_path = require_espeak().get_data_path()
    lines = [f"name seed_speaker_{uid}"]
    accent_file = Path(data_path, "lang", spec["accent"])
    for line in accent_file.read_text(encoding="utf-8").splitlines():
        key = line.split(maxsplit=1)[0] if line.strip() else ""
        if key in _KEPT_LANGUAGE_KEYS:
            lines.append(line)
    lines.append(f"gender {spec['gender']}")
    lines.append("pitch {} {}".format(*spec["pitch"]))
    for i, (f, h, w) in enumerate(spec["formant"]):
        lines.append(f"formant {i} {f} {h} {w}")
    lines.append(f"flutter {spec['flutter']}")
    lines.append(f"roughness {spec['roughness']}")
    lines.append("consonants {0} {0}".format(spec["consonants"]))
    if spec["breath"]:
        lines.append("breath " + " ".join(str(b) for b in spec["breath"]))
    if spec["klatt"]:
        lines.append(f"klatt {spec['klatt']}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Signal helpers
# ---------------------------------------------------------------------------


def _resample(wav: np.ndarray, orig: int, target: int) -> np.ndarray:
    if orig == target:
        return wav.astype(np.float32)
    g = gcd(orig, target)
    return signal.resample_poly(wav, target // g, orig // g).astype(np.float32)


def _trim_silence(wav: np.ndarray, sr: int, keep: float = 0.1) -> np.ndarray:
    """Cut leading and trailing parts quieter than -45 dB re. the peak."""
    frame = int(0.01 * sr)
    n = len(wav) // frame
    if n == 0:
        return wav
    energy = (wav[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    loud = np.nonzero(energy > energy.max() * 10 ** (-4.5))[0]
    if len(loud) == 0:
        return wav
    start = max(0, loud[0] * frame - int(keep * sr))
    stop = min(len(wav), (loud[-1] + 1) * frame + int(keep * sr))
    return wav[start:stop]


def _cut_at_pause(wav, sr, min_s, max_s):
    """Shorten to at most ``max_s`` s, at the last pause after ``min_s``."""
    frame = int(0.01 * sr)
    n = len(wav) // frame
    energy = (wav[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    quiet = energy < energy.max() * 10 ** (-3.5)
    lo, hi = int(min_s * sr) // frame, int(max_s * sr) // frame
    pauses = np.nonzero(quiet[lo:hi])[0]
    stop = (lo + pauses[-1]) * frame if len(pauses) else int(max_s * sr)
    return wav[:stop]


def _write_wav(path: Path, wav: np.ndarray, sr: int, subtype="PCM_16"):
    """Write atomically: a temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sf.write(tmp, wav, sr, format="WAV", subtype=subtype)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Speech
# ---------------------------------------------------------------------------


def _speak(tts, rng, voice_file, spec, sr, min_s=2.0, max_s=6.0):
    """One utterance of 2 to 6 s by the speaker ``spec``, at ``sr``."""
    target = rng.uniform(min_s, max_s)
    rate = spec["rate"] * math.exp(rng.normal(0.0, 0.06))
    n_words = max(4, int(round(target * rate / 60.0 * 0.85)))
    text = random_sentence(rng, n_words)
    pitch = int(np.clip(50 + rng.normal(0.0, 5.0), 0, 99))
    pitch_range = spec["pitch_range"] + rng.normal(0.0, 8.0)
    for _ in range(4):
        wav = tts.synth(
            text,
            voice_file=voice_file,
            rate=int(rate),
            pitch=pitch,
            pitch_range=int(pitch_range),
            seed=int(rng.integers(2**31 - 1)),
        )
        wav = _trim_silence(_resample(wav, tts.sample_rate, sr), sr)
        if len(wav) >= min_s * sr:
            break
        text = text[:-1] + ", " + random_sentence(rng, 4).lower()
    if len(wav) > max_s * sr:
        wav = _cut_at_pause(wav, sr, min_s, max_s)
    wav = _fade(wav, int(0.01 * sr))
    # A faint microphone noise floor 55 to 70 dB below the speech, as in
    # real recordings: eSpeak's pauses are otherwise exact digital zeros.
    floor = _shaped_noise(
        rng, len(wav), sr, lambda f: 1.0 / np.maximum(f, 100.0) ** 0.5
    )
    floor *= np.std(wav) / (np.std(floor) + 1e-12)
    wav = wav + floor * 10 ** (-rng.uniform(55.0, 70.0) / 20)
    return _set_level(wav, rng.uniform(-30.0, -20.0)), text


def _continuous_speech(tts, rng, voice_file, spec, n_samples, sr):
    """A talker speaking sentences back to back (for babble)."""
    pieces, total = [], 0
    while total < n_samples:
        wav, _ = _speak(tts, rng, voice_file, spec, sr, 1.0, 6.0)
        gap = np.zeros(int(rng.uniform(0.05, 0.4) * sr), dtype=np.float32)
        pieces += [wav / (np.abs(wav).max() + 1e-9), gap]
        total += len(wav) + len(gap)
    speech = np.concatenate(pieces)
    return np.roll(speech, int(rng.integers(len(speech))))[:n_samples]


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
