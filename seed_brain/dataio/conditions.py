"""Test conditions: noisy and reverberant copies of the test side of the
trials (deterministic per seed), and the signal helpers
:func:`mix_at_snr` and :func:`reverberate` shared with the rest of the
project.

Authors
 * seed-brain developers 2026
"""

import json
import logging
import math
import os

from seed_brain.dataio.audio import (
    audio_info,
    load_audio,
    write_audio,
)
from seed_brain.dataio.corruption import (
    _rng_for,
    corrupt_utterance,
    mix_at_snr,
    reverberate,
)
from seed_brain.dataio.manifests import (
    _check_folder,
    _no_audio_error,
    list_audio_files,
)
from seed_brain.dataio.trials import _check_no_space, read_trials
from seed_brain.utils.errors import disk_space
from seed_brain.utils.files import write_text
from seed_brain.utils.progress import progress

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CONDITIONS",
    "corrupt_utterance",
    "mix_at_snr",
    "prepare_test_conditions",
    "reverberate",
]


#: Test conditions built by default: name, SNR in dB (None: no noise) and
#: whether the test utterance is reverberated (before adding noise).
DEFAULT_CONDITIONS = [
    {"name": "clean", "snr": None, "reverb": False},
    {"name": "noise_10dB", "snr": 10.0, "reverb": False},
    {"name": "noise_5dB", "snr": 5.0, "reverb": False},
    {"name": "noise_0dB", "snr": 0.0, "reverb": False},
    {"name": "reverb", "snr": None, "reverb": True},
    {"name": "reverb_noise_5dB", "snr": 5.0, "reverb": True},
]


def _validate_conditions(conditions):
    """Checks the condition dicts; returns normalised copies."""
    result, names = [], set()
    for cond in conditions:
        name = cond.get("name") if isinstance(cond, dict) else None
        if not name or not isinstance(name, str):
            raise ValueError(
                f"Condition {cond!r} needs a 'name' (str); expected "
                "{'name': str, 'snr': float or None, 'reverb': bool}."
            )
        if name in names:
            raise ValueError(f"Condition name '{name}' is used twice.")
        if "/" in name or os.sep in name or name.startswith("."):
            raise ValueError(
                f"Condition name '{name}' must be a plain folder name."
            )
        snr = cond.get("snr")
        if snr is not None:
            snr = float(snr)
            if not math.isfinite(snr):
                raise ValueError(f"Condition '{name}': snr must be finite.")
        names.add(name)
        result.append(
            {"name": name, "snr": snr, "reverb": bool(cond.get("reverb"))}
        )
    return result


def _source_list(sources, what):
    """Noise/RIR files from a folder path or a list of file paths."""
    if sources is None:
        return []
    if isinstance(sources, (str, os.PathLike)):
        folder = _check_folder(sources, f"{what} folder")
        files = list_audio_files(folder)
        if not files:
            raise _no_audio_error(folder)
        return [os.path.abspath(f) for f in files]
    files = [os.path.abspath(os.fspath(f)) for f in sources]
    for f in files:
        if not os.path.isfile(f):
            raise FileNotFoundError(f"{what} file '{f}' does not exist.")
    return files


def _wav_bytes(folder, rels, sample_rate):
    """Bytes of float WAV copies of ``folder/rel`` at ``sample_rate``."""
    total = 0
    for rel in rels:
        rate, frames, _ = audio_info(os.path.join(folder, *rel.split("/")))
        total += 44 + 4 * int(math.ceil(frames * sample_rate / rate))
    return total


def _condition_rel(path):
    """Path of a test file's corrupted copy below its condition folder:
    ``path`` without extension, plus ``.wav``; a full path loses its
    leading ``/``, so that it maps below the condition folder too."""
    return os.path.splitext(path.lstrip("/"))[0] + ".wav"


def _test_target(out_folder, name, relpath):
    """``out_folder/<name>/<relpath without extension>.wav``."""
    return os.path.join(out_folder, name, *_condition_rel(relpath).split("/"))


