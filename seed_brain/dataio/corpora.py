"""Preparation of the corpora of the SEED paper's setting.

Every function is idempotent: a second identical call writes nothing (and
downloads nothing) and says so in the log. Outputs are written atomically.

* :func:`prepare_voxceleb1_o`: the VoxCeleb1-O trial list (cleaned,
  ``veri_test2.txt``: 37,611 trials in the ``label enrol test`` format with
  ``id/session/utt.wav`` paths), checked against a local VoxCeleb1 folder
  (VoxCeleb audio needs registration: it is never downloaded; the public
  trial list is).
* :func:`prepare_vcmix`: VC-Mix (arXiv 2309.14741): the target trials of
  VoxCeleb1-O plus the non-target trials of a VoxConverse
  speaker-verification folder and trial file (18,802 + 140,734 = 159,536
  trials for the published lists).
* :func:`prepare_clean_corpus`: a label-free clean-speech corpus
  (LibriTTS-R train-clean-100 / 360, Libri-Light small) downloaded
  (resumable, checksum when published), extracted and listed in a
  manifest; an existing local copy is used as it is.
The training corpora (MUSAN, RIRs, speaker segments) are
:mod:`seed_brain.dataio.training_corpora`.

Trial lists may hold paths relative to a test folder (VoxCeleb style) or
full paths; :func:`read_trial_list` reads both.

Authors
 * seed-brain developers 2026
"""

import logging
import os
import re

from seed_brain.dataio import manifests as dataprep
from seed_brain.dataio.clean_corpora import (
    _find_folder,  # noqa: F401 (re-exported)
    fetch_corpus,
    prepare_clean_corpus,
)
from seed_brain.dataio.download import download
from seed_brain.utils.files import write_json, write_text
from seed_brain.utils.textio import list_lines

__all__ = [
    "VOX1_O_URL",
    "fetch_corpus",
    "index_audio",
    "prepare_clean_corpus",
    "prepare_vcmix",
    "prepare_voxceleb1_o",
    "read_trial_list",
]

logger = logging.getLogger(__name__)

#: VoxCeleb1-O, cleaned (public; the audio needs registration).
VOX1_O_URL = (
    "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/veri_test2.txt"
)
#: (target, non-target) trial counts of the published lists.
VOX1_O_COUNTS = (18802, 18809)
VCMIX_COUNTS = (18802, 140734)
AUGMENT_HEADER = dataprep.AUGMENT_HEADER

# ---------------------------------------------------------------------------
# Trials
# ---------------------------------------------------------------------------


def read_trial_list(path):
    """Reads a ``label enrol test`` list without checking the files.

    Arguments
    ---------
    path : str
        Trial list: one trial per line, label ``1`` (target) or ``0``
        (UTF-8 with or without BOM, LF or CRLF, ``#`` comments: see
        :func:`seed_brain.utils.textio.list_lines`).

    Returns
    -------
    list of tuple
        ``(label, enrol, test)``.

    Raises
    ------
    ValueError
        A malformed line, or bytes that are not UTF-8 (the message gives
        the line and the format).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = open(path, "w").write("1 id1/a/00001.wav id1/b/00002.wav\\n")
    >>> read_trial_list(path)
    [(1, 'id1/a/00001.wav', 'id1/b/00002.wav')]
    """
    trials = []
    for lineno, fields in list_lines(path, "Trial list"):
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            raise ValueError(
                f"{path}, line {lineno}: expected 'label enrol test' "
                "(label 1 for target, 0 for non-target), got "
                f"{' '.join(fields)!r}."
            )
        trials.append((int(fields[0]), fields[1], fields[2]))
    if not trials:
        raise ValueError(f"Trial list '{path}' holds no trial.")
    return trials


def index_audio(folder, depth, extensions=(".wav",)):
    """Maps the last ``depth`` path components of each file to its path.

    VoxCeleb files are named by ``id/session/utt.wav`` (depth 3) whatever
    the folder above them (``wav/``, ``test/wav/``, ...); VoxConverse
    speaker-verification segments by ``folder/file.wav`` (depth 2).

    Arguments
    ---------
    folder : str
        Searched recursively (symbolic links followed).
    depth : int
        Number of trailing path components in the key.
    extensions : tuple of str
        File extensions (lower case) to index.

    Returns
    -------
    dict
        ``{key: absolute path}``.

    Raises
    ------
    ValueError
        Two files share a key (the message names both).

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "wav", "id1", "s"))
    >>> open(os.path.join(root, "wav", "id1", "s", "00001.wav"), "w").close()
    >>> list(index_audio(root, 3))
    ['id1/s/00001.wav']
    """
    folder = dataprep._check_folder(folder)
    index = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if os.path.splitext(name)[1].lower() not in extensions:
                continue
            path = os.path.abspath(os.path.join(dirpath, name))
            parts = dataprep._rel_posix(path, folder).split("/")
            if len(parts) < depth:
                continue
            key = "/".join(parts[-depth:])
            if key in index:
                raise ValueError(
                    f"'{index[key]}' and '{path}' are both '{key}': give "
                    "a folder that holds one copy of each file."
                )
            index[key] = path
    return index


