"""Tests of ``seed_brain.model.encoders``: strict loading of ECAPA / ResNet
checkpoints through ``pretrained_path``, offline errors, and exports that
SpeechBrain's own ``EncoderClassifier`` loads.

The published ECAPA layout is rebuilt here from SpeechBrain's own modules
(``ECAPA_TDNN`` with the published sizes, a global ``InputNormalization``
saved by its own checkpoint hook, ``Classifier``, ``CategoricalEncoder``)
and the published ``hyperparams.yaml`` structure, so that the test does not
need the hub.
"""

import http.server
import os
import threading

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
from speechbrain.processing.features import InputNormalization

from seed_brain.model.encoders import (
    PUBLISHED_ECAPA,
    ECAPAEncoder,
    PretrainedUnavailableError,
    ResNetEncoder,
    check_state_dict,
    export_ecapa,
    export_voxceleb_trainer,
    resolve_source,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The files of an exported ECAPA folder (SpeechBrain's published layout).
ECAPA_FOLDER_FILES = (
    "embedding_model.ckpt",
    "mean_var_norm_emb.ckpt",
    "classifier.ckpt",
    "label_encoder.txt",
    "hyperparams.yaml",
)

# The structure of the published model's hyperparams.yaml (the keys,
# classes and loadables that matter), pointing at a local folder.
PUBLISHED_YAML = """\
pretrained_path: {folder}
n_mels: 80
out_n_neurons: {out}
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [1024, 1024, 1024, 1024, 3072]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 128
    lin_neurons: 192
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 192
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
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""

SMALL = dict(channels=[16, 16, 16, 16, 48], lin_neurons=12)


def _randomise(module, seed):
    """Random weights and batch-norm statistics (not the defaults)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.dtype.is_floating_point:
                value = 0.1 * torch.randn(tensor.shape, generator=gen)
                if name.endswith("running_var"):
                    value = value.abs() + 0.5
                tensor.copy_(value)


def _published_folder(folder, out_neurons=50, seed=0):
    """A folder in the layout of speechbrain/spkrec-ecapa-voxceleb."""
    os.makedirs(folder, exist_ok=True)
    model = ECAPA_TDNN(
        input_size=80,
        channels=[1024, 1024, 1024, 1024, 3072],
        kernel_sizes=[5, 3, 3, 3, 1],
        dilations=[1, 2, 3, 4, 1],
        attention_channels=128,
        lin_neurons=192,
    )
    _randomise(model, seed)
    torch.save(model.state_dict(), os.path.join(folder, "embedding_model.ckpt"))
    norm = InputNormalization(norm_type="global", std_norm=False)
    norm.train()
    norm(torch.randn(64, 1, 192) + 0.5, torch.ones(64))
    norm._save(os.path.join(folder, "mean_var_norm_emb.ckpt"))
    classifier = Classifier(input_size=192, out_neurons=out_neurons)
    torch.save(classifier.state_dict(), os.path.join(folder, "classifier.ckpt"))
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"id1{i:04d}" for i in range(out_neurons)])
    labels.save(os.path.join(folder, "label_encoder.txt"))
    with open(os.path.join(folder, "hyperparams.yaml"), "w") as fout:
        fout.write(PUBLISHED_YAML.format(folder=folder, out=out_neurons))
    return model, norm


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(folder, reference ECAPA_TDNN, reference embedding norm)."""
    folder = str(tmp_path_factory.mktemp("published"))
    model, norm = _published_folder(folder)
    return folder, model.eval(), norm


def test_published_layout_loads_strictly(published, tmp_path):
    folder, reference, norm = published
    encoder = ECAPAEncoder(pretrained_path=folder, savedir=str(tmp_path / "c"))
    ours = encoder.embedding_model.state_dict()
    theirs = reference.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), key
    assert torch.equal(encoder.mean_var_norm_emb.glob_mean, norm.glob_mean)
    assert encoder.embedding_dim == 192
    # The Pretrainer collected links in savedir.
    assert (tmp_path / "c" / "embedding_model.ckpt").exists()


def test_same_embeddings_as_speechbrain_encoder_classifier(published, tmp_path):
    from speechbrain.inference.speaker import EncoderClassifier

    folder, _, _ = published
    sb_model = EncoderClassifier.from_hparams(
        source=folder, savedir=str(tmp_path / "sb")
    )
    encoder = ECAPAEncoder(pretrained_path=folder).eval()
    gen = torch.Generator().manual_seed(1)
    wavs = 0.1 * torch.randn(2, 12000, generator=gen)
    lens = torch.tensor([1.0, 0.75])
    with torch.no_grad():
        expected = sb_model.encode_batch(wavs, lens).squeeze(1)
        got = encoder(wavs, lens)
        assert got.shape == (2, 192)
        assert torch.allclose(got, expected, atol=1e-5)
        normed = sb_model.encode_batch(wavs, lens, normalize=True).squeeze(1)
        encoder.normalize_embeddings = True
        assert torch.allclose(encoder(wavs, lens), normed, atol=1e-5)


def test_extra_or_missing_keys_are_errors(published, tmp_path):
    folder, reference, _ = published
    state = dict(reference.state_dict())
    bad = tmp_path / "extra"
    bad.mkdir()
    for name in ("mean_var_norm_emb.ckpt",):
        os.symlink(os.path.join(folder, name), bad / name)
    state_extra = dict(state, **{"blocks.9.extra": torch.zeros(1)})
    torch.save(state_extra, bad / "embedding_model.ckpt")
    with pytest.raises(ValueError, match="1 unexpected key.*blocks.9.extra"):
        ECAPAEncoder(pretrained_path=str(bad))
    state_missing = dict(state)
    del state_missing["fc.conv.weight"]
    torch.save(state_missing, bad / "embedding_model.ckpt")
    with pytest.raises(ValueError, match="1 missing key.*fc.conv.weight"):
        ECAPAEncoder(pretrained_path=str(bad))


def test_architecture_mismatch_names_the_override(published):
    folder, _, _ = published
    with pytest.raises(ValueError, match="wrong shape.*ecapa_channels"):
        ECAPAEncoder(pretrained_path=folder, **SMALL)


def test_missing_files_and_paths(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="embedding_model.ckpt"):
        ECAPAEncoder(pretrained_path=str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ECAPAEncoder(pretrained_path=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_source("./not/here")


def test_offline_hub_error_says_how_to_fix(monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(PretrainedUnavailableError) as info:
        ECAPAEncoder(pretrained_path=PUBLISHED_ECAPA)
    message = str(info.value)
    assert "hub is unreachable" in message
    assert "--pretrained_path=" in message
    assert "huggingface-cli download speechbrain/spkrec-ecapa-voxceleb" in (
        message
    )
    assert "train_backbone.py" in message


def test_export_loads_in_speechbrain_and_seed(tmp_path):
    from speechbrain.inference.speaker import EncoderClassifier

    trained = ECAPAEncoder(pretrained_path=None, **SMALL)
    _randomise(trained.embedding_model, 3)
    trained.eval()
    trained.mean_var_norm_emb.train()
    with torch.no_grad():
        emb = trained(0.1 * torch.randn(5, 8000)).unsqueeze(1)
        trained.mean_var_norm_emb(emb, torch.ones(5))
    classifier = Classifier(input_size=12, out_neurons=3)
    labels = CategoricalEncoder()
    labels.update_from_iterable(["a", "b", "c"])
    folder = tmp_path / "export"
    export_ecapa(trained, str(folder), classifier, labels)
    for name in ECAPA_FOLDER_FILES:
        assert (folder / name).is_file(), name
    wav = 0.1 * torch.randn(1, 9000)
    loaded = ECAPAEncoder(pretrained_path=str(folder), **SMALL).eval()
    sb_model = EncoderClassifier.from_hparams(
        source=str(folder), savedir=str(tmp_path / "sb")
    )
    with torch.no_grad():
        ref = trained.eval()(wav)
        assert torch.allclose(loaded(wav), ref, atol=1e-6)
        assert torch.allclose(
            sb_model.encode_batch(wav).squeeze(1), ref, atol=1e-5
        )
        assert sb_model.classify_batch(wav)[3][0] in {"a", "b", "c"}


def test_export_needs_statistics(tmp_path):
    encoder = ECAPAEncoder(pretrained_path=None, **SMALL)
    with pytest.raises(ValueError, match="no statistics"):
        export_ecapa(encoder, str(tmp_path))


def test_seed_ecapa_yaml_builds_the_encoder(tmp_path):
    trained = ECAPAEncoder(pretrained_path=None, **SMALL)
    trained.mean_var_norm_emb.train()(torch.randn(4, 1, 12), torch.ones(4))
    folder = export_ecapa(trained, str(tmp_path / "enc"))
    overrides = {
        "pretrained_path": folder,
        "output_folder": str(tmp_path / "out"),
        "ecapa_channels": SMALL["channels"],
        "embedding_dim": 12,
    }
    with open(os.path.join(ROOT, "hparams", "seed_ecapa.yaml")) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    encoder = hparams["encoder"]
    assert isinstance(encoder, ECAPAEncoder)
    assert hparams["embedding_dim"] == 12
    with torch.no_grad():
        assert encoder.eval()(torch.randn(2, 8000)).shape == (2, 12)


def test_check_state_dict_lists_everything():
    lin = torch.nn.Linear(3, 2)
    state = {"weight": torch.zeros(5, 3), "extra": torch.zeros(1)}
    with pytest.raises(ValueError) as info:
        check_state_dict(lin, state, "ckpt", "HINT")
    message = str(info.value)
    assert "missing key(s): ['bias']" in message
    assert "unexpected key(s): ['extra']" in message
    assert "weight: checkpoint (5, 3) vs model (2, 3)" in message
    assert message.endswith("HINT")


# ------------------------------------------------------------------ ResNet
RESNET_SMALL = dict(num_filters=[8, 8, 16, 16], layers=[1, 1, 1, 1])


def test_resnet_file_folder_and_errors(tmp_path):
    trained = ResNetEncoder(pretrained_path=None, **RESNET_SMALL)
    path = tmp_path / "models" / "trained.model"
    classifier = Classifier(input_size=512, out_neurons=4)
    export_voxceleb_trainer(trained, str(path), classifier)
    state = torch.load(path, weights_only=True)
    assert "__L__.weight" in state and "__S__.fc.weight" in state
    for source in (str(path), str(path.parent)):
        loaded = ResNetEncoder(pretrained_path=source, **RESNET_SMALL)
        assert torch.equal(loaded.fc.weight, trained.fc.weight)
    (tmp_path / "models" / "other.model").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="exactly one"):
        ResNetEncoder(pretrained_path=str(path.parent), **RESNET_SMALL)
    with pytest.raises(ValueError, match="missing key"):
        ResNetEncoder(
            pretrained_path=str(path),
            num_filters=[8, 8, 16, 16],
            layers=[2, 1, 1, 1],
        )


def test_resnet_url_download_and_offline(tmp_path):
    trained = ResNetEncoder(pretrained_path=None, **RESNET_SMALL)
    served = tmp_path / "served"
    export_voxceleb_trainer(trained, str(served / "baseline.model"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/baseline.model"
        loaded = ResNetEncoder(
            pretrained_path=url, savedir=str(tmp_path / "dl"), **RESNET_SMALL
        )
        assert torch.equal(loaded.fc.weight, trained.fc.weight)
        assert (tmp_path / "dl" / "baseline.model").is_file()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    # Cached: loads again with the server gone.
    ResNetEncoder(
        pretrained_path=url, savedir=str(tmp_path / "dl"), **RESNET_SMALL
    )
    with pytest.raises(PretrainedUnavailableError, match="--pretrained_path"):
        ResNetEncoder(
            pretrained_path="http://127.0.0.1:9/x.model",
            savedir=str(tmp_path / "dl2"),
            **RESNET_SMALL,
        )


def test_encoders_work_in_seed_brain():
    from seed_brain.lobes import RDMMLP
    from seed_brain.model.brain import SEEDBrain
    from seed_brain.model.diffusion import SEEDDiffusion

    for encoder, dim in (
        (ECAPAEncoder(pretrained_path=None, **SMALL), 12),
        (ResNetEncoder(pretrained_path=None, **RESNET_SMALL), 512),
    ):
        brain = SEEDBrain(
            modules={"encoder": encoder, "denoiser": RDMMLP(dim)},
            hparams={"diffusion": SEEDDiffusion(), "seed": 0},
        )
        emb = brain.encode(torch.randn(3, 8000), torch.tensor([1, 0.8, 0.6]))
        assert emb.shape == (3, dim)


def _sections(name):
    """(body before the encoder section, text after it) of a SEED yaml."""
    start = "# " + "-" * 64 + " encoder ---\n"
    end = "# " + "-" * 61 + " diffusion ---\n"
    with open(os.path.join(ROOT, "hparams", f"{name}.yaml")) as fin:
        text = fin.read()
    assert text.count(start) == 1 and text.count(end) == 1, name
    head, rest = text.split(start)
    tail = rest.split(end)[1]
    body = head[head.index("seed: ") :]
    lines = [
        line
        for line in body.splitlines()
        if not line.startswith(("backbone:", "output_folder:"))
    ]
    return "\n".join(lines), tail


@pytest.mark.parametrize("name", ["seed_ecapa", "seed_resnet"])
def test_seed_yamls_differ_from_ge2e_only_in_the_encoder(name):
    """Every setting but the encoder section is seed_ge2e.yaml's, verbatim.

    When this fails after a change of hparams/seed_ge2e.yaml, copy the
    change into hparams/seed_ecapa.yaml and hparams/seed_resnet.yaml.
    """
    assert _sections(name) == _sections("seed_ge2e")
