"""Backbones trained here, then SEED on top: ECAPA-TDNN and ResNetSE34V2.

For each backbone, ``recipes/train_backbone.py`` trains a tiny model
(small channel counts via overrides) for two short epochs on 24 speakers of
the shared LibriSpeech train-clean-100 (one utterance each, cut into four
2 s segments: three for training, one for validation) and exports it; then
``train.py hparams/seed_<backbone>.yaml --pretrained_path=<export>`` trains
SEED briefly on a slice of the shared data and evaluates; ``--test_only``
must reproduce ``results.json``. The tiny, briefly trained encoders are
far from good speaker encoders: the test checks the pipeline, not EER.

The subprocesses run with one thread (``OMP_NUM_THREADS=1``): on a small,
shared CPU machine, more threads make PyTorch much slower.
"""

import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch
from recipe_runs import run_to_log, slice_args
from test_encoders import ECAPA_FOLDER_FILES

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "ecapa": ["--ecapa_channels=[32,32,32,32,96]", "--embedding_dim=64"],
    "resnet": [
        "--resnet_filters=[8,16,16,32]",
        "--resnet_layers=[1,1,1,1]",
        "--embedding_dim=64",
    ],
}


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    return env


def _run(script, args, log):
    """Runs a recipe under ``nice``; fails with the log tail on error."""
    cmd = ["nice", "-n", "10", sys.executable, str(ROOT / script), *args]
    run_to_log(cmd, log, timeout=1200, env=_env())


def _speaker_folder(data_dir, folder, count):
    """Links ``count`` speaker folders of train-clean-100."""
    folder.mkdir(parents=True)
    speakers = sorted((data_dir / "speech" / "train-clean-100").iterdir())
    for spk in [p for p in speakers if p.is_dir()][:count]:
        (folder / spk.name).symlink_to(spk)
    return folder


def _check_results(results, backbone_text):
    assert backbone_text in results["backbone"]
    assert [c["name"] for c in results["conditions"]][0] == "clean"
    for cond in results["conditions"]:
        assert cond["n_target"] > 0 and cond["n_nontarget"] > 0
        for system in ("baseline", "seed"):
            for metric in ("eer", "min_dcf"):
                assert math.isfinite(cond[system][metric])
            assert 0.0 <= cond[system]["eer"] <= 100.0


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["ecapa", "resnet"])
def test_train_backbone_then_seed(backbone, data_dir, speech_slices, tmp_path):
    speakers = _speaker_folder(data_dir, tmp_path / "speakers", 24)
    out = tmp_path / f"train_{backbone}"
    backbone_args = [
        f"--train_folder={speakers}",
        f"--output_folder={out}",
        "--segment_seconds=2.0",
        "--max_segments_per_utt=4",
        "--number_of_epochs=2",
        "--batch_size=24",
        "--num_workers=0",
        "--lr_step_size=6",
        "--lr=0.005",
        *TINY[backbone],
    ]
    if backbone == "ecapa":  # augmentation on one of the two
        backbone_args += [
            f"--noise_folder={data_dir / 'noise'}",
            f"--rir_folder={data_dir / 'rir'}",
        ]
    hparams = f"hparams/train_{backbone}.yaml"
    _run("recipes/train_backbone.py", [hparams, *backbone_args], tmp_path / "b")

    export = out / "pretrained"
    record = json.loads((export / "backbone.json").read_text())
    assert record["n_speakers"] == 24
    assert record["seed_yaml"] == f"hparams/seed_{backbone}.yaml"
    log = (out / "train_log.txt").read_text().splitlines()
    assert [line.split(",")[0] for line in log if "epoch:" in line] == [
        "epoch: 1",
        "epoch: 2",
    ]
    if backbone == "ecapa":
        for name in ECAPA_FOLDER_FILES:
            assert (export / name).is_file(), name
        # A rerun of a finished training exports nothing new.
        stamp = (export / "embedding_model.ckpt").stat().st_mtime_ns
        _run(
            "recipes/train_backbone.py",
            [hparams, *backbone_args],
            tmp_path / "b2",
        )
        assert (export / "embedding_model.ckpt").stat().st_mtime_ns == stamp
    else:
        state = torch.load(export / "resnetse34v2.model", weights_only=True)
        assert any(k.startswith("__S__.") for k in state)
        assert any(k.startswith("__L__.") for k in state)

    speech_slices.clean(tmp_path / "clean", 16)
    speech_slices.test(tmp_path / "test", 4, 3)
    seed_out = tmp_path / f"seed_{backbone}"
    seed_args = [
        f"hparams/seed_{backbone}.yaml",
        *record["seed_args"],
        *slice_args(tmp_path, data_dir, seed_out, n_bootstrap=10),
    ]
    _run("train.py", seed_args, tmp_path / "seed.log")
    results = json.loads((seed_out / "results.json").read_text())
    _check_results(results, str(export))
    first = (seed_out / "results.json").read_text()
    _run("train.py", [*seed_args, "--test_only"], tmp_path / "test_only.log")
    assert (seed_out / "results.json").read_text() == first
