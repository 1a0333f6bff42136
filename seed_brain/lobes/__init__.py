"""Lobes SpeechBrain lacks: the SEED denoiser and two speaker encoders.

* :class:`RDMMLP`, the ``rdm_mlp`` denoiser of SEED;
* :class:`ResNetSE34V2`, voxceleb_trainer's ResNetSE34V2 encoder;
* :class:`GE2E`, the GE2E LSTM d-vector encoder (resemblyzer's weights).
"""

from seed_brain.lobes.rdm_mlp import RDMMLP
from seed_brain.utils.lazy import lazy_attributes

__all__ = ["RDMMLP", "ResNetSE34V2", "GE2E"]


# The encoders import lazily so that the denoiser alone stays cheap.
__getattr__ = lazy_attributes(
    __name__,
    {
        "ResNetSE34V2": "seed_brain.lobes.resnet",
        "GE2E": "seed_brain.lobes.ge2e",
    },
)
