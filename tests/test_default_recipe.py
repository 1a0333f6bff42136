"""The default recipe on the shared data, with test noise training never heard.

This is the project's claim, run as a user would: ``train.py`` with the
default ``hparams/seed_ge2e.yaml`` (no setting changed), trained on all of
``speech/train-clean-100`` with ``noise/noise1-5`` and ``rir/rir1-4``, and
tested on ``speech/test-other`` (900 target / 9,000 non-target trials)
with the *other* noise files (``doing_the_dishes``, ``exercise_bike``) and
the other three RIRs. It asserts that SEED beats the frozen GE2E encoder on
the mean EER and minDCF over the noisy conditions, and that the clean EER
does not rise by more than 0.5 percentage points. About 8 minutes on two
CPU cores (slow, but CI runs it).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN_NOISE = "[noise*.wav]"
TRAIN_RIRS = "[rir1.wav,rir2.wav,rir3.wav,rir4.wav]"


def unseen_split_args(data_dir, out):
    """The README's unseen-noise command (training / test banks apart)."""
    speech = Path(data_dir) / "speech"
    return [
        "hparams/seed_ge2e.yaml",
        f"--clean_folder={speech / 'train-clean-100'}",
        f"--test_folder={speech / 'test-other'}",
        f"--noise_folder={Path(data_dir) / 'noise'}",
        f"--rir_folder={Path(data_dir) / 'rir'}",
        f"--noise_include={TRAIN_NOISE}",
        f"--rir_include={TRAIN_RIRS}",
        f"--test_noise_exclude={TRAIN_NOISE}",
        f"--test_rir_exclude={TRAIN_RIRS}",
        f"--output_folder={out}",
    ]


def _mean(conditions, system, metric):
    noisy = [c for c in conditions if c["name"] != "clean"]
    return sum(c[system][metric] for c in noisy) / len(noisy)


@pytest.mark.slow
def test_default_recipe_beats_the_frozen_encoder_on_unseen_noise(
    data_dir, tmp_path
):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "train.py", *unseen_split_args(data_dir, out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    conditions = results["conditions"]
    names = [c["name"] for c in conditions]
    assert names == [
        "clean",
        "noise_10dB",
        "noise_5dB",
        "noise_0dB",
        "reverb",
        "reverb_noise_5dB",
    ]
    for cond in conditions:
        assert (cond["n_target"], cond["n_nontarget"]) == (900, 9000)

    # The test conditions really used the held-out files only.
    prepared = json.loads((out / "data" / "prepared.json").read_text())
    used = json.dumps(prepared["augment"])
    for held_out in (
        "doing_the_dishes",
        "exercise_bike",
        "impulse_response_0",
        "rir48000",
        "stereo_impulse_response",
    ):
        assert held_out not in used, held_out

    base = _mean(conditions, "baseline", "eer")
    seed = _mean(conditions, "seed", "eer")
    assert seed < base, f"mean noisy EER: SEED {seed:.2f} vs {base:.2f} %"
    assert _mean(conditions, "seed", "min_dcf") < _mean(
        conditions, "baseline", "min_dcf"
    )
    clean = conditions[0]
    assert clean["seed"]["eer"] <= clean["baseline"]["eer"] + 0.5
