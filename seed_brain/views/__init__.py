"""Views of a crop (noise, music, babble, rooms) and the embedding cache.

The view builder and its augmentations live in
:mod:`seed_brain.views.builder` and are reachable from here, as yaml files
name them (``!new:seed_brain.views.ViewBuilder``); the cache of encoder
embeddings of views is :mod:`seed_brain.views.cache`.

Authors
 * seed-brain developers 2026
"""

from seed_brain.views.builder import (
    BabbleAddNoise,
    ChainAugment,
    InMemoryAddNoise,
    SpeedVoices,
    ViewBuilder,
    apply_augmenter,
)

__all__ = [
    "BabbleAddNoise",
    "ChainAugment",
    "InMemoryAddNoise",
    "SpeedVoices",
    "ViewBuilder",
    "apply_augmenter",
]
