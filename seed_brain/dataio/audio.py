"""Audio input/output with errors that name the file and the fix.

Every audio file the project touches goes through this module:

* :func:`load_audio` reads FLAC, WAV or OGG (and MP3 where libsndfile
  supports it) with ``soundfile``, mixes multichannel files down to mono by
  averaging the channels and resamples to the requested rate with
  ``torchaudio.functional.resample``.
* :func:`audio_info` returns ``(sample_rate, num_frames, channels)`` without
  decoding the samples.
* :func:`write_audio` writes a mono WAV atomically (temporary file in the
  same folder, then ``os.replace``), so that a reader never sees a
  half-written file, even if the writer is killed.

Bad inputs raise :class:`FileNotFoundError` (missing file) or
:class:`AudioError` (0-byte, corrupt, truncated or non-audio file, zero-length
audio, NaN or infinite samples), each naming the file and what to do;
:func:`check_audio` also refuses all-silent audio.

Authors
-------
* seed-brain contributors
"""

import os
import tempfile

import numpy as np
import soundfile as sf
import torch
import torchaudio

from seed_brain.utils.errors import disk_space

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioError",
    "audio_info",
    "check_audio",
    "is_audio_file",
    "load_audio",
    "write_audio",
]


def _readable_extensions():
    """File extensions of the formats this libsndfile build can decode."""
    extensions = [".wav", ".flac", ".ogg"]
    # MP3 needs libsndfile >= 1.1; only advertise it when available.
    if "MP3" in sf.available_formats():
        extensions.append(".mp3")
    return tuple(extensions)


#: File extensions (lower case) that :func:`load_audio` reads here.
AUDIO_EXTENSIONS = _readable_extensions()


class AudioError(ValueError):
    """An audio file is unusable: empty, corrupt, truncated or invalid.

    The message always names the file and suggests a fix.

    Example
    -------
    >>> issubclass(AudioError, ValueError)
    True
    """


