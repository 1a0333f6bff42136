"""Checks of the recipe's inputs before any work: every audio file decoded
once (verdicts cached), the trial list against the test folder, the yaml
overrides against the yaml.

Authors
 * seed-brain developers 2026
"""

import json
import logging
import os

from seed_brain.dataio.audio import (
    AudioError,
    audio_info,
    check_audio,
)
from seed_brain.dataio.trials import _note_pair
from seed_brain.utils.files import file_key, read_csv, read_json, write_text
from seed_brain.utils.progress import progress

logger = logging.getLogger(__name__)

__all__ = [
    "check_overrides",
    "screen_audio",
    "validate_inputs",
]


def _skipped_summary(skipped):
    """``prepared["skipped"]``: counts, and the bad files with reasons."""
    bad = {e["file"]: e for e in skipped if e["kind"] == "bad_audio"}
    bad = [bad[f] for f in sorted(bad)]  # music may reuse the noise folder
    summary = {
        "too_short": sum(e["kind"] == "too_short" for e in skipped),
        "bad_audio": len(bad),
        "bad_files": [{"file": e["file"], "reason": e["reason"]} for e in bad],
    }
    if bad:
        logger.warning(
            "Skipped %d unusable audio file(s) (skip_bad_audio: True); "
            "they are listed in prepared.json and results.json.",
            len(bad),
        )
    return summary


def _bad_files_message(bad, what, shown=5):
    """Error text naming the unusable files and the two fixes."""
    items = sorted(bad.items())
    lines = "\n".join(f"  {reason}" for _, reason in items[:shown])
    more = (
        f"\n  ... and {len(items) - shown} more" if len(items) > shown else ""
    )
    fix = (
        f"Remove them from the {what} folder, or set skip_bad_audio: True "
        "in the yaml (or --skip_bad_audio=True) to skip them; skipped "
        "files are counted in results.json."
        if what in ("clean speech", "held-out speech", "noise or RIR")
        else "Remove or replace them: test and dev files are never skipped, "
        "so that the trial list stays the one asked for."
    )
    return f"{len(items)} {what} file(s) cannot be used:\n{lines}{more}\n{fix}"


def screen_audio(paths, cache_path=None):
    """Decodes every file once and returns the ones that cannot be used.

    Each file goes through :func:`seed_brain.dataio.audio.check_audio` (missing,
    empty, corrupt, truncated, zero-length, NaN or infinite samples, all
    silent). With ``cache_path`` the verdicts are kept in a JSON file keyed
    by path, size and modification time, so a rerun decodes only new or
    changed files.

    Arguments
    ---------
    paths : list of str
        Audio files.
    cache_path : str or None
        JSON file of earlier verdicts (written atomically).

    Returns
    -------
    dict
        ``{path: reason}`` of the unusable files (empty when all are fine).

    Example
    -------
    >>> import os, tempfile, torch
    >>> from seed_brain.dataio.audio import write_audio
    >>> root = tempfile.mkdtemp()
    >>> good, silent = (os.path.join(root, n) for n in ("a.wav", "b.wav"))
    >>> write_audio(good, torch.randn(800))
    >>> write_audio(silent, torch.zeros(800))
    >>> bad = screen_audio([good, silent], os.path.join(root, "checks.json"))
    >>> list(bad) == [silent], "all silent" in bad[silent]
    (True, True)
    """
    known = read_json(cache_path, {}) if cache_path else {}
    bad, changed = {}, 0
    for path in progress(paths, "Checking audio"):
        key = file_key(path, missing_ok=True)
        entry = known.get(path)
        if key is None or entry is None or entry[0] != key:
            try:
                check_audio(path)
                reason = None
            except (AudioError, FileNotFoundError) as err:
                reason = str(err)
            entry = known[path] = [key, reason]
            changed += 1
            if cache_path and changed % 1000 == 0:
                write_text(cache_path, json.dumps(known, sort_keys=True))
        if entry[1] is not None:
            bad[path] = entry[1]
    if cache_path and changed:
        write_text(cache_path, json.dumps(known, sort_keys=True))
    return bad


def _check_trials(trials, where, resolve):
    """Checks a trial list; errors name ``where`` and the line."""
    seen, files, stems, paths = {}, {}, {}, {}
    for lineno, trial in enumerate(trials, start=1):
        at = f"{where}, line {lineno}"
        if (
            not isinstance(trial, (list, tuple))
            or len(trial) != 3
            or trial[0] not in (0, 1)
            or not all(isinstance(x, str) and x for x in trial[1:])
        ):
            raise ValueError(
                f"{at}: malformed trial {trial!r}; expected (label, enrol, "
                "test) with label 1 (target) or 0 (non-target). Delete the "
                "data folder's trial lists and rerun the preparation."
            )
        _, enrol, test = trial
        _note_pair(
            seen,
            (enrol, test),
            lineno,
            at,
            "each pair must be scored once. Remove one.",
        )
        # Names recur in many trials: their stems, paths and existence are
        # looked up once each.
        for name in (enrol, test):
            if name not in stems:
                stems[name] = os.path.splitext(name)[0]
        if stems[enrol] == stems[test]:
            raise ValueError(
                f"{at}: '{enrol}' is compared with itself; remove the line."
            )
        for side, name in (("enrol", enrol), ("test", test)):
            if (side, name) not in paths:
                paths[(side, name)] = resolve(side, name)
            path = paths[(side, name)]
            if path is None:
                raise ValueError(
                    f"{at}: unknown utterance '{name}' ({side} side): it is "
                    "not one of the prepared files. Delete the data folder's "
                    "trial lists and rerun the preparation."
                )
            if path not in files:
                files[path] = os.path.isfile(path)
            if not files[path]:
                raise FileNotFoundError(
                    f"{at}: audio file '{path}' ({side} side) not found. "
                    "Was it moved or deleted after the preparation? Restore "
                    "it, or rerun the preparation to rebuild the trials."
                )
    return sorted(files)


