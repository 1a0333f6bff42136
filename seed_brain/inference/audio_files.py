"""Audio files verified and embedded by a SEED model.

:class:`AudioFiles` is the part of
:class:`seed_brain.inference.interface.SEEDSpeakerRecognition` that works
on files: a trial of two files, and many files embedded in batches sorted
by size (baseline and SEED embeddings, each file's noise id).

Authors
 * seed-brain developers 2026
"""

import os

import speechbrain as sb
import torch

from seed_brain.inference.item_ids import waveform_id


class AudioFiles:
    """The file methods of ``SEEDSpeakerRecognition``.

    A mixin: it uses the model's ``load_audio``, ``encode_batch``,
    ``enhance_embeddings``, ``verify_batch`` and ``device``.
    """

    def verify_files(self, path_x, path_y, threshold=None, enhance=True):
        """Verification score and decision for two audio files.

        Arguments
        ---------
        path_x, path_y : str or os.PathLike
            Audio files (any rate and channel count; converted on load).
        threshold : float or None
            See :meth:`verify_batch`.
        enhance : bool
            See :meth:`verify_batch`.

        Returns
        -------
        score : torch.Tensor
            0-d float64 cosine similarity.
        decision : torch.Tensor
            0-d boolean, True for "same speaker".
        """
        x = self.load_audio(path_x).unsqueeze(0)
        y = self.load_audio(path_y).unsqueeze(0)
        score, decision = self.verify_batch(
            x, y, threshold=threshold, enhance=enhance
        )
        return score[0], decision[0]

    # ------------------------------------------------------------- files
    def iter_encode_files(self, paths, batch_size=8):
        """Encoder embeddings of audio files, batch by batch.

        Files are sorted by size (then path) and batched, as
        ``SEEDBrain.embed_files`` does, so padding stays small.

        Arguments
        ---------
        paths : list of str
            Audio files.
        batch_size : int
            Files per encoder call.

        Yields
        ------
        indices : list of int
            Positions in ``paths`` of the batch's files.
        ids : list of str
            :func:`waveform_id` of each file's waveform.
        emb : torch.Tensor
            ``[len(indices), D]`` encoder (not enhanced) embeddings, CPU.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        sizes = [os.path.getsize(p) for p in paths]
        order = sorted(range(len(paths)), key=lambda i: (sizes[i], paths[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            wavs = [self.load_audio(paths[i]) for i in chunk]
            for i, wav in zip(chunk, wavs):
                if wav.numel() == 0 or wav.abs().max() == 0:
                    raise ValueError(f"{paths[i]} is empty or all silent.")
            batch = sb.dataio.batch.PaddedBatch([{"sig": w} for w in wavs])
            sig, lens = batch.sig
            emb = self.encode_batch(sig, lens, enhance=False).cpu()
            yield chunk, [waveform_id(w) for w in wavs], emb

    def encode_files(self, paths, enhance=True, ids=None, batch_size=8):
        """Embeddings of audio files, in the order of ``paths``.

        Arguments
        ---------
        paths : list of str
            Audio files.
        enhance : bool
            SEED-enhanced (True) or the encoder's own embeddings.
        ids : list of str or None
            Noise ids per file; None: :func:`waveform_id` of each file.
        batch_size : int
            Files per encoder call.

        Returns
        -------
        torch.Tensor
            ``[len(paths), D]`` embeddings on the CPU.
        """
        paths = [os.fspath(p) for p in paths]
        if ids is not None:
            ids = self._check_ids(ids, len(paths))
        base, content = [None] * len(paths), [None] * len(paths)
        for chunk, chunk_ids, emb in self.iter_encode_files(paths, batch_size):
            for i, uid, e in zip(chunk, chunk_ids, emb):
                base[i], content[i] = e, uid
        if not paths:
            raise ValueError("encode_files needs at least one file.")
        emb = torch.stack(base)
        if enhance:
            emb = self.enhance_embeddings(emb, content if ids is None else ids)
        return emb.cpu()
