"""Tests of the ``seed-brain`` command line.

The slow tests use the short real training run of
:func:`test_inference.build_seed_run` (built once per session, shared with
``test_inference.py``) and call :func:`seed_brain.inference.cli.main`
in-process; one test runs ``python -m seed_brain.inference.cli`` as a user
would.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_inference import _env, build_seed_run

from seed_brain.inference import SEEDSpeakerRecognition, waveform_id
from seed_brain.inference.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("verify", "embed", "enhance", "score", "export")


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, speech_slices, data_dir):
    """The shared exported run (trained at most once per session)."""
    return build_seed_run(
        tmp_path_factory.getbasetemp(), speech_slices, data_dir
    )


def _files(seed_run):
    """Test files per speaker (str paths), shortest first."""
    return {
        spk: sorted(
            (str(seed_run["test"] / rel) for rel in rels),
            key=lambda p: (os.path.getsize(p), p),
        )
        for spk, rels in seed_run["layout"].items()
    }


def _eer(stdout):
    found = re.findall(r"EER: ([0-9.]+) %", stdout)
    assert len(found) == 1, stdout
    return float(found[0])


# -------------------------------------------------------------- fast
def test_help_of_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    top = capsys.readouterr().out
    for command in COMMANDS:
        assert command in top
    needles = {
        "verify": "same / different speaker",
        "embed": "--no-enhance",
        "enhance": "'emb' [N, D]",
        "score": "resumes",
        "export": "best checkpoint by dev EER",
    }
    for command, needle in needles.items():
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert needle in text, (command, text)
        assert "example: seed-brain" in text


def test_module_runs_as_a_command(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "seed_brain.inference.cli", "score", "--help"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: seed-brain score" in proc.stdout


def test_usage_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["score", "--model", "m", "trials.txt"])  # no --audio-root
    assert exit_.value.code == 2
    assert "--audio-root" in capsys.readouterr().err
    status = main(
        ["verify", "--model", str(tmp_path / "nope"), "a.wav", "b.wav"]
    )
    assert status == 1
    assert "seed-brain: error:" in capsys.readouterr().err
    args = build_parser().parse_args(
        ["embed", "--model", "m", "a.wav", "--out", "e.pt", "--ids", "path"]
    )
    assert (args.ids, args.no_enhance, args.batch_size) == ("path", False, 8)


def test_enhance_rejects_bad_input(tmp_path, capsys):
    path = tmp_path / "x.pt"
    torch.save({"emb": torch.zeros(2, 4), "enhanced": True}, path)
    status = main(["enhance", "--model", "m", str(path), "--out", "y.pt"])
    assert status == 1
    assert "already" in capsys.readouterr().err
    torch.save(["not", "embeddings"], path)
    assert main(["enhance", "--model", "m", str(path), "--out", "y"]) == 1
    assert "not an embedding file" in capsys.readouterr().err


# -------------------------------------------------------------- slow
def _condition_root(seed_run, tmp_path, name):
    """Audio root and trial list keyed like the recipe's test items.

    The recipe seeds SEED's noise with ``clean/<enrol>`` and
    ``<condition>/<test>``; a folder with links under those names lets
    ``--ids path`` reproduce its evaluation exactly.
    """
    prepared = json.loads(
        (seed_run["run"] / "data" / "prepared.json").read_text()
    )
    cond = prepared["conditions"][name]
    root = tmp_path / "audio"
    lines = []
    for label, enrol, test in cond["trials"]:
        for key, source in (
            (f"clean/{enrol}", Path(cond["enrol_root"]) / enrol),
            (f"{name}/{test}", Path(cond["test_root"]) / test),
        ):
            link = root / key
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(source)
        lines.append(f"{label} clean/{enrol} {name}/{test}\n")
    trials = tmp_path / f"trials_{name}.txt"
    trials.write_text("".join(lines))
    return root, trials


@pytest.mark.slow
def test_score_reproduces_the_recipe(seed_run, tmp_path, capsys):
    """EER of `score` = results.json, baseline and SEED, within 1e-6."""
    results = json.loads((seed_run["run"] / "results.json").read_text())
    by_name = {c["name"]: c for c in results["conditions"]}
    model = str(seed_run["model"])
    out = tmp_path / "scores.txt"  # one cache for every list below
    seen, scores = [], {}
    for name in ("reverb_noise_5dB", "clean"):
        root, trials = _condition_root(seed_run, tmp_path, name)
        for enhance in (False, True):
            argv = ["score", "--model", model, str(trials)]
            argv += ["--audio-root", str(root), "--out", str(out)]
            argv += ["--ids", "path", "--device", "cpu"]
            if not enhance:
                argv.append("--no-enhance")
            assert main(argv) == 0
            captured = capsys.readouterr()
            system = "seed" if enhance else "baseline"
            expected = by_name[name][system]["eer"]
            assert abs(_eer(captured.out) - expected) < 1e-6, (name, system)
            seen.append(captured.err)
            lines = out.read_text().splitlines()
            assert len(lines) == len(trials.read_text().splitlines())
            score, label, enrol, test = lines[0].split()
            float(score)
            scores[name, enhance] = [float(ln.split()[0]) for ln in lines]
            assert (label, enrol, test) == tuple(
                trials.read_text().splitlines()[0].split()
            )
    # Embedded once (18 files: clean enrolment + corrupted tests), then
    # every later run reads the cache; the clean list needs no new file.
    assert "0 embeddings cached" in seen[0] and "18 to compute" in seen[0]
    assert all(" 0 to compute" in err for err in seen[1:]), seen
    assert (tmp_path / "scores.txt.embeddings.pt").is_file()
    # The noisy condition is a real test: SEED changed every score here
    # (on so few trials the EER itself may land on the same value).
    noisy = zip(
        scores["reverb_noise_5dB", False], scores["reverb_noise_5dB", True]
    )
    assert all(abs(a - b) > 1e-6 for a, b in noisy)


@pytest.mark.slow
def test_score_resumes_after_an_interruption(
    seed_run, tmp_path, capsys, monkeypatch
):
    files = _files(seed_run)
    a, b = sorted(files)[:2]
    root = seed_run["test"]
    rel = {f: os.path.relpath(f, root) for f in files[a][:2] + files[b][:1]}
    x, y, z = rel.values()
    trials = tmp_path / "trials.txt"
    trials.write_text(f"1 {x} {y}\n0 {x} {z}\n0 {y} {z}\n")
    out = tmp_path / "scores.txt"
    argv = ["score", "--model", str(seed_run["model"]), str(trials)]
    argv += ["--audio-root", str(root), "--out", str(out), "--device", "cpu"]
    argv += ["--batch-size", "1", "--save-every", "1"]

    original = SEEDSpeakerRecognition.encode_batch
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SEEDSpeakerRecognition, "encode_batch", interrupted)
    assert main(argv) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setattr(SEEDSpeakerRecognition, "encode_batch", original)
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1 embeddings cached" in captured.err
    assert "2 to compute" in captured.err
    first = out.read_text()
    # A fresh run from scratch gives the same scores.
    (tmp_path / "scores.txt.embeddings.pt").unlink()
    assert main(argv) == 0
    assert out.read_text() == first
    assert "3 to compute" in capsys.readouterr().err


@pytest.mark.slow
def test_embed_then_enhance_equals_embed(seed_run, tmp_path, capsys):
    files = _files(seed_run)
    chosen = [files[spk][0] for spk in sorted(files)[:2]]
    model_dir = str(seed_run["model"])
    common = ["--model", model_dir, "--device", "cpu"]
    base_pt, enh_pt, direct_pt = (tmp_path / n for n in ("b", "e", "d"))
    assert (
        main(["embed", *common, *chosen, "--out", str(base_pt), "--no-enhance"])
        == 0
    )
    assert main(["enhance", *common, str(base_pt), "--out", str(enh_pt)]) == 0
    assert main(["embed", *common, *chosen, "--out", str(direct_pt)]) == 0
    capsys.readouterr()
    base = torch.load(base_pt, weights_only=True)
    enhanced = torch.load(enh_pt, weights_only=True)
    direct = torch.load(direct_pt, weights_only=True)
    assert base["files"] == chosen and base["enhanced"] is False
    assert enhanced["enhanced"] is True and direct["enhanced"] is True
    assert torch.equal(enhanced["emb"], direct["emb"])
    assert not torch.equal(base["emb"], direct["emb"])

    from seed_brain.dataio.audio import load_audio

    assert base["ids"] == [waveform_id(load_audio(f)) for f in chosen]
    model = SEEDSpeakerRecognition.from_hparams(
        source=model_dir, run_opts={"device": "cpu"}
    )
    api = model.encode_files(chosen)
    assert torch.allclose(api, direct["emb"], atol=1e-6)

    # Other layouts: a bare tensor and an {id: embedding} dict.
    bare, mapping = tmp_path / "bare.pt", tmp_path / "map.pt"
    torch.save(base["emb"], bare)
    torch.save(dict(zip(["u1", "u2"], base["emb"])), mapping)
    for path in (bare, mapping):
        assert (
            main(["enhance", *common, str(path), "--out", f"{path}.out"]) == 0
        )
    out_bare = torch.load(f"{bare}.out", weights_only=True)
    out_map = torch.load(f"{mapping}.out", weights_only=True)
    assert torch.equal(out_bare, model.enhance_embeddings(base["emb"]))
    assert sorted(out_map) == ["u1", "u2"]
    assert torch.equal(
        out_map["u2"], model.enhance_embeddings(base["emb"], ["u1", "u2"])[1]
    )


@pytest.mark.slow
def test_verify_command(seed_run, capsys):
    files = _files(seed_run)
    a, b = sorted(files)[:2]
    model = ["--model", str(seed_run["model"]), "--device", "cpu"]
    scores = {}
    for name, pair in (
        ("same", (files[a][0], files[a][1])),
        ("different", (files[a][0], files[b][0])),
    ):
        assert main(["verify", *model, *pair]) == 0
        out = capsys.readouterr().out
        scores[name] = float(re.search(r"score: ([-0-9.]+)", out).group(1))
        threshold = float(re.search(r"threshold ([-0-9.e]+)", out).group(1))
        verdict = "same speaker" if scores[name] > threshold else "different"
        assert f"decision: {verdict}" in out
    assert scores["same"] > scores["different"]


@pytest.mark.slow
def test_export_command_refuses_to_overwrite(seed_run, tmp_path, capsys):
    argv = ["export", str(seed_run["run"]), str(seed_run["model"])]
    assert main(argv) == 1
    assert "overwrite" in capsys.readouterr().err
    copy = tmp_path / "model"
    assert main(["export", str(seed_run["run"]), str(copy)]) == 0
    assert "exported" in capsys.readouterr().out
    assert main(["export", str(seed_run["run"]), str(copy), "--overwrite"]) == 0
    for name in ("encoder.ckpt", "denoiser.ckpt"):
        assert (copy / name).read_bytes() == (
            seed_run["model"] / name
        ).read_bytes()
    yaml_a = (copy / "hyperparams.yaml").read_text()
    yaml_b = (seed_run["model"] / "hyperparams.yaml").read_text()
    assert yaml_a.replace(str(copy), "X") == yaml_b.replace(
        str(seed_run["model"]), "X"
    )
