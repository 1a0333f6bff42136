"""The voices of the demonstration corpus: random sentences, eSpeak NG
(through its C library, shipped by ``espeakng-loader``), random voices
(language, pitch, speed, formants) and utterances spoken with them.

Authors
 * seed-brain developers 2026
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import tempfile
import warnings
from math import gcd
from pathlib import Path

import numpy as np
from scipy import signal

from seed_brain.dataio.synthetic import (
    _fade,
    _set_level,
    _shaped_noise,
)

__all__ = [
    "ESPEAK_REQUIREMENT",
    "ESpeak",
    "random_sentence",
    "require_espeak",
    "sample_voice",
    "voice_file_text",
]

_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4

#: The pip requirement that provides eSpeak NG (library and voice data).
ESPEAK_REQUIREMENT = "espeakng-loader==0.2.4"


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
        Draws the clauses and their words: the sentence depends on its
        state only.
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
        Draws every setting of the voice.
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
