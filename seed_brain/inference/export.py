"""Export a finished SEED training run as a SpeechBrain inference folder.

:func:`export_model` reads a run folder of ``train.py`` (the resolved
``hyperparams.yaml`` SpeechBrain copies there, the best checkpoint of
``save/`` by ``dev_eer``, ``results.md``) and writes a folder that
:class:`seed_brain.inference.SEEDSpeakerRecognition` loads with
``from_hparams(source=folder)``, offline and from any working directory:

``hyperparams.yaml``
    The encoder, diffusion and denoiser definitions copied from the run,
    the sampling settings of its evaluation (``sample_t``,
    ``sample_steps``, ``num_draws``, ``sample_passes``, ``ensemble_weight``,
    ``eval_seed``),
    decision thresholds, ``modules:`` and a ``pretrainer:`` (SpeechBrain's
    ``Pretrainer``) whose ``paths`` point to the two files below through
    ``pretrained_path`` (``from_hparams`` sets it to the source folder),
    and the SHA-256 of each weight file (``checksums:``), which loading
    checks.
``encoder.ckpt``
    The frozen encoder's ``state_dict`` (for GE2E: the weights of
    resemblyzer's ``pretrained.pt`` that the run used, without the GE2E
    loss scalars).
``denoiser.ckpt``
    The SEED denoiser's ``state_dict``: the EMA weights when the run used
    EMA (``use_ema``), as its evaluation did.
``README.md``, ``results.md``, ``results.json``
    What the model is (encoder, training data, t, thresholds) and the
    run's measured table.

The same is available as ``seed-brain export RUN_FOLDER OUT_FOLDER``.

Every file is first written to a hidden folder inside the output folder
(``.partial-<pid>``) and moved into place only when all of them are
complete, ``hyperparams.yaml`` last: an export stopped by a full disk or
killed leaves the earlier model (or nothing), never a mix; its leftovers
are removed by the next export.

Authors
 * seed-brain developers 2026
"""

import csv
import json
import logging
import os
import tempfile
from pathlib import Path

import torch
from ruamel.yaml import YAML

from seed_brain.inference.model_folder import (
    DEFAULT_DIFFUSION_YAML,
    DEFAULT_SETTINGS,
    _encoder_yaml,
    _prepare_out,
    node_yaml,
    write_model_folder,
)

logger = logging.getLogger(__name__)

__all__ = ["export_model", "read_run"]