def _check_sources(conditions, noise_list, rir_list):
    """Refuses conditions that need noise or RIR files without any."""
    if any(c["snr"] is not None for c in conditions) and not noise_list:
        raise ValueError(
            "A condition adds noise but no noise_files were given (pass a "
            "noise folder or list of files, e.g. --test_noise_folder)."
        )
    if any(c["reverb"] for c in conditions) and not rir_list:
        raise ValueError(
            "A condition adds reverberation but no rir_files were given "
            "(pass a RIR folder or list of files, e.g. --test_rir_folder)."
        )


def _test_files(trials):
    """The sorted test files of the trials; two copies of one name refused."""
    test_files = sorted({t for _, _, t in trials})
    targets = {}
    for rel in test_files:
        target = _condition_rel(rel)
        if target in targets:
            raise ValueError(
                f"Test files '{targets[target]}' and '{rel}' would both be "
                f"written as '{target}'; rename one."
            )
        targets[target] = rel
    return test_files


def _read_recorded(json_path):
    """The conditions recorded in ``conditions.json`` (empty if none)."""
    if not os.path.isfile(json_path):
        return {}
    try:
        with open(json_path, encoding="utf-8") as f:
            return json.load(f).get("conditions", {})
    except (OSError, ValueError, AttributeError):
        logger.warning("Ignoring unreadable %s.", json_path)
        return {}


def _settings(cond, common, noise_list, rir_list):
    """What a condition's files depend on (recorded in conditions.json)."""
    return {
        "snr": cond["snr"],
        "reverb": cond["reverb"],
        "seed": common["seed"],
        "sample_rate": common["sample_rate"],
        "test_folder": common["test_folder"],
        "noise_files": noise_list if cond["snr"] is not None else [],
        "rir_files": rir_list if cond["reverb"] else [],
    }


def _summary(
    conditions,
    common,
    recorded,
    num_test_files,
    test_folder,
    out_folder,
    noise_list,
    rir_list,
):
    """The content of ``conditions.json`` (complete entries kept)."""
    summary = {
        **common,
        "num_test_files": num_test_files,
        "conditions": {},
    }
    for cond in conditions:
        entry = _settings(cond, common, noise_list, rir_list)
        entry["root"] = os.path.abspath(
            test_folder
            if cond["snr"] is None and not cond["reverb"]
            else os.path.join(out_folder, cond["name"])
        )
        entry["trials"] = f"trials_{cond['name']}.txt"
        summary["conditions"][cond["name"]] = entry
    # Record complete entries of conditions not requested this time.
    for name, entry in recorded.items():
        summary["conditions"].setdefault(name, entry)
    return summary


def _files_to_write(previous, settings, test_files, out_folder, name):
    """Test files of a condition to (re)write: all when its settings changed."""
    same = previous is not None and all(
        previous.get(k) == v for k, v in settings.items()
    )
    return [
        rel
        for rel in test_files
        if not (same and os.path.isfile(_test_target(out_folder, name, rel)))
    ]


def _save_summary(json_path, summary):
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    write_text(json_path, text)


class _Banks:
    """Noise and RIR signals, each bank loaded (and checked) once, lazily."""

    def __init__(self, sample_rate, files):
        self.sample_rate = sample_rate
        self.files = files
        self.cache = {}

    def __call__(self, what):
        if what not in self.cache:
            self.cache[what] = []
            for path in self.files[what]:
                wav = load_audio(path, self.sample_rate)
                if not bool(wav.abs().max() > 0):
                    raise ValueError(
                        f"{what} file '{path}' is silent (all zeros); "
                        "remove it from the list."
                    )
                self.cache[what].append(wav)
        return self.cache[what]


