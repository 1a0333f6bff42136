#!/usr/bin/env python3
"""Recipe: train a speaker encoder (ECAPA-TDNN or ResNetSE34V2) for SEED.

    python recipes/train_backbone.py hparams/train_ecapa.yaml \\
        --train_folder=<one sub-folder per speaker> \\
        [--noise_folder=<noise> --rir_folder=<RIRs>] \\
        --output_folder=results/train_ecapa

SEED needs a frozen, pretrained speaker encoder. For users without one,
this trains it on speaker-labelled speech, as SpeechBrain's VoxCeleb recipe
does: fixed-length segments of every file (``segment_seconds``), one
validation segment per speaker held out, optional noise / reverberation
augmentation (the clean batch plus one noisy and one reverberant copy),
the encoder followed by SpeechBrain's cosine ``Classifier``, AAM-softmax
(``AdditiveAngularMargin`` in ``LogSoftmaxWrapper``), Adam with a cyclic
learning rate. Checkpoints keep the model with the lowest validation
classification error; training resumes from the last one when rerun.

At the end, the best model is exported to ``export_folder``:

* ``export_format: speechbrain`` (ECAPA): the layout of SpeechBrain's
  published ``speechbrain/spkrec-ecapa-voxceleb`` (``embedding_model.ckpt``,
  ``mean_var_norm_emb.ckpt`` with the statistics of the training
  embeddings, ``classifier.ckpt``, ``label_encoder.txt``,
  ``hyperparams.yaml``);
* ``export_format: voxceleb_trainer`` (ResNet): ``resnetse34v2.model``, a
  voxceleb_trainer checkpoint (``__S__.`` encoder, ``__L__.`` classifier).

``export_folder/backbone.json`` records what was exported and the
``train.py`` arguments that load it (``--pretrained_path`` and the size
overrides). A rerun after a finished training exports only if the best
checkpoint changed.

Authors
 * seed-brain developers 2026
"""

import logging
import os
import sys

import soundfile as sf
import speechbrain as sb
import torch
import torchaudio
from hyperpyyaml import load_hyperpyyaml

# The checkout's own package comes first, installed or not.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio import training_corpora
from seed_brain.model.encoders import export_ecapa, export_voxceleb_trainer
from seed_brain.utils.files import read_json, write_json

logger = logging.getLogger(__name__)

#: Size keys of each backbone, as train.py overrides of the SEED yaml.
SIZE_KEYS = {
    "ecapa": ["n_mels", "ecapa_channels", "embedding_dim"],
    "resnet": ["n_mels", "resnet_filters", "resnet_layers", "embedding_dim"],
}


def load_segment(path, start, stop, sample_rate=16000):
    """Reads ``[start, stop)`` seconds of a file as mono at ``sample_rate``.

    Arguments
    ---------
    path : str
        Audio file.
    start, stop : float
        Segment bounds in seconds.
    sample_rate : int
        Output rate.

    Returns
    -------
    torch.Tensor
        ``[round((stop - start) * sample_rate)]`` samples (zero-padded if
        the file ends early).
    """
    rate = sf.info(path).samplerate
    first, last = int(round(start * rate)), int(round(stop * rate))
    data, _ = sf.read(
        path, start=first, stop=last, dtype="float32", always_2d=True
    )
    wav = torch.from_numpy(data.mean(axis=1))
    if rate != sample_rate:
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    length = int(round((stop - start) * sample_rate))
    if wav.numel() < length:
        wav = torch.nn.functional.pad(wav, (0, length - wav.numel()))
    return wav[:length]


