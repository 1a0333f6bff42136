"""Lobes SpeechBrain lacks: the SEED denoiser and two speaker encoders.

* :class:`RDMMLP`, the ``rdm_mlp`` denoiser of SEED;
* :class:`ResNetSE34V2`, voxceleb_trainer's ResNetSE34V2 encoder;
* :class:`GE2E`, the GE2E LSTM d-vector encoder (resemblyzer's weights).
"""

from seed_brain.lobes.rdm_mlp import RDMMLP

__all__ = ["RDMMLP", "ResNetSE34V2", "GE2E"]


def __getattr__(name):
    # The encoders import lazily so that the denoiser alone stays cheap.
    if name == "ResNetSE34V2":
        from seed_brain.lobes.resnet import ResNetSE34V2

        return ResNetSE34V2
    if name == "GE2E":
        from seed_brain.lobes.ge2e import GE2E

        return GE2E
    raise AttributeError(f"module 'seed_brain.lobes' has no attribute {name}")
