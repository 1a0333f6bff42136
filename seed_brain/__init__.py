"""seed_brain: SEED speaker-embedding enhancement diffusion for SpeechBrain.

SEED (Nam et al., Interspeech 2025) regenerates the embeddings of a frozen
speaker encoder with a small diffusion model so that embeddings of noisy or
reverberant speech move toward those of the same speech recorded clean. It
is trained without speaker labels.
"""

__version__ = "0.1.0"

__all__ = ["SEEDBrain", "SEEDDiffusion", "__version__"]


def __getattr__(name):
    # Lazy so that ``import seed_brain.lobes`` does not pull the recipe code.
    if name == "SEEDBrain":
        from seed_brain.brain import SEEDBrain

        return SEEDBrain
    if name == "SEEDDiffusion":
        from seed_brain.diffusion import SEEDDiffusion

        return SEEDDiffusion
    raise AttributeError(f"module 'seed_brain' has no attribute {name}")
