"""Use: the pretrained interface, model export and the ``seed-brain`` command.

:class:`SEEDSpeakerRecognition` and the model-folder helpers of
:mod:`seed_brain.inference.interface` are reachable from here (imported on
first use, so that ``seed-brain --help`` stays fast);
:mod:`seed_brain.inference.export` writes model folders and
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
        from seed_brain.inference import interface

        return getattr(interface, name)
    raise AttributeError(
        f"module 'seed_brain.inference' has no attribute {name}"
    )
