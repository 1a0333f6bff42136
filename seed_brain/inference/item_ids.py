"""Content ids of waveforms and embeddings, the default noise ids.

:class:`seed_brain.inference.interface.SEEDSpeakerRecognition` seeds the
forward noise of an item by its id; without ids it uses these hashes of
the content, so the same audio always gives the same enhanced embedding.

Authors
 * seed-brain developers 2026
"""

import hashlib

import torch


def waveform_id(wav):
    """Content id of a waveform: a hash of its float32 samples.

    Arguments
    ---------
    wav : torch.Tensor
        ``[samples]`` waveform (without padding).

    Returns
    -------
    str
        ``"wav-"`` and 40 hexadecimal digits.

    Example
    -------
    >>> a = waveform_id(torch.zeros(3))
    >>> a == waveform_id(torch.zeros(3, dtype=torch.float64)), len(a)
    (True, 44)
    >>> a == waveform_id(torch.zeros(4))
    False
    """
    data = wav.detach().to("cpu", torch.float32).contiguous().reshape(-1)
    return "wav-" + hashlib.sha1(data.numpy().tobytes()).hexdigest()


def embedding_id(emb):
    """Content id of an embedding: a hash of its float32 values.

    Arguments
    ---------
    emb : torch.Tensor
        ``[D]`` embedding.

    Returns
    -------
    str
        ``"emb-"`` and 40 hexadecimal digits.

    Example
    -------
    >>> embedding_id(torch.ones(4)) == embedding_id(torch.ones(4))
    True
    """
    data = emb.detach().to("cpu", torch.float32).contiguous().reshape(-1)
    return "emb-" + hashlib.sha1(data.numpy().tobytes()).hexdigest()
