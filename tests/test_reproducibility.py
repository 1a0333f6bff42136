"""Reproducibility: the same command and seed give the same bytes.

* ``train.py`` run twice on the same tiny real-data slice into two output
  folders writes byte-identical ``results.json`` and ``results.md`` (CPU),
  and ``results.json`` records the seeds.
* SEED's sampling noise comes from generators seeded per utterance
  (``eval_seed``), its training noise from the checkpointed, seeded
  ``GeneratorState``: unit checks with a toy encoder.
* Every ``torch.load`` of the package passes ``weights_only=True``, and
  SpeechBrain's checkpoint loader refuses pickled code.
"""

import json
import re
from pathlib import Path

import pytest
import torch
from recipe_runs import (
    assert_same_weights,
    final_weights,
    recipe_args,
    reference_run,
    run,
)
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.checkpoints import torch_recovery

from seed_brain.lobes import RDMMLP
from seed_brain.model.brain import GeneratorState, SEEDBrain
from seed_brain.model.diffusion import SEEDDiffusion

PACKAGE = Path(__file__).resolve().parents[1] / "seed_brain"


class Mean(torch.nn.Module):
    """Toy encoder: means of 8 equal slices of the waveform."""

    def forward(self, wavs, lens=None):
        return wavs.reshape(wavs.shape[0], 8, -1).mean(-1)


def _brain(**hparams):
    denoiser = RDMMLP(8)
    torch.nn.init.normal_(denoiser.output_proj.weight, std=0.5)  # not zero
    return SEEDBrain(
        modules={"encoder": Mean(), "denoiser": denoiser},
        opt_class=lambda p: torch.optim.AdamW(p, lr=1e-3),
        hparams={"diffusion": SEEDDiffusion(), "use_ema": False, **hparams},
    )


@pytest.mark.slow
def test_same_command_same_results_bytes(tmp_path_factory, data_dir, tmp_path):
    """Two runs, two folders, one seed: identical results.json bytes."""
    reference, slice_root = reference_run(tmp_path_factory, data_dir)
    out = tmp_path / "again"
    run(["train.py", *recipe_args(slice_root, out)], tmp_path / "again.log")
    for name in ("results.json", "results.md"):
        assert (out / name).read_bytes() == (reference / name).read_bytes()
    results = json.loads((out / "results.json").read_text())
    assert results["seed"]["train_seed"] == 1986  # the yaml's seed
    assert results["seed"]["eval_seed"] == 0
    assert results["skipped"] == {
        "too_short": 0,
        "bad_audio": 0,
        "bad_files": [],
    }
    # The training itself was identical, not only the scores.
    ref_log = (reference / "train_log.txt").read_text()
    assert (out / "train_log.txt").read_text() == ref_log
    assert_same_weights(final_weights(out), final_weights(reference))


def test_enhancement_noise_is_seeded_per_utterance():
    """Same ids and eval_seed: same output, whatever the batch; else not."""
    torch.manual_seed(0)
    brain = _brain(eval_seed=3)
    emb = torch.randn(4, 8)
    ids = ["a", "b", "c", "d"]
    out = brain.enhance(emb, ids)
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(brain.enhance(emb, ids), out)
    # Same noise in a smaller batch (floats may differ in the last bit:
    # the matrix products are blocked differently).
    torch.testing.assert_close(brain.enhance(emb[2:], ids[2:]), out[2:])
    brain.hparams.eval_seed = 4
    assert not torch.equal(brain.enhance(emb, ids), out)


def test_training_noise_comes_from_the_seeded_generator():
    """Two brains with one seed take identical steps; another seed does not."""

    def losses(seed):
        torch.manual_seed(0)  # same initial weights
        brain = _brain(seed=seed)
        brain.init_optimizers()
        torch.manual_seed(seed * 7 + 1)  # the global RNG plays no part
        batch = PaddedBatch(
            [{"emb": torch.ones(3, 8) * k} for k in range(1, 5)]
        )
        return [float(brain.fit_batch(batch)) for _ in range(3)]

    assert losses(5) == losses(5)
    assert losses(5) != losses(6)
    state = GeneratorState(5)
    first = torch.rand(3, generator=state.generator)
    assert torch.equal(
        first, torch.rand(3, generator=GeneratorState(5).generator)
    )


def test_every_torch_load_is_weights_only():
    """No torch.load in the package may unpickle code."""
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\(", text):
            depth, end = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            calls.append((path.name, text[match.start() : end]))
    assert calls, "no torch.load found: the check is broken"
    for name, call in calls:
        assert "weights_only=True" in call, (name, call)


class _Payload:
    """A pickled object: loading it would run code."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_speechbrain_checkpoint_loader_refuses_pickled_code(tmp_path):
    """SpeechBrain's torch_recovery (torch.load's weights_only default)."""
    path = tmp_path / "evil.ckpt"
    torch.save({"weight": _Payload()}, path)
    with pytest.raises(Exception, match="[Ww]eights.only"):
        torch_recovery(torch.nn.Linear(2, 2), path, end_of_epoch=True)