# ------------------------------------------------------------- the run
def _plain(value):
    """ruamel scalars as plain Python values."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def read_run(run_folder):
    """Reads what an export needs from a finished training run.

    Arguments
    ---------
    run_folder : str or os.PathLike
        The recipe's ``output_folder``.

    Returns
    -------
    dict
        ``hparams`` (ruamel round-trip data of ``hyperparams.yaml``),
        ``checkpoint`` (SpeechBrain ``Checkpoint`` with the lowest
        ``dev_eer``), ``folder`` and ``save_folder``.

    Raises
    ------
    FileNotFoundError
        No ``hyperparams.yaml`` or no checkpoint (the run has not trained).

    Example
    -------
    >>> read_run(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: .../hyperparams.yaml not found: RUN_FOLDER must be ...
    """
    from speechbrain.utils.checkpoints import Checkpointer

    folder = Path(run_folder).resolve()
    hp_path = folder / "hyperparams.yaml"
    if not hp_path.is_file():
        raise FileNotFoundError(
            f"{hp_path} not found: RUN_FOLDER must be the output_folder of a "
            "train.py run (SpeechBrain copies the resolved yaml there)."
        )
    hparams = YAML(typ="rt").load(hp_path.read_text(encoding="utf-8"))
    for key in ("encoder", "denoiser"):
        if key not in hparams:
            raise ValueError(f"{hp_path} has no '{key}': not a SEED run.")
    save = folder / "save"
    if not save.is_dir() and hparams.get("save_folder"):
        save = Path(str(hparams["save_folder"]))
    checkpointer = Checkpointer(save)
    ckpt = checkpointer.find_checkpoint(min_key="dev_eer")
    if ckpt is None:
        ckpt = checkpointer.find_checkpoint()
    if ckpt is None:
        raise FileNotFoundError(
            f"No checkpoint (CKPT+*) in {save}: train the run first (or "
            "let it reach the end of an epoch)."
        )
    return {
        "folder": folder,
        "hparams": hparams,
        "checkpoint": ckpt,
        "save_folder": save,
    }


def _read_run_file(path):
    """A checkpoint file of the run (a clear error when it is damaged)."""
    from seed_brain.inference import read_checkpoint

    return read_checkpoint(
        path,
        fix="the run's checkpoint is damaged: delete that CKPT+ folder "
        "(the export then takes the next best) or retrain",
    )


def _denoiser_state(ckpt, use_ema):
    files = ckpt.paramfiles
    if use_ema and "ema" in files:
        state = _read_run_file(files["ema"])
        return (
            {
                k[len("module.") :]: v
                for k, v in state.items()
                if k.startswith("module.")
            },
            "ema",
        )
    if "denoiser" not in files:
        raise FileNotFoundError(
            f"Checkpoint {ckpt.path} holds no denoiser.ckpt: not a SEED run."
        )
    return _read_run_file(files["denoiser"]), "denoiser"


def _build(node_text):
    """Builds one object from a hyperpyyaml node."""
    from hyperpyyaml import load_hyperpyyaml

    return load_hyperpyyaml(f"obj: {node_text}\n")["obj"]


def _training_data(hp, folder):
    """Markdown lines describing the run's training data."""

    def show(key):
        value = _plain(hp.get(key))
        if value in (None, [], ""):
            return None
        return ", ".join(map(str, value)) if isinstance(value, list) else value

    lines = []
    clean = show("clean_folder")
    if clean is None:
        lines.append(
            "- clean speech: the generated demonstration corpus "
            "(`seed_brain.dataio.demo`, eSpeak NG voices): synthetic, not real "
            "speakers"
        )
    else:
        lines.append(f"- clean speech (no speaker labels): `{clean}`")
    train_csv = folder / "data" / "train.csv"
    if train_csv.is_file():
        with open(train_csv, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        hours = sum(float(r.get("duration") or 0.0) for r in rows) / 3600
        if hp.get("crop_mode") == "proportional":
            crops = (
                f"{_plain(hp.get('crops_per_second'))} crops per second "
                f"(at most {_plain(hp.get('max_crops_per_utt'))} per file) of "
                f"{_plain(hp.get('crop_samples'))} samples"
            )
        else:
            crops = (
                f"{_plain(hp.get('crops_per_utt'))} crops of "
                f"{_plain(hp.get('crop_samples'))} samples per utterance"
            )
        lines.append(
            f"  ({len(rows)} training utterances, {hours:.2f} h; {crops})"
        )
    for key, what in (
        ("noise_folder", "training noise"),
        ("music_folder", "training music"),
        ("rir_folder", "training room impulse responses"),
        ("test_folder", "test speakers"),
        ("test_noise_folder", "test noise"),
        ("test_rir_folder", "test room impulse responses"),
    ):
        value = show(key)
        if value is not None:
            lines.append(f"- {what}: `{value}`")
    views = _plain(hp.get("views"))
    if views:
        lines.append(f"- views: `{views}` (view 0 is the clean target)")
    lines.append(
        f"- training: {_plain(hp.get('number_of_epochs'))} epoch(s) x "
        f"{_plain(hp.get('steps_per_epoch'))} steps, batch "
        f"{_plain(hp.get('batch_size'))}, seed {_plain(hp.get('seed'))}"
    )
    return lines


def _threshold(model, folder, enhance):
    """EER threshold on the run's clean test trials (else dev trials)."""
    from seed_brain.scoring import compute_eer, score_trials

    prepared_path = folder / "data" / "prepared.json"
    if not prepared_path.is_file():
        return None, None
    prepared = json.loads(prepared_path.read_text(encoding="utf-8"))
    choices = []
    clean = prepared.get("conditions", {}).get("clean")
    if clean:
        trials = [
            (int(lab), f"clean/{e}", f"clean/{t}")
            for lab, e, t in clean["trials"]
        ]
        choices.append(("clean test trials", "test_embeddings.pt", trials))
    dev = prepared.get("dev") or {}
    if dev.get("trials"):
        trials = [(int(lab), e, t) for lab, e, t in dev["trials"]]
        choices.append(("dev trials", "dev_embeddings.pt", trials))
    for what, name, trials in choices:
        path = folder / "cache" / name
        if not path.is_file():
            continue
        blob = torch.load(path, map_location="cpu", weights_only=True)
        row = {uid: i for i, uid in enumerate(blob["ids"])}
        needed = sorted({t[1] for t in trials} | {t[2] for t in trials})
        if any(uid not in row for uid in needed):
            continue
        base = blob["emb"][[row[u] for u in needed]].float()
        emb = (
            model.enhance_embeddings(base, needed)
            if enhance
            else model.baseline_embeddings(base)
        )
        table = dict(zip(needed, emb.cpu()))
        labels, scores = score_trials(table, trials)
        if labels.min() == labels.max():
            continue
        _, threshold = compute_eer(scores[labels == 1], scores[labels == 0])
        return float(threshold), f"EER threshold on the run's {what}"
    return None, None


def _readme(run, settings, encoder_yaml, ckpt_info, results_md, threshold_src):
    hp, folder = run["hparams"], run["folder"]
    enc_class = encoder_yaml.splitlines()[0].strip()
    lines = [
        f"# SEED model over {settings['backbone']}",
        "",
        "SEED (speaker embedding enhancement diffusion, Nam et al., "
        "Interspeech 2025) over a frozen speaker encoder, exported by "
        "`seed_brain.inference.export` from the training run "
        f"`{folder}`.",
        "",
        "```python",
        "from seed_brain.inference import SEEDSpeakerRecognition",
        "",
        'model = SEEDSpeakerRecognition.from_hparams(source="<this folder>")',
        'score, same = model.verify_files("a.wav", "b.wav")',
        "emb = model.encode_batch(wavs)            # enhanced, [B, D]",
        "base = model.encode_batch(wavs, enhance=False)  # the encoder's own",
        "```",
        "",
        "or `seed-brain verify --model <this folder> a.wav b.wav`.",
        "",
        "## Encoder",
        "",
        f"- {settings['backbone']} (`{enc_class}`), frozen; "
        f"{settings['embedding_dim']}-d embeddings, "
        f"{settings['sample_rate']} Hz input",
        "- `encoder.ckpt`: its state dict (loaded strictly, "
        "`weights_only=True`)",
        "",
        "## SEED",
        "",
        f"- one denoising step at t = {settings['sample_t']}"
        + (
            f" (DDIM, {settings['sample_steps']} steps)"
            if int(settings["sample_steps"]) > 1
            else ""
        )
        + (
            f", {settings['sample_passes']} passes"
            if int(settings["sample_passes"]) > 1
            else ""
        )
        + f", {settings['num_draws']} noise draw(s), feature-ensemble "
        f"weight {settings['ensemble_weight']}, eval seed "
        f"{settings['eval_seed']} (noise seeded per item id)",
        f"- `denoiser.ckpt`: the {ckpt_info['weights']} weights of the best "
        f"checkpoint by dev EER (`{ckpt_info['name']}`, dev EER "
        f"{ckpt_info['dev_eer']} %, epoch {ckpt_info['epoch']})",
        f"- decision threshold (cosine, accept when above): SEED "
        f"{settings['threshold']}, encoder alone "
        f"{settings['threshold_baseline']} ({threshold_src}); calibrate on "
        "your own data",
        "",
        "## Training data",
        "",
        *_training_data(hp, folder),
        "",
        "## Measured (the training run's `results.md`)",
        "",
    ]
    if results_md:
        body = [
            ("##" + line) if line.startswith("#") else line
            for line in results_md.strip().splitlines()
        ]
        lines.extend(body)
    else:
        lines.append("The run wrote no results.md (it was not evaluated).")
    lines += [
        "",
        "## Security",
        "",
        "`hyperparams.yaml` is HyperPyYAML and executes code when loaded: "
        "load model folders only from sources you trust.",
        "",
    ]
    return "\n".join(lines)


def _run_encoder(run):
    """The run's encoder with the weights its training used.

    Built from the run's ``encoder`` node alone; when the run's yaml has a
    ``pretrainer`` (encoders whose weights a SpeechBrain ``Pretrainer``
    loads), the whole yaml is loaded and that pretrainer run first.
    """
    hp = run["hparams"]
    if "pretrainer" not in hp:
        return _build(node_yaml(hp["encoder"]))
    from hyperpyyaml import load_hyperpyyaml

    text = (run["folder"] / "hyperparams.yaml").read_text(encoding="utf-8")
    hparams = load_hyperpyyaml(text)
    pretrainer = hparams["pretrainer"]
    pretrainer.collect_files()
    pretrainer.load_collected()
    return hparams["encoder"]


def _check_encoder(model, folder, atol=1e-4):
    """The exported encoder must reproduce the run's cached embeddings.

    Compares the embeddings of (at most) two dev files with those the run
    cached in ``cache/dev_embeddings.pt``; skipped when either is missing.
    Returns the number of files compared.
    """
    from seed_brain.dataio.audio import load_audio

    prepared = folder / "data" / "prepared.json"
    cache = folder / "cache" / "dev_embeddings.pt"
    if not (prepared.is_file() and cache.is_file()):
        return 0
    items = json.loads(prepared.read_text(encoding="utf-8"))["dev"]["items"]
    blob = torch.load(cache, map_location="cpu", weights_only=True)
    checked = 0
    for uid, emb in zip(blob["ids"], blob["emb"]):
        path = items.get(uid)
        if path is None or not os.path.isfile(path):
            continue
        wav = load_audio(path, model.sample_rate)
        got = model.encode_batch(wav, enhance=False)[0].cpu()
        if not torch.allclose(got, emb.float(), atol=atol):
            raise RuntimeError(
                f"The exported encoder does not reproduce the run's "
                f"embedding of {path} (max difference "
                f"{(got - emb).abs().max().item():.3g}): its weights are not "
                "the ones the run used. Check the encoder node (see "
                "encoder_yaml) and the run's pretrainer."
            )
        checked += 1
        if checked == 2:
            break
    return checked


def export_model(
    run_folder,
    out_folder,
    threshold=None,
    threshold_baseline=None,
    encoder_yaml=None,
    overwrite=False,
):
    """Writes an inference folder from a finished ``train.py`` run.

    The written folder is loaded once before it is kept: its encoder must
    reproduce the run's cached dev embeddings, and the decision thresholds
    are measured with it.

    Arguments
    ---------
    run_folder : str or os.PathLike
        The run's ``output_folder`` (``hyperparams.yaml``, ``save/``,
        ``results.md``).
    out_folder : str or os.PathLike
        Folder to write.
    threshold : float or None
        Decision threshold of SEED scores; None: the EER threshold on the
        run's clean test trials (its dev trials when the test embeddings
        are not cached; 0.5 when neither is available).
    threshold_baseline : float or None
        Same for the encoder's own scores.
    encoder_yaml : str or None
        HyperPyYAML node building the encoder *without* loading weights,
        for encoders the automatic rule does not fit; None: the run's node
        with its weight-loading arguments (:data:`LOAD_ARGS`) set to null.
    overwrite : bool
        Replace a model folder written earlier.

    Returns
    -------
    pathlib.Path
        The written folder.

    Raises
    ------
    FileNotFoundError
        The run folder lacks ``hyperparams.yaml`` or a checkpoint.
    FileExistsError
        ``out_folder`` is not empty (see ``overwrite``).
    RuntimeError
        The exported encoder does not reproduce the run's embeddings.

    Example
    -------
    >>> run = "results/seed_ge2e/1986"  # a finished train.py run
    >>> export_model(run, "results/model")  # doctest: +SKIP
    PosixPath('/home/me/seed-brain/results/model')
    """
    from seed_brain.inference import SEEDSpeakerRecognition

    run = read_run(run_folder)
    hp, ckpt, folder = run["hparams"], run["checkpoint"], run["folder"]
    settings = dict(DEFAULT_SETTINGS)
    for key in DEFAULT_SETTINGS:
        if key in hp and key not in ("threshold", "threshold_baseline"):
            settings[key] = _plain(hp[key])
    settings["backbone"] = str(_plain(hp.get("backbone")) or "encoder")
    want_ema = bool(settings["use_ema"]) and "ema" in hp
    den_state, weights = _denoiser_state(ckpt, want_ema)
    settings["use_ema"] = weights == "ema"
    if settings["embedding_dim"] is None:
        bias = [k for k in den_state if k.endswith("output_proj.bias")]
        if bias:
            settings["embedding_dim"] = int(den_state[bias[0]].shape[0])

    enc_yaml = (encoder_yaml or _encoder_yaml(hp["encoder"])).rstrip()
    encoder = _run_encoder(run)
    diffusion_yaml = (
        node_yaml(hp["diffusion"])
        if "diffusion" in hp
        else DEFAULT_DIFFUSION_YAML
    )
    denoiser_yaml = node_yaml(hp["denoiser"])
    modules = dict(
        encoder=encoder,
        encoder_yaml=enc_yaml,
        denoiser=den_state,
        denoiser_yaml=denoiser_yaml,
        diffusion_yaml=diffusion_yaml,
    )

    out = _prepare_out(out_folder, overwrite)
    sources = {}
    with tempfile.TemporaryDirectory(dir=out, prefix=".export") as tmp:
        # Write it once, load it like a user, check it, measure thresholds.
        staged = write_model_folder(
            Path(tmp) / "model", settings=settings, **modules
        )
        model = SEEDSpeakerRecognition.from_hparams(
            source=str(staged), run_opts={"device": "cpu"}
        )
        _check_encoder(model, folder)
        for key, value, enhance in (
            ("threshold", threshold, True),
            ("threshold_baseline", threshold_baseline, False),
        ):
            if value is None:
                value, how = _threshold(model, folder, enhance)
            else:
                how = "given at export"
            if value is None:
                logger.warning(
                    "No cached trials in %s to set %s; using 0.5.", folder, key
                )
                value, how = 0.5, "default, not measured"
            settings[key] = round(float(value), 6)
            sources[key] = how
        del model
    how = sources["threshold"]
    if sources["threshold_baseline"] != how:
        how = f"SEED: {how}; encoder: {sources['threshold_baseline']}"

    meta = ckpt.meta or {}
    counter = ckpt.paramfiles.get("counter")
    epoch = "?"
    if counter is not None and os.path.isfile(counter):
        epoch = Path(counter).read_text(encoding="utf-8").strip() or "?"
    ckpt_info = {
        "name": Path(ckpt.path).name,
        "dev_eer": meta.get("dev_eer", "?"),
        "epoch": epoch,
        "weights": "EMA" if weights == "ema" else "trained",
    }
    results_md = None
    if (folder / "results.md").is_file():
        results_md = (folder / "results.md").read_text(encoding="utf-8")
    readme = _readme(run, settings, enc_yaml, ckpt_info, results_md, how)
    out = write_model_folder(
        out,
        settings=settings,
        readme=readme,
        source=str(folder),
        overwrite=True,
        extra_files={
            name: folder / name
            for name in ("results.md", "results.json")
            if (folder / name).is_file()
        },
        **modules,
    )
    logger.info("Exported %s to %s", folder, out)
    return out
