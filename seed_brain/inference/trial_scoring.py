"""Scoring a trial list with a model folder (``seed-brain score``): every
file embedded once, the embeddings cached next to the scores (keyed by
file version and the encoder's weights), SEED or the encoder alone.

Authors
 * seed-brain developers 2026
"""

import hashlib
import logging
import os
import sys

import torch

from seed_brain.utils.files import file_key, save_torch, write_text
from seed_brain.utils.progress import progress

__all__ = [
    "score_trials_file",
]

logger = logging.getLogger(__name__)

CACHE_FORMAT = "seed-brain-score-cache"


def _enhance_all(model, emb, ids, chunk=4096):
    parts = [
        model.enhance_embeddings(emb[i : i + chunk], ids[i : i + chunk]).cpu()
        for i in range(0, emb.shape[0], chunk)
    ]
    return torch.cat(parts) if parts else emb


def _fingerprint(model):
    """Hash of what makes encoder embeddings: weights and sample rate."""
    digest = hashlib.sha1(f"sr={model.sample_rate}".encode())
    for key, value in model.mods.encoder.state_dict().items():
        digest.update(key.encode())
        data = value.detach().cpu().contiguous().reshape(-1)
        digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()

    def update(self, n):
        """Does nothing."""


def _load_cache(path, fingerprint):
    if not os.path.isfile(path):
        return {}
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged cache is rebuilt, never trusted
        logger.warning("Ignoring unreadable cache %s (%s)", path, err)
        return {}
    if blob.get("format") != CACHE_FORMAT or blob.get("encoder") != fingerprint:
        return {}
    return {
        key: (uid, emb)
        for key, uid, emb in zip(blob["keys"], blob["ids"], blob["emb"])
    }


def _save_cache(path, fingerprint, cache):
    keys = sorted(cache)
    if not keys:
        return
    save_torch(
        {
            "format": CACHE_FORMAT,
            "encoder": fingerprint,
            "keys": keys,
            "ids": [cache[k][0] for k in keys],
            "emb": torch.stack([cache[k][1] for k in keys]),
        },
        path,
    )