def _fetch_list(trials, out_folder, checksum=None):
    """A local trial file: ``trials`` itself, or downloaded from a URL."""
    text = os.fspath(trials)
    if text.startswith(("http://", "https://", "file://")):
        name = os.path.basename(text.split("?")[0]) or "trials.txt"
        return download(text, os.path.join(out_folder, name), checksum)
    if not os.path.isfile(text):
        raise FileNotFoundError(
            f"Trial list '{text}' not found. Give the file, or its URL."
        )
    return text


def _resolve(trials, index, depth, what, folder):
    """Paths of every file of the trials (error listing missing ones)."""
    resolved, missing = {}, []
    for _, enrol, test in trials:
        for name in (enrol, test):
            if name in resolved:
                continue
            key = "/".join(name.split("/")[-depth:])
            if key in index:
                resolved[name] = index[key]
            elif os.path.isabs(name) and os.path.isfile(name):
                resolved[name] = name
            else:
                missing.append(name)
    if missing:
        shown = ", ".join(missing[:5])
        raise FileNotFoundError(
            f"{len(set(missing))} file(s) of the {what} trials are not in "
            f"'{folder}' (e.g. {shown}). Give the folder holding them "
            f"(files are matched by their last {depth} path components)."
        )
    return resolved


_VOX_PATH = re.compile(r"^id\d+/[^/\s]+/[^/\s]+\.wav$")


def prepare_voxceleb1_o(
    voxceleb1_folder,
    out_folder,
    trials=VOX1_O_URL,
    checksum=None,
    full_paths=False,
):
    """Checks VoxCeleb1-O against a local VoxCeleb1 folder, writes the list.

    The trial list (the cleaned VoxCeleb1-O, ``veri_test2.txt``, by
    default downloaded from the VoxCeleb site; or a local copy) is checked:
    format ``label enrol test``, paths ``id/session/utt.wav``, every file
    present in ``voxceleb1_folder`` (any layout above ``id*/``, e.g.
    ``vox1_test_wav/wav/``). It is written to
    ``out_folder/vox1_o_trials.txt`` with paths relative to the test folder
    (the folder holding the ``id*`` speaker folders), or with full paths
    when ``full_paths`` is True or the files lie under several roots.
    ``out_folder/vox1_o.json`` records the test folder, the list and the
    counts.

    Arguments
    ---------
    voxceleb1_folder : str
        Local VoxCeleb1 (test set at least), WAV files.
    out_folder : str
        Where the list goes.
    trials : str
        URL or path of the trial list (default: :data:`VOX1_O_URL`).
    checksum : str or None
        Checksum of the downloaded list.
    full_paths : bool
        Write absolute paths instead of paths relative to the test folder.

    Returns
    -------
    dict
        ``{"test_folder", "trials", "n_target", "n_nontarget"}``:
        pass them as ``--test_folder`` and ``--test_trials``.
    """
    os.makedirs(out_folder, exist_ok=True)
    source = _fetch_list(trials, out_folder, checksum)
    listed = read_trial_list(source)
    bad = [
        name
        for _, a, b in listed
        for name in (a, b)
        if not _VOX_PATH.match(name) and not os.path.isabs(name)
    ]
    if bad:
        raise ValueError(
            f"{source}: '{bad[0]}' is not a VoxCeleb path 'id/session/"
            "utt.wav' (the cleaned VoxCeleb1-O format, e.g. "
            "'1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav')."
        )
    index = index_audio(voxceleb1_folder, 3)
    resolved = _resolve(listed, index, 3, "VoxCeleb1-O", voxceleb1_folder)
    roots = {
        path[: -len(name) - 1]
        for name, path in resolved.items()
        if not os.path.isabs(name)
    }
    if full_paths or len(roots) != 1:
        test_folder = "/"
        lines = [f"{lab} {resolved[a]} {resolved[b]}\n" for lab, a, b in listed]
    else:
        test_folder = roots.pop()
        lines = [f"{lab} {a} {b}\n" for lab, a, b in listed]
    counts = _counts(listed)
    info, wrote = write_trial_list(
        out_folder,
        "vox1_o",
        lines,
        test_folder,
        counts,
        source=os.path.abspath(source),
        n_files=len(resolved),
    )
    out = os.path.join(out_folder, "vox1_o_trials.txt")
    _log_counts("VoxCeleb1-O", counts, VOX1_O_COUNTS, out, wrote)
    return info


