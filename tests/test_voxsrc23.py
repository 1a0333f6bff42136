"""``recipes/prepare_voxsrc23.py`` on a generated tiny fake VoxSRC-23 copy."""

import importlib.util
import json
import os

import pytest
import torch

from seed_brain.dataio.audio import write_audio

RECIPE = os.path.join(
    os.path.dirname(__file__), "..", "recipes", "prepare_voxsrc23.py"
)


def _recipe():
    spec = importlib.util.spec_from_file_location("prepare_voxsrc23", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_voxsrc23(tmp_path):
    """A copy ``<root>/data/VoxSRC2023_test/f<k>.wav`` and its labelled
    list (paths ``VoxSRC2023_test/f<k>.wav``, as the authors' lists)."""
    root = tmp_path / "voxsrc23"
    audio = root / "data" / "VoxSRC2023_test"
    audio.mkdir(parents=True)
    for k in range(6):
        gen = torch.Generator().manual_seed(k)
        write_audio(audio / f"f{k}.wav", 0.1 * torch.randn(8000, generator=gen))
    trials = [
        (1, 0, 1),
        (1, 2, 3),
        (0, 0, 2),
        (0, 1, 4),
        (0, 3, 5),
    ]
    lines = [
        f"{lab} VoxSRC2023_test/f{a}.wav VoxSRC2023_test/f{b}.wav\n"
        for lab, a, b in trials
    ]
    (root / "voxsrc23_test.txt").write_text("".join(lines))
    return root


def test_relative_paths_and_second_run_writes_nothing(
    fake_voxsrc23, tmp_path, capsys
):
    out = tmp_path / "out"
    info = _recipe().main(
        ["--voxsrc23_folder", str(fake_voxsrc23), "--out_folder", str(out)]
    )
    assert (info["n_target"], info["n_nontarget"], info["n_files"]) == (
        2,
        3,
        6,
    )
    assert info["test_folder"] == str(fake_voxsrc23 / "data")
    lines = (out / "voxsrc23_trials.txt").read_text().splitlines()
    assert lines[0] == "1 VoxSRC2023_test/f0.wav VoxSRC2023_test/f1.wav"
    for line in lines:  # every path resolves under the test folder
        for rel in line.split()[1:]:
            assert os.path.isfile(os.path.join(info["test_folder"], rel))
    printed = capsys.readouterr().out
    assert f"--test_trials={out / 'voxsrc23_trials.txt'}" in printed
    assert json.loads((out / "voxsrc23.json").read_text()) == info
    stamp = os.stat(out / "voxsrc23_trials.txt").st_mtime_ns
    again = _recipe().main(
        ["--voxsrc23_folder", str(fake_voxsrc23), "--out_folder", str(out)]
    )
    assert again == info
    assert os.stat(out / "voxsrc23_trials.txt").st_mtime_ns == stamp


def test_full_paths_and_flat_names(fake_voxsrc23, tmp_path):
    """--full_paths; a list naming files by base name only also works."""
    info = _recipe().main(
        [
            "--voxsrc23_folder",
            str(fake_voxsrc23),
            "--out_folder",
            str(tmp_path / "full"),
            "--full_paths",
        ]
    )
    assert info["test_folder"] == "/"
    first = (tmp_path / "full" / "voxsrc23_trials.txt").read_text().split()
    assert os.path.isabs(first[1]) and os.path.isfile(first[2])
    flat = tmp_path / "flat.txt"
    flat.write_text("1 f0.wav f1.wav\n0 f0.wav f5.wav\n")
    info = _recipe().main(
        [
            "--voxsrc23_folder",
            str(fake_voxsrc23),
            "--out_folder",
            str(tmp_path / "flat"),
            "--trials",
            str(flat),
        ]
    )
    assert info["test_folder"] == str(
        fake_voxsrc23 / "data" / "VoxSRC2023_test"
    )
    assert info["n_files"] == 3


def test_errors_name_the_file_and_the_fix(fake_voxsrc23, tmp_path):
    mod = _recipe()
    folder = str(fake_voxsrc23)
    out = str(tmp_path / "o")
    os.remove(fake_voxsrc23 / "data" / "VoxSRC2023_test" / "f5.wav")
    with pytest.raises(FileNotFoundError, match="VoxSRC2023_test/f5.wav") as e:
        mod.prepare_voxsrc23(folder, out)
    assert folder in str(e.value) and "Give the folder" in str(e.value)
    unlabelled = tmp_path / "pairs.txt"
    unlabelled.write_text("VoxSRC2023_test/f0.wav VoxSRC2023_test/f1.wav\n")
    with pytest.raises(ValueError, match="unlabelled") as e:
        mod.prepare_voxsrc23(folder, out, trials=str(unlabelled))
    assert str(unlabelled) in str(e.value) and "--trials" in str(e.value)
    bad = tmp_path / "bad.txt"
    bad.write_text("2 a.wav b.wav\n")
    with pytest.raises(ValueError, match="line 1: expected 'label enrol"):
        mod.prepare_voxsrc23(folder, out, trials=str(bad))
    only_targets = tmp_path / "targets.txt"
    only_targets.write_text("1 VoxSRC2023_test/f0.wav VoxSRC2023_test/f1.wav\n")
    with pytest.raises(ValueError, match="0 non-target"):
        mod.prepare_voxsrc23(folder, out, trials=str(only_targets))
    with pytest.raises(FileNotFoundError, match="voxsrc23_test.txt"):
        mod.prepare_voxsrc23(str(tmp_path / "o"), out)


def test_command_line_error_is_one_line(fake_voxsrc23, tmp_path):
    """A user error: one line naming the file, exit status 1."""
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            RECIPE,
            "--voxsrc23_folder",
            str(tmp_path / "missing"),
            "--out_folder",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.path.dirname(os.path.dirname(RECIPE)),
        },
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("prepare_voxsrc23.py: error:")
    assert "voxsrc23_test.txt" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