def is_audio_file(path):
    """Whether ``path`` has one of the :data:`AUDIO_EXTENSIONS`.

    Hidden files (name starting with ``.``, such as the temporary files of
    :func:`write_audio`) are never audio files.

    Arguments
    ---------
    path : str or os.PathLike
        File name or path; the file need not exist.

    Returns
    -------
    bool
        True for e.g. ``a.wav`` or ``B.FLAC``.

    Example
    -------
    >>> is_audio_file("spk/utt.FLAC"), is_audio_file("notes.txt")
    (True, False)
    >>> is_audio_file(".utt.wav.tmp.wav")
    False
    """
    name = os.path.basename(os.fspath(path))
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _check_file(path):
    """Raise if ``path`` is missing, not a regular file or empty."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Audio file not found: '{path}' (working directory "
            f"'{os.getcwd()}'). Check the path, or re-run the data "
            "preparation that should have created it."
        )
    if not os.path.isfile(path):
        raise AudioError(
            f"'{path}' is not a regular file (a folder?). Pass the path of "
            "an audio file."
        )
    if os.path.getsize(path) == 0:
        raise AudioError(
            f"Audio file '{path}' is empty (0 bytes): an interrupted "
            "download or copy? Delete it and fetch or regenerate it."
        )


def _check_riff_complete(path):
    """Raise if a RIFF/WAV file is shorter than its own header says.

    libsndfile silently reads what is left of a truncated WAV, so this
    compares the chunk sizes written in the header with the file size.
    Sizes of 0 or 0xFFFFFFFF (left by streaming writers) are not checked.
    """
    size = os.path.getsize(path)
    unknown = (0, 0xFFFFFFFF)
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WAVE":
            return
        riff_size = int.from_bytes(header[4:8], "little")
        truncated = riff_size not in unknown and riff_size + 8 > size
        offset = 12
        while not truncated and offset + 8 <= size:
            f.seek(offset)
            chunk = f.read(8)
            chunk_size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                truncated = (
                    chunk_size not in unknown and offset + 8 + chunk_size > size
                )
                break
            offset += 8 + chunk_size + (chunk_size % 2)
    if truncated:
        raise AudioError(
            f"Audio file '{path}' is truncated: its WAV header announces "
            f"more data than the {size} bytes present (an interrupted "
            "download, copy or write?). Delete it and fetch or regenerate it."
        )


def _soundfile_info(path):
    """``soundfile.info`` with the checks and errors of this module."""
    path = os.fspath(path)
    _check_file(path)
    try:
        info = sf.info(path)
    except (sf.SoundFileError, RuntimeError) as err:
        raise AudioError(
            f"Cannot read audio file '{path}': {err}. The file is corrupt, "
            "truncated or not audio; supported extensions here are "
            f"{', '.join(AUDIO_EXTENSIONS)}. Re-create or re-download it."
        ) from err
    _check_riff_complete(path)
    if info.frames <= 0:
        raise AudioError(
            f"Audio file '{path}' holds no samples (zero-length audio, or a "
            "truncated file). Remove it from the data folder or regenerate "
            "it."
        )
    return info


def audio_info(path):
    """Sample rate, length and channel count of an audio file.

    Reads the header only (no decoding), so NaN samples are not detected
    here; :func:`load_audio` does that.

    Arguments
    ---------
    path : str or os.PathLike
        An audio file readable by soundfile.

    Returns
    -------
    tuple of (int, int, int)
        ``(sample_rate, num_frames, channels)``, at the file's native rate.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AudioError
        The file is empty, corrupt, truncated, not audio or has no samples.

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> write_audio(path, torch.zeros(8000), sample_rate=8000)
    >>> audio_info(path)
    (8000, 8000, 1)
    """
    info = _soundfile_info(path)
    return int(info.samplerate), int(info.frames), int(info.channels)


def load_audio(path, sample_rate=16000):
    """Reads an audio file as a mono float tensor at ``sample_rate``.

    Multichannel audio is mixed down by averaging the channels; a file at
    another rate is resampled with ``torchaudio.functional.resample``. Silent
    audio is returned as is: callers decide whether it is usable.

    Arguments
    ---------
    path : str or os.PathLike
        FLAC, WAV, OGG (or MP3, see :data:`AUDIO_EXTENSIONS`) file.
    sample_rate : int or None
        Rate of the returned signal in Hz; None keeps the file's own rate
        (see :func:`audio_info`).

    Returns
    -------
    torch.Tensor
        Float32 tensor of shape ``[samples]``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AudioError
        The file is empty, corrupt, truncated, not audio, holds no samples,
        or holds NaN or infinite samples.

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "noise.wav")
    >>> write_audio(path, 0.1 * torch.randn(48000), sample_rate=48000)
    >>> wav = load_audio(path, sample_rate=16000)
    >>> wav.shape, wav.dtype
    (torch.Size([16000]), torch.float32)
    >>> load_audio(path, sample_rate=None).shape
    torch.Size([48000])
    """
    path = os.fspath(path)
    info = _soundfile_info(path)
    try:
        data, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as err:
        raise AudioError(
            f"Cannot decode audio file '{path}': {err}. The file is corrupt "
            "or truncated; re-create or re-download it."
        ) from err
    if data.shape[0] == 0:
        raise AudioError(
            f"Audio file '{path}' holds no samples (zero-length audio). "
            "Remove it from the data folder or regenerate it."
        )
    if data.shape[0] < info.frames:
        raise AudioError(
            f"Audio file '{path}' is truncated: its header announces "
            f"{info.frames} frames but only {data.shape[0]} could be read. "
            "Delete it and fetch or regenerate it."
        )
    finite = np.isfinite(data)
    if not finite.all():
        bad = int(data.size - finite.sum())
        first = int(np.argmin(finite.all(axis=1)))
        raise AudioError(
            f"Audio file '{path}' holds {bad} NaN or infinite sample(s), "
            f"the first at frame {first}. The file was written from a "
            "diverged computation; regenerate it."
        )
    wav = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
    if sample_rate is not None and int(sample_rate) != file_rate:
        wav = torchaudio.functional.resample(wav, file_rate, int(sample_rate))
    return wav.contiguous()


def check_audio(path):
    """Decodes a whole file and raises if it cannot be used as speech.

    Everything :func:`load_audio` refuses (missing, empty, corrupt,
    truncated or non-audio file, zero-length audio, NaN or infinite
    samples) plus all-silent audio (every sample zero), which no speaker
    encoder, SNR or RIR can use.

    Arguments
    ---------
    path : str or os.PathLike
        An audio file.

    Returns
    -------
    tuple of (int, int, int)
        ``(sample_rate, num_frames, channels)`` as :func:`audio_info`.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AudioError
        The file is unusable; the message names it and the fix.

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "silence.wav")
    >>> write_audio(path, torch.zeros(800), sample_rate=8000)
    >>> check_audio(path)
    Traceback (most recent call last):
    ...
    seed_brain.dataio.audio.AudioError: Audio file '...silence.wav' is all...
    """
    rate, frames, channels = audio_info(path)
    wav = load_audio(path, sample_rate=None)
    if not bool(wav.abs().max() > 0):
        raise AudioError(
            f"Audio file '{os.fspath(path)}' is all silent (every sample is "
            "zero): it holds no speech, noise or impulse response. Remove "
            "it, or set skip_bad_audio: True in the yaml to skip such files."
        )
    return rate, frames, channels


def _float_wav_bytes(data, sample_rate):
    """Bytes of a mono 32-bit float WAV file holding ``data``.

    Written here rather than by libsndfile, whose float WAVs carry a PEAK
    chunk with a timestamp: the same signal would give different bytes.
    """
    payload = np.ascontiguousarray(data, dtype="<f4").tobytes()
    if len(payload) > 0xFFFFFFFF - 64:
        raise AudioError("Signal too long for a WAV file (over 4 GiB).")
    fmt = (
        (3).to_bytes(2, "little")  # WAVE_FORMAT_IEEE_FLOAT
        + (1).to_bytes(2, "little")  # channels
        + sample_rate.to_bytes(4, "little")
        + (4 * sample_rate).to_bytes(4, "little")  # bytes per second
        + (4).to_bytes(2, "little")  # block align
        + (32).to_bytes(2, "little")  # bits per sample
        + (0).to_bytes(2, "little")  # cbSize
    )

    def chunk(tag, body):
        return tag + len(body).to_bytes(4, "little") + body

    chunks = (
        chunk(b"fmt ", fmt)
        + chunk(b"fact", len(data).to_bytes(4, "little"))
        + chunk(b"data", payload)
    )
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def write_audio(path, wav, sample_rate=16000, subtype="FLOAT"):
    """Writes a mono signal to a WAV file, atomically.

    The signal goes to a hidden temporary file in the destination folder,
    which then replaces ``path`` with ``os.replace``: readers see either the
    old file or the complete new one, never a partial write. Missing folders
    are created.

    The default ``subtype="FLOAT"`` (32-bit float WAV) stores the samples
    exactly, including values beyond [-1, 1] that noisy or reverberant
    mixtures can reach, so nothing is clipped; the same signal always gives
    identical bytes (no timestamped PEAK chunk). ``subtype="PCM_16"``
    halves the size but refuses (AudioError) signals that would clip.

    Arguments
    ---------
    path : str or os.PathLike
        Destination, must end in ``.wav``.
    wav : torch.Tensor or numpy.ndarray
        Mono signal, shape ``[samples]`` (non-empty, finite).
    sample_rate : int
        Sample rate written in the header, in Hz.
    subtype : str
        ``"FLOAT"`` (default), ``"PCM_16"`` or ``"PCM_24"``.

    Raises
    ------
    AudioError
        Wrong extension or subtype, non-mono or empty signal, NaN or
        infinite samples, or a PCM signal outside [-1, 1].

    Example
    -------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "sub", "loud.wav")
    >>> write_audio(path, torch.tensor([0.0, 1.5, -2.0]))
    >>> load_audio(path).tolist()
    [0.0, 1.5, -2.0]
    """
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() != ".wav":
        raise AudioError(
            f"write_audio writes WAV files; name '{path}' with a .wav "
            "extension."
        )
    if subtype not in ("FLOAT", "PCM_16", "PCM_24"):
        raise AudioError(
            f"Cannot write '{path}' as {subtype!r}: use 'FLOAT', 'PCM_16' "
            "or 'PCM_24'."
        )
    if isinstance(wav, torch.Tensor):
        wav = wav.detach().cpu().numpy()
    data = np.asarray(wav, dtype=np.float32)
    if data.ndim != 1:
        raise AudioError(
            f"write_audio writes mono signals of shape [samples]; got shape "
            f"{tuple(data.shape)} for '{path}'. Mix down or squeeze first."
        )
    if data.size == 0:
        raise AudioError(f"Refusing to write an empty signal to '{path}'.")
    if not np.isfinite(data).all():
        raise AudioError(
            f"Refusing to write NaN or infinite samples to '{path}': the "
            "signal comes from a diverged computation."
        )
    peak = float(np.abs(data).max())
    if subtype != "FLOAT" and peak > 1.0:
        raise AudioError(
            f"Signal for '{path}' peaks at {peak:.3f} and would clip as "
            f"{subtype}; write it with subtype='FLOAT' or scale it down."
        )
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    os.close(handle)
    try:
        # A full disk: a DiskFullError naming the folder and the size.
        with disk_space(folder, 4 * data.size + 44, os.path.basename(path)):
            if subtype == "FLOAT":
                with open(tmp_path, "wb") as f:
                    f.write(_float_wav_bytes(data, int(sample_rate)))
            else:
                sf.write(
                    tmp_path, data, int(sample_rate), subtype, format="WAV"
                )
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