def write_trial_list(out_folder, stem, lines, test_folder, counts, **extra):
    """Writes ``<stem>_trials.txt`` and its record ``<stem>.json``.

    Arguments
    ---------
    out_folder : str
        Where both go.
    stem : str
        Name of the list (``vox1_o``, ``vcmix``, ``voxsrc23``).
    lines : list of str
        ``label enrol test`` lines, each ending in a newline.
    test_folder : str
        What the paths of the lines are relative to (``/``: full paths).
    counts : tuple of int
        ``(target, non-target)`` trials.
    **extra
        More entries of the record (e.g. ``source``, ``n_files``).

    Returns
    -------
    tuple
        ``(record, whether a file was written)``; the record holds
        ``test_folder``, ``trials`` (absolute path), ``n_target``,
        ``n_nontarget`` and ``extra``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> info, wrote = write_trial_list(folder, "x", ["1 a b\\n"], "/d", (1, 0))
    >>> wrote, info["n_target"], os.path.basename(info["trials"])
    (True, 1, 'x_trials.txt')
    >>> write_trial_list(folder, "x", ["1 a b\\n"], "/d", (1, 0))[1]
    False
    """
    out = os.path.join(out_folder, f"{stem}_trials.txt")
    wrote = write_text(out, "".join(lines))
    info = {
        "test_folder": test_folder,
        "trials": os.path.abspath(out),
        "n_target": counts[0],
        "n_nontarget": counts[1],
        **extra,
    }
    wrote |= write_json(os.path.join(out_folder, f"{stem}.json"), info)
    return info, wrote


def _counts(trials):
    target = sum(label for label, _, _ in trials)
    return target, len(trials) - target


def _log_counts(what, counts, published, path, wrote):
    state = "wrote" if wrote else "already up to date:"
    logger.info(
        "%s: %s %s (%d target, %d non-target trials).",
        what,
        state,
        path,
        counts[0],
        counts[1],
    )
    if tuple(counts) != tuple(published):
        logger.warning(
            "%s has %d target / %d non-target trials; the published list "
            "has %d / %d. Fine for a subset, not for reporting results "
            "comparable to the paper.",
            what,
            counts[0],
            counts[1],
            published[0],
            published[1],
        )


def _link(target, link):
    """Creates or updates a symbolic link ``link`` -> ``target``."""
    if os.path.islink(link):
        if os.readlink(link) == target:
            return False
        os.remove(link)
    elif os.path.exists(link):
        raise FileExistsError(f"'{link}' exists and is not a link.")
    os.symlink(target, link)
    return True


def _vcmix_linked_lines(targets, nontargets, vox_resolved, vc_root, out_folder):
    """The VC-Mix trial lines below two linked folders, ``vox1`` and
    ``voxconverse``, of ``<out_folder>/wav``.

    Returns
    -------
    tuple
        ``(test_folder, lines, whether a link was made)``.
    """
    test_folder = os.path.join(os.path.abspath(out_folder), "wav")
    key3 = {n: "/".join(n.split("/")[-3:]) for n in vox_resolved}
    roots = {p[: -len(key3[n]) - 1] for n, p in vox_resolved.items()}
    if len(roots) != 1:
        raise ValueError(
            "The VoxCeleb1-O files lie under several folders "
            f"({', '.join(sorted(roots)[:3])}); use full_paths=True."
        )
    os.makedirs(test_folder, exist_ok=True)
    wrote = _link(roots.pop(), os.path.join(test_folder, "vox1"))
    wrote |= _link(vc_root, os.path.join(test_folder, "voxconverse"))
    lines = [f"1 vox1/{key3[a]} vox1/{key3[b]}\n" for _, a, b in targets]
    lines += [
        f"0 voxconverse/{dataprep._rel_posix(a, vc_root)} "
        f"voxconverse/{dataprep._rel_posix(b, vc_root)}\n"
        for _, a, b in nontargets
    ]
    return test_folder, lines, wrote


