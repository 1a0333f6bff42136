"""Tests of the recipe's data side: ``seed_brain.dataio.prepare`` and the cache.

* :func:`split_dev`, :func:`prepare_dev_set` and :func:`prepare_seed_data`
  on small slices of the real data (symbolic links under ``tmp_path``).
* :class:`seed_brain.views.cache.ViewCache` built with a tiny fake encoder (log
  band energies, ``[B, L] -> [B, 8]``) behind a minimal brain-like object.
"""

import csv
import json
import os
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from speechbrain.augment.time_domain import AddNoise, AddReverb

from seed_brain.dataio.audio import load_audio
from seed_brain.dataio.conditions import DEFAULT_CONDITIONS
from seed_brain.dataio.manifests import (
    prepare_augment_csv,
    prepare_clean_manifest,
)
from seed_brain.dataio.prepare import prepare_dev_set, prepare_seed_data
from seed_brain.dataio.splits import split_dev
from seed_brain.views import ViewBuilder
from seed_brain.views.cache import ViewCache, crop_starts, take_crop
from seed_brain.views.datasets import load_prepared
from seed_brain.views.datasets import test_items as recipe_test_items

SR = 16000


def _snapshot(folder):
    """``{path: (inode, mtime_ns)}`` of every file below ``folder``."""
    return {
        str(p): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in Path(folder).rglob("*")
        if p.is_file()
    }


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fin:
        return list(csv.DictReader(fin))


# --------------------------------------------------------------- split_dev


def _rows(durations):
    return [
        {"ID": f"u{i:02d}", "duration": str(d), "wav": f"/x/u{i}.wav"}
        for i, d in enumerate(durations)
    ]


def test_split_dev_disjoint_and_deterministic():
    """Dev and train partition the rows, in order, the same way per seed."""
    rows = _rows([5.0] * 20)
    train, dev = split_dev(rows, 5, seed=3)
    assert len(dev) == 5 and len(train) == 15
    train_ids = [r["ID"] for r in train]
    dev_ids = [r["ID"] for r in dev]
    assert not set(train_ids) & set(dev_ids)
    assert sorted(train_ids + dev_ids) == [r["ID"] for r in rows]
    assert train_ids == sorted(train_ids)  # manifest order kept
    again = split_dev(rows, 5, seed=3)
    assert [r["ID"] for r in again[1]] == dev_ids
    other = [r["ID"] for r in split_dev(rows, 5, seed=4)[1]]
    assert other != dev_ids  # the seed matters
    assert split_dev(rows, 0, seed=3) == (rows, [])


def test_split_dev_respects_min_seconds():
    """Only rows of at least min_seconds are held out."""
    durations = [2.0, 9.0, 3.0, 7.0, 1.0, 6.0, 12.0, 5.9]
    rows = _rows(durations)
    long_ids = {r["ID"] for r in rows if float(r["duration"]) >= 6.0}
    for seed in range(10):
        train, dev = split_dev(rows, 3, seed=seed, min_seconds=6.0)
        assert {r["ID"] for r in dev} <= long_ids
        assert len(train) == 5
    # Exactly as many eligible rows as needed: all of them are taken.
    _, dev = split_dev(rows, 4, seed=0, min_seconds=6.0)
    assert {r["ID"] for r in dev} == long_ids


def test_split_dev_errors():
    """Too many dev utterances, or too few long ones, are explained."""
    rows = _rows([8.0, 8.0, 2.0])
    with pytest.raises(ValueError, match="lower dev_utterances"):
        split_dev(rows, 3, seed=0)
    with pytest.raises(ValueError, match="lower dev_utterances") as info:
        split_dev(rows, 2, seed=0, min_seconds=9.0)
    assert "Only 0" in str(info.value)
    assert "dev_segment_seconds" in str(info.value)


# --------------------------------------------------------- prepare_dev_set


@pytest.fixture(scope="module")
def augment_files(data_dir, tmp_path_factory):
    """Converted training noise (noise1-3) and RIR (rir1-2) files."""
    root = tmp_path_factory.mktemp("aug")
    noise = prepare_augment_csv(
        data_dir / "noise", root / "n.csv", root / "n", include=["noise[1-3]*"]
    )
    rir = prepare_augment_csv(
        data_dir / "rir", root / "r.csv", root / "r", include=["rir[12].wav"]
    )
    return [r["wav"] for r in noise], [r["wav"] for r in rir]


@pytest.fixture(scope="module")
def dev_rows(data_dir, tmp_path_factory):
    """Three real utterances long enough for 2, 3 and 4 segments of 3 s."""
    folder = tmp_path_factory.mktemp("devclean")
    rows = prepare_clean_manifest(
        data_dir / "speech" / "train-clean-100", folder / "all.csv"
    )
    chosen = []
    for low, high in [(7.0, 8.9), (10.0, 11.9), (13.0, 99.0)]:
        chosen.append(
            next(r for r in rows if low <= float(r["duration"]) < high)
        )
    return chosen