class BackboneBrain(sb.Brain):
    """Speaker classification training of an encoder with AAM-softmax.

    ``modules``: ``encoder`` (``encoder(wavs, wav_lens)`` -> ``[B, D]``)
    and ``classifier`` (``[B, 1, D]`` -> ``[B, 1, n_speakers]`` cosines).
    ``hparams``: ``compute_cost``, ``error_stats``, ``lr_annealing``,
    ``train_logger`` and, when augmenting, ``wav_augment``.
    """

    use_augment = False

    def compute_forward(self, batch, stage):
        """Embeddings and speaker cosines (augmented copies in training)."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        if stage == sb.Stage.TRAIN and self.use_augment:
            wavs, lens = self.hparams.wav_augment(wavs, lens)
        emb = self.modules.encoder(wavs, lens)
        return self.modules.classifier(emb.unsqueeze(1)), lens

    def compute_objectives(self, predictions, batch, stage):
        """AAM-softmax loss; classification error outside training."""
        outputs, lens = predictions
        spk, _ = batch.spk_id_encoded
        if stage == sb.Stage.TRAIN and self.use_augment:
            spk = self.hparams.wav_augment.replicate_labels(spk)
        loss = self.hparams.compute_cost(outputs, spk, lens)
        if stage == sb.Stage.TRAIN:
            self.hparams.lr_annealing.on_batch_end(self.optimizer)
        else:
            self.error_metrics.append(batch.id, outputs, spk, lens)
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Resets the error statistics of validation."""
        if stage != sb.Stage.TRAIN:
            self.error_metrics = self.hparams.error_stats()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs and keeps the checkpoint of lowest validation error."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["ErrorRate"] = self.error_metrics.summarize("average")
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"ErrorRate": stats["ErrorRate"]},
                min_keys=["ErrorRate"],
            )


def dataio_prep(hparams, segments):
    """Datasets of segments with ``sig`` and ``spk_id_encoded``."""
    sample_rate = hparams["sample_rate"]
    train = sb.dataio.dataset.DynamicItemDataset.from_csv(segments["train"])
    valid = sb.dataio.dataset.DynamicItemDataset.from_csv(segments["valid"])
    datasets = [train, valid]
    labels = sb.dataio.encoder.CategoricalEncoder()

    @sb.utils.data_pipeline.takes("wav", "start", "stop")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav, start, stop):
        return load_segment(wav, float(start), float(stop), sample_rate)

    @sb.utils.data_pipeline.takes("spk_id")
    @sb.utils.data_pipeline.provides("spk_id_encoded")
    def label_pipeline(spk_id):
        return labels.encode_sequence_torch([spk_id])

    sb.dataio.dataset.add_dynamic_item(datasets, audio_pipeline)
    sb.dataio.dataset.add_dynamic_item(datasets, label_pipeline)
    labels.load_or_create(
        path=os.path.join(hparams["save_folder"], "label_encoder.txt"),
        from_didatasets=[train],
        output_key="spk_id",
    )
    labels.expect_len(int(hparams["out_n_neurons"]))
    sb.dataio.dataset.set_output_keys(datasets, ["id", "sig", "spk_id_encoded"])
    return train, valid, labels


def prepare_augmentation(hparams):
    """Writes the noise and RIR CSVs the augmenters read."""
    data = hparams["data_folder"]
    for name in ("noise", "rir"):
        dataprep.prepare_augment_csv(
            hparams[f"{name}_folder"],
            os.path.join(data, f"{name}.csv"),
            os.path.join(data, "augment", name),
            sample_rate=hparams["sample_rate"],
        )


def _embedding_statistics(brain, dataset, hparams):
    """Updates the ECAPA embedding normalisation over training segments."""
    encoder = brain.modules.encoder
    norm = encoder.mean_var_norm_emb
    norm.count = 0
    norm.glob_mean = torch.empty(0)
    norm.glob_std = torch.empty(0)
    loader = sb.dataio.dataloader.make_dataloader(
        dataset, batch_size=hparams["batch_size"], shuffle=False
    )
    limit = int(hparams.get("norm_max_segments") or 0) or None
    seen = 0
    encoder.eval()
    norm.train()
    with torch.no_grad():
        for batch in loader:
            wavs, lens = batch.sig
            emb = encoder(wavs.to(brain.device), lens.to(brain.device))
            norm(emb.unsqueeze(1), torch.ones(emb.shape[0], device=emb.device))
            seen += emb.shape[0]
            if limit is not None and seen >= limit:
                break
    norm.eval()