def prepare_vcmix(
    voxceleb1_folder,
    voxconverse_folder,
    out_folder,
    voxconverse_trials=None,
    vox1_trials=VOX1_O_URL,
    vox1_checksum=None,
    full_paths=False,
):
    """Builds the VC-Mix trial list (VoxCeleb1-O targets + VoxConverse
    non-targets).

    VC-Mix (arXiv 2309.14741, used by SEED) mixes the 18,802 target trials
    of VoxCeleb1-O with 140,734 non-target trials between VoxConverse
    speaker-verification segments. Target trials come from ``vox1_trials``
    (label 1 lines); non-target trials from ``voxconverse_trials`` (label
    0 lines whose two files are in ``voxconverse_folder``, matched by
    their last two path components ``folder/file.wav``). A VoxConverse
    trial file that already mixes both (the released ``vcmix_test.txt``)
    works too: its VoxCeleb lines are left out and taken from
    ``vox1_trials`` instead.

    The list goes to ``out_folder/vcmix_trials.txt`` with paths relative
    to ``out_folder/wav`` (``vox1/<id/session/utt.wav>`` and
    ``voxconverse/<path in the VoxConverse folder>``, two symbolic links),
    or with full paths when ``full_paths`` is True.

    Arguments
    ---------
    voxceleb1_folder : str
        Local VoxCeleb1 (test set at least).
    voxconverse_folder : str
        VoxConverse speaker-verification segments.
    out_folder : str
        Output folder.
    voxconverse_trials : str or None
        Trial file of the VoxConverse segments (default
        ``voxconverse_folder/vcmix_test.txt``).
    vox1_trials : str
        URL or path of VoxCeleb1-O (cleaned).
    vox1_checksum : str or None
        Checksum of the downloaded VoxCeleb1-O list.
    full_paths : bool
        Write absolute paths.

    Returns
    -------
    dict
        ``{"test_folder", "trials", "n_target", "n_nontarget"}``.
    """
    os.makedirs(out_folder, exist_ok=True)
    if voxconverse_trials is None:
        voxconverse_trials = os.path.join(voxconverse_folder, "vcmix_test.txt")
    vox1 = read_trial_list(_fetch_list(vox1_trials, out_folder, vox1_checksum))
    targets = [t for t in vox1 if t[0] == 1]
    vc_index = index_audio(voxconverse_folder, 2)
    vox_index = index_audio(voxceleb1_folder, 3)
    vc_root = os.path.abspath(voxconverse_folder)
    vox_resolved = _resolve(
        targets, vox_index, 3, "VoxCeleb1-O", voxceleb1_folder
    )
    nontargets, skipped = [], {"voxceleb": 0, "target": 0}
    missing = []
    for label, a, b in read_trial_list(voxconverse_trials):
        keys = ["/".join(x.split("/")[-2:]) for x in (a, b)]
        in_vc = [k in vc_index for k in keys]
        if all(in_vc):
            if label == 1:
                skipped["target"] += 1
                continue
            nontargets.append((0, vc_index[keys[0]], vc_index[keys[1]]))
        elif all("/".join(x.split("/")[-3:]) in vox_index for x in (a, b)):
            skipped["voxceleb"] += 1
        else:
            missing.extend(x for x, ok in zip((a, b), in_vc) if not ok)
    if missing:
        raise FileNotFoundError(
            f"{len(set(missing))} file(s) of {voxconverse_trials} are in "
            f"neither '{voxconverse_folder}' nor '{voxceleb1_folder}' (e.g. "
            f"{', '.join(missing[:5])})."
        )
    if skipped["voxceleb"] or skipped["target"]:
        logger.info(
            "VC-Mix: left out %d VoxCeleb lines and %d VoxConverse target "
            "lines of %s (targets come from VoxCeleb1-O).",
            skipped["voxceleb"],
            skipped["target"],
            voxconverse_trials,
        )
    if not nontargets:
        raise ValueError(
            f"No VoxConverse non-target trial in {voxconverse_trials}."
        )
    if full_paths:
        test_folder, wrote = "/", False
        lines = [
            f"1 {vox_resolved[a]} {vox_resolved[b]}\n" for _, a, b in targets
        ]
        lines += [f"0 {a} {b}\n" for _, a, b in nontargets]
    else:
        test_folder, lines, wrote = _vcmix_linked_lines(
            targets, nontargets, vox_resolved, vc_root, out_folder
        )
    for line in lines:
        if len(line.split()) != 3:
            raise ValueError(
                f"A VC-Mix path contains whitespace ({line.strip()!r}), "
                "which the 'label enrol test' format cannot hold: rename it."
            )
    counts = (len(targets), len(nontargets))
    info, written = write_trial_list(
        out_folder, "vcmix", lines, test_folder, counts
    )
    wrote |= written
    out = os.path.join(out_folder, "vcmix_trials.txt")
    _log_counts("VC-Mix", counts, VCMIX_COUNTS, out, wrote)
    return info
