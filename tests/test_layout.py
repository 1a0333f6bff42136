"""The old flat module paths reach the modules of the new layout."""

import importlib
import subprocess
import sys

import pytest
from hyperpyyaml import load_hyperpyyaml

import seed_brain


@pytest.mark.parametrize("old", sorted(seed_brain.MOVED))
def test_old_path_is_the_new_module(old):
    module = importlib.import_module(old)
    assert module is importlib.import_module(seed_brain.MOVED[old])
    assert module.__spec__.name == seed_brain.MOVED[old]


def test_old_yaml_paths_and_public_names():
    hp = load_hyperpyyaml(
        "diffusion: !new:seed_brain.diffusion.SEEDDiffusion\n"
        "ema: !name:seed_brain.ema.EMA\n"
    )
    from seed_brain.model.diffusion import SEEDDiffusion
    from seed_brain.model.ema import EMA

    assert isinstance(hp["diffusion"], SEEDDiffusion)
    assert getattr(hp["ema"], "func", hp["ema"]) is EMA
    from seed_brain.inference import SEEDSpeakerRecognition
    from seed_brain.lobes import RDMMLP  # noqa: F401

    assert seed_brain.SEEDBrain.__module__ == "seed_brain.model.brain"
    assert SEEDSpeakerRecognition.__module__ == "seed_brain.inference.interface"


def test_python_m_old_cli_path():
    out = subprocess.run(
        [sys.executable, "-m", "seed_brain.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: seed-brain" in out.stdout