def validate_inputs(prepared, check_cache=None):
    """Checks every file and trial a run will read, before any long work.

    * every row of the training manifest and of the noise / music / RIR
      CSVs: the file exists and has a readable header with samples
      (:func:`seed_brain.dataio.audio.audio_info`); errors name the CSV and
      line;
    * every dev and test trial (also of the extra test sets): label 0 or
      1, two known utterances whose files exist, no duplicate pair, no
      file compared with itself; errors name the trial list and line;
    * every dev and test audio file (enrolment and test side of every
      condition): decoded once by :func:`screen_audio` (finite, not
      silent); test files are never skipped.

    :func:`prepare_seed_data` calls it before writing ``prepared.json``.

    Arguments
    ---------
    prepared : dict
        Output of :func:`prepare_seed_data`.
    check_cache : str or None
        Verdict cache of :func:`screen_audio`.

    Returns
    -------
    dict
        ``{"files": n, "trials": m}`` checked.

    Raises
    ------
    FileNotFoundError, seed_brain.dataio.audio.AudioError, ValueError
        Naming the file or trial line and the fix.

    Example
    -------
    >>> prepared = {"train_csv": "", "augment": {}, "conditions": {},
    ...             "dev": {"items": {}, "trials": [[1, "a", "a"]]}}
    >>> validate_inputs(prepared)
    Traceback (most recent call last):
    ...
    ValueError: ...line 1: 'a' is compared with itself; remove the line.
    """
    data_folder = os.path.dirname(os.path.abspath(prepared["train_csv"]))
    csvs = [prepared["train_csv"]] if prepared["train_csv"] else []
    csvs += [a["csv"] for a in prepared["augment"].values() if a]
    n_files = 0
    for csv_path in csvs:
        for lineno, row in enumerate(read_csv(csv_path), start=2):
            try:
                audio_info(row["wav"])
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f"{csv_path}, line {lineno}: {err}"
                ) from err
            except AudioError as err:
                raise AudioError(f"{csv_path}, line {lineno}: {err}") from err
            n_files += 1
    dev_items = prepared["dev"]["items"]
    files = _check_trials(
        prepared["dev"]["trials"],
        os.path.join(data_folder, "dev", "dev_trials.txt"),
        lambda side, name: dev_items.get(name),
    )
    n_trials = len(prepared["dev"]["trials"])
    for name, cond in prepared["conditions"].items():

        def resolve(side, rel, cond=cond):
            root = cond["enrol_root"] if side == "enrol" else cond["test_root"]
            return os.path.join(root, rel)

        files += _check_trials(
            cond["trials"],
            os.path.join(data_folder, "conditions", f"trials_{name}.txt"),
            resolve,
        )
        n_trials += len(cond["trials"])
    for set_name, entry in prepared.get("test_sets", {}).items():
        for name, cond in entry["conditions"].items():

            def resolve(side, rel, cond=cond):
                key = "enrol_root" if side == "enrol" else "test_root"
                return os.path.join(cond[key], rel)

            where = os.path.join(data_folder, "test_sets", set_name)
            files += _check_trials(
                entry["trials"], f"{where} ({name})", resolve
            )
            n_trials += len(entry["trials"])
    files = sorted(set(files))
    bad = screen_audio(files, check_cache)
    if bad:
        raise AudioError(_bad_files_message(bad, "dev or test"))
    return {"files": n_files + len(files), "trials": n_trials}


def check_overrides(hparams_file, overrides):
    """Stops with a clear error when a ``--key=value`` names no yaml key.

    ``hyperpyyaml`` refuses such overrides too, but with a ``KeyError``
    listing every key of the file; this names the bad option(s) and the
    closest keys, before anything is loaded or created.

    Arguments
    ---------
    hparams_file : str
        The yaml file.
    overrides : str or dict or None
        Overrides as returned by ``speechbrain.parse_arguments`` (a yaml
        string) or a dict.

    Raises
    ------
    ValueError
        An override whose top-level key is not in the yaml.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h.yaml")
    >>> with open(path, "w") as f:
    ...     _ = f.write("batch_size: 8\\nlr: !ref <batch_size>\\n")
    >>> check_overrides(path, "batch_size: 4\\n")
    >>> check_overrides(path, "batch_sise: 4\\n")
    Traceback (most recent call last):
    ...
    ValueError: Unknown option --batch_sise (did you mean --batch_size?): ...
    """
    import difflib

    import ruamel.yaml

    if not overrides:
        return
    loader = ruamel.yaml.YAML()
    if isinstance(overrides, str):
        try:
            overrides = loader.load(overrides) or {}
        except ruamel.yaml.constructor.DuplicateKeyError as err:
            key = getattr(err, "problem", "") or str(err)
            raise ValueError(
                f"An option is given twice on the command line ({key}): "
                "keep one --key=value for each key."
            ) from None
    with open(hparams_file, encoding="utf-8") as fin:
        keys = list(loader.load(fin) or {})
    unknown = [k for k in overrides if k not in keys]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), keys, n=1)
        hint = f" (did you mean --{close[0]}?)" if close else ""
        hints.append(f"--{key}{hint}")
    raise ValueError(
        f"Unknown option {', '.join(hints)}: {hparams_file} has no such "
        "key. Every --key=value must name a top-level key of the yaml or "
        "be a SpeechBrain option (see --help); fix the spelling."
    )
