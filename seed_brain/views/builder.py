"""Views of a clean crop: the training pairs of SEED.

Every training crop is turned into ``V`` views, by default
``[clean, clean, music, noise, reverb]``: view 0 is the clean target, the
others (a second clean copy included, so that clean inputs are trained too)
are the inputs. Each view is produced by a SpeechBrain augmenter
(:class:`speechbrain.augment.time_domain.AddNoise`,
:class:`speechbrain.augment.time_domain.AddReverb`) or a chain of them,
configured in the yaml.

Authors
 * seed-brain developers 2026
"""

import csv
import inspect
import os

import torch
from speechbrain.augment.time_domain import AddNoise
from torch import nn

from seed_brain.dataio.audio import load_audio


def _takes_lengths(module):
    """Whether an augmenter's forward takes ``(wavs, lengths)``."""
    params = inspect.signature(module.forward).parameters
    return len(params) >= 2


def apply_augmenter(module, wavs, lengths):
    """Calls a SpeechBrain augmenter with or without lengths.

    Arguments
    ---------
    module : torch.nn.Module or None
        The augmenter (``None`` is the identity).
    wavs : torch.Tensor
        ``[B, L]`` waveforms.
    lengths : torch.Tensor
        ``[B]`` relative lengths.

    Returns
    -------
    torch.Tensor
        ``[B, L]`` augmented waveforms (same length as the input).

    Example
    -------
    >>> from speechbrain.augment.time_domain import AddNoise
    >>> wavs = torch.randn(2, 1600)
    >>> out = apply_augmenter(AddNoise(snr_low=5, snr_high=5), wavs,
    ...                       torch.ones(2))
    >>> out.shape
    torch.Size([2, 1600])
    """
    if module is None:
        return wavs
    if _takes_lengths(module):
        out = module(wavs, lengths)
    else:
        out = module(wavs)
    # Keep the crop length fixed: augmenters may pad or trim.
    if out.shape[1] > wavs.shape[1]:
        out = out[:, : wavs.shape[1]]
    elif out.shape[1] < wavs.shape[1]:
        out = nn.functional.pad(out, (0, wavs.shape[1] - out.shape[1]))
    return out


def _augmenter_signature(module):
    """Class, settings and CSV content hash of one augmenter (recursive)."""
    import hashlib

    if isinstance(module, ChainAugment):
        return [_augmenter_signature(m) for m in module.augmenters]
    sig = {"class": type(module).__name__}
    for attr in ("snr_low", "snr_high", "min_talkers", "max_talkers"):
        if hasattr(module, attr):
            sig[attr] = float(getattr(module, attr))
    csv_file = getattr(module, "csv_file", None)
    if csv_file and os.path.exists(csv_file):
        # The bytes of the listed files, not the CSV text: a copy of the
        # same banks under another output folder matches.
        digest = hashlib.sha1()
        with open(csv_file, newline="", encoding="utf-8") as fin:
            for row in csv.DictReader(fin):
                path = row.get("wav", "")
                if os.path.exists(path):
                    with open(path, "rb") as audio:
                        digest.update(hashlib.sha1(audio.read()).digest())
                else:
                    digest.update(path.encode())
        sig["files_sha1"] = digest.hexdigest()[:16]
    return sig


class ChainAugment(nn.Module):
    """Applies several augmenters in turn (e.g. reverb, then noise).

    Arguments
    ---------
    augmenters : list of torch.nn.Module
        Applied first to last.

    Example
    -------
    >>> from speechbrain.augment.time_domain import AddNoise
    >>> chain = ChainAugment([AddNoise(snr_low=10, snr_high=10),
    ...                       AddNoise(snr_low=10, snr_high=10)])
    >>> chain(torch.randn(2, 800), torch.ones(2)).shape
    torch.Size([2, 800])
    """

    def __init__(self, augmenters):
        super().__init__()
        self.augmenters = nn.ModuleList(augmenters)

    def forward(self, wavs, lengths):
        """Applies every augmenter."""
        for module in self.augmenters:
            wavs = apply_augmenter(module, wavs, lengths)
        return wavs