def export(hparams, brain, train_data, labels, overrides):
    """Exports the best checkpoint; returns ``backbone.json``'s content."""
    checkpointer = hparams["checkpointer"]
    best = checkpointer.find_checkpoint(min_key="ErrorRate")
    if best is None:
        raise RuntimeError("No checkpoint to export: training did not run.")
    folder = hparams["export_folder"]
    record_path = os.path.join(folder, "backbone.json")
    record = read_json(record_path)
    if record is not None and record.get("checkpoint") == str(best.path):
        logger.info("%s already holds %s; nothing to export.", folder, best)
        return record
    checkpointer.recover_if_possible(min_key="ErrorRate")
    backbone = hparams["backbone"]
    encoder = brain.modules.encoder.eval()
    if hparams["export_format"] == "speechbrain":
        _embedding_statistics(brain, train_data, hparams)
        export_ecapa(encoder.cpu(), folder, hparams["classifier"].cpu(), labels)
        pretrained = folder
    elif hparams["export_format"] == "voxceleb_trainer":
        pretrained = os.path.join(folder, "resnetse34v2.model")
        export_voxceleb_trainer(
            encoder.cpu(), pretrained, hparams["classifier"].cpu()
        )
        labels.save(os.path.join(folder, "label_encoder.txt"))
    else:
        raise ValueError(
            f"export_format must be 'speechbrain' or 'voxceleb_trainer', "
            f"got {hparams['export_format']!r}."
        )
    seed_args = [f"--pretrained_path={os.path.abspath(folder)}"]
    for key in SIZE_KEYS.get(backbone, []):
        value = hparams[key]
        text = (
            f"[{','.join(str(v) for v in value)}]"
            if isinstance(value, (list, tuple))
            else str(value)
        )
        seed_args.append(f"--{key}={text}")
    record = {
        "backbone": backbone,
        "export_format": hparams["export_format"],
        "checkpoint": str(best.path),
        "valid_error_rate": float(best.meta["ErrorRate"]),
        "n_speakers": len(labels),
        "pretrained_path": os.path.abspath(pretrained),
        "seed_yaml": f"hparams/seed_{backbone}.yaml",
        "seed_args": seed_args,
        "overrides": overrides,
    }
    write_json(record_path, record)
    logger.info(
        "Exported %s to %s. Use it with:\n  python train.py %s %s",
        best,
        folder,
        record["seed_yaml"],
        " ".join(seed_args),
    )
    return record


def main(argv):
    """Prepares the segments, trains, exports."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        text = fin.read()
    # First pass: the data settings (the number of speakers, and so the
    # classifier size, is counted from the data afterwards).
    user = _merge(overrides, {})
    first = load_hyperpyyaml(text, _merge(overrides, {"out_n_neurons": 1}))
    data_folder = first["data_folder"]
    kwargs = dict(
        folders=first["train_folder"],
        out_folder=os.path.join(data_folder, "segments"),
        segment_seconds=first["segment_seconds"],
        valid_per_speaker=first["valid_segments_per_speaker"],
        max_segments_per_utt=first["max_segments_per_utt"],
        seed=first["seed"],
    )
    del first
    sb.utils.distributed.run_on_main(
        training_corpora.prepare_speaker_segments, kwargs=kwargs
    )
    segments = training_corpora.prepare_speaker_segments(**kwargs)
    n_speakers = _count_speakers(segments["train"])
    out_n = user.get("out_n_neurons")
    if out_n is not None and int(out_n) != n_speakers:
        raise ValueError(
            f"out_n_neurons={out_n} but the training data has {n_speakers} "
            "speakers: leave out_n_neurons out (it is counted)."
        )
    hparams = load_hyperpyyaml(
        text, _merge(overrides, {"out_n_neurons": n_speakers})
    )
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    augment = bool(hparams["augment"])
    if augment and (
        hparams["noise_folder"] is None or hparams["rir_folder"] is None
    ):
        logger.info(
            "No augmentation: set both noise_folder and rir_folder to "
            "augment (or augment: False to silence this)."
        )
        augment = False
    if augment:
        sb.utils.distributed.run_on_main(prepare_augmentation, args=[hparams])
    train_data, valid_data, labels = dataio_prep(hparams, segments)
    brain = BackboneBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.use_augment = augment
    brain.fit(
        hparams["epoch_counter"],
        train_data,
        valid_data,
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    if sb.utils.distributed.if_main_process():
        return export(hparams, brain, train_data, labels, overrides)
    return None


def _count_speakers(train_csv):
    import csv

    with open(train_csv, newline="", encoding="utf-8") as fin:
        return len({row["spk_id"] for row in csv.DictReader(fin)})


def _merge(overrides, extra):
    """SpeechBrain's overrides (a yaml string) as a dict, plus ``extra``."""
    import yaml

    if isinstance(overrides, dict):
        merged = dict(overrides)
    else:
        merged = dict(yaml.safe_load(overrides) or {}) if overrides else {}
    merged.update(extra)
    return merged


if __name__ == "__main__":
    from seed_brain.utils.errors import run_main  # one line per user error

    logging.basicConfig(level=logging.INFO)
    sys.exit(run_main(main, prog="train_backbone.py"))