def _write_condition(
    cond, todo, test_folder, out_folder, test_root, banks, seed
):
    """Writes the corrupted copies of the test files ``todo``."""
    name = cond["name"]
    sample_rate = banks.sample_rate
    for rel in progress(todo, f"Condition {name}"):
        source = os.path.join(test_folder, *rel.split("/"))
        speech = load_audio(source, sample_rate)
        if not bool(speech.abs().max() > 0):
            raise ValueError(
                f"Test file '{source}' is silent; the SNR is "
                "undefined. Remove it from the trials."
            )
        noisy = corrupt_utterance(
            speech,
            cond,
            _rng_for(seed, name, rel),
            noises=banks("Noise") if cond["snr"] is not None else (),
            rirs=banks("RIR") if cond["reverb"] else (),
        )
        # A full disk: an error naming the folder and what the
        # files still to write need (each is whole, or absent).
        with disk_space(
            test_root,
            lambda: _wav_bytes(
                test_folder, todo[todo.index(rel) :], sample_rate
            ),
            f"test condition {name}",
            "point data_folder elsewhere",
        ):
            write_audio(_test_target(out_folder, name, rel), noisy, sample_rate)


def _log_written(name, written, total, test_root):
    if written:
        logger.info(
            "Condition %s: wrote %d of %d test files under %s.",
            name,
            written,
            total,
            test_root,
        )
    else:
        logger.info(
            "Condition %s: all %d test files already present; nothing written.",
            name,
            total,
        )


def _write_condition_trials(trials_path, cond_trials, test_folder, test_root):
    """``trials_<name>.txt`` with full paths; True when it was written."""
    lines, checked = [], set()
    for label, e, t in cond_trials:
        e = os.path.join(os.path.abspath(test_folder), e)
        t = os.path.join(test_root, t)
        for path in (e, t):
            if path not in checked:  # each file once, not each trial
                _check_no_space(path, trials_path)
                checked.add(path)
        lines.append(f"{label} {e} {t}\n")
    return write_text(trials_path, "".join(lines))