def test_prepare_dev_set(dev_rows, augment_files, tmp_path):
    """Segments, items and trials follow the documented counts."""
    noises, rirs = augment_files
    seg = 3 * SR
    out = tmp_path / "dev"
    dev = prepare_dev_set(
        dev_rows, str(out), noises, rirs, segment_seconds=3.0, max_segments=4
    )
    counts = {}
    for row in dev_rows:
        wav = load_audio(row["wav"], SR)
        counts[row["ID"]] = min(4, wav.numel() // seg)
        for k in range(counts[row["ID"]]):
            sid = f"{row['ID']}_{k}"
            clean = load_audio(dev["items"][f"dev_clean/{sid}"])
            noisy = load_audio(dev["items"][f"dev_noisy/{sid}"])
            assert clean.shape == noisy.shape == (seg,)
            assert torch.equal(clean, wav[k * seg : (k + 1) * seg])
            assert not torch.allclose(clean, noisy, atol=1e-3)
            assert (
                Path(dev["items"][f"dev_clean/{sid}"]).parent == out / "clean"
            )
    assert sorted(counts.values()) == [2, 3, 4]  # the fixture's intent
    total = sum(counts.values())
    assert len(dev["items"]) == 2 * total
    labels = [t[0] for t in dev["trials"]]
    n_target = sum(n * (n - 1) for n in counts.values())
    n_nontarget = sum(n * (total - n) for n in counts.values())
    assert labels.count(1) == n_target
    assert labels.count(0) == n_nontarget
    for label, enrol, test in dev["trials"]:
        assert enrol.startswith("dev_clean/") and enrol in dev["items"]
        assert test.startswith("dev_noisy/") and test in dev["items"]
        assert enrol.split("/")[1] != test.split("/")[1]
        same = (
            enrol.split("/")[1].rsplit("_", 1)[0]
            == (test.split("/")[1].rsplit("_", 1)[0])
        )
        assert label == int(same)
    lines = (out / "dev_trials.txt").read_text().splitlines()
    assert lines == [f"{lab} {a} {b}" for lab, a, b in dev["trials"]]

    before = _snapshot(out / "clean") | _snapshot(out / "noisy")
    again = prepare_dev_set(
        dev_rows, str(out), noises, rirs, segment_seconds=3.0, max_segments=4
    )
    assert again == dev
    after = _snapshot(out / "clean") | _snapshot(out / "noisy")
    assert after == before, "the second call rewrote segment files"


def test_prepare_dev_set_errors(dev_rows, augment_files, tmp_path):
    """Too-short utterances and missing corruption sources are refused."""
    noises, rirs = augment_files
    with pytest.raises(ValueError, match="lower dev_segment_seconds"):
        prepare_dev_set(dev_rows[:1], str(tmp_path), noises, rirs, 5.0)
    with pytest.raises(ValueError, match="noise_folder and/or rir_folder"):
        prepare_dev_set(dev_rows, str(tmp_path), [], [])


# ------------------------------------------------------- prepare_seed_data

SEED_KW = dict(
    noise_include=["noise*.wav"],
    test_noise_exclude=["noise*.wav"],
    dev_utterances=3,
    seed=7,
)


def _prepared(root, data_dir, fields, **kwargs):
    """prepare_seed_data of ``root/test`` (and the shared noise and RIRs)
    into ``root/data``.

    Returns a namespace of ``root``, ``kwargs`` (all the arguments),
    ``prepared`` (what it returned), ``data`` (the data folder) and
    ``fields``.
    """
    kwargs = dict(
        data_folder=str(root / "data"),
        test_folder=str(root / "test"),
        noise_folder=str(data_dir / "noise"),
        rir_folder=str(data_dir / "rir"),
        **kwargs,
    )
    return types.SimpleNamespace(
        root=root,
        kwargs=kwargs,
        prepared=prepare_seed_data(**kwargs),
        data=root / "data",
        **fields,
    )


@pytest.fixture(scope="module")
def seed_data(data_dir, speech_slices, tmp_path_factory):
    """prepare_seed_data on 12 clean files and 3 speakers x 3 test files."""
    root = tmp_path_factory.mktemp("seeddata")
    clean = speech_slices.clean(root / "clean", 12)
    layout = speech_slices.test(root / "test", 3, 3)
    return _prepared(
        root,
        data_dir,
        dict(clean=clean, layout=layout),
        clean_folder=str(root / "clean"),
        **SEED_KW,
    )


def test_prepared_json_content(seed_data):
    """prepared.json holds what prepare_seed_data returned, and the files."""
    prepared = seed_data.prepared
    assert load_prepared(str(seed_data.data)) == prepared
    assert prepared["n_dev_utterances"] == 3
    assert prepared["n_train_utterances"] == 12 - 3
    assert prepared["train_csv"] == str(seed_data.data / "train.csv")
    assert set(prepared["augment"]) == {"noise", "music", "rir"}
    for entry in prepared["augment"].values():
        assert os.path.isfile(entry["csv"])
        assert [r["wav"] for r in _read_csv(entry["csv"])] == entry["files"]
        assert all(os.path.isfile(f) for f in entry["files"])
    noise_names = [Path(f).name for f in prepared["augment"]["noise"]["files"]]
    assert noise_names == [f"noise{i}.wav" for i in range(1, 6)]
    assert len(prepared["augment"]["rir"]["files"]) == 7
    names = [c["name"] for c in DEFAULT_CONDITIONS]
    assert set(prepared["conditions"]) == set(names)
    n_target, n_nontarget = 3 * 3 * 2, 9 * 6
    for cond in prepared["conditions"].values():
        labels = [t[0] for t in cond["trials"]]
        assert labels.count(1) == n_target
        assert labels.count(0) == n_nontarget
    assert prepared["dev"]["trials"]
    assert all(os.path.isfile(p) for p in prepared["dev"]["items"].values())


def test_train_csv_excludes_dev_utterances(seed_data):
    """train.csv = all clean files minus the dev utterances."""
    prepared = seed_data.prepared
    train = _read_csv(prepared["train_csv"])
    every = _read_csv(seed_data.data / "clean_all.csv")
    assert len(every) == 12
    dev_ids = {
        key.split("/", 1)[1].rsplit("_", 1)[0]
        for key in prepared["dev"]["items"]
    }
    assert len(dev_ids) == 3
    train_ids = {r["ID"] for r in train}
    assert not train_ids & dev_ids
    assert train_ids | dev_ids == {r["ID"] for r in every}
    assert list(train[0]) == ["ID", "duration", "wav"]
    assert all(os.path.isfile(r["wav"]) for r in train)


def test_test_noise_is_the_excluded_files(seed_data, data_dir):
    """Test conditions use exactly the noise files training excluded."""
    summary = json.loads(
        (seed_data.data / "conditions" / "conditions.json").read_text()
    )
    expected = sorted(
        str((data_dir / "noise" / n).resolve())
        for n in ("doing_the_dishes.wav", "exercise_bike.wav")
    )
    for cond in DEFAULT_CONDITIONS:
        files = summary["conditions"][cond["name"]]["noise_files"]
        if cond["snr"] is None:
            assert files == []
        else:
            assert sorted(str(Path(f).resolve()) for f in files) == expected
    train_noise = {
        Path(f).name for f in seed_data.prepared["augment"]["noise"]["files"]
    }
    assert not train_noise & {Path(f).name for f in expected}


def test_no_training_source_uses_test_noise(seed_data):
    """No training augmentation file (noise, music, rir) is a test noise."""
    summary = json.loads(
        (seed_data.data / "conditions" / "conditions.json").read_text()
    )
    test_noise = {
        Path(f).stem
        for entry in summary["conditions"].values()
        for f in entry["noise_files"]
    }
    assert test_noise  # doing_the_dishes, exercise_bike
    for name, entry in seed_data.prepared["augment"].items():
        used = {Path(f).stem for f in entry["files"]}
        assert not used & test_noise, (name, sorted(used & test_noise))


def test_test_items_keys(seed_data):
    """test_items keys every enrolment and test file of every condition."""
    items, conditions = recipe_test_items(seed_data.prepared)
    names = [c["name"] for c in DEFAULT_CONDITIONS]
    assert set(conditions) == set(names)
    test_root = os.path.abspath(seed_data.root / "test")
    expected = set()
    for name, trials in conditions.items():
        assert len(trials) == 72
        for _, enrol, test in trials:
            expected.add(f"clean/{enrol}")
            expected.add(f"{name}/{test}")
            assert items[f"clean/{enrol}"] == os.path.join(test_root, enrol)
            path = Path(items[f"{name}/{test}"])
            assert path.is_file(), path
            if name == "clean":
                assert str(path) == os.path.join(test_root, test)
            else:
                assert path.parent.parent == (
                    seed_data.data / "conditions" / name
                )
    assert set(items) == expected
    assert len(items) == 9 + 5 * 9  # clean test files are enrolment files
    # Enrolment keys map to the clean test files (never corrupted ones).
    for key, path in items.items():
        if key.startswith("clean/"):
            assert "conditions" not in Path(path).parts


def test_test_items_keep_condition_order(seed_data):
    """Conditions come back in the order they were configured."""
    _, conditions = recipe_test_items(load_prepared(str(seed_data.data)))
    assert list(conditions) == [c["name"] for c in DEFAULT_CONDITIONS]


def test_prepare_seed_data_second_call_writes_nothing(seed_data):
    """A second identical call leaves every file untouched."""
    before = _snapshot(seed_data.data)
    again = prepare_seed_data(**seed_data.kwargs)
    assert again == seed_data.prepared
    after = _snapshot(seed_data.data)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed
    assert set(after) == set(before)


# -------------------------------------------------------------- ViewCache

CROP = 16000
CROPS = 2


class BandEnergies(torch.nn.Module):
    """Fake encoder: log energies of 8 frequency bands, ``[B, 8]``."""

    def forward(self, wavs):
        power = torch.fft.rfft(wavs, dim=-1).abs().pow(2)
        bands = power[:, : power.shape[-1] // 8 * 8]
        return torch.log(bands.reshape(len(wavs), 8, -1).mean(-1) + 1e-8)


class FakeBrain:
    """What ViewCache.build needs: encode, device, hparams.view_builder."""

    def __init__(self, view_builder):
        self.encoder = BandEnergies()
        self.device = torch.device("cpu")
        self.hparams = types.SimpleNamespace(view_builder=view_builder)
        self.calls = 0

    def encode(self, wavs, wav_lens=None, precision="fp32"):
        self.calls += 1
        return self.encoder(wavs)


def _white_noise_builder():
    """Views whose randomness is the global RNG only (no file loaders)."""
    return ViewBuilder(
        ["clean", "clean", "noise"], {"noise": AddNoise(snr_low=0, snr_high=15)}
    )


def _csv_builder(files):
    """The yaml's kind of views: CSV-backed AddNoise and AddReverb."""
    return ViewBuilder(
        ["clean", "clean", "noise", "reverb"],
        {
            "noise": AddNoise(csv_file=files["noise"], snr_low=0, snr_high=15),
            "reverb": AddReverb(csv_file=files["rir"]),
        },
    )


@pytest.fixture(scope="module")
def cache_rows(data_dir):
    """(id, path) of six real utterances."""
    files = sorted((data_dir / "speech" / "train-clean-100").glob("*/*.flac"))
    return [(p.stem, str(p)) for p in files[:6]]


@pytest.fixture(scope="module")
def cache_csvs(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("cachecsv")
    for name in ("noise", "rir"):
        prepare_augment_csv(data_dir / name, root / f"{name}.csv", root / name)
    return {"noise": str(root / "noise.csv"), "rir": str(root / "rir.csv")}


def _build(folder, brain, rows, **overrides):
    kwargs = dict(
        rows=rows,
        crops_per_utt=CROPS,
        crop_samples=CROP,
        seed=5,
        batch_size=4,  # 2 utterances per chunk: 3 chunks
        config={"backbone": "bands"},
    )
    kwargs.update(overrides)
    return ViewCache(str(folder)).build(brain, **kwargs)


def _interrupt_after_first_chunk(monkeypatch):
    """Makes the build raise right after its first chunk is marked done."""
    original = ViewCache._write_json
    state = {"done_writes": 0}

    def write_json(self, obj, path):
        original(self, obj, path)
        if path == self.done_path:
            state["done_writes"] += 1
            if state["done_writes"] == 1:
                raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(ViewCache, "_write_json", write_json)
    return original


def test_cache_build_shape_and_content(cache_rows, tmp_path):
    """[N, V, D] array of the crops' view embeddings, and its dataset."""
    brain = FakeBrain(_white_noise_builder())
    cache = _build(tmp_path / "c", brain, cache_rows)
    assert cache.complete()
    index = cache.index()
    assert index["shape"] == [len(cache_rows) * CROPS, 3, 8]
    assert index["utterances"] == [u for u, _ in cache_rows]
    assert index["crops"][:3] == [
        f"{cache_rows[0][0]}/0",
        f"{cache_rows[0][0]}/1",
        f"{cache_rows[1][0]}/0",
    ]
    assert index["config"]["backbone"] == "bands"
    array = np.array(cache.array())
    assert np.isfinite(array).all()
    assert np.array_equal(array[:, 0], array[:, 1])  # two clean views
    assert not np.allclose(array[:, 0], array[:, 2])  # noisy view differs
    # Row 2k + j is crop j of utterance k: recompute one clean embedding.
    uid, path = cache_rows[1]
    wav = load_audio(path)
    start = int(crop_starts(uid, wav.numel(), CROP, CROPS, 5)[1])
    expected = BandEnergies()(take_crop(wav, start, CROP)[None])[0]
    np.testing.assert_allclose(array[3, 0], expected.numpy(), rtol=1e-5)
    dataset = cache.dataset()
    assert len(dataset) == len(cache_rows) * CROPS
    item = dataset[3]
    assert item["id"] == f"{uid}/1"
    assert torch.equal(item["emb"], torch.from_numpy(array[3]))


def test_cache_rebuild_is_a_noop(cache_rows, tmp_path):
    """Building a complete cache again encodes and writes nothing."""
    _build(tmp_path / "c", FakeBrain(_white_noise_builder()), cache_rows)
    before = _snapshot(tmp_path / "c")
    brain = FakeBrain(_white_noise_builder())
    _build(tmp_path / "c", brain, cache_rows)
    assert brain.calls == 0
    assert _snapshot(tmp_path / "c") == before


def test_cache_resume_equals_uninterrupted(cache_rows, tmp_path, monkeypatch):
    """An interrupted build, resumed, gives the same bytes as one build."""
    _build(tmp_path / "full", FakeBrain(_white_noise_builder()), cache_rows)
    original = _interrupt_after_first_chunk(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _build(tmp_path / "cut", FakeBrain(_white_noise_builder()), cache_rows)
    monkeypatch.setattr(ViewCache, "_write_json", original)
    cut = ViewCache(str(tmp_path / "cut"))
    assert not cut.complete()
    assert cut.done() == {u for u, _ in cache_rows[:2]}
    brain = FakeBrain(_white_noise_builder())  # a new process
    _build(tmp_path / "cut", brain, cache_rows)
    assert brain.calls == 2  # two chunks left, no probe
    full = (tmp_path / "full" / "views.f32").read_bytes()
    assert (tmp_path / "cut" / "views.f32").read_bytes() == full
    assert cut.index() == ViewCache(str(tmp_path / "full")).index()


def test_cache_resume_equals_uninterrupted_with_csv_augmenters(
    cache_rows, cache_csvs, tmp_path, monkeypatch
):
    """Same as above with the yaml's CSV-backed noise and reverb views."""
    _build(tmp_path / "full", FakeBrain(_csv_builder(cache_csvs)), cache_rows)
    original = _interrupt_after_first_chunk(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _build(
            tmp_path / "cut", FakeBrain(_csv_builder(cache_csvs)), cache_rows
        )
    monkeypatch.setattr(ViewCache, "_write_json", original)
    _build(tmp_path / "cut", FakeBrain(_csv_builder(cache_csvs)), cache_rows)
    full = np.array(ViewCache(str(tmp_path / "full")).array())
    cut = np.array(ViewCache(str(tmp_path / "cut")).array())
    assert np.array_equal(full[: 2 * CROPS], cut[: 2 * CROPS])  # chunk 1
    assert np.array_equal(full, cut)


def test_cache_config_change_raises(cache_rows, tmp_path):
    """Other settings or another manifest: ValueError naming the folder."""
    folder = tmp_path / "c"
    _build(folder, FakeBrain(_white_noise_builder()), cache_rows)
    changes = [
        dict(crops_per_utt=3),
        dict(seed=6),
        dict(config={"backbone": "other"}),
        dict(rows=cache_rows[:5]),
    ]
    for change in changes:
        with pytest.raises(ValueError, match="delete that folder") as info:
            _build(
                folder,
                FakeBrain(_white_noise_builder()),
                **{"rows": cache_rows, **change},
            )
        assert str(folder) in str(info.value), change
    other_views = ViewBuilder(["clean", "noise"], {"noise": AddNoise()})
    with pytest.raises(ValueError, match=str(folder)):
        _build(folder, FakeBrain(other_views), cache_rows)


def test_synthetic_banks_join_training_only(seed_data, data_dir, tmp_path):
    """Generated noise / rooms widen the training CSVs, never dev or test.

    The real RIR folder here holds a file named like the demo's rooms
    (``room_000.wav``): the generated ones must not clash with it (the
    demonstration failed on a duplicate CSV id before they were renamed).
    """
    rirs = tmp_path / "rir"
    rirs.mkdir()
    (rirs / "room_000.wav").symlink_to(data_dir / "rir" / "rir1.wav")
    kwargs = dict(
        seed_data.kwargs,
        data_folder=str(tmp_path / "data"),
        rir_folder=str(rirs),
        synthetic_noise=3,
        synthetic_rirs=2,
    )
    prepared = prepare_seed_data(**kwargs)
    noise_ids = [r["ID"] for r in _read_csv(tmp_path / "data" / "noise.csv")]
    rir_ids = [r["ID"] for r in _read_csv(tmp_path / "data" / "rir.csv")]
    assert len(noise_ids) == len(set(noise_ids)) == 5 + 3
    assert rir_ids == ["room_000", "synthetic_room_000", "synthetic_room_001"]
    aug = prepared["augment"]
    assert len(aug["rir"]["real_files"]) == 1 and len(aug["rir"]["files"]) == 3
    # The dev set is corrupted with the recorded files only: byte for byte
    # the dev set of the same preparation without generated files.
    plain = prepare_seed_data(
        **dict(
            kwargs,
            data_folder=str(tmp_path / "plain"),
            synthetic_noise=0,
            synthetic_rirs=0,
        )
    )
    assert plain["dev"]["trials"] == prepared["dev"]["trials"]
    for key, path in prepared["dev"]["items"].items():
        other = Path(plain["dev"]["items"][key])
        assert Path(path).read_bytes() == other.read_bytes(), key

    # A real file named like a generated one is an error naming the fix.
    clash = tmp_path / "rir_clash"
    clash.mkdir()
    (clash / "synthetic_room_000.wav").symlink_to(data_dir / "rir" / "rir1.wav")
    with pytest.raises(ValueError, match="synthetic_rirs: 0"):
        prepare_seed_data(
            **dict(
                kwargs,
                data_folder=str(tmp_path / "data2"),
                rir_folder=str(clash),
            )
        )


# ------------------------------------------- held-out and short test sets

HELD_KW = dict(
    noise_include=["noise*.wav"],
    test_noise_exclude=["noise*.wav"],
    dev_utterances=3,
    dev_max_segments=3,
    heldout_test_utterances=3,
    heldout_segments=3,
    heldout_long_seconds=4.0,
    test_segment_seconds=3.0,
    seed=11,
)


def _speaker_tree(data_dir, folder, speakers):
    """Links the train-clean-100 files of the first speakers, by speaker."""
    source = data_dir / "speech" / "train-clean-100"
    chosen = sorted(p for p in source.iterdir() if p.is_dir())[:speakers]
    for spk in chosen:
        (folder / spk.name).mkdir(parents=True)
        for f in sorted(spk.glob("*.flac")):
            (folder / spk.name / f.name).symlink_to(f)
    return [p.name for p in chosen]


@pytest.fixture(scope="module")
def heldout_data(data_dir, speech_slices, tmp_path_factory):
    """Held-out files drawn from one of two clean folders, 2 speakers out.

    ``tc100/`` holds the train-clean-100 files of 14 speakers by speaker
    folder and is both a clean folder and the held-out folder; ``extra/``
    (4 more files, flat) is clean only. The first two speakers are
    excluded from the held-out draw (as the train-clean-5 speakers are in
    the README's command).
    """
    root = tmp_path_factory.mktemp("heldout")
    speakers = _speaker_tree(data_dir, root / "tc100", 14)
    extra = sorted((data_dir / "speech" / "train-clean-100").glob("*/*.flac"))
    for f in extra[20:24]:
        (root / "extra").mkdir(exist_ok=True)
        (root / "extra" / f.name).symlink_to(f)
    speech_slices.test(root / "test", 3, 3)
    return _prepared(
        root,
        data_dir,
        dict(speakers=speakers),
        clean_folder=[str(root / "tc100"), str(root / "extra")],
        heldout_folder=str(root / "tc100"),
        heldout_exclude=[f"{speakers[0]}/*", f"{speakers[1]}/*"],
        **HELD_KW,
    )


def _heldout_sources(data):
    """Real paths of the dev and held-out test files of a preparation."""
    ids = {r["ID"]: r["wav"] for r in _read_csv(data / "heldout_all.csv")}
    dev = {
        os.path.realpath(ids[key.split("/", 1)[1].rsplit("_", 1)[0]])
        for key in load_prepared(str(data))["dev"]["items"]
    }
    record = json.loads(
        (data / "test_sets" / "heldout_short" / "segments.json").read_text()
    )
    test = {os.path.realpath(src) for src, _, _ in record["files"].values()}
    return dev, test


def test_heldout_files_never_in_training(heldout_data):
    """Dev and held-out test files are out of train.csv, nothing else is."""
    data, prepared = heldout_data.data, heldout_data.prepared
    dev, test = _heldout_sources(data)
    assert len(dev) == 3 and len(test) == 3 and not dev & test
    every = {
        os.path.realpath(r["wav"]) for r in _read_csv(data / "clean_all.csv")
    }
    train = {
        os.path.realpath(r["wav"]) for r in _read_csv(prepared["train_csv"])
    }
    assert dev | test <= every  # heldout_folder is also a clean folder
    assert train == every - dev - test
    assert prepared["n_train_utterances"] == len(every) - 6
    assert (
        prepared["n_dev_utterances"]
        == prepared["n_heldout_test_utterances"]
        == 3
    )
    # The babble view reads train.csv too: no held-out file there either.
    assert not any(
        os.path.realpath(r["wav"]) in dev | test
        for r in _read_csv(data / "train.csv")
    )


def test_heldout_exclude_respected(heldout_data):
    """Excluded speakers are never held out, and still train."""
    data = heldout_data.data
    dev, test = _heldout_sources(data)
    excluded = heldout_data.speakers[:2]
    for path in dev | test:
        assert Path(path).parent.name not in excluded, path
    candidates = _read_csv(data / "heldout_all.csv")
    assert candidates and all(
        not r["ID"].startswith(tuple(f"{s}_" for s in excluded))
        for r in candidates
    )
    train_speakers = {
        Path(r["wav"]).parent.name for r in _read_csv(data / "train.csv")
    }
    assert set(excluded) <= train_speakers


def _labels(trials):
    labels = [t[0] for t in trials]
    return labels.count(1), labels.count(0)


def test_test_set_trial_counts(heldout_data):
    """Every ordered pair of distinct segments; targets within one file."""
    sets = heldout_data.prepared["test_sets"]
    assert list(sets) == ["test_short", "heldout_short", "heldout_long"]
    files, segs = 3, 3
    n = files * segs
    assert _labels(sets["heldout_short"]["trials"]) == (
        files * segs * (segs - 1),
        n * (n - segs),
    )
    assert _labels(sets["heldout_long"]["trials"]) == (files * 2, 6 * 4)
    # test_short: the main test's trials, file for file.
    main = heldout_data.prepared["conditions"]["clean"]["trials"]
    short = sets["test_short"]["trials"]
    assert [t[0] for t in short] == [t[0] for t in main]
    for (_, e, t), (_, se, st) in zip(main, short):
        assert (se, st) == (
            os.path.splitext(e)[0] + ".wav",
            os.path.splitext(t)[0] + ".wav",
        )
    names = [c["name"] for c in DEFAULT_CONDITIONS]
    for name, entry in sets.items():
        assert list(entry["conditions"]) == names, name
        for label, enrol, test in entry["trials"]:
            assert enrol != test
            if name != "test_short":
                assert label == int(enrol.split("/")[0] == test.split("/")[0])
        clean = entry["conditions"]["clean"]
        assert clean["enrol_root"] == clean["test_root"]
        noisy = entry["conditions"]["noise_5dB"]["test_root"]
        assert (
            Path(noisy).parent.parent == heldout_data.data / "test_sets" / name
        )


def test_test_set_segments(heldout_data, data_dir):
    """Segment lengths and content; test side corrupted with test noise."""
    sets = heldout_data.prepared["test_sets"]
    folder = heldout_data.data / "test_sets"
    for name in sets:
        record = json.loads((folder / name / "segments.json").read_text())
        assert record["complete"]
        for rel, (src, start, length) in record["files"].items():
            wav = load_audio(folder / name / "audio" / rel)
            source = load_audio(src, SR)
            if name == "heldout_short":
                assert wav.numel() == 3 * SR
            elif name == "heldout_long":
                assert wav.numel() == min(4 * SR, source.numel() // 2)
            elif source.numel() > 3 * SR:
                assert wav.numel() == 3 * SR
            else:  # shorter test files are kept whole
                assert start == 0 and length is None
                assert wav.numel() == source.numel()
            end = source.numel() if length is None else start + length
            assert torch.equal(wav, source[start:end]), rel
    # The three short segments of a held-out file do not overlap and span
    # the file (first at 0, last ending at its end).
    record = json.loads(
        (folder / "heldout_short" / "segments.json").read_text()
    )
    uid = next(iter(record["files"])).split("/")[0]
    starts = [record["files"][f"{uid}/s{k}.wav"][1] for k in range(3)]
    total = load_audio(record["files"][f"{uid}/s0.wav"][0], SR).numel()
    assert starts[0] == 0 and starts[2] == total - 3 * SR
    assert starts[1] - starts[0] >= 3 * SR and starts[2] - starts[1] >= 3 * SR
    summary = json.loads(
        (folder / "heldout_long" / "conditions" / "conditions.json").read_text()
    )
    expected = sorted(
        str((data_dir / "noise" / n).resolve())
        for n in ("doing_the_dishes.wav", "exercise_bike.wav")
    )
    files = summary["conditions"]["noise_5dB"]["noise_files"]
    assert sorted(str(Path(f).resolve()) for f in files) == expected


def test_test_set_items(heldout_data):
    """Keys prefixed by the set, distinct from the main test's, all files."""
    from seed_brain.views.datasets import (
        test_set_items as recipe_test_set_items,
    )

    main, _ = recipe_test_items(heldout_data.prepared)
    items, sets = recipe_test_set_items(heldout_data.prepared)
    assert not set(items) & set(main)
    assert list(sets) == ["test_short", "heldout_short", "heldout_long"]
    for name, entry in sets.items():
        for cond, trials in entry["conditions"].items():
            assert len(trials) == len(
                heldout_data.prepared["test_sets"][name]["trials"]
            )
            for _, enrol, test in trials:
                assert enrol.startswith(f"test_sets/{name}/clean/")
                assert test.startswith(f"test_sets/{name}/{cond}/")
                assert enrol in items and test in items
    assert all(os.path.isfile(p) for p in items.values())


def test_test_sets_second_call_writes_nothing(heldout_data):
    """A second identical call leaves every file untouched."""
    before = _snapshot(heldout_data.data)
    again = prepare_seed_data(**heldout_data.kwargs)
    assert again == heldout_data.prepared
    assert _snapshot(heldout_data.data) == before


def test_test_sets_rebuilt_when_settings_change(heldout_data, tmp_path):
    """Another segment length rebuilds the sets: nothing stale is left."""
    kwargs = dict(
        heldout_data.kwargs,
        data_folder=str(tmp_path / "data"),
        conditions=[
            {"name": "clean", "snr": None, "reverb": False},
            {"name": "noise_5dB", "snr": 5.0, "reverb": False},
        ],
    )
    prepare_seed_data(**kwargs)
    prepare_seed_data(**dict(kwargs, test_segment_seconds=2.0))
    data = tmp_path / "data" / "test_sets"
    for name in ("test_short", "heldout_short"):
        audio = data / name / "audio"
        rels = {p.relative_to(audio).as_posix() for p in audio.rglob("*.wav")}
        record = json.loads((data / name / "segments.json").read_text())
        assert rels == set(record["files"])  # nothing stale left
        noisy = data / name / "conditions" / "noise_5dB"
        assert {
            p.relative_to(noisy).as_posix() for p in noisy.rglob("*.wav")
        } == rels
        for rel in rels:
            assert load_audio(audio / rel).numel() <= 2 * SR
            assert load_audio(noisy / rel).numel() <= 2 * SR
        if name == "heldout_short":
            assert all(
                load_audio(audio / rel).numel() == 2 * SR for rel in rels
            )
    # Shorter segments make other files eligible, so the draw may change:
    # heldout_long follows it (the same files as heldout_short).
    sources = {}
    for name in ("heldout_short", "heldout_long"):
        record = json.loads((data / name / "segments.json").read_text())
        sources[name] = {src for src, _, _ in record["files"].values()}
        audio = data / name / "audio"
        assert {
            p.relative_to(audio).as_posix() for p in audio.rglob("*.wav")
        } == set(record["files"])
    assert sources["heldout_short"] == sources["heldout_long"]


def test_heldout_folder_outside_clean(data_dir, speech_slices, tmp_path):
    """Held-out files of another folder pass min_duration and screening."""
    from seed_brain.dataio.audio import AudioError, write_audio

    every = sorted((data_dir / "speech" / "train-clean-100").glob("*/*.flac"))
    (tmp_path / "clean").mkdir()
    for f in every[30:38]:  # speakers 31-38: none of them held out
        (tmp_path / "clean" / f.name).symlink_to(f)
    held = tmp_path / "held"
    _speaker_tree(data_dir, held, 16)
    short = load_audio(every[0], SR)[: SR // 2]
    write_audio(held / "short" / "a.wav", short)  # below min_duration
    write_audio(held / "silent" / "b.wav", torch.zeros(10 * SR))
    speech_slices.test(tmp_path / "test", 2, 2)
    kwargs = dict(
        data_folder=str(tmp_path / "data"),
        clean_folder=str(tmp_path / "clean"),
        heldout_folder=str(held),
        test_folder=str(tmp_path / "test"),
        noise_folder=str(data_dir / "noise"),
        rir_folder=str(data_dir / "rir"),
        **dict(HELD_KW, heldout_test_utterances=8, dev_utterances=2),
    )
    with pytest.raises(AudioError, match="silent"):
        prepare_seed_data(**kwargs)
    prepared = prepare_seed_data(**dict(kwargs, skip_bad_audio=True))
    skipped = prepared["skipped"]
    assert [Path(f["file"]).name for f in skipped["bad_files"]] == ["b.wav"]
    assert skipped["too_short"] == 1
    dev, test = _heldout_sources(tmp_path / "data")
    assert len(test) == 8 and len(dev) == 2
    for path in dev | test:
        assert Path(path).name not in ("a.wav", "b.wav")
    # Nothing held out is a clean file: training keeps all 8.
    assert prepared["n_train_utterances"] == 8


def test_heldout_folder_below_a_clean_folder(heldout_data, tmp_path):
    """clean_folder the parent of heldout_folder: held-out files go too."""
    parent = tmp_path / "speech"
    parent.mkdir()
    for name in ("tc100", "extra"):
        (parent / name).symlink_to(heldout_data.root / name)
    kwargs = dict(
        heldout_data.kwargs,
        data_folder=str(tmp_path / "data"),
        clean_folder=str(parent),
        heldout_folder=str(parent / "tc100"),
        test_folder=str(heldout_data.root / "test"),
        test_segment_seconds=None,  # no short sets: quicker
        conditions=[{"name": "clean", "snr": None, "reverb": False}],
    )
    prepared = prepare_seed_data(**kwargs)
    assert "test_short" not in prepared["test_sets"]
    assert "heldout_short" not in prepared["test_sets"]
    assert list(prepared["test_sets"]) == ["heldout_long"]
    ids = {
        r["ID"]: r["wav"]
        for r in _read_csv(tmp_path / "data" / "heldout_all.csv")
    }
    dev = {
        os.path.realpath(ids[key.split("/", 1)[1].rsplit("_", 1)[0]])
        for key in prepared["dev"]["items"]
    }
    record = json.loads(
        (
            tmp_path / "data" / "test_sets" / "heldout_long" / "segments.json"
        ).read_text()
    )
    test = {os.path.realpath(src) for src, _, _ in record["files"].values()}
    assert len(dev) == len(test) == 3
    every = _read_csv(tmp_path / "data" / "clean_all.csv")
    assert len(every) == len(_read_csv(heldout_data.data / "clean_all.csv"))
    train = _read_csv(prepared["train_csv"])
    assert len(train) == len(every) - 6
    assert not {os.path.realpath(r["wav"]) for r in train} & (dev | test)
