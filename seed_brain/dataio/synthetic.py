"""Generated noise and rooms: the noise families and simulated rooms of the
demonstration corpus (:func:`make_noise`, :func:`make_rir`), and the
synthetic noise and room impulse responses that widen the training banks.

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

from __future__ import annotations

import math
import os

import numpy as np
import torch
from scipy import fft as sp_fft
from scipy import signal

from seed_brain.dataio.audio import write_audio

NOISE_FAMILIES = ("colored", "hum", "machine", "speech_shaped")

# Room ranges: (length, width, height) bounds in metres and RT60 bounds in s.
_TRAIN_ROOMS = {
    "size": ((3.0, 8.0), (2.5, 6.0), (2.3, 3.2)),
    "rt60": (0.2, 0.7),
}


_TEST_ROOMS = {
    "size": ((4.0, 12.0), (3.0, 9.0), (2.5, 4.0)),
    "rt60": (0.3, 0.9),
}


_SPEED_OF_SOUND = 343.0


_BAND_EDGES = (0.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, None)


_BAND_RT60_FACTOR = (1.25, 1.15, 1.0, 0.9, 0.75, 0.6)


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
        The noise files, file ``k`` at index ``k``.

    Example
    -------
    >>> import tempfile
    >>> paths = write_synthetic_noise(tempfile.mkdtemp(), 2, seconds=0.5)
    >>> [os.path.basename(p) for p in paths]
    ['synthetic_colored_000.wav', 'synthetic_hum_001.wav']
    """

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
        Rate of the impulse responses.

    Returns
    -------
    list of str
        The room files, room ``k`` at index ``k``.

    Example
    -------
    >>> import tempfile
    >>> paths = write_synthetic_rirs(tempfile.mkdtemp(), 1)
    >>> os.path.basename(paths[0])
    'synthetic_room_000.wav'
    """

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


def _fade(wav: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(wav) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        wav = wav.copy()
        wav[:n] *= ramp
        wav[-n:] *= ramp[::-1]
    return wav


def _set_level(wav: np.ndarray, dbfs: float, peak: float = 0.95):
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    if rms <= 0.0:
        return wav.astype(np.float32)
    wav = wav * (10 ** (dbfs / 20) / rms)
    top = float(np.abs(wav).max())
    if top > peak:
        wav = wav * (peak / top)
    return wav.astype(np.float32)


def _shaped_noise(rng, n, sr, gain_fn):
    """White noise shaped in the frequency domain by ``gain_fn(freqs)``."""
    n_fft = sp_fft.next_fast_len(n, real=True)  # odd sizes are slow
    spec = np.fft.rfft(rng.standard_normal(n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return np.fft.irfft(spec * gain_fn(freqs), n_fft)[:n]


def _slow_envelope(rng, n, sr, rate_hz, depth):
    """Smooth random amplitude envelope around 1 (rate_hz: changes per s)."""
    n_knots = max(2, int(n / sr * rate_hz) + 2)
    knots = 1.0 + depth * rng.uniform(-1.0, 1.0, n_knots)
    env = np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots)
    return np.clip(env, 0.05, None)


def _noise_colored(rng, n, sr):
    slope = rng.uniform(-0.5, 2.2)  # 1/f^slope in power: blue ... brown
    f_ref = 1000.0
    peak_f = rng.uniform(200, 4000)
    peak_gain = rng.uniform(0.0, 2.0)

    def gain(f):
        f = np.maximum(f, 20.0)
        g = (f / f_ref) ** (-slope / 2)
        return g * (1 + peak_gain * np.exp(-0.5 * np.log2(f / peak_f) ** 2))

    x = _shaped_noise(rng, n, sr, gain)
    return x * _slow_envelope(rng, n, sr, rng.uniform(0.2, 2.0), 0.3)


def _noise_hum(rng, n, sr):
    t = np.arange(n) / sr
    f0 = rng.choice([50.0, 60.0]) * (1 + rng.uniform(-0.01, 0.01))
    if rng.random() < 0.3:
        f0 *= 2  # transformer buzz at twice the mains frequency
    x = np.zeros(n)
    n_harm = int(min(sr / 2 / f0 - 1, rng.integers(8, 40)))
    decay = rng.uniform(0.5, 1.5)
    for k in range(1, n_harm + 1):
        amp = k**-decay * rng.uniform(0.3, 1.0)
        x += amp * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
    x /= np.abs(x).max() + 1e-9
    floor = _shaped_noise(rng, n, sr, lambda f: 1.0 / np.maximum(f, 50) ** 0.5)
    floor *= rng.uniform(0.05, 0.3) / (np.std(floor) + 1e-9) * np.std(x)
    return (x + floor) * _slow_envelope(rng, n, sr, 0.5, 0.15)


def _noise_machine(rng, n, sr):
    """Rotating machine: a pulse train with drifting speed, resonances."""
    t = np.arange(n) / sr
    f_rot = rng.uniform(20.0, 120.0)
    drift = 1 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t)
    phase = np.cumsum(f_rot * drift) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0)
    pulses = signal.lfilter([1.0], [1.0, -0.9], pulses)
    x = np.zeros(n)
    for _ in range(int(rng.integers(2, 5))):
        fc = rng.uniform(150.0, min(3000.0, 0.35 * sr))
        bw = fc * rng.uniform(0.05, 0.3)
        sos = signal.butter(
            2, [fc - bw / 2, min(fc + bw / 2, 0.45 * sr)], "bandpass",
            fs=sr, output="sos",
        )  # fmt: skip
        x += rng.uniform(0.3, 1.0) * signal.sosfilt(sos, pulses)
    x /= np.std(x) + 1e-9
    # Broadband airflow noise modulated at the blade rate.
    blades = 1 + 0.5 * np.sin(2 * np.pi * phase * rng.integers(2, 7))
    air = _shaped_noise(rng, n, sr, lambda f: 1.0 / np.maximum(f, 100) ** 0.5)
    air *= blades / (np.std(air) + 1e-9)
    return x + rng.uniform(0.2, 1.0) * air


def _noise_speech_shaped(rng, n, sr):
    """Noise with a long-term speech spectrum and syllable-rate modulation."""
    f_peak = rng.uniform(300.0, 700.0)

    def gain(f):
        f = np.maximum(f, 30.0)
        low = (f / f_peak) ** 1.5 / (1 + (f / f_peak) ** 1.5)
        return low * (1 + f / f_peak) ** -1.0

    x = _shaped_noise(rng, n, sr, gain)
    env = _slow_envelope(rng, n, sr, rng.uniform(3.0, 6.0), 0.9)
    return x * env**2


def _noise_babble(rng, n, sr, tts):
    from seed_brain.dataio.voices import _continuous_speech, sample_voice

    n_talkers = int(rng.integers(3, 8))
    x = np.zeros(n)
    for _ in range(n_talkers):
        spec = sample_voice(rng)
        voice_file = tts.voice_path(spec)
        talker = _continuous_speech(tts, rng, voice_file, spec, n, sr)
        x += talker / (np.std(talker) + 1e-9) * 10 ** (rng.uniform(-4, 4) / 20)
    return x


def _noise_music(rng, n, sr):
    """Random chord progressions of harmonic tones, with percussion."""
    t_note = 60.0 / rng.uniform(60.0, 160.0) * rng.choice([0.5, 1.0, 2.0])
    n_note = int(t_note * sr)
    x = np.zeros(n + n_note)
    root = rng.uniform(100.0, 300.0)
    brightness = rng.uniform(0.6, 1.6)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    tt = np.arange(n_note) / sr
    attack = np.minimum(1.0, tt / 0.02)
    envelope = attack * np.exp(-tt / (t_note * rng.uniform(0.3, 1.0)))
    for start in range(0, n, n_note):
        degrees = rng.choice(scale, size=int(rng.integers(1, 4)), replace=False)
        for d in degrees:
            f0 = root * 2 ** (d / 12)
            note = np.zeros(n_note)
            for k in range(1, int(min(12, 0.45 * sr / f0)) + 1):
                note += k**-brightness * np.sin(2 * np.pi * f0 * k * tt)
            x[start : start + n_note] += note * envelope
    if rng.random() < 0.7:  # percussion: noise bursts on the beats
        hit = rng.standard_normal(int(0.08 * sr)) * np.exp(
            -np.arange(int(0.08 * sr)) / (0.015 * sr)
        )
        hit = signal.lfilter([1.0, -0.95], [1.0], hit)
        for start in range(0, n, n_note):
            x[start : start + len(hit)] += hit * 0.5 * np.abs(x).max()
    return x[:n]


def _noise_clatter(rng, n, sr):
    """Kitchen / workshop clatter: decaying resonant bursts and a rumble."""
    x = np.zeros(n + sr)
    n_events = max(1, int(rng.uniform(2.0, 8.0) * n / sr))
    for _ in range(n_events):
        start = int(rng.integers(n))
        dur = int(rng.uniform(0.02, 0.3) * sr)
        burst = rng.standard_normal(dur) * np.exp(
            -np.arange(dur) / (rng.uniform(0.1, 0.4) * dur)
        )
        fc = rng.uniform(800.0, min(6000.0, 0.35 * sr))
        sos = signal.butter(
            2, [fc * 0.8, min(fc * 1.25, 0.45 * sr)], "bandpass",
            fs=sr, output="sos",
        )  # fmt: skip
        burst = signal.sosfilt(sos, burst)
        x[start : start + dur] += (
            burst / (np.std(burst) + 1e-9) * 10 ** (rng.uniform(-12, 0) / 20)
        )
    rumble = _shaped_noise(rng, n, sr, lambda f: 1.0 / np.maximum(f, 30.0))
    rumble *= rng.uniform(0.1, 0.5) * np.std(x[:n]) / (np.std(rumble) + 1e-9)
    return x[:n] + rumble


_NOISE_FUNCTIONS = {
    "colored": _noise_colored,
    "hum": _noise_hum,
    "machine": _noise_machine,
    "speech_shaped": _noise_speech_shaped,
    "babble": _noise_babble,
    "music": _noise_music,
    "clatter": _noise_clatter,
}


def make_noise(
    family: str,
    rng: np.random.Generator,
    seconds: float = 6.0,
    sample_rate: int = 16000,
    tts: object | None = None,
) -> np.ndarray:
    """Generate one noise signal of a family.

    Arguments
    ---------
    family : str
        One of :data:`TRAIN_NOISE_FAMILIES` or :data:`TEST_NOISE_FAMILIES`.
    rng : numpy.random.Generator
        Source of randomness.
    seconds : float
        Duration.
    sample_rate : int
        Sampling rate in Hz.
    tts : seed_brain.dataio.voices.ESpeak, optional
        Speech synthesiser, needed by ``"babble"`` only.

    Returns
    -------
    numpy.ndarray
        float32 signal at -26 dBFS RMS (peak at most 0.95).

    Example
    -------
    >>> x = make_noise("hum", np.random.default_rng(0), seconds=0.5)
    >>> x.shape, x.dtype
    ((8000,), dtype('float32'))
    """
    if family not in _NOISE_FUNCTIONS:
        raise ValueError(
            f"unknown noise family {family!r}; choose from "
            f"{sorted(_NOISE_FUNCTIONS)}"
        )
    n = int(round(seconds * sample_rate))
    if family == "babble":
        if tts is None:
            raise ValueError("babble noise needs an ESpeak instance (tts)")
        x = _noise_babble(rng, n, sample_rate, tts)
    else:
        x = _NOISE_FUNCTIONS[family](rng, n, sample_rate)
    x = _fade(np.asarray(x, dtype=np.float32), int(0.005 * sample_rate))
    return _set_level(x, -26.0)


def _fractional_delay_add(h, delays, amps, half=8):
    """Add ``amps`` at fractional sample ``delays`` with windowed sincs."""
    taps = np.arange(-half + 1, half + 1)
    base = np.floor(delays).astype(int)
    frac = delays - base
    window = np.hanning(2 * half + 2)[1:-1]
    kernels = np.sinc(taps[None, :] - frac[:, None]) * window[None, :]
    idx = base[:, None] + taps[None, :]
    ok = (idx >= 0) & (idx < len(h))
    np.add.at(h, idx[ok], (kernels * amps[:, None])[ok])


def make_rir(
    rng: np.random.Generator,
    sample_rate: int = 16000,
    size_range=_TRAIN_ROOMS["size"],
    rt60_range=_TRAIN_ROOMS["rt60"],
    early_ms: float = 60.0,
):
    """Simulate one room impulse response (image sources + diffuse tail).

    A shoe-box room is drawn within ``size_range``, a source and a
    microphone at least 0.5 m from the walls and 0.7 m from each other, and
    a reverberation time within ``rt60_range``. The wall reflection
    coefficient follows from Sabine's formula. Image sources up to
    ``early_ms`` after the direct sound give the direct path and early
    reflections; then an exponentially decaying noise tail with band-wise
    decay rates (low frequencies ring longer) takes over, scaled to match
    the image-source energy where they meet.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of randomness.
    sample_rate : int
        Sampling rate in Hz.
    size_range : tuple
        ``((lmin, lmax), (wmin, wmax), (hmin, hmax))`` in metres.
    rt60_range : tuple
        ``(min, max)`` reverberation time in seconds.
    early_ms : float
        Length of the image-source part after the direct path.

    Returns
    -------
    tuple
        ``(rir, info)``: float32 RIR with a peak of 1, and a dict with the
        room geometry, RT60 and distance.

    Example
    -------
    >>> rir, info = make_rir(np.random.default_rng(0))
    >>> float(np.abs(rir).max()), 0.2 <= info["rt60"] <= 0.7
    (1.0, True)
    """
    sr = sample_rate
    c = _SPEED_OF_SOUND
    room = np.array([rng.uniform(lo, hi) for lo, hi in size_range])
    rt60 = float(rng.uniform(*rt60_range))
    for _ in range(100):
        src = rng.uniform(0.5, room - 0.5)
        mic = rng.uniform(0.5, room - 0.5)
        mic[2] = rng.uniform(0.8, min(2.0, room[2] - 0.5))
        src[2] = rng.uniform(1.0, min(2.0, room[2] - 0.5))
        dist = float(np.linalg.norm(src - mic))
        if dist >= 0.7:
            break
    volume = float(np.prod(room))
    surface = 2 * (room[0] * room[1] + room[0] * room[2] + room[1] * room[2])
    alpha = float(np.clip(0.161 * volume / (surface * rt60), 0.01, 0.99))
    beta = math.sqrt(1 - alpha)

    t_direct = dist / c
    t_early = t_direct + early_ms / 1000.0
    band_rt60 = [rt60 * f for f in _BAND_RT60_FACTOR]
    n = int(math.ceil((t_early + max(band_rt60)) * sr)) + 16
    h = np.zeros(n)

    # Image sources (Allen & Berkley), same coefficient on every wall.
    orders = [int(math.ceil(c * t_early / (2 * dim))) + 1 for dim in room]
    grids = np.meshgrid(*[np.arange(-o, o + 1) for o in orders], indexing="ij")
    lattice = np.stack([g.ravel() for g in grids], axis=1)
    delays, amps = [], []
    for parity in np.ndindex(2, 2, 2):
        p = np.array(parity)
        pos = (1 - 2 * p) * src + 2 * lattice * room
        d = np.linalg.norm(pos - mic, axis=1)
        refl = np.abs(lattice - p).sum(axis=1) + np.abs(lattice).sum(axis=1)
        keep = d / c <= t_early
        delays.append(d[keep] / c * sr)
        amps.append(beta ** refl[keep] / (4 * np.pi * np.maximum(d[keep], 0.1)))
    _fractional_delay_add(h, np.concatenate(delays), np.concatenate(amps))

    # Diffuse tail, one exponential decay per band, cross-faded in over the
    # last 20 ms of the image-source part and scaled to its energy there.
    win = int(0.02 * sr)
    i0 = int(t_early * sr) - win
    tail_t = np.arange(n - i0) / sr + (i0 / sr - t_direct)
    noise = rng.standard_normal(n - i0)
    tail = np.zeros(n - i0)
    for k, rt in enumerate(band_rt60):
        lo, hi = _BAND_EDGES[k], _BAND_EDGES[k + 1]
        if hi is None or hi >= sr / 2:
            sos = signal.butter(4, lo, "highpass", fs=sr, output="sos")
        elif lo == 0.0:
            sos = signal.butter(4, hi, "lowpass", fs=sr, output="sos")
        else:
            sos = signal.butter(2, [lo, hi], "bandpass", fs=sr, output="sos")
        tail += signal.sosfilt(sos, noise) * np.exp(-6.9 * tail_t / rt)
        if hi is None or hi >= sr / 2:
            break
    early_energy = np.mean(h[i0 : i0 + win] ** 2)
    tail_energy = np.mean(tail[:win] ** 2)
    tail *= math.sqrt(early_energy / max(tail_energy, 1e-20))
    ramp = np.linspace(0.0, 1.0, win)
    h[i0 : i0 + win] *= 1 - ramp
    tail[:win] *= ramp
    h[i0:] += tail
    h /= np.abs(h).max()
    info = {
        "room": [round(float(v), 3) for v in room],
        "rt60": round(rt60, 3),
        "distance": round(dist, 3),
        "absorption": round(alpha, 3),
    }
    return h.astype(np.float32), info
