"""seed_brain: SEED speaker-embedding enhancement diffusion for SpeechBrain.

SEED (Nam et al., Interspeech 2025) regenerates the embeddings of a frozen
speaker encoder with a small diffusion model so that embeddings of noisy or
reverberant speech move toward those of the same speech recorded clean. It
is trained without speaker labels.

The subpackages follow the pipeline (see ``ARCHITECTURE.md``):
:mod:`seed_brain.dataio` (data in), :mod:`seed_brain.views` (views and the
embedding cache), :mod:`seed_brain.lobes` and :mod:`seed_brain.model` (the
networks, the diffusion, training), :mod:`seed_brain.scoring` and
:mod:`seed_brain.inference` (use: the interface, export, the command line);
:mod:`seed_brain.utils` holds what they share.

Authors
 * seed-brain developers 2026
"""

import importlib
import importlib.abc
import importlib.util
import sys

from seed_brain.utils.lazy import lazy_attributes

__version__ = "0.1.0"

__all__ = ["SEEDBrain", "SEEDDiffusion", "__version__"]

#: Where the modules of the earlier flat layout live now. ``import
#: seed_brain.recipe`` (or a yaml ``!new:seed_brain.brain.SEEDBrain``) gets
#: the very module object of the new path, so old imports, yaml files and
#: model folders keep working.
MOVED = {
    "seed_brain.audio": "seed_brain.dataio.audio",
    "seed_brain.brain": "seed_brain.model.brain",
    "seed_brain.cache": "seed_brain.views.cache",
    "seed_brain.cli": "seed_brain.inference.cli",
    "seed_brain.corpora": "seed_brain.dataio.corpora",
    "seed_brain.dataprep": "seed_brain.dataio.manifests",
    "seed_brain.demo": "seed_brain.dataio.demo",
    "seed_brain.diffusion": "seed_brain.model.diffusion",
    "seed_brain.distributed": "seed_brain.utils.distributed",
    "seed_brain.download": "seed_brain.dataio.download",
    "seed_brain.ema": "seed_brain.model.ema",
    "seed_brain.encoders": "seed_brain.model.encoders",
    "seed_brain.errors": "seed_brain.utils.errors",
    "seed_brain.export": "seed_brain.inference.export",
    "seed_brain.lock": "seed_brain.utils.lock",
    "seed_brain.recipe": "seed_brain.dataio.prepare",
    "seed_brain.synthetic": "seed_brain.dataio.synthetic",
    "seed_brain.textio": "seed_brain.utils.textio",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path of :data:`MOVED` as its new module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # The import machinery gave the module the old name's spec: put
        # its own back.
        module.__spec__ = module.__spec__.loader_state

    def get_code(self, fullname):
        # For ``python -m seed_brain.cli``.
        target = importlib.util.find_spec(MOVED[fullname])
        return target.loader.get_code(target.name)

    def is_package(self, fullname):
        return False


# First, before any finder that might know the old files (an editable
# install of another checkout).
sys.meta_path.insert(0, _MovedModules())


# Lazy so that ``import seed_brain.lobes`` does not pull the recipe code.
__getattr__ = lazy_attributes(
    __name__,
    {
        "SEEDBrain": "seed_brain.model.brain",
        "SEEDDiffusion": "seed_brain.model.diffusion",
    },
)
