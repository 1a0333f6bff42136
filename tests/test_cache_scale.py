"""The embedding cache at scale: crop counts, distinct views, float16,
free-space check, block reading and its sampler (DDP shards included).

Small generated audio files and a tiny deterministic encoder; no real
data and no GPU needed.
"""

import json
import os
import types

import numpy as np
import pytest
import torch
from speechbrain.augment.time_domain import AddNoise
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import DistributedSamplerWrapper

import train
from seed_brain import cache as cache_module
from seed_brain import errors as errors_module
from seed_brain.dataio.audio import write_audio
from seed_brain.lobes import RDMMLP
from seed_brain.model.brain import SEEDBrain
from seed_brain.model.diffusion import SEEDDiffusion
from seed_brain.utils.errors import DiskFullError
from seed_brain.views import ViewBuilder
from seed_brain.views.cache import (
    BlockReader,
    BlockShuffleSampler,
    ViewCache,
    crop_count,
)

RATE = 16000
CROP = 4000  # 0.25 s crops keep the tests fast


class CountingBrain:
    """What ViewCache.build needs; counts encoder calls and rows."""

    def __init__(self, views, scale=1.0):
        self.device = torch.device("cpu")
        self.hparams = types.SimpleNamespace(
            view_builder=ViewBuilder(
                views, {"noise": AddNoise(snr_low=0, snr_high=10)}
            )
        )
        self.scale = scale
        self.calls = 0
        self.rows = 0

    def encode(self, wavs, wav_lens=None, precision="fp32"):
        self.calls += 1
        self.rows += wavs.shape[0]
        bands = wavs.reshape(wavs.shape[0], 8, -1).pow(2).mean(-1)
        return self.scale * torch.log(bands + 1e-6)


class Bands(torch.nn.Module):
    """A stand-in frozen encoder ``(wavs, lens) -> [B, 8]``."""

    def forward(self, wavs, wav_lens=None):
        return wavs.reshape(wavs.shape[0], 8, -1).mean(-1)


def _files(folder, seconds):
    """Noise files of the given durations; rows (id, path)."""
    os.makedirs(folder, exist_ok=True)
    rows = []
    for k, sec in enumerate(seconds):
        path = os.path.join(folder, f"u{k}.wav")
        gen = torch.Generator().manual_seed(k)
        write_audio(path, 0.1 * torch.randn(int(sec * RATE), generator=gen))
        rows.append((f"u{k}", path))
    return rows


def _build(folder, brain, rows, **kwargs):
    settings = dict(crops_per_utt=2, crop_samples=CROP, seed=3, batch_size=6)
    settings.update(kwargs)
    return ViewCache(str(folder)).build(brain, rows, **settings)


def test_proportional_crop_counts(tmp_path):
    """Crops in proportion to duration: rounded, at least 1, capped."""
    seconds = [0.5, 3.0, 10.0, 40.0]
    rows = _files(tmp_path / "audio", seconds)
    brain = CountingBrain(["clean", "noise"])
    cache = _build(
        tmp_path / "c",
        brain,
        rows,
        crops_per_second=0.5,
        max_crops_per_utt=12,
    )
    index = cache.index()
    assert index["counts"] == [1, 2, 5, 12]
    assert index["shape"] == [20, 2, 8]
    assert index["crops"][:4] == ["u0/0", "u1/0", "u1/1", "u2/0"]
    assert index["config"]["crops_per_second"] == 0.5
    assert "crops_per_utt" not in index["config"]
    assert np.isfinite(np.array(cache.array())).all()
    # Durations given with the rows (the manifest's column) count alike,
    # without reading the files.
    with_seconds = [(u, p, s) for (u, p), s in zip(rows, seconds)]
    again = _build(
        tmp_path / "c2",
        CountingBrain(["clean", "noise"]),
        with_seconds,
        crops_per_second=0.5,
        max_crops_per_utt=12,
    )
    assert again.index()["counts"] == index["counts"]
    np.testing.assert_array_equal(
        np.array(again.array()), np.array(cache.array())
    )
    assert [crop_count(s, 30) for s in seconds] == [30] * 4


