"""End-to-end test of ``train.py hparams/seed_ge2e.yaml`` on real data.

Runs the recipe as a user would (a subprocess, from the repository root)
on a small slice of the shared data: 20 clean train-clean-100 files (3
held out for the dev set, 3 for the held-out test sets), 4 test-other
speakers x 3 files, the real noise and RIR folders, and
overrides that keep it to a couple of minutes on a small CPU machine. Then
reruns it with ``--test_only`` on the same output folder, which must
reproduce ``results.json`` exactly (same best checkpoint, same eval seed).
"""

import json
import math
import sys

import pytest
import yaml
from recipe_runs import HPARAMS, run_to_log, slice_args

from seed_brain.lobes.ge2e import find_pretrained_ge2e

INSTALL = "pip install --no-deps resemblyzer==0.1.4"
METRICS = {"eer", "min_dcf"}
CONDITION_KEYS = {"name", "n_target", "n_nontarget", "baseline", "seed"}
OPTIONAL_CONDITION_KEYS = {"eer_change_ci"}
TOP_KEYS = {"backbone", "conditions"}
OPTIONAL_TOP_KEYS = {
    "seed",
    "skipped",
    "dev",
    "mean_noisy_eer_change_ci",
    "test_sets",
}
TEST_SETS = ["test_short", "heldout_short", "heldout_long"]


def _yaml_conditions():
    """Condition names of the yaml, in order (hyperpyyaml tags ignored)."""

    class Loader(yaml.SafeLoader):
        pass

    def ignore(loader, suffix, node):
        return None

    Loader.add_multi_constructor("!", ignore)
    with open(HPARAMS, encoding="utf-8") as fin:
        hparams = yaml.load(fin, Loader=Loader)
    return [c["name"] for c in hparams["test_conditions"]]


def _run(args, log):
    """Runs train.py; fails the test with the log tail on an error."""
    cmd = [sys.executable, "train.py", str(HPARAMS), *args]
    run_to_log(cmd, log, timeout=1500)


def _check_conditions(conditions):
    """Condition entries with both systems' finite EER and minDCF."""
    assert isinstance(conditions, list)
    for cond in conditions:
        keys = set(cond)
        assert (
            CONDITION_KEYS <= keys <= CONDITION_KEYS | (OPTIONAL_CONDITION_KEYS)
        ), keys
        assert isinstance(cond["name"], str)
        for count in ("n_target", "n_nontarget"):
            assert isinstance(cond[count], int) and cond[count] > 0
        for system in ("baseline", "seed"):
            assert set(cond[system]) == METRICS, cond[system]
            for metric in METRICS:
                value = cond[system][metric]
                assert isinstance(value, float), (system, metric, value)
                assert math.isfinite(value), (system, metric, value)
        assert 0.0 <= cond["baseline"]["eer"] <= 100.0
        assert 0.0 <= cond["seed"]["eer"] <= 100.0


def _check_schema(results):
    """results.json follows the documented schema, with finite numbers."""
    assert TOP_KEYS <= set(results) <= TOP_KEYS | OPTIONAL_TOP_KEYS
    assert isinstance(results["backbone"], str) and results["backbone"]
    # The validation split rides along: noisy and clean dev segments.
    dev = results["dev"]
    assert dev["n_target"] > 0 and dev["n_nontarget"] > 0
    for entry in (dev, dev["clean"]):
        for system in ("baseline", "seed"):
            assert set(entry[system]) == METRICS
            assert all(math.isfinite(v) for v in entry[system].values())
    _check_conditions(results["conditions"])
    for entry in results.get("test_sets", {}).values():
        _check_conditions(entry["conditions"])


@pytest.mark.slow
def test_train_then_test_only(speech_slices, data_dir, tmp_path):
    """train.py trains, reports, and --test_only reproduces the report."""
    try:
        find_pretrained_ge2e()
    except FileNotFoundError:
        pytest.skip(f"GE2E weights (resemblyzer wheel) missing; run {INSTALL}")
    speech_slices.clean(tmp_path / "clean", 20)
    layout = speech_slices.test(tmp_path / "test", 4, 3)
    assert [len(v) for v in layout.values()] == [3, 3, 3, 3]
    out = tmp_path / "out"
    args = slice_args(
        tmp_path, data_dir, out, heldout_test_utterances=3, n_bootstrap=20
    )
    _run(args, tmp_path / "train.log")

    for name in ("results.json", "results.md", "det.png", "scores.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    for name in ("det.png", "scores.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log_lines = (out / "train_log.txt").read_text().splitlines()
    epochs = [line for line in log_lines if line.startswith("epoch:")]
    assert [line.split(",")[0] for line in epochs] == ["epoch: 1", "epoch: 2"]
    assert all("dev_eer" in line for line in epochs)

    results = json.loads((out / "results.json").read_text())
    _check_schema(results)
    names = [c["name"] for c in results["conditions"]]
    expected = _yaml_conditions()
    assert names[0] == "clean"
    assert sorted(names) == sorted(expected)

    trials = (out / "data" / "trials.txt").read_text().splitlines()
    labels = [int(line.split()[0]) for line in trials]
    n_target, n_nontarget = labels.count(1), labels.count(0)
    assert (n_target, n_nontarget) == (4 * 3 * 2, 12 * 9)
    for cond in results["conditions"]:
        assert cond["n_target"] == n_target, cond["name"]
        assert cond["n_nontarget"] == n_nontarget, cond["name"]
        if "eer_change_ci" in cond:
            assert cond["eer_change_ci"]["n_boot"] == 20
    markdown = (out / "results.md").read_text()
    for name in names:
        assert f"| {name} |" in markdown

    # The short and held-out test sets: every ordered pair of distinct
    # segments (3 held-out files x 3 segments of 3 s, x 2 halves), and
    # the main test's trials on 3 s stretches; one table each.
    sets = results["test_sets"]
    assert sorted(sets) == sorted(TEST_SETS)  # results.json sorts keys
    expected = {
        "test_short": (n_target, n_nontarget),
        "heldout_short": (3 * 3 * 2, 9 * 6),
        "heldout_long": (3 * 2, 6 * 4),
    }
    for name, entry in sets.items():
        assert (entry["n_target"], entry["n_nontarget"]) == expected[name]
        assert [c["name"] for c in entry["conditions"]] == names
        for cond in entry["conditions"]:
            assert (cond["n_target"], cond["n_nontarget"]) == expected[name]
            assert cond["eer_change_ci"]["n_boot"] == 20
        assert entry["mean_noisy_eer_change_ci"]["n_conditions"] == 5
        assert f"## Test set `{name}`" in markdown
    prepared = json.loads((out / "data" / "prepared.json").read_text())
    held = {
        src
        for name in ("heldout_short", "heldout_long")
        for src, _, _ in json.loads(
            (out / "data" / "test_sets" / name / "segments.json").read_text()
        )["files"].values()
    }
    assert len(held) == 3 and prepared["n_heldout_test_utterances"] == 3
    train = (out / "data" / "train.csv").read_text()
    assert prepared["n_train_utterances"] == 20 - 6
    assert not any(src in train for src in held)

    first = (out / "results.json").read_text()
    _run([*args, "--test_only"], tmp_path / "test_only.log")
    again = json.loads((out / "results.json").read_text())
    assert again == results
    assert (out / "results.json").read_text() == first
    # --test_only trained nothing more.
    log_again = (out / "train_log.txt").read_text().splitlines()
    assert [line for line in log_again if line.startswith("epoch:")] == epochs
