"""Every failure a user can cause ends in one clear line (issue #13).

Damaged model folders, text lists from other systems, a full disk while
the test conditions, the embedding cache or an export are written, and two
runs on one output folder. Each case: the error names the file or folder
and the fix, programs print one ``<program>: error:`` line (no traceback
unless ``--debug`` / ``SEED_BRAIN_DEBUG=1``), and a rerun is not harmed by
what a failed run left.
"""

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from seed_brain.dataio.conditions import prepare_test_conditions
from seed_brain.dataio.corpora import read_trial_list
from seed_brain.dataio.trials import read_trials
from seed_brain.inference import SEEDSpeakerRecognition
from seed_brain.inference.cli import main as cli_main
from seed_brain.inference.model_folder import write_model_folder
from seed_brain.lobes import RDMMLP
from seed_brain.utils import errors
from seed_brain.utils.errors import (
    DiskFullError,
    ModelFileError,
    RunLockedError,
    TextFormatError,
    run_main,
)
from seed_brain.utils.lock import RunLock, lock_output_folder
from seed_brain.views.cache import ViewCache

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
CPU = {"device": "cpu"}


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "SEED_BRAIN_DEBUG"}
    env.update(HF_HUB_OFFLINE="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    return env


def _signal(seconds, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def _write(path, data):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, SR, subtype="FLOAT")
    return Path(path)


@contextlib.contextmanager
def file_size_limit(nbytes):
    """A full disk for files over ``nbytes``: ``RLIMIT_FSIZE`` (EFBIG)."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def _leftovers(folder):
    """Temporary or partial files below ``folder``."""
    return sorted(
        str(p.relative_to(folder))
        for p in Path(folder).rglob("*")
        if ".tmp" in p.name or p.name.startswith(".partial")
    )


def _error_lines(text, prog):
    return [line for line in text.splitlines() if f"{prog}: error:" in line]


# ------------------------------------------------------------ model files
def _model(folder, dim=8, in_features=16, seed=0, **kwargs):
    torch.manual_seed(seed)
    return write_model_folder(
        folder,
        encoder=torch.nn.Linear(in_features, dim),
        encoder_yaml="!new:torch.nn.Linear\n"
        f"    in_features: {in_features}\n    out_features: {dim}",
        denoiser=RDMMLP(dim),
        denoiser_yaml=f"!new:seed_brain.lobes.RDMMLP\n    embed_dim: {dim}",
        **kwargs,
    )


def _truncate(path, fraction=0.5):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])


def _load(folder):
    return SEEDSpeakerRecognition.from_hparams(source=folder, run_opts=CPU)


def test_exported_folder_records_checksums(tmp_path):
    """hyperparams.yaml holds the SHA-256 of each weight file."""
    from seed_brain.inference import file_sha256, recorded_checksums

    folder = _model(tmp_path / "m")
    sums = recorded_checksums((folder / "hyperparams.yaml").read_text())
    assert sums == {
        name: file_sha256(folder / name)
        for name in ("encoder.ckpt", "denoiser.ckpt")
    }
    _load(folder)  # a sound folder loads


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncated", r"truncated \(e\.g\. an interrupted copy\)"),
        ("garbage", "truncated .* or corrupted"),
        ("empty", r"is empty \(0 bytes\)"),
        ("missing", "is missing"),
    ],
)
@pytest.mark.parametrize("name", ["denoiser.ckpt", "encoder.ckpt"])
def test_damaged_model_file_is_named(tmp_path, name, damage, message):
    """Missing, empty, cut or corrupted weights: error naming the file."""
    folder = _model(tmp_path / "m")
    path = folder / name
    if damage == "truncated":
        _truncate(path)
    elif damage == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(ModelFileError, match=message) as info:
        _load(folder)
    assert str(path) in str(info.value)
    assert "seed-brain export" in str(info.value)  # the fix


def test_truncated_checkpoint_without_checksums(tmp_path):
    """Folders of older exports (no checksums): the loader names it too."""
    folder = _model(tmp_path / "m")
    hp = folder / "hyperparams.yaml"
    text = hp.read_text()
    start = text.index("checksums:")
    end = text.index("\n\n", start)
    hp.write_text(text[:start] + text[end + 2 :])
    _truncate(folder / "denoiser.ckpt")
    with pytest.raises(ModelFileError, match="denoiser.ckpt.*truncated"):
        _load(folder)


def test_mismatched_model_files(tmp_path):
    """Another embedding size or encoder: named; same shapes but other
    weights: caught by the checksum."""
    folder = _model(tmp_path / "m", dim=8)
    other_dim = _model(tmp_path / "d4", dim=4)
    other_enc = _model(tmp_path / "e32", in_features=32)
    same_shape = _model(tmp_path / "s", dim=8, seed=1)
    cases = [
        ("denoiser.ckpt", other_dim, "do not fit RDMMLP"),
        ("encoder.ckpt", other_enc, "do not fit Linear"),
        ("denoiser.ckpt", same_shape, "differ.* from the file.* exported"),
    ]
    for name, source, message in cases:
        original = (folder / name).read_bytes()
        (folder / name).write_bytes((source / name).read_bytes())
        with pytest.raises(ModelFileError, match=message) as info:
            _load(folder)
        assert str(folder / name) in str(info.value)
        (folder / name).write_bytes(original)
    _load(folder)


def test_truncated_hyperparams_yaml(tmp_path):
    folder = _model(tmp_path / "m")
    _truncate(folder / "hyperparams.yaml", 0.93)
    with pytest.raises(ModelFileError, match="hyperparams.yaml"):
        _load(folder)


def test_verify_with_a_truncated_denoiser_is_one_line(tmp_path):
    """The reported case: `seed-brain verify`, then with --debug."""
    folder = _model(tmp_path / "m")
    _truncate(folder / "denoiser.ckpt")
    a = _write(tmp_path / "a.wav", _signal(1, 1))
    b = _write(tmp_path / "b.wav", _signal(1, 2))
    args = ["verify", "--model", str(folder), str(a), str(b)]
    proc = subprocess.run(
        [sys.executable, "-m", "seed_brain.inference.cli", *args],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = _error_lines(proc.stderr, "seed-brain")
    assert len(lines) == 1, proc.stderr
    assert str(folder / "denoiser.ckpt") in lines[0]
    assert "truncated" in lines[0] and "seed-brain export" in lines[0]
    with pytest.raises(ModelFileError):
        cli_main(["--debug", *args])
    with pytest.raises(ModelFileError):
        cli_main([*args, "--debug"])


def test_bugs_keep_their_traceback(monkeypatch, capsys):
    """An internal error is not a user error: it propagates."""

    def buggy(argv):
        raise KeyError("internal")

    with pytest.raises(KeyError):
        run_main(buggy, [], prog="x", debug=False)

    def mistake(argv):
        raise FileNotFoundError("'x.txt' not found:\n fix the path.")

    assert run_main(mistake, [], prog="x", debug=False) == 1
    assert capsys.readouterr().err == (
        "x: error: 'x.txt' not found: fix the path.\n"
    )
    monkeypatch.setenv("SEED_BRAIN_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        run_main(mistake, [], prog="x")
    import seed_brain.inference.cli as cli

    monkeypatch.setattr(cli, "_cmd_enhance", lambda args: 1 / 0)
    parser_args = ["enhance", "--model", "m", "e.pt", "--out", "o.pt"]
    monkeypatch.delenv("SEED_BRAIN_DEBUG")
    with pytest.raises(ZeroDivisionError):
        cli.main(parser_args)


# ------------------------------------------------------------ text lists
LF = "1 s1/u1.wav s1/u2.wav\n0 s1/u1.wav s2/u1.wav\n1 s2/u1.wav s2/u2.wav\n"
WINDOWS = (
    "\ufeff# trials exported on Windows\r\n"
    "1\ts1/u1.wav\ts1/u2.wav  \r\n"
    "\r\n"
    "0   s1/u1.wav    s2/u1.wav\t# different speakers\r\n"
    "   \r\n"
    "1 s2/u1.wav s2/u2.wav"
)


@pytest.mark.parametrize("reader", [read_trials, read_trial_list])
def test_trial_list_from_another_system(tmp_path, reader):
    """BOM, CRLF, tabs, several spaces, trailing blanks, blank lines and
    comments: read like the plain list."""
    plain, windows = tmp_path / "plain.txt", tmp_path / "windows.txt"
    plain.write_text(LF)
    windows.write_bytes(WINDOWS.encode("utf-8"))
    assert reader(windows) == reader(plain)
    assert len(reader(windows)) == 3


@pytest.mark.parametrize(
    "data, message",
    [
        ("1 a.wav b.wav\n1 caf\xe9.wav c.wav\n".encode("latin-1"), "line 2"),
        (b"1 a.wav b.wav\n\x00\x01\x02\xff binary\n", "line 2"),
        ("1 a.wav b.wav\n".encode("utf-16"), "line 1: UTF-16"),
    ],
)
def test_text_that_is_not_utf8_names_the_line(tmp_path, data, message):
    path = tmp_path / "trials.txt"
    path.write_bytes(data)
    for reader in (read_trials, read_trial_list):
        with pytest.raises(TextFormatError, match=message) as info:
            reader(path)
        assert str(path) in str(info.value) and "UTF-8" in str(info.value)


def test_score_reads_a_windows_trial_list(tmp_path, capsys):
    """`seed-brain score` on a BOM + CRLF list scores it (no refusal)."""
    from seed_brain.lobes.ge2e import GE2E

    torch.manual_seed(0)
    folder = write_model_folder(
        tmp_path / "m",
        encoder=GE2E(weights=None),
        encoder_yaml="!new:seed_brain.lobes.ge2e.GE2E\n    weights: null",
        denoiser=RDMMLP(256),
        denoiser_yaml="!new:seed_brain.lobes.RDMMLP\n    embed_dim: 256",
    )
    audio = tmp_path / "audio"
    for k, rel in enumerate(["s1/u1", "s1/u2", "s2/u1", "s2/u2"]):
        _write(audio / f"{rel}.wav", _signal(1, 10 + k))
    trials = tmp_path / "trials.txt"
    trials.write_bytes(WINDOWS.encode("utf-8"))
    out = tmp_path / "scores.txt"
    args = ["score", "--model", str(folder), str(trials)]
    args += ["--audio-root", str(audio), "--out", str(out)]
    assert cli_main(args) == 0, capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 3


# ------------------------------------------------------------ train.py
def _train(args, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "train.py", "hparams/seed_ge2e.yaml", *args],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_train_with_too_few_clean_files_is_one_line(tmp_path):
    """dev_utterances above the clean files: the message, no traceback;
    SEED_BRAIN_DEBUG=1 shows the traceback."""
    for k in range(3):
        _write(tmp_path / "clean" / f"c{k}.wav", _signal(7, k))
    for k, rel in enumerate(["s1/u1", "s1/u2", "s2/u1", "s2/u2"]):
        _write(tmp_path / "test" / f"{rel}.wav", _signal(2, 20 + k))
    _write(tmp_path / "noise" / "n.wav", _signal(3, 9))
    _write(tmp_path / "rir" / "r.wav", np.exp(-np.arange(800) / 100.0))
    args = [
        f"--clean_folder={tmp_path / 'clean'}",
        f"--test_folder={tmp_path / 'test'}",
        f"--noise_folder={tmp_path / 'noise'}",
        f"--rir_folder={tmp_path / 'rir'}",
        "--dev_utterances=10",
        "--synthetic_noise=0",
        "--synthetic_rirs=0",
        f"--output_folder={tmp_path / 'out'}",
    ]
    proc = _train(args)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = _error_lines(proc.stderr, "train.py")
    assert len(lines) == 1 and "dev_utterances" in lines[0], proc.stderr
    assert not (tmp_path / "out" / ".lock").exists()  # released
    proc = _train(args, env=_env(SEED_BRAIN_DEBUG="1"))
    assert proc.returncode == 1
    shown = proc.stdout + proc.stderr  # SpeechBrain logs it to stdout
    assert "Traceback" in shown and "dev_utterances" in shown


# ------------------------------------------------------------ disk full
CONDITIONS = [
    {"name": "clean", "snr": None, "reverb": False},
    {"name": "noise_5dB", "snr": 5.0, "reverb": False},
]


def _conditions_corpus(root):
    rels = ["s1/u1.wav", "s1/u2.wav", "s2/u1.wav", "s2/u2.wav"]
    for k, rel in enumerate(rels):
        _write(root / "test" / rel, _signal(2, 20 + k))
    noise = _write(root / "noise" / "n.wav", _signal(3, 9))
    trials = [
        (1, rels[0], rels[1]),
        (0, rels[0], rels[2]),
        (1, rels[2], rels[3]),
        (0, rels[1], rels[3]),
    ]
    return trials, [str(noise)]


def test_disk_full_while_writing_test_conditions(tmp_path):
    """A full disk: error naming the folder and the space; a rerun with
    room finishes, equal to an uninterrupted run."""
    trials, noise = _conditions_corpus(tmp_path)

    def run(out):
        return prepare_test_conditions(
            tmp_path / "test",
            trials,
            out,
            conditions=CONDITIONS,
            noise_files=noise,
            seed=3,
        )

    out = tmp_path / "full"
    with file_size_limit(64 * 1024):  # each 2 s file is 128 KiB
        with pytest.raises(DiskFullError) as info:
            run(out)
    text = str(info.value)
    assert str(out / "noise_5dB") in text
    assert "about 375.1 KiB needed" in text  # 3 files of 2 s, float32
    assert _leftovers(out) == []
    summary = json.loads((out / "conditions.json").read_text())
    assert summary["conditions"]["noise_5dB"]["complete"] is False
    run(out)  # with room
    run(tmp_path / "ref")
    for rel in ("s1/u2.wav", "s2/u1.wav", "s2/u2.wav"):
        a = (out / "noise_5dB" / rel).read_bytes()
        assert a == (tmp_path / "ref" / "noise_5dB" / rel).read_bytes()
    assert _leftovers(out) == []


class _SliceEncoder(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, wavs, lens=None):
        return wavs[:, : self.dim].clone() + 1.0


def _cache_brain(dim=2048):
    from seed_brain.model.brain import SEEDBrain
    from seed_brain.model.diffusion import SEEDDiffusion
    from seed_brain.views import ViewBuilder

    return SEEDBrain(
        modules={"encoder": _SliceEncoder(dim), "denoiser": RDMMLP(dim)},
        hparams={
            "diffusion": SEEDDiffusion(),
            "view_builder": ViewBuilder(["clean", "clean"], {}),
        },
        run_opts=CPU,
    )


def _cache_rows(root):
    return [
        (f"u{k}", str(_write(root / f"u{k}.wav", _signal(1, k))))
        for k in range(4)
    ]


def test_disk_full_while_building_the_cache(tmp_path):
    """The array's room is reserved first: a full disk stops the build
    at once, naming the folder and the size; a rerun builds it whole."""
    brain, rows = _cache_brain(), _cache_rows(tmp_path / "clean")
    folder = tmp_path / "cache"
    build = dict(brain=brain, rows=rows, crops_per_utt=2, crop_samples=4000)
    with file_size_limit(64 * 1024):  # the array is 4 x 2 x 2 x 2048 x 4 B
        with pytest.raises(DiskFullError) as info:
            ViewCache(str(folder)).build(seed=0, **build)
    text = str(info.value)
    assert str(folder) in text and "about 128.0 KiB needed" in text
    assert not (folder / "views.f32").exists()
    assert not (folder / "index.json").exists()
    cache = ViewCache(str(folder)).build(seed=0, **build)
    assert cache.complete()
    ref = ViewCache(str(tmp_path / "ref")).build(seed=0, **build)
    np.testing.assert_array_equal(np.array(cache.array()), ref.array())


def _mount_tmpfs(folder, size):
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")


SMALL_FS_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from test_user_errors import _cache_brain, _cache_rows
from seed_brain.views.cache import ViewCache
from seed_brain.utils.errors import DiskFullError
small, clean = sys.argv[2], sys.argv[3]
build = dict(brain=_cache_brain(), crops_per_utt=40, crop_samples=4000)
rows = _cache_rows(__import__("pathlib").Path(clean))
try:
    ViewCache(small + "/cache").build(rows=rows, seed=0, **build)
except DiskFullError as err:
    print("DiskFullError:", err)
print("leftover:", __import__("os").path.exists(small + "/cache/views.f32"))
done = ViewCache(small + "/c2").build(rows=rows[:1], seed=0, **build)
print("fits:", done.complete())
"""


def test_cache_on_a_small_filesystem(tmp_path):
    """A real full disk (ENOSPC on a 1 MiB tmpfs), where a sparse memory
    map would crash (SIGBUS) in the middle of the build: in a subprocess,
    so that such a crash fails this test only."""
    small = tmp_path / "small"
    _mount_tmpfs(small, "1m")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SMALL_FS_SCRIPT, str(Path(__file__).parent)]
            + [str(small), str(tmp_path / "clean")],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        subprocess.run(["umount", str(small)], check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "DiskFullError: No space left to write the embedding cache" in out
    assert "No space left on device" in out and str(small / "cache") in out
    assert "leftover: False" in out
    assert "fits: True" in out  # 640 KiB fit in 1 MiB


def test_disk_full_during_an_export_keeps_the_old_model(tmp_path):
    """An export over an earlier model that runs out of room leaves that
    model whole (it still loads); a rerun with room replaces it."""
    folder = _model(tmp_path / "m", in_features=16)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    big = dict(in_features=8192, overwrite=True, seed=1)  # 256 KiB encoder
    with file_size_limit(64 * 1024):
        with pytest.raises(DiskFullError) as info:
            _model(folder, **big)
    assert str(folder) in str(info.value) and "needed" in str(info.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    _load(folder)
    _model(folder, **big)
    assert _load(folder).mods.encoder.in_features == 8192
    assert _leftovers(folder) == []


# ------------------------------------------------------------ run lock
def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_run_lock_live_stale_and_reused(tmp_path, caplog):
    lock = RunLock(tmp_path)
    holder = dict(lock.record, pid=os.getppid(), command="train.py x.yaml")
    holder["start_time"] = None
    Path(lock.path).write_text(json.dumps(holder))
    with pytest.raises(RunLockedError) as info:
        RunLock(tmp_path).acquire()
    text = str(info.value)
    assert f"process {os.getppid()}" in text and "train.py x.yaml" in text
    assert lock.path in text
    # A killed run's lock: taken over with a warning.
    Path(lock.path).write_text(json.dumps(dict(holder, pid=_dead_pid())))
    with RunLock(tmp_path):
        assert json.loads(Path(lock.path).read_text())["pid"] == os.getpid()
    assert "stale lock" in caplog.text
    assert not os.path.exists(lock.path)
    # A live process that reuses a dead holder's id (other start time).
    Path(lock.path).write_text(json.dumps(dict(holder, start_time="1")))
    RunLock(tmp_path).acquire().release()
    # A lock cut while written (empty file): stale.
    Path(lock.path).write_text("")
    RunLock(tmp_path).acquire().release()


def test_only_the_main_process_of_torchrun_locks(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert lock_output_folder(tmp_path) is None
    assert not (tmp_path / ".lock").exists()
    monkeypatch.setenv("RANK", "0")
    lock = lock_output_folder(tmp_path)
    assert (tmp_path / ".lock").exists()
    lock.release()


def test_second_train_py_on_a_held_folder_stops_at_once(tmp_path):
    """A live run holds the output folder: train.py stops at once, naming
    the holder, and writes nothing there."""
    out = tmp_path / "out"
    lock = RunLock(out).acquire()  # this test process is the live run
    try:
        start = time.monotonic()
        proc = _train([f"--output_folder={out}", "--number_of_epochs=1"])
        took = time.monotonic() - start
    finally:
        lock.release()
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = _error_lines(proc.stderr, "train.py")
    assert len(lines) == 1 and f"process {os.getpid()}" in lines[0]
    assert "Traceback" not in proc.stderr
    # Nothing written (the yaml's Checkpointer makes an empty save/).
    assert [p for p in out.rglob("*") if not p.is_dir()] == []
    assert took < 120


def test_error_line_is_one_line():
    err = ValueError("first\nsecond   third")
    assert errors.error_line("p", err) == "p: error: first second third"


def test_option_given_twice_is_a_clear_error():
    from seed_brain.dataio.checks import check_overrides

    with pytest.raises(ValueError, match="given twice.*seed"):
        check_overrides(
            str(ROOT / "hparams" / "seed_ge2e.yaml"), "seed: 1\nseed: 2\n"
        )
