"""Trained encoders written in the layouts their published models use.

:func:`export_ecapa` writes an ECAPA folder that both
:class:`seed_brain.model.encoders.ECAPAEncoder` and SpeechBrain's
``EncoderClassifier.from_hparams`` load; :func:`export_voxceleb_trainer`
writes a ResNetSE34V2 state dict with voxceleb_trainer's key names.

Authors
 * seed-brain developers 2026
"""

import os

from seed_brain.model.pretrained import PUBLISHED_ECAPA
from seed_brain.utils.files import save_torch, write_text

_ECAPA_HPARAMS = """\
# ECAPA-TDNN speaker encoder written by seed_brain.model.encoders.export_ecapa,
# in the layout of SpeechBrain's {published}: load it with
#   EncoderClassifier.from_hparams(source=<this folder>, savedir=<any>)
# or as SEED's pretrained_path (hparams/seed_ecapa.yaml).
# NOTE: hyperpyyaml files execute code; load only files you trust.

n_mels: {n_mels}
out_n_neurons: {out_neurons}

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: {kernel_sizes}
    dilations: {dilations}
    attention_channels: {attention_channels}
    lin_neurons: {lin_neurons}
    res2net_scale: {res2net_scale}
    se_channels: {se_channels}
    global_context: {global_context}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {lin_neurons}
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

# No paths: every file is <source>/<name>.ckpt of the folder given as source.
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""


def export_ecapa(encoder, folder, classifier=None, label_encoder=None):
    """Writes an ECAPA folder in the layout of SpeechBrain's published model.

    Files: ``embedding_model.ckpt`` (state dict of
    ``encoder.embedding_model``), ``mean_var_norm_emb.ckpt`` (its
    embedding statistics), ``classifier.ckpt`` and ``label_encoder.txt``
    (also as ``label_encoder.ckpt``, the name SpeechBrain's loader looks
    for by default) when given, and an inference ``hyperparams.yaml``, so
    that both :class:`seed_brain.model.encoders.ECAPAEncoder`
    (``pretrained_path``) and SpeechBrain's
    ``EncoderClassifier.from_hparams(source=folder)`` load it.

    Arguments
    ---------
    encoder : ECAPAEncoder
        Trained encoder; ``encoder.mean_var_norm_emb`` must hold statistics
        (update it in train mode over training embeddings first).
    folder : str
        Output folder (created).
    classifier : speechbrain.lobes.models.ECAPA_TDNN.Classifier or None
        The speaker classifier of the training.
    label_encoder : speechbrain.dataio.encoder.CategoricalEncoder or None
        The speaker label encoder of the training.

    Returns
    -------
    str
        ``folder``.

    Example
    -------
    >>> import tempfile, torch
    >>> from seed_brain.model.encoders import ECAPAEncoder
    >>> small = dict(channels=[8, 8, 8, 8, 24], lin_neurons=4,
    ...              attention_channels=4, se_channels=4)
    >>> enc = ECAPAEncoder(pretrained_path=None, **small)
    >>> _ = enc.mean_var_norm_emb.train()(torch.randn(6, 1, 4))
    >>> folder = export_ecapa(enc, tempfile.mkdtemp())
    >>> loaded = ECAPAEncoder(pretrained_path=folder, **small).eval()
    >>> x = torch.randn(1, 8000)
    >>> bool(torch.allclose(loaded(x), enc.eval()(x)))
    True
    """
    norm = encoder.mean_var_norm_emb
    if norm.count == 0:
        raise ValueError(
            "encoder.mean_var_norm_emb holds no statistics: run it in train "
            "mode over training embeddings ([N, 1, D]) before exporting."
        )
    os.makedirs(folder, exist_ok=True)
    save_torch(
        encoder.embedding_model.state_dict(),
        os.path.join(folder, "embedding_model.ckpt"),
    )
    stats = norm._statistics_dict()
    stats = {
        "count": int(stats["count"]),
        "glob_mean": stats["glob_mean"].detach().cpu().reshape(-1),
        "glob_std": stats["glob_std"].detach().cpu().reshape(-1),
    }
    save_torch(stats, os.path.join(folder, "mean_var_norm_emb.ckpt"))
    out_neurons = 0
    if classifier is not None:
        out_neurons = int(classifier.weight.shape[0])
        save_torch(
            classifier.state_dict(), os.path.join(folder, "classifier.ckpt")
        )
    if label_encoder is not None:
        for name in ("label_encoder.txt", "label_encoder.ckpt"):
            path = os.path.join(folder, name)
            tmp = f"{path}.tmp{os.getpid()}"
            label_encoder.save(tmp)
            os.replace(tmp, path)
    cfg = dict(encoder.config)
    text = _ECAPA_HPARAMS.format(
        published=PUBLISHED_ECAPA,
        out_neurons=out_neurons,
        **cfg,
    )
    if classifier is None or label_encoder is None:
        # Without them, the inference yaml cannot load: drop both entries.
        text = text.replace(
            "        classifier: !ref <classifier>\n"
            "        label_encoder: !ref <label_encoder>\n",
            "",
        )
    write_text(os.path.join(folder, "hyperparams.yaml"), text)
    return folder


def export_voxceleb_trainer(model, path, classifier=None):
    """Saves a ResNetSE34V2 as a voxceleb_trainer checkpoint.

    The state dict of ``model`` is saved with the ``__S__.`` prefix of
    voxceleb_trainer's ``SpeakerNet``; the classifier's weight, when
    given, as ``__L__.weight`` (the loss head, which loaders drop).

    Arguments
    ---------
    model : seed_brain.lobes.ResNetSE34V2
        The trained encoder.
    path : str
        Output file (``*.model``).
    classifier : torch.nn.Module or None
        The AAM-softmax classifier of the training.

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.lobes.resnet import ResNetSE34V2
    >>> model = ResNetSE34V2(num_filters=[8, 8, 8, 8], layers=[1, 1, 1, 1])
    >>> path = os.path.join(tempfile.mkdtemp(), "resnet.model")
    >>> export_voxceleb_trainer(model, path)
    >>> next(iter(torch.load(path, weights_only=True))).startswith("__S__.")
    True
    """
    state = {f"__S__.{k}": v for k, v in model.state_dict().items()}
    if classifier is not None:
        for key, value in classifier.state_dict().items():
            state[f"__L__.{key}"] = value
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    save_torch(state, path)