class SpeedVoices(nn.Module):
    """Speed perturbation of each clean crop: new voices from old ones.

    Resampling changes tempo and pitch together, as Kaldi-style speed
    perturbation does when it turns each training speaker into three.
    Each crop of the batch gets one factor drawn from ``speeds`` (global
    torch RNG); the result is centre-cropped, or tiled, back to the input
    length, so every view of the crop shares the new voice and the clean
    target moves with it.

    Arguments
    ---------
    speeds : list of float or None
        Speed factors (1.1 is 10 % faster and higher); 1.0 keeps a crop.
        ``None`` keeps every crop (the module is then the identity).
    sample_rate : int
        Sampling rate (only to name the setting; resampling is relative).

    Example
    -------
    >>> voices = SpeedVoices([0.9, 1.1])
    >>> wavs = torch.randn(3, 1600)
    >>> out = voices(wavs)
    >>> out.shape
    torch.Size([3, 1600])
    >>> bool(torch.equal(SpeedVoices([1.0])(wavs), wavs))
    True
    """

    def __init__(self, speeds=(0.9, 1.0, 1.1), sample_rate=16000):
        super().__init__()
        self.speeds = [float(s) for s in (speeds or [1.0])]
        if min(self.speeds) <= 0:
            raise ValueError(
                f"speeds must be positive factors, got {list(speeds)}."
            )
        self.sample_rate = int(sample_rate)

    def forward(self, wavs, lengths=None):
        """Returns ``[B, L]`` crops, each at its drawn speed."""
        import torchaudio

        if self.speeds == [1.0]:
            return wavs
        pick = torch.randint(len(self.speeds), (wavs.shape[0],))
        out = wavs.clone()
        length = wavs.shape[-1]
        for k, speed in enumerate(self.speeds):
            rows = (pick == k).nonzero().flatten().to(wavs.device)
            if speed == 1.0 or rows.numel() == 0:
                continue
            # speed f: L samples become L / f (orig f*100 -> new 100 Hz).
            y = torchaudio.functional.resample(
                wavs[rows], orig_freq=int(round(speed * 100)), new_freq=100
            )
            if y.shape[-1] >= length:
                start = (y.shape[-1] - length) // 2
                y = y[:, start : start + length]
            else:
                reps = -(-length // y.shape[-1])
                y = y.repeat(1, reps)[:, :length]
            out[rows] = y
        return out


class ViewBuilder(nn.Module):
    """Builds the ``V`` views of a batch of clean crops.

    Arguments
    ---------
    views : list of str
        View names in order; view 0 must be a clean one (the target).
    augmenters : dict
        Maps each name that is not clean to its augmenter. A name that maps
        to ``None``, or the name ``"clean"``, is the identity.
    voices : torch.nn.Module, optional
        Applied to the clean crops before any view is made (e.g.
        :class:`SpeedVoices`), so that all views, the target included,
        share it.

    Example
    -------
    >>> from speechbrain.augment.time_domain import AddNoise
    >>> builder = ViewBuilder(
    ...     ["clean", "clean", "noise"],
    ...     {"noise": AddNoise(snr_low=0, snr_high=0)},
    ... )
    >>> views = builder(torch.randn(4, 1600), torch.ones(4))
    >>> views.shape
    torch.Size([4, 3, 1600])
    >>> torch.equal(views[:, 0], views[:, 1])
    True
    """

    def __init__(self, views, augmenters=None, voices=None):
        super().__init__()
        self.voices = voices
        augmenters = dict(augmenters or {})
        views = list(views)
        if len(views) < 2:
            raise ValueError(
                "SEED needs at least two views (a clean target and one "
                f"input), got views={views}."
            )
        unknown = [v for v in views if v != "clean" and v not in augmenters]
        if unknown:
            raise ValueError(
                f"Views {unknown} have no augmenter: add them under "
                "'view_builder: augmenters:' in the yaml (known: "
                f"{sorted(augmenters)})."
            )
        if views[0] != "clean" and augmenters.get(views[0]) is not None:
            raise ValueError(
                f"View 0 is the clean target, but it is {views[0]!r}, which "
                "augments the audio: start 'views' with 'clean'."
            )
        self.views = views
        self.augmenters = nn.ModuleDict(
            {k: v for k, v in augmenters.items() if v is not None}
        )

    def signature(self):
        """What the views depend on, for the embedding cache's check.

        For each view in use: the augmenter's class, its SNR range, talker
        counts, and a hash of the files its CSV lists (so that a cache
        built with other noise, RIRs or SNRs is never reused silently).

        Example
        -------
        >>> from speechbrain.augment.time_domain import AddNoise
        >>> def builder(high):
        ...     noise = AddNoise(snr_low=0, snr_high=high)
        ...     return ViewBuilder(["clean", "noise"], {"noise": noise})
        >>> builder(5).signature() == builder(5).signature()
        True
        >>> builder(5).signature() == builder(10).signature()
        False
        """
        out = {}
        if self.voices is not None and getattr(self.voices, "speeds", None) != [
            1.0
        ]:
            out["voices"] = {
                "class": type(self.voices).__name__,
                "speeds": list(getattr(self.voices, "speeds", [])),
            }
        for name in self.views:
            if name in self.augmenters and name not in out:
                out[name] = _augmenter_signature(self.augmenters[name])
        return out

    def distinct_views(self):
        """Which views are distinct, and where each view's copy is.

        Views without an augmenter (``clean``, or a name mapped to None)
        are the crop itself: all of them are one view. Each augmented view
        is a random draw of its own, distinct even when two share a name.

        Returns
        -------
        tuple
            ``(distinct, slots)``: indices (into ``views``) of the views
            to compute, and for each of the ``V`` views the position of its
            content in ``distinct``.

        Example
        -------
        >>> from speechbrain.augment.time_domain import AddNoise
        >>> builder = ViewBuilder(
        ...     ["clean", "clean", "noise", "noise"],
        ...     {"noise": AddNoise(snr_low=0, snr_high=0)},
        ... )
        >>> builder.distinct_views()
        ([0, 2, 3], [0, 0, 1, 2])
        """
        distinct, slots, identity = [], [], None
        for i, name in enumerate(self.views):
            if name in self.augmenters:
                slots.append(len(distinct))
                distinct.append(i)
            else:
                if identity is None:
                    identity = len(distinct)
                    distinct.append(i)
                slots.append(identity)
        return distinct, slots

    def forward(self, wavs, lengths=None, distinct_only=False):
        """Returns ``[B, V, L]`` views of ``[B, L]`` clean crops.

        With ``distinct_only``, only the views of :meth:`distinct_views`
        (``[B, U, L]``): the augmenters run, and draw from the random
        generators, exactly as for all views, so that
        ``out[:, slots]`` equals the full output.
        """
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        if self.voices is not None:
            wavs = apply_augmenter(self.voices, wavs, lengths)
        keep = self.distinct_views()[0] if distinct_only else None
        out = []
        for i, name in enumerate(self.views):
            module = self.augmenters[name] if name in self.augmenters else None
            if keep is not None and i not in keep:
                continue  # a repeated identity view: nothing drawn
            out.append(apply_augmenter(module, wavs, lengths))
        return torch.stack(out, dim=1)


class InMemoryAddNoise(AddNoise):
    """SpeechBrain's ``AddNoise`` with its noise files held in memory.

    The mixing (SNR drawn in ``[snr_low, snr_high]``, RMS over the valid
    length, optional normalisation) is ``AddNoise``'s own; only loading
    changes. ``AddNoise`` reads one file per waveform of every batch
    through a ``DataLoader`` and pads them to the longest, which dominated
    the cost of building the embedding cache (about 130 s per 300 crops
    with 78 s files here). This class reads the CSV's files once, then for
    each waveform picks a random file (the global torch RNG) and a random
    offset, looping files shorter than the waveform.

    Arguments
    ---------
    csv_file : str
        CSV with a ``wav`` column (as written by
        :func:`seed_brain.dataio.manifests.prepare_augment_csv`).
    snr_low : float
        Lowest SNR in dB.
    snr_high : float
        Highest SNR in dB.
    sample_rate : int
        Rate the files are loaded (and resampled) at.
    **kwargs
        Other ``AddNoise`` arguments (e.g. ``normalize``).

    Example
    -------
    >>> import os, tempfile
    >>> from seed_brain.dataio.audio import write_audio
    >>> tmp = tempfile.mkdtemp()
    >>> write_audio(os.path.join(tmp, "n.wav"), torch.randn(4000))
    >>> with open(os.path.join(tmp, "n.csv"), "w") as f:
    ...     _ = f.write("ID,duration,wav\\n")
    ...     _ = f.write(f"n,0.25,{os.path.join(tmp, 'n.wav')}\\n")
    >>> noisy = InMemoryAddNoise(os.path.join(tmp, "n.csv"), 5, 5)
    >>> noisy(torch.randn(3, 16000), torch.ones(3)).shape
    torch.Size([3, 16000])
    """

    def __init__(
        self, csv_file, snr_low=0, snr_high=0, sample_rate=16000, **kwargs
    ):
        super().__init__(
            csv_file=csv_file,
            snr_low=snr_low,
            snr_high=snr_high,
            noise_sample_rate=sample_rate,
            clean_sample_rate=sample_rate,
            **kwargs,
        )
        self.sample_rate = sample_rate
        self._bank = None

    def _read_bank(self):
        with open(self.csv_file, newline="", encoding="utf-8") as fin:
            paths = [row["wav"] for row in csv.DictReader(fin)]
        if not paths:
            raise ValueError(
                f"The noise CSV {self.csv_file} lists no file: check the "
                "noise folder and its include/exclude patterns."
            )
        bank = []
        for path in paths:
            wav = load_audio(path, self.sample_rate)
            if wav.numel() == 0 or wav.abs().max() == 0:
                raise ValueError(
                    f"Noise file {path} is empty or silent: remove it "
                    "from the noise folder."
                )
            bank.append(wav)
        return bank

    def _load_noise(self, lengths, max_length):
        if self._bank is None:
            self._bank = self._read_bank()
        batch = lengths.shape[0]
        out = torch.empty(batch, max_length)
        picks = torch.randint(len(self._bank), (batch,))
        for i, k in enumerate(picks.tolist()):
            noise = self._bank[k]
            if noise.numel() < max_length:
                noise = noise.repeat(-(-max_length // noise.numel()))
            high = noise.numel() - max_length + 1
            start = int(torch.randint(high, (1,)))
            out[i] = noise[start : start + max_length]
        noise_len = torch.full((batch, 1), max_length, device=lengths.device)
        return out.to(lengths.device), noise_len


class BabbleAddNoise(InMemoryAddNoise):
    """Babble: the sum of several speech files, mixed like ``AddNoise``.

    SEED's babble view (switched off by the authors): ``min_talkers`` to
    ``max_talkers`` random speech segments are summed into one noise
    signal per waveform, then mixed at an SNR in ``[snr_low, snr_high]``.
    The speech bank can be the label-free training manifest itself.

    Arguments
    ---------
    csv_file : str
        CSV with a ``wav`` column of speech files.
    snr_low : float
        Lowest SNR in dB (SEED: 13).
    snr_high : float
        Highest SNR in dB (SEED: 20).
    min_talkers : int
        Fewest talkers (SEED: 3).
    max_talkers : int
        Most talkers (SEED: 7).
    **kwargs
        Other :class:`InMemoryAddNoise` arguments.

    Example
    -------
    >>> import os, tempfile
    >>> from seed_brain.dataio.audio import write_audio
    >>> tmp = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     write_audio(os.path.join(tmp, f"s{i}.wav"), torch.randn(8000))
    >>> with open(os.path.join(tmp, "speech.csv"), "w") as f:
    ...     _ = f.write("ID,duration,wav\\n")
    ...     for i in range(3):
    ...         _ = f.write(f"s{i},0.5,{os.path.join(tmp, f's{i}.wav')}\\n")
    >>> babble = BabbleAddNoise(os.path.join(tmp, "speech.csv"), 15, 15,
    ...                         min_talkers=2, max_talkers=3)
    >>> babble(torch.randn(2, 4000), torch.ones(2)).shape
    torch.Size([2, 4000])
    """

    def __init__(
        self,
        csv_file,
        snr_low=13,
        snr_high=20,
        min_talkers=3,
        max_talkers=7,
        **kwargs,
    ):
        super().__init__(csv_file, snr_low, snr_high, **kwargs)
        if not 1 <= min_talkers <= max_talkers:
            raise ValueError(
                "BabbleAddNoise needs 1 <= min_talkers <= max_talkers, got "
                f"{min_talkers} and {max_talkers}."
            )
        self.min_talkers = min_talkers
        self.max_talkers = max_talkers

    def _load_noise(self, lengths, max_length):
        talkers = int(
            torch.randint(self.min_talkers, self.max_talkers + 1, (1,))
        )
        total, noise_len = super()._load_noise(lengths, max_length)
        for _ in range(talkers - 1):
            more, _ = super()._load_noise(lengths, max_length)
            total = total + more
        return total, noise_len
