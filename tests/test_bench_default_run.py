"""benchmarks/bench_default_run.py: phases cut from a real subprocess's
time-stamped output, and the results table of two results.json files.

The benchmark itself runs the default recipe twice (about 10 minutes);
here a child process prints the recipe's phase markers with pauses of
known length, and the results come from the recipe's own report writer.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_default_run as bench  # noqa: E402


def test_phases_of_a_timed_child(tmp_path):
    """Each phase lasts what the child slept between two markers."""
    script = tmp_path / "child.py"
    script.write_text(
        "import time\n"
        "for pause, line in [(0.3, 'x - Prepared 3 utterances'),\n"
        "                    (0.6, 'Going into epoch 1'),\n"
        "                    (0.3, 'y - embed test: 0 of 9'),\n"
        "                    (0.6, 'z - Results written to r.md')]:\n"
        "    time.sleep(pause)\n"
        "    print(line, flush=True)\n"
        "time.sleep(0.3)\n",
        encoding="utf-8",
    )
    log = tmp_path / "run.log"
    times = bench.run(tmp_path, [str(script)], log, threads=1)
    expected = {
        "prepare": 0.3,
        "cache": 0.6,
        "training": 0.3,
        "evaluation": 0.6,
        "export": 0.3,
    }
    for name, seconds in expected.items():
        assert times[name] == pytest.approx(seconds, abs=0.25), name
    assert times["total"] == pytest.approx(2.1, abs=0.5)
    assert "Going into epoch 1" in log.read_text(encoding="utf-8")


def test_failed_run_names_its_log(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("raise SystemExit(3)\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="exit 3"):
        bench.run(tmp_path, [str(script)], tmp_path / "f.log", threads=0)


def _results(clean_delta, noisy_rel):
    """A results.json of the recipe's schema (test set + one extra set)."""
    entry = {
        "conditions": [
            {
                "name": "clean",
                "eer_change_ci": {
                    "delta": clean_delta,
                    "delta_ci": [-0.1, 0.2],
                },
            }
        ],
        "mean_noisy_eer_change_ci": {
            "relative": noisy_rel,
            "relative_ci": [-38.0, -32.0],
        },
    }
    return {
        **entry,
        "test_sets": {"heldout_short": entry},
        "dev": {"baseline": {"eer": 16.8}, "seed": {"eer": 10.1}},
    }


def test_report_says_whether_after_lies_inside(tmp_path):
    for name, values in (("b", (0.0, -35.0)), ("a", (0.05, -30.0))):
        (tmp_path / f"{name}.json").write_text(
            json.dumps(_results(*values)), encoding="utf-8"
        )
    before = bench.summary(tmp_path / "b.json")
    after = bench.summary(tmp_path / "a.json")
    times_b = dict.fromkeys(
        ["prepare", "cache", "training", "evaluation", "export"], 10.0
    )
    times_a = dict(times_b, cache=2.5)
    times_b["total"], times_a["total"] = 50.0, 42.5
    text = bench.report(times_b, times_a, before, after)
    assert "| cache | 10.0 | 2.5 | 0.25 |" in text
    assert "| total | 50.0 | 42.5 | 0.85 |" in text
    row = next(r for r in text.splitlines() if r.startswith("| test |"))
    assert "+0.05 (yes)" in row  # inside [-0.1, +0.2]
    assert "-30.00 (NO)" in row  # outside [-38, -32]
    assert "before 16.80 -> 10.10 %" in text


def test_default_command_is_the_readme_one():
    """The benchmark runs the README's default command, word for word."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Unseen noise and rooms (the default command)")[1]
    block = block.split("```bash")[1].split("```")[0]
    words = block.replace("\\\n", " ").split()[1:]  # after "python"
    words = [w.strip("'") for w in words]
    cmd = bench.default_command("../shared/data", "results/unseen")
    assert cmd == words