def prepare_test_conditions(
    test_folder,
    trials,
    out_folder,
    conditions=None,
    noise_files=None,
    rir_files=None,
    sample_rate=16000,
    seed=1234,
):
    """Writes corrupted copies of the test side of the trials.

    For each condition that adds noise and/or reverberation, every test
    file of the trials (enrolment stays clean) is corrupted and written as
    a 32-bit float WAV at ``sample_rate`` to
    ``out_folder/<name>/<relpath without extension>.wav``. A condition with
    ``snr`` None and ``reverb`` False (``clean``) uses the original files.

    The corruption is deterministic per (condition, file, seed): a numpy
    Generator seeded from ``seed`` and the CRC32 of the condition name and
    of the relative path picks the RIR, the noise file and the noise offset
    (noise looped if shorter). Noise is scaled for exactly the condition's
    SNR (mean power over the utterance); reverberation uses
    :func:`reverberate` (unit-energy RIR aligned on its direct path, output
    of the input length and RMS); reverb + noise adds noise at the SNR
    relative to the reverberant speech.

    Files are written once and reused: existing files are skipped (atomic
    writes guarantee they are complete). ``out_folder/conditions.json``
    records the settings of each condition (seed, sample rate, SNR,
    reverb, noise and RIR files, file count, whether complete); when a
    condition's settings differ from those recorded, its files are
    regenerated. Per condition, ``out_folder/trials_<name>.txt`` lists the
    trials with absolute paths (clean enrolment file, corrupted test file),
    readable by :func:`read_trials`.

    Arguments
    ---------
    test_folder : str or os.PathLike
        Folder the trial paths are relative to.
    trials : str, os.PathLike or list of tuple
        A trial list file (read with :func:`read_trials`) or
        ``(label, enrol, test)`` tuples.
    out_folder : str or os.PathLike
        Where the corrupted files go.
    conditions : list of dict, optional
        ``{"name": str, "snr": float or None, "reverb": bool}`` each;
        default :data:`DEFAULT_CONDITIONS`.
    noise_files : str, os.PathLike or list, optional
        Noise folder (every audio file below it) or list of files; needed
        when a condition has an SNR.
    rir_files : str, os.PathLike or list, optional
        RIR folder or list of files; needed when a condition reverberates.
    sample_rate : int
        Sample rate of the outputs (inputs are resampled).
    seed : int
        Seed of every random choice.

    Returns
    -------
    dict
        ``{name: {"enrol_root": str, "test_root": str, "trials": list of
        (label, enrol, test), "trials_path": str}}``: enrolment paths are
        relative to ``enrol_root`` (``test_folder``), test paths to
        ``test_root`` (``test_folder`` for clean, else
        ``out_folder/<name>``).

    Raises
    ------
    ValueError
        Bad conditions, or a condition needing noise/RIR files without any.
    FileNotFoundError
        A missing test, noise or RIR file.
    seed_brain.dataio.audio.AudioError
        An unreadable or silent audio file (named in the message).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.dataio.audio import write_audio, load_audio
    >>> from seed_brain.dataio.trials import prepare_trials
    >>> root = tempfile.mkdtemp()
    >>> test = os.path.join(root, "test")
    >>> for utt in ["a/1.wav", "a/2.wav", "b/1.wav"]:
    ...     write_audio(os.path.join(test, utt), 0.1 * torch.randn(4000))
    >>> write_audio(os.path.join(root, "n.wav"), torch.randn(1000))
    >>> trials = prepare_trials(test, os.path.join(root, "trials.txt"))
    >>> out = prepare_test_conditions(
    ...     test, trials, os.path.join(root, "cond"),
    ...     conditions=[{"name": "noise_0dB", "snr": 0.0, "reverb": False}],
    ...     noise_files=[os.path.join(root, "n.wav")])
    >>> cond = out["noise_0dB"]
    >>> label, enrol, test_file = cond["trials"][0]
    >>> load_audio(os.path.join(cond["test_root"], test_file)).shape
    torch.Size([4000])
    """
    test_folder = _check_folder(test_folder, "Test folder")
    out_folder = os.fspath(out_folder)
    _check_no_space(os.path.abspath(test_folder), "test_folder")
    _check_no_space(os.path.abspath(out_folder), "out_folder")
    conditions = _validate_conditions(
        DEFAULT_CONDITIONS if conditions is None else conditions
    )
    if isinstance(trials, (str, os.PathLike)):
        trials = read_trials(trials, root=test_folder)
    trials = [(int(label), e, t) for label, e, t in trials]
    if not trials:
        raise ValueError("prepare_test_conditions: the trial list is empty.")
    noise_list = _source_list(noise_files, "Noise")
    rir_list = _source_list(rir_files, "RIR")
    _check_sources(conditions, noise_list, rir_list)
    test_files = _test_files(trials)

    json_path = os.path.join(out_folder, "conditions.json")
    recorded = _read_recorded(json_path)
    common = {
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "test_folder": os.path.abspath(test_folder),
    }
    summary = _summary(
        conditions,
        common,
        recorded,
        len(test_files),
        test_folder,
        out_folder,
        noise_list,
        rir_list,
    )

    banks = _Banks(sample_rate, {"Noise": noise_list, "RIR": rir_list})
    result, total_written = {}, 0
    for cond in conditions:
        name = cond["name"]
        entry = summary["conditions"][name]
        test_root = entry["root"]
        if cond["snr"] is None and not cond["reverb"]:  # clean
            cond_trials = list(trials)
        else:
            cond_trials = [
                (label, e, _condition_rel(t)) for label, e, t in trials
            ]
            todo = _files_to_write(
                recorded.get(name),
                _settings(cond, common, noise_list, rir_list),
                test_files,
                out_folder,
                name,
            )
            entry["num_files"] = len(test_files)
            entry["complete"] = False
            if todo:
                # Recorded before writing: a crash leaves "complete": false
                # with these settings, so the next run resumes.
                _save_summary(json_path, summary)
            _write_condition(
                cond, todo, test_folder, out_folder, test_root, banks, seed
            )
            entry["complete"] = True
            _log_written(name, len(todo), len(test_files), test_root)
            total_written += len(todo)
        trials_path = os.path.join(out_folder, entry["trials"])
        if _write_condition_trials(
            trials_path, cond_trials, test_folder, test_root
        ):
            total_written += 1
        result[name] = {
            "enrol_root": os.path.abspath(test_folder),
            "test_root": test_root,
            "trials": cond_trials,
            "trials_path": os.path.abspath(trials_path),
        }
    _save_summary(json_path, summary)
    if not total_written:
        logger.info(
            "Test conditions in %s already up to date; nothing written.",
            out_folder,
        )
    return result
