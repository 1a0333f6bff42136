"""The datasets the recipe trains and tests on: online random crops of the
clean manifest, and the test items of the prepared data.

Authors
 * seed-brain developers 2026
"""

import json
import os

import speechbrain as sb
import torch

from seed_brain.dataio.audio import (
    load_audio,
)
from seed_brain.dataio.prepare import PREPARED
from seed_brain.views.cache import crop_starts, take_crop

__all__ = [
    "load_prepared",
    "test_items",
    "test_set_items",
    "train_dataset",
]


def load_prepared(data_folder):
    """Reads ``prepared.json`` written by :func:`prepare_seed_data`."""
    path = os.path.join(data_folder, PREPARED)
    with open(path, encoding="utf-8") as fin:
        return json.load(fin)


def test_items(prepared):
    """Every audio file the test stage embeds, keyed ``<condition>/<path>``.

    Enrolment files are keyed ``clean/<path>``; the test side of condition
    ``c`` is keyed ``c/<path>`` (paths as written in the trial list).

    Arguments
    ---------
    prepared : dict
        Output of :func:`prepare_seed_data`.

    Returns
    -------
    tuple
        ``(items, conditions)``: ``{key: audio path}`` and
        ``{condition: [(label, enrol, test)]}``.
    """
    items, conditions = {}, {}
    for name, cond in prepared["conditions"].items():
        trials = [tuple(t) for t in cond["trials"]]
        conditions[name] = trials
        for _, enrol, test in trials:
            items[f"clean/{enrol}"] = os.path.join(cond["enrol_root"], enrol)
            items[f"{name}/{test}"] = os.path.join(cond["test_root"], test)
    return items, conditions


def test_set_items(prepared):
    """Every audio file of the extra test sets, keys prefixed by the set.

    The enrolment side of set ``s`` is keyed ``test_sets/s/clean/<path>``,
    the test side of its condition ``c`` ``test_sets/s/c/<path>``, so that
    the keys of different sets (and of :func:`test_items`) never collide
    and all of them can be embedded in one
    :meth:`seed_brain.SEEDBrain.embed_files` call.

    Arguments
    ---------
    prepared : dict
        Output of :func:`prepare_seed_data` (its ``"test_sets"`` are read).

    Returns
    -------
    tuple
        ``(items, sets)``: ``{key: audio path}`` and ``{set: {
        "description": str, "conditions": {condition: [(label, enrol key,
        test key)]}}}``, in the order of :data:`TEST_SETS`.

    Example
    -------
    >>> prepared = {"conditions": {}, "test_sets": {"test_short": {
    ...     "description": "", "trials": [[1, "a/1.wav", "a/2.wav"]],
    ...     "conditions": {"clean": {"enrol_root": "/s", "test_root": "/s"}}}}}
    >>> items, sets = test_set_items(prepared)
    >>> sets["test_short"]["conditions"]["clean"][0][1:]
    ('test_sets/test_short/clean/a/1.wav', 'test_sets/test_short/clean/a/2.wav')
    >>> items["test_sets/test_short/clean/a/1.wav"]
    '/s/a/1.wav'
    """
    main, _ = test_items(prepared)
    items, sets = {}, {}
    for name, entry in prepared.get("test_sets", {}).items():
        conditions = {}
        for cond, roots in entry["conditions"].items():
            trials = []
            for label, enrol, test in entry["trials"]:
                e_key = f"test_sets/{name}/clean/{enrol}"
                t_key = f"test_sets/{name}/{cond}/{test}"
                items[e_key] = os.path.join(roots["enrol_root"], enrol)
                items[t_key] = os.path.join(roots["test_root"], test)
                trials.append((int(label), e_key, t_key))
            conditions[cond] = trials
        sets[name] = {
            "description": entry.get("description", ""),
            "conditions": conditions,
        }
    clash = sorted(set(items) & set(main))
    if clash:
        raise ValueError(
            f"Test file key '{clash[0]}' is used by the main test and an "
            "extra test set: rename the test condition called 'test_sets'."
        )
    return items, sets


def train_dataset(train_csv, crop_samples, sample_rate=16000):
    """``DynamicItemDataset`` of random crops (``sig``) for online training.

    Arguments
    ---------
    train_csv : str
        Manifest with ``ID,duration,wav``.
    crop_samples : int
        Samples per crop; shorter utterances are repeated to fill it.
    sample_rate : int
        Rate to load at.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id`` and ``sig``.
    """
    dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(train_csv)

    @sb.utils.data_pipeline.takes("wav", "id")
    @sb.utils.data_pipeline.provides("sig")
    def crop(wav, uid):
        audio = load_audio(wav, sample_rate)
        start = int(torch.randint(0, 2**31 - 1, (1,)).item())
        start = int(crop_starts(uid, audio.numel(), crop_samples, 1, start)[0])
        return take_crop(audio, start, crop_samples)

    dataset.add_dynamic_item(crop)
    dataset.set_output_keys(["id", "sig"])
    return dataset