def test_fixed_count_keeps_the_earlier_index(tmp_path):
    """The fixed mode writes the index of earlier versions (caches built
    before proportional counts and float16 existed are reused)."""
    rows = _files(tmp_path / "audio", [1.0, 2.0])
    cache = _build(tmp_path / "c", CountingBrain(["clean", "noise"]), rows)
    index = cache.index()
    assert sorted(index) == ["config", "crops", "shape", "utterances"]
    assert index["config"]["crops_per_utt"] == 2
    assert (tmp_path / "c" / "views.f32").exists()


def test_repeated_clean_views_share_one_encoder_pass(tmp_path, monkeypatch):
    """[clean, clean, noise, noise]: 3 distinct views encoded, 4 stored;
    the array equals the one of encoding every view."""
    rows = _files(tmp_path / "audio", [1.0, 1.5, 2.0, 2.5])
    views = ["clean", "clean", "noise", "noise"]
    brain = CountingBrain(views)
    cache = _build(tmp_path / "shared", brain, rows)
    crops = 4 * 2
    assert brain.rows == 1 + crops * 3  # the probe, then 3 views per crop
    assert brain.calls == 1 + 2  # 6 crops per chunk: 2 chunks

    # Reference: the same build encoding all 4 views.
    def all_views(self):
        return list(range(len(self.views))), list(range(len(self.views)))

    monkeypatch.setattr(ViewBuilder, "distinct_views", all_views)
    every = CountingBrain(views)
    ref = _build(tmp_path / "every", every, rows)
    assert every.rows == 1 + crops * 4
    shared = np.array(cache.array())
    np.testing.assert_array_equal(shared, np.array(ref.array()))
    np.testing.assert_array_equal(shared[:, 0], shared[:, 1])
    assert not np.allclose(shared[:, 2], shared[:, 3])  # two noise draws


