"""The model: pretrained encoders, the SEED diffusion, EMA and the Brain
that trains and evaluates it (the networks themselves are in
:mod:`seed_brain.lobes`).

Authors
 * seed-brain developers 2026
"""