def score_trials_file(
    model,
    trials_path,
    audio_root,
    out,
    enhance=True,
    ids="content",
    batch_size=8,
    save_every=20,
    log=None,
):
    """Scores a trial list with a model; the engine of ``seed-brain score``.

    Every file of the list is embedded once (sorted by size, batched); the
    encoder embeddings are cached in ``<out>.embeddings.pt`` (keyed by
    file path, size and modification time, and by the encoder's weights)
    and saved every ``save_every`` batches, so an interrupted run resumes
    and a second run (e.g. with ``enhance=False``) embeds nothing.

    Arguments
    ---------
    model : seed_brain.inference.SEEDSpeakerRecognition
        The model.
    trials_path : str
        ``label enrol test`` lines
        (:func:`seed_brain.dataio.trials.read_trials`).
    audio_root : str
        Folder the trial paths are relative to.
    out : str
        Score file to write (``score label enrol test`` lines).
    enhance : bool
        Score SEED-enhanced embeddings (True) or the encoder's own.
    ids : str
        ``"content"`` or ``"path"`` (see the module docstring).
    batch_size : int
        Files per encoder call.
    save_every : int
        Batches between cache saves.
    log : callable or None
        Receives progress messages (default: print to stderr).

    Returns
    -------
    dict
        ``eer`` (percent), ``eer_threshold``, ``min_dcf``, ``n_target``,
        ``n_nontarget``, ``embedded``, ``cached`` (number of files).

    Example
    -------
    >>> import tempfile
    >>> from seed_brain.dataio.audio import write_audio
    >>> from seed_brain.inference import SEEDSpeakerRecognition
    >>> from seed_brain.inference.model_folder import (
    ...     write_untrained_model_folder,
    ... )
    >>> tmp = tempfile.mkdtemp()
    >>> _ = torch.manual_seed(0)
    >>> folder = write_untrained_model_folder(os.path.join(tmp, "model"))
    >>> model = SEEDSpeakerRecognition.from_hparams(
    ...     source=folder, run_opts={"device": "cpu"}
    ... )
    >>> for name in ("a", "b", "c"):
    ...     wav = 0.1 * torch.randn(16000)
    ...     write_audio(os.path.join(tmp, f"{name}.wav"), wav)
    >>> with open(os.path.join(tmp, "trials.txt"), "w") as f:
    ...     _ = f.write("1 a.wav b.wav\\n0 a.wav c.wav\\n")
    >>> out = os.path.join(tmp, "scores.txt")
    >>> result = score_trials_file(
    ...     model, os.path.join(tmp, "trials.txt"), tmp, out, log=print
    ... )  # doctest: +ELLIPSIS
    3 files: 0 embeddings cached in .../scores.txt.embeddings.pt, 3 to compute
    >>> result["n_target"], result["n_nontarget"], result["embedded"]
    (1, 1, 3)
    >>> len(open(out).read().splitlines())
    2
    >>> score_trials_file(
    ...     model, os.path.join(tmp, "trials.txt"), tmp, out, log=print
    ... )["cached"]  # doctest: +ELLIPSIS
    3 files: 3 embeddings cached in ..., 0 to compute
    3
    """
    from seed_brain.dataio.trials import read_trials
    from seed_brain.scoring import compute_eer, compute_min_dcf, score_trials

    if log is None:

        def log(msg):
            print(msg, file=sys.stderr)

    if ids not in ("content", "path"):
        raise ValueError(f"ids must be 'content' or 'path', got {ids!r}")
    trials = read_trials(trials_path, root=audio_root)
    names = sorted({t[1] for t in trials} | {t[2] for t in trials})
    full = {n: os.path.join(audio_root, n) for n in names}
    keys = {n: file_key(full[n]) for n in names}
    cache_path = f"{out}.embeddings.pt"
    fingerprint = _fingerprint(model)
    cache = _load_cache(cache_path, fingerprint)
    todo = [n for n in names if keys[n] not in cache]
    log(
        f"{len(names)} files: {len(names) - len(todo)} embeddings cached in "
        f"{cache_path}, {len(todo)} to compute"
    )
    try:
        with progress(total=len(todo), desc="embed", always=True) as bar:
            batches = model.iter_encode_files(
                [full[n] for n in todo], batch_size
            )
            for step, (chunk, uids, emb) in enumerate(batches, start=1):
                for i, uid, e in zip(chunk, uids, emb):
                    cache[keys[todo[i]]] = (uid, e.clone())
                bar.update(len(chunk))
                if save_every and step % save_every == 0:
                    _save_cache(cache_path, fingerprint, cache)
    finally:
        if todo:
            _save_cache(cache_path, fingerprint, cache)
    base = torch.stack([cache[keys[n]][1] for n in names]).float()
    if enhance:
        noise_ids = (
            [cache[keys[n]][0] for n in names] if ids == "content" else names
        )
        base = _enhance_all(model, base, noise_ids)
    else:  # the encoder alone, with the run's backend (centring)
        base = model.baseline_embeddings(base)
    labels, scores = score_trials(dict(zip(names, base)), trials)
    write_text(
        out,
        "".join(
            f"{score:.6f} {label} {enrol} {test}\n"
            for score, (label, enrol, test) in zip(scores, trials)
        ),
        "the scores",
    )
    result = {
        "n_target": int((labels == 1).sum()),
        "n_nontarget": int((labels == 0).sum()),
        "embedded": len(todo),
        "cached": len(names) - len(todo),
        "eer": None,
        "eer_threshold": None,
        "min_dcf": None,
    }
    if result["n_target"] and result["n_nontarget"]:
        pos, neg = scores[labels == 1], scores[labels == 0]
        eer, threshold = compute_eer(pos, neg)
        min_dcf, _ = compute_min_dcf(
            pos,
            neg,
            p_target=float(getattr(model.hparams, "p_target", 0.05)),
            c_miss=float(getattr(model.hparams, "c_miss", 1.0)),
            c_fa=float(getattr(model.hparams, "c_fa", 1.0)),
        )
        result.update(
            eer=100.0 * float(eer),
            eer_threshold=float(threshold),
            min_dcf=float(min_dcf),
        )
    return result