def test_float16_cache_halves_the_file_and_trains(tmp_path):
    """float16: views.f16 of half the size, values within float16
    rounding of the float32 cache, float16 rows that SEEDBrain trains on."""
    rows = _files(tmp_path / "audio", [1.0, 2.0, 3.0])
    f32 = _build(tmp_path / "f32", CountingBrain(["clean", "noise"]), rows)
    f16 = _build(
        tmp_path / "f16",
        CountingBrain(["clean", "noise"]),
        rows,
        dtype="float16",
    )
    assert f16.index()["dtype"] == "float16"
    assert f16.data_path.endswith("views.f16")
    size32 = os.path.getsize(f32.data_path)
    assert os.path.getsize(f16.data_path) * 2 == size32
    a32, a16 = np.array(f32.array()), np.array(f16.array())
    assert a16.dtype == np.float16
    np.testing.assert_allclose(a16.astype(np.float32), a32, rtol=1e-3)
    # A float16 cache is another cache: the float32 one is not reused.
    with pytest.raises(ValueError, match="delete that folder"):
        _build(
            tmp_path / "f32",
            CountingBrain(["clean", "noise"]),
            rows,
            dtype="float16",
        )

    for dataset in (f16.dataset(), f16.dataset(block_rows=2)):
        item = dataset[0]
        assert item["emb"].dtype == torch.float16
        torch.manual_seed(0)
        denoiser = RDMMLP(8)
        brain = SEEDBrain(
            modules={"encoder": Bands(), "denoiser": denoiser},
            opt_class=lambda p: torch.optim.AdamW(p, lr=1e-3),
            hparams={"diffusion": SEEDDiffusion(), "use_ema": False},
        )
        brain.init_optimizers()
        before = [p.detach().clone() for p in denoiser.parameters()]
        batch = PaddedBatch([dataset[i] for i in range(4)])
        loss = float(brain.fit_batch(batch))
        assert np.isfinite(loss)
        after = list(denoiser.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_float16_overflow_names_the_files(tmp_path):
    """Embeddings beyond float16's range: an error naming file and fix."""
    rows = _files(tmp_path / "audio", [1.0])
    brain = CountingBrain(["clean", "noise"], scale=1e5)
    with pytest.raises(ValueError, match="cache_dtype: float32") as info:
        _build(tmp_path / "c", brain, rows, dtype="float16")
    assert rows[0][1] in str(info.value)


def test_free_space_is_checked_before_encoding(tmp_path, monkeypatch):
    """Not enough room: DiskFullError with folder, size and fix, raised
    before any crop is encoded and before the array exists."""
    rows = _files(tmp_path / "audio", [1.0, 2.0])
    brain = CountingBrain(["clean", "noise"])
    folder = tmp_path / "c"
    for module in (cache_module, errors_module):
        monkeypatch.setattr(module, "_free_bytes", lambda folder: 100)
    with pytest.raises(DiskFullError) as info:
        _build(folder, brain, rows)
    text = str(info.value)
    assert str(folder) in text and "about 256 B needed" in text
    assert "100 B free" in text and "cache_dtype: float16" in text
    assert brain.rows == 1  # the dimension probe only
    assert not (folder / "views.f32").exists()
    assert not (folder / "index.json").exists()


def test_bad_cache_settings_name_the_key(tmp_path):
    """crops_per_second <= 0, an unknown dtype, mode or reading."""
    rows = _files(tmp_path / "audio", [1.0])
    brain = CountingBrain(["clean", "noise"])
    with pytest.raises(ValueError, match="crops_per_second must be > 0"):
        _build(tmp_path / "a", brain, rows, crops_per_second=0)
    with pytest.raises(ValueError, match="max_crops_per_utt"):
        _build(
            tmp_path / "b",
            brain,
            rows,
            crops_per_second=1,
            max_crops_per_utt=0,
        )
    with pytest.raises(ValueError, match="cache_dtype must be one of"):
        _build(tmp_path / "c", brain, rows, dtype="bfloat16")
    for key, choices in (
        ("crop_mode", train.CROP_MODES),
        ("cache_reading", train.CACHE_READINGS),
    ):
        with pytest.raises(ValueError, match=f"--{key}=") as info:
            train._choice({key: "sometimes"}, key, choices)
        assert all(c in str(info.value) for c in choices)


def test_block_sampler_covers_every_row_once_per_epoch():
    """One pass = every row once; epochs differ; seeds reproduce; rows
    stay within buffers of buffer_blocks blocks."""
    sampler = BlockShuffleSampler(103, block_rows=10, buffer_blocks=3, seed=4)
    first = list(sampler)
    assert sorted(first) == list(range(103))
    assert first != list(range(103))
    assert list(BlockShuffleSampler(103, 10, 3, seed=4)) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == list(range(103)) and second != first
    # Each buffer of 30 rows (3 whole blocks) touches exactly 3 blocks.
    whole = list(BlockShuffleSampler(120, 10, 3, seed=4))
    for start in range(0, 120, 30):
        assert len({r // 10 for r in whole[start : start + 30]}) == 3
    # An epoch longer than the cache: whole passes, then a part.
    long = list(BlockShuffleSampler(103, 10, 3, seed=4, num_samples=250))
    assert len(long) == 250
    assert sorted(long[:103]) == list(range(103))
    assert sorted(long[103:206]) == list(range(103))
    assert len(set(long[206:])) == 44


@pytest.mark.parametrize("world", [2, 3])
def test_block_sampler_rank_shards_are_disjoint_and_cover(world):
    """Under torchrun SpeechBrain wraps the sampler in
    DistributedSamplerWrapper: the shards of the processes are disjoint
    and together cover every row once per epoch."""
    rows = 120  # a multiple of every world size: no padding duplicates
    for epoch in (0, 1):
        shards = []
        for rank in range(world):
            wrapped = DistributedSamplerWrapper(
                BlockShuffleSampler(rows, block_rows=8, buffer_blocks=4),
                num_replicas=world,
                rank=rank,
                shuffle=False,
            )
            wrapped.set_epoch(epoch)
            shards.append(list(wrapped))
        assert all(len(s) == rows // world for s in shards)
        union = [r for s in shards for r in s]
        assert sorted(union) == list(range(rows))


def test_block_reading_reads_each_block_once_per_pass(tmp_path):
    """With the sampler's sizes, the block dataset reads each block of
    the file once per pass, and its rows equal the memory map's."""
    rows = _files(tmp_path / "audio", [1.0] * 10)
    cache = _build(
        tmp_path / "c", CountingBrain(["clean", "noise"]), rows, crops_per_utt=5
    )
    n = cache.index()["shape"][0]
    reader = BlockReader(
        cache.data_path,
        cache.index()["shape"],
        "float32",
        block_rows=4,
        buffer_blocks=3,
    )
    full = np.array(cache.array())
    order = list(BlockShuffleSampler(n, block_rows=4, buffer_blocks=3))
    for row in order:
        np.testing.assert_array_equal(reader(row), full[row])
    assert reader.reads == -(-n // 4)
    assert len(reader.blocks) <= 3
    dataset = cache.dataset(block_rows=4, buffer_blocks=3)
    assert len(dataset) == n
    item = dataset[n - 1]
    assert item["id"] == cache.index()["crops"][n - 1]
    np.testing.assert_array_equal(item["emb"].numpy(), full[n - 1])


def test_truncated_cache_file_is_named(tmp_path):
    """A cache file shorter than its index: an error naming it."""
    rows = _files(tmp_path / "audio", [1.0, 1.0])
    cache = _build(tmp_path / "c", CountingBrain(["clean", "noise"]), rows)
    with open(cache.data_path, "r+b") as fout:
        fout.truncate(100)
    reader = cache.dataset(block_rows=4)
    with pytest.raises(ValueError, match="shorter than its index") as info:
        reader[0]
    assert cache.data_path in str(info.value)


def test_recipe_picks_the_sampler_from_the_yaml(tmp_path):
    """cache_reading: block -> BlockShuffleSampler of the yaml's sizes
    and steps_per_epoch x batch_size rows; random -> SpeechBrain's."""
    rows = _files(tmp_path / "audio", [1.0, 1.0])
    cache = _build(tmp_path / "c", CountingBrain(["clean", "noise"]), rows)
    hparams = dict(
        use_cache=True,
        cache_reading="block",
        cache_block_rows=2,
        cache_buffer_blocks=2,
        seed=1,
        steps_per_epoch=3,
        batch_size=2,
    )
    sampler = train.train_sampler(hparams, cache.dataset(block_rows=2))
    assert isinstance(sampler, BlockShuffleSampler)
    assert len(list(sampler)) == 6 and sampler.block_rows == 2
    hparams["cache_reading"] = "random"
    other = train.train_sampler(hparams, cache.dataset())
    assert not isinstance(other, BlockShuffleSampler)
    assert len(list(other)) == 6
    assert json.loads((tmp_path / "c" / "index.json").read_text())


def test_sharded_build_with_proportional_counts_equals_one_process(
    tmp_path, monkeypatch
):
    """Under torchrun process r encodes chunks r, r + N, ...: simulated
    here one process after the other (the barriers are no-ops), the
    shards of a proportional float16 build together equal a single-process
    build, byte for byte, and each process encodes only its chunks."""
    rows = _files(tmp_path / "audio", [0.5, 3.0, 6.0, 1.0, 9.0, 2.0])
    settings = dict(crops_per_second=1.0, max_crops_per_utt=6, dtype="float16")
    single = _build(
        tmp_path / "one", CountingBrain(["clean", "noise"]), rows, **settings
    )
    encoded = {}
    for rank in (0, 1):
        monkeypatch.setattr(
            cache_module, "rank_and_world", lambda r=rank: (r, 2)
        )
        brain = CountingBrain(["clean", "noise"])
        _build(tmp_path / "two", brain, rows, **settings)
        encoded[rank] = brain.rows - (rank == 0)  # rank 0 also probes
    monkeypatch.setattr(cache_module, "rank_and_world", lambda: (0, 1))
    two = ViewCache(str(tmp_path / "two"))
    assert two.complete()
    counts = single.index()["counts"]
    chunks = cache_module._chunks(rows, counts, 6)
    per_rank = [
        sum(counts[[r[0] for r in rows].index(c[0])] for c in chunk) * 2
        for chunk in chunks
    ]
    assert encoded == {0: sum(per_rank[0::2]), 1: sum(per_rank[1::2])}
    assert two.index() == single.index()
    assert (
        open(two.data_path, "rb").read() == open(single.data_path, "rb").read()
    )


def test_distinct_views_equal_all_views_with_speed_voices():
    """With SpeedVoices (drawn before the views) the distinct views,
    put in their slots, equal every view built in full, same seed."""
    from seed_brain.views import SpeedVoices

    builder = ViewBuilder(
        ["clean", "clean", "noise"],
        {"noise": AddNoise(snr_low=0, snr_high=10)},
        voices=SpeedVoices([0.9, 1.1]),
    )
    wavs = torch.randn(4, 1600)
    torch.manual_seed(7)
    full = builder(wavs)
    torch.manual_seed(7)
    part = builder(wavs, distinct_only=True)
    distinct, slots = builder.distinct_views()
    assert part.shape[1] == len(distinct) == 2
    assert torch.equal(part[:, slots], full)
