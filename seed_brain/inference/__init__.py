"""Use: the pretrained interface, model export and the ``seed-brain`` command.

:class:`SEEDSpeakerRecognition` (:mod:`seed_brain.inference.interface`)
and the model-folder checks (:mod:`seed_brain.inference.model_files`) are
reachable from here (imported on first use, so that ``seed-brain --help``
stays fast); :mod:`seed_brain.inference.export` exports a training run
through :mod:`seed_brain.inference.model_folder`, and
:mod:`seed_brain.inference.cli` is the command line.

Authors
 * seed-brain developers 2026
"""

__all__ = [
    "ModelFileError",
    "ModelSourceError",
    "SEEDSpeakerRecognition",
    "check_model_folder",
    "embedding_id",
    "file_sha256",
    "load_state_dict_strict",
    "read_checkpoint",
    "recorded_checksums",
    "waveform_id",
]


def __getattr__(name):
    if name in __all__:
        from seed_brain.inference import interface, model_files

        return getattr(interface, name, None) or getattr(model_files, name)
    raise AttributeError(
        f"module 'seed_brain.inference' has no attribute {name}"
    )
