"""Tests of the SEED pretrained interface and of the model export.

The slow tests share one real, short training run (``train.py
hparams/seed_ge2e.yaml`` on 20 train-clean-100 files, 3 test-other
speakers x 3 files and the real noise / RIR folders), built once per test
session by :func:`seed_run` and exported with ``seed-brain export``; the
fast ones build tiny models in temporary folders.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from recipe_runs import HPARAMS, ROOT, run_to_log, slice_args

from seed_brain.inference import (
    ModelSourceError,
    SEEDSpeakerRecognition,
    embedding_id,
    waveform_id,
)
from seed_brain.inference.export import export_model
from seed_brain.inference.model_folder import write_model_folder
from seed_brain.lobes import RDMMLP

INSTALL = "pip install --no-deps resemblyzer==0.1.4"
CPU = {"device": "cpu"}


def _env():
    """Subprocess environment: offline, seed_brain importable anywhere."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    return env


def build_seed_run(base, speech_slices, data_dir):
    """Trains (once per session) and exports a short real SEED run.

    Arguments
    ---------
    base : pathlib.Path
        The session's base temporary folder; the run lives in
        ``base/seed_inference_run`` and is reused when complete.
    speech_slices : conftest.SpeechSlices
        Makes symlinked slices of the shared data.
    data_dir : pathlib.Path
        The shared data folder.

    Returns
    -------
    dict
        ``root``, ``run`` (output folder), ``model`` (exported folder),
        ``test`` (speaker folders) and ``layout`` (speaker -> files).
    """
    from seed_brain.inference.cli import main
    from seed_brain.lobes.ge2e import find_pretrained_ge2e

    try:
        find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip(f"GE2E weights (resemblyzer wheel) missing; run {INSTALL}")
    root = Path(base) / "seed_inference_run"
    info = {
        "root": root,
        "run": root / "out",
        "model": root / "model",
        "test": root / "test",
    }
    done = root / "done.json"
    if done.is_file():
        info["layout"] = json.loads(done.read_text())
        return info
    if root.exists():
        pytest.fail(f"an earlier build of {root} failed; see its train.log")
    speech_slices.clean(root / "clean", 20)
    layout = speech_slices.test(root / "test", 3, 3)
    args = [
        sys.executable,
        "train.py",
        str(HPARAMS),
        *slice_args(root, data_dir, info["run"], number_of_epochs=1),
    ]
    log = root / "train.log"
    run_to_log(args, log, timeout=1200)
    status = main(["export", str(info["run"]), str(info["model"])])
    assert status == 0
    done.write_text(json.dumps(layout))
    info["layout"] = layout
    return info


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, speech_slices, data_dir):
    """The shared exported run (trained at most once per session)."""
    return build_seed_run(
        tmp_path_factory.getbasetemp(), speech_slices, data_dir
    )


@pytest.fixture(scope="module")
def model(seed_run):
    """The exported model, loaded on the CPU."""
    return SEEDSpeakerRecognition.from_hparams(
        source=str(seed_run["model"]), run_opts=CPU
    )


