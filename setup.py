"""Installs ``seed_brain``: SEED (Speaker Embedding Enhancement Diffusion)
as a SpeechBrain plugin.

``pip install -e .`` brings everything the recipes need. On Linux x86-64
this resolves to torch 2.11.0 + torchaudio 2.11.0 (torchaudio's last
release, which pins that torch). ``pip install -e .[ge2e]`` adds the
``resemblyzer==0.1.4`` wheel *without its dependencies*: it is only used to
ship the pretrained GE2E weights (``resemblyzer/pretrained.pt``); its code is
never imported. Because pip cannot express ``--no-deps`` inside an extra, the
supported command is ``pip install --no-deps resemblyzer==0.1.4`` (see
README), which the set-up scripts run.
"""

from setuptools import find_packages, setup

setup(
    name="seed_brain",
    version="0.1.0",
    description=(
        "SEED speaker-embedding enhancement diffusion as a SpeechBrain plugin"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["seed_brain", "seed_brain.*"]),
    python_requires=">=3.10",
    install_requires=[
        "speechbrain>=1.0",
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "hyperpyyaml",
        "ruamel.yaml",
        "pyyaml",
        "soundfile",
        "pandas",
        "numpy",
        "scipy",
        "matplotlib",
        "tqdm",
        # libespeak-ng and its voices, for the generated demonstration data
        "espeakng-loader==0.2.4",
    ],
    extras_require={
        "test": ["pytest", "ruff"],
    },
    entry_points={
        "console_scripts": ["seed-brain = seed_brain.inference.cli:main"]
    },
)