@pytest.fixture(scope="module")
def seed_brain_of_run(seed_run):
    """A SEEDBrain built from the run's yaml, at its best checkpoint."""
    from hyperpyyaml import load_hyperpyyaml

    from seed_brain.model.brain import SEEDBrain

    with open(seed_run["run"] / "hyperparams.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f)
    brain = SEEDBrain(
        modules=hparams["modules"],
        hparams=hparams,
        checkpointer=hparams["checkpointer"],
        run_opts=CPU,
    )
    assert brain.checkpointer.recover_if_possible(min_key="dev_eer")
    return brain


def _files(seed_run):
    """Absolute paths of the test files per speaker, shortest first."""
    return {
        spk: sorted(
            (seed_run["test"] / rel for rel in rels),
            key=lambda p: (p.stat().st_size, p.name),
        )
        for spk, rels in seed_run["layout"].items()
    }


# --------------------------------------------------------- tiny models
def _tiny_model(folder, dim=8, seed=0, **kwargs):
    """A model folder with a linear 'encoder' of 16-sample frames."""
    torch.manual_seed(seed)
    return write_model_folder(
        folder,
        encoder=torch.nn.Linear(16, dim),
        encoder_yaml=f"!new:torch.nn.Linear\n    in_features: 16\n"
        f"    out_features: {dim}",
        denoiser=_trained_denoiser(dim, seed),
        denoiser_yaml=f"!new:seed_brain.lobes.RDMMLP\n    embed_dim: {dim}",
        **kwargs,
    )


def _trained_denoiser(dim, seed):
    """An RDMMLP with a non-zero output layer (a fresh one outputs 0)."""
    torch.manual_seed(seed)
    net = RDMMLP(dim)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net


@pytest.fixture(scope="module")
def ge2e_model(tmp_path_factory):
    """A model folder over a randomly initialised GE2E (no data needed)."""
    from seed_brain.lobes.ge2e import GE2E

    torch.manual_seed(0)
    folder = write_model_folder(
        tmp_path_factory.mktemp("ge2e") / "model",
        encoder=GE2E(weights=None),
        encoder_yaml="!new:seed_brain.lobes.ge2e.GE2E\n    weights: null",
        denoiser=_trained_denoiser(256, 0),
        denoiser_yaml="!new:seed_brain.lobes.RDMMLP\n    embed_dim: 256",
    )
    return SEEDSpeakerRecognition.from_hparams(source=folder, run_opts=CPU)


def test_tiny_model_roundtrip(tmp_path):
    """A written folder loads; enhancement follows the stored settings."""
    folder = _tiny_model(
        tmp_path / "m",
        settings={"sample_t": 30, "ensemble_weight": 1.0, "eval_seed": 7},
    )
    model = SEEDSpeakerRecognition.from_hparams(source=folder, run_opts=CPU)
    assert model.hparams.sample_t == 30
    emb = torch.randn(5, 8)
    ids = [f"u{i}" for i in range(5)]
    out = model.enhance_embeddings(emb, ids)
    # The same computation by hand: SEEDDiffusion.enhance with the stored
    # settings and utterance_noise(ids, D, eval_seed).
    from seed_brain.model.brain import utterance_noise

    noise = utterance_noise(ids, 8, 7, 1)
    ref = model.mods.diffusion.enhance(
        model.mods.denoiser,
        emb,
        t=30,
        ensemble_weight=1.0,
        noise=noise,
    )
    assert torch.equal(out, ref)
    # Per item: the ids, not the batch, fix the noise.
    assert torch.allclose(
        model.enhance_embeddings(emb[2:3], ids[2:3]), out[2:3]
    )
    # Default ids are content hashes: same embedding, same output.
    default = model.enhance_embeddings(emb)
    assert torch.equal(default, model.enhance_embeddings(emb.clone()))
    by_hand = model.enhance_embeddings(emb, [embedding_id(e) for e in emb])
    assert torch.equal(default, by_hand)
    assert not torch.allclose(default, out)  # other ids, other noise
    # A [D] input gives a [D] output.
    assert model.enhance_embeddings(emb[0], ["u0"]).shape == (8,)
    assert torch.allclose(model.enhance_embeddings(emb[0], ["u0"]), out[0])


def test_ids_must_match_batch(tmp_path):
    model = SEEDSpeakerRecognition.from_hparams(
        source=_tiny_model(tmp_path / "m"), run_opts=CPU
    )
    with pytest.raises(ValueError, match="ids must be a list of 2"):
        model.enhance_embeddings(torch.randn(2, 8), ["a"])


def test_padding_changes_neither_ids_nor_embeddings(ge2e_model):
    """A padded item gets the id (and output) of the same audio alone."""
    torch.manual_seed(1)
    a, b = 0.1 * torch.randn(24000), 0.1 * torch.randn(16000)
    padded = torch.zeros(2, 24000)
    padded[0], padded[1, :16000] = a, b
    lens = torch.tensor([1.0, 16000 / 24000])
    ids = ge2e_model.waveform_ids(padded, lens)
    assert ids == [waveform_id(a), waveform_id(b)]
    assert ids[0] != ids[1]
    batch = ge2e_model.encode_batch(padded, lens)
    alone = ge2e_model.encode_batch(b)
    assert torch.allclose(batch[1], alone[0], atol=1e-5)
    explicit = ge2e_model.encode_batch(padded, lens, ids=ids)
    assert torch.equal(batch, explicit)
    assert (
        ge2e_model.encode_batch(padded, lens, normalize=True)
        .norm(dim=1)
        .allclose(torch.ones(2))
    )


def test_encode_batch_checks_its_input(ge2e_model):
    with pytest.raises(TypeError, match="torch.Tensor"):
        ge2e_model.encode_batch([0.0, 1.0])
    with pytest.raises(ValueError, match="wav_lens must have shape"):
        ge2e_model.encode_batch(torch.randn(2, 100), torch.ones(3))
    with pytest.raises(ValueError, match="ids must be a list of 2"):
        ge2e_model.encode_batch(torch.randn(2, 16000), ids=["x"])


def test_missing_folder_and_hub_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not found"):
        SEEDSpeakerRecognition.from_hparams(source=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="holds no hyperparams.yaml"):
        SEEDSpeakerRecognition.from_hparams(source=str(tmp_path))

    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("cannot reach the hub")

    monkeypatch.setattr("seed_brain.inference.interface.fetch", offline)
    with pytest.raises(ModelSourceError) as err:
        SEEDSpeakerRecognition.from_hparams(source="someone/seed-model")
    message = str(err.value)
    assert "hub is unreachable" in message
    assert "local folder" in message and "seed-brain export" in message


def test_savedir_of_another_model_is_refused(tmp_path):
    first = _tiny_model(tmp_path / "a", seed=0)
    second = _tiny_model(tmp_path / "b", seed=1)
    savedir = tmp_path / "savedir"
    SEEDSpeakerRecognition.from_hparams(
        source=first, savedir=savedir, run_opts=CPU
    )
    # Loading the same model again with the same savedir is fine.
    SEEDSpeakerRecognition.from_hparams(
        source=first, savedir=savedir, run_opts=CPU
    )
    with pytest.raises(ValueError, match="another model"):
        SEEDSpeakerRecognition.from_hparams(
            source=second, savedir=savedir, run_opts=CPU
        )


def test_weights_that_do_not_fit_fail(tmp_path):
    folder = _tiny_model(tmp_path / "m", dim=8)
    torch.save(RDMMLP(4).state_dict(), folder / "denoiser.ckpt")
    with pytest.raises(RuntimeError, match="do not fit RDMMLP"):
        SEEDSpeakerRecognition.from_hparams(source=folder, run_opts=CPU)


def test_write_model_folder_refuses_foreign_and_existing(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        _tiny_model(foreign)
    folder = _tiny_model(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite"):
        _tiny_model(folder)
    _tiny_model(folder, overwrite=True)


def test_export_needs_a_trained_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="hyperparams.yaml"):
        export_model(tmp_path, tmp_path / "model")
    (tmp_path / "hyperparams.yaml").write_text(
        textwrap.dedent(
            """\
            encoder: !new:torch.nn.Linear
                in_features: 2
                out_features: 2
            denoiser: !new:seed_brain.lobes.RDMMLP
                embed_dim: 2
            """
        )
    )
    (tmp_path / "save").mkdir()
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        export_model(tmp_path, tmp_path / "model")


def test_export_of_an_encoder_with_pretrained_path(tmp_path):
    """A run over an encoder that loads its weights from pretrained_path.

    The export keeps the best checkpoint's EMA weights and the encoder's
    weights, and its yaml builds the encoder without loading anything.
    """
    from speechbrain.utils.checkpoints import Checkpointer

    from seed_brain.model.ema import EMA
    from seed_brain.model.encoders import ECAPAEncoder, export_ecapa

    small = dict(
        channels=[8, 8, 8, 8, 24],
        lin_neurons=4,
        attention_channels=4,
        se_channels=4,
    )
    torch.manual_seed(0)
    encoder = ECAPAEncoder(pretrained_path=None, **small)
    encoder.mean_var_norm_emb.train()(torch.randn(6, 1, 4))
    backbone = export_ecapa(encoder, str(tmp_path / "ecapa"))
    run = tmp_path / "run"
    (run / "save").mkdir(parents=True)
    (run / "hyperparams.yaml").write_text(
        textwrap.dedent(
            f"""\
            backbone: ECAPA-TDNN (small)
            sample_t: 40
            ensemble_weight: 0.5
            use_ema: true
            encoder: !new:seed_brain.model.encoders.ECAPAEncoder
              pretrained_path: {backbone}
              savedir: {run}/save/pretrained_encoder
              channels: [8, 8, 8, 8, 24]
              lin_neurons: 4
              attention_channels: 4
              se_channels: 4
            denoiser: &id001 !new:seed_brain.lobes.RDMMLP
              embed_dim: 4
            ema: !new:seed_brain.model.ema.EMA
              model: *id001
            """
        )
    )
    denoiser = _trained_denoiser(4, 1)
    ema = EMA(denoiser, decay=0.5)
    checkpointer = Checkpointer(
        run / "save", recoverables={"denoiser": denoiser, "ema": ema}
    )
    checkpointer.save_checkpoint(meta={"dev_eer": 3.0})
    best = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        for param in denoiser.parameters():
            param.add_(1.0)
    ema.update(denoiser)
    checkpointer.save_checkpoint(meta={"dev_eer": 5.0})  # worse

    out = export_model(run, tmp_path / "model")
    text = (out / "hyperparams.yaml").read_text()
    assert "encoder: !new:seed_brain.model.encoders.ECAPAEncoder\n" in text
    assert "    pretrained_path: null\n    savedir: null\n" in text
    assert "sample_t: 40\n" in text and "threshold: 0.5\n" in text
    assert "ECAPA-TDNN (small)" in (out / "README.md").read_text()
    model = SEEDSpeakerRecognition.from_hparams(source=out, run_opts=CPU)
    wavs = 0.1 * torch.randn(2, 8000)
    with torch.no_grad():
        assert torch.equal(
            model.encode_batch(wavs, enhance=False), encoder.eval()(wavs)
        )
    state = model.mods.denoiser.state_dict()
    assert all(torch.equal(state[k], v) for k, v in best.items())


# ------------------------------------------------- the real short run
@pytest.mark.slow
def test_export_folder(seed_run):
    """The folder: yaml with modules and pretrainer, weights, README."""
    from speechbrain.utils.checkpoints import Checkpointer

    from seed_brain.lobes.ge2e import GE2E

    folder = seed_run["model"]
    names = {p.name for p in folder.iterdir()}
    assert {
        "hyperparams.yaml",
        "encoder.ckpt",
        "denoiser.ckpt",
        "README.md",
        "results.md",
        "results.json",
    } <= names
    text = (folder / "hyperparams.yaml").read_text()
    # The run used the recipe's defaults: the folder must carry them.
    recipe = HPARAMS.read_text()
    weight = re.search(r"^ensemble_weight: ([0-9.]+)", recipe, re.M)[1]
    sample_t = re.search(r"^sample_t: ([0-9]+)", recipe, re.M)[1]
    passes = re.search(r"^sample_passes: ([0-9]+)", recipe, re.M)[1]
    for needle in (
        "\nmodules:\n",
        "\npretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer",
        "encoder: !ref <pretrained_path>/encoder.ckpt",
        "denoiser: !ref <pretrained_path>/denoiser.ckpt",
        "encoder: !new:seed_brain.lobes.ge2e.GE2E\n    weights: null\n",
        f"sample_t: {sample_t}\n",
        f"sample_passes: {passes}\n",
        f"ensemble_weight: {float(weight)}\n",
        "use_ema: true\n",
    ):
        assert needle in text, needle

    # encoder.ckpt: the resemblyzer weights the run used.
    encoder = torch.load(folder / "encoder.ckpt", weights_only=True)
    reference = GE2E(weights="resemblyzer").state_dict()
    assert encoder.keys() == reference.keys()
    assert all(torch.equal(encoder[k], reference[k]) for k in reference)

    # denoiser.ckpt: the EMA weights of the best checkpoint by dev EER.
    ckpt = Checkpointer(seed_run["run"] / "save").find_checkpoint(
        min_key="dev_eer"
    )
    ema = torch.load(ckpt.paramfiles["ema"], weights_only=True)
    denoiser = torch.load(folder / "denoiser.ckpt", weights_only=True)
    assert set(denoiser) == {
        k[len("module.") :] for k in ema if k != "n_averaged"
    }
    assert all(torch.equal(v, ema[f"module.{k}"]) for k, v in denoiser.items())
    trained = torch.load(ckpt.paramfiles["denoiser"], weights_only=True)
    assert not all(torch.equal(v, trained[k]) for k, v in denoiser.items())

    readme = (folder / "README.md").read_text()
    prepared = json.loads(
        (seed_run["run"] / "data" / "prepared.json").read_text()
    )
    for needle in (
        "GE2E (resemblyzer 0.1.4 weights)",
        f"t = {sample_t}, {passes} passes",
        str(seed_run["root"] / "clean"),
        f"{prepared['n_train_utterances']} training utterances",
        "| reverb_noise_5dB |",
        "EMA weights",
    ):
        assert needle in readme, needle
    assert (folder / "results.md").read_text() == (
        seed_run["run"] / "results.md"
    ).read_text()


@pytest.mark.slow
def test_load_offline_from_another_directory(seed_run, tmp_path, model):
    """A user's script elsewhere, network off: loads and embeds the same."""
    files = _files(seed_run)
    a, b = files[sorted(files)[0]][:2]
    script = textwrap.dedent(
        f"""\
        import torch
        from seed_brain.inference import ModelSourceError
        from seed_brain.inference import SEEDSpeakerRecognition
        model = SEEDSpeakerRecognition.from_hparams(
            source={os.path.relpath(seed_run["model"], tmp_path)!r},
            savedir="pretrained", run_opts={{"device": "cpu"}})
        score, same = model.verify_files({str(a)!r}, {str(b)!r})
        torch.save({{"score": score}}, "score.pt")
        try:
            SEEDSpeakerRecognition.from_hparams(source="speechbrain/no-seed")
        except ModelSourceError as err:
            print("HUB-ERROR", err)
        """
    )
    (tmp_path / "user.py").write_text(script)
    proc = subprocess.run(
        [sys.executable, "user.py"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "HUB-ERROR" in proc.stdout
    assert "unreachable" in proc.stdout and "local folder" in proc.stdout
    links = sorted(p.name for p in (tmp_path / "pretrained").iterdir())
    assert links == ["denoiser.ckpt", "encoder.ckpt", "hyperparams.yaml"]
    score = torch.load(tmp_path / "score.pt", weights_only=True)["score"]
    assert score.item() == model.verify_files(a, b)[0].item()


@pytest.mark.slow
def test_encode_without_enhancement_is_the_encoder(seed_run, model):
    """enhance=False gives GE2E's own embedding (and the run's cache)."""
    from seed_brain.dataio.audio import load_audio
    from seed_brain.lobes.ge2e import GE2E

    files = _files(seed_run)
    path = files[sorted(files)[1]][0]
    wav = load_audio(path)
    emb = model.encode_batch(wav[None], enhance=False)
    with torch.no_grad():  # as SEEDBrain.encode
        own = GE2E(weights="resemblyzer")(wav[None])
    assert torch.equal(emb, own)

    cache = torch.load(
        seed_run["run"] / "cache" / "test_embeddings.pt", weights_only=True
    )
    key = "clean/" + os.path.relpath(path, seed_run["test"])
    cached = cache["emb"][cache["ids"].index(key)]
    # The run embedded it in a padded batch of 8: rounding may differ.
    assert torch.allclose(emb[0], cached, atol=1e-5)


@pytest.mark.slow
def test_enhancement_equals_seedbrain(seed_run, model, seed_brain_of_run):
    """Bit for bit what SEEDBrain computed in the run's evaluation."""
    from seed_brain.dataio.audio import load_audio

    brain = seed_brain_of_run
    cache = torch.load(
        seed_run["run"] / "cache" / "test_embeddings.pt", weights_only=True
    )
    base, ids = cache["emb"].float(), cache["ids"]
    ours = model.enhance_embeddings(base, ids)
    theirs = brain.enhance(base, ids)
    assert torch.equal(ours, theirs)
    # ... and SEED does change the embeddings (no trivial pass-through).
    plain = torch.nn.functional.normalize(base, dim=-1)
    assert (ours - plain).abs().max() > 1e-3

    # Through the audio path, with the recipe's id of the file.
    files = _files(seed_run)
    path = files[sorted(files)[2]][1]
    uid = "clean/" + os.path.relpath(path, seed_run["test"])
    wav = load_audio(path)[None]
    got = model.encode_batch(wav, ids=[uid])
    want = brain.enhance(brain.encode(wav), [uid])
    assert torch.equal(got, want)
    # Without ids, a hash of the waveform seeds it: reproducible.
    again = model.encode_batch(wav)
    assert torch.equal(again, model.encode_batch(wav.clone()))
    assert torch.equal(
        again, model.encode_batch(wav, ids=[waveform_id(wav[0])])
    )


@pytest.mark.slow
def test_verify_files_same_speaker_scores_higher(seed_run, model):
    files = _files(seed_run)
    spk_a, spk_b = sorted(files)[:2]
    same, same_decision = model.verify_files(files[spk_a][0], files[spk_a][1])
    diff, diff_decision = model.verify_files(files[spk_a][0], files[spk_b][0])
    assert same.item() > diff.item()
    assert same.dim() == 0 and same_decision.dtype == torch.bool
    assert bool(same_decision) == (same.item() > model.threshold)
    assert bool(diff_decision) == (diff.item() > model.threshold)
    base_same, _ = model.verify_files(
        files[spk_a][0], files[spk_a][1], enhance=False
    )
    base_diff, _ = model.verify_files(
        files[spk_a][0], files[spk_b][0], enhance=False
    )
    assert base_same.item() > base_diff.item()
    assert base_same.item() != same.item()


@pytest.mark.slow
def test_export_checks_the_encoder(seed_run, tmp_path):
    """An encoder node that does not rebuild the run's encoder is caught."""
    wrong = "!new:seed_brain.lobes.ge2e.GE2E\n    weights: null\n    rate: 2.0"
    with pytest.raises(RuntimeError, match="does not reproduce"):
        export_model(seed_run["run"], tmp_path / "model", encoder_yaml=wrong)
