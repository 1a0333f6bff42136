"""Benchmark embedding extraction and the cost of one-step SEED.

Run from the repository root::

    python benchmarks/bench_embedding.py [--files 40] [--batch-sizes 1 8]

For GE2E (resemblyzer's weights when installed, else random ones: the
timing is the same) and SpeechBrain's ECAPA-TDNN (``ECAPA_TDNN`` lobe +
``Fbank`` + ``InputNormalization`` in the layout of the published VoxCeleb
model, random weights, written to a local folder), over ``--files``
test-other utterances of the shared data (6-10 s each):

* **ours**: :meth:`seed_brain.model.brain.SEEDBrain.embed_files`, which sorts
the
  files by length, embeds ``--batch-sizes`` of them per encoder call (one
  run per size) and runs under ``torch.inference_mode``;
* **SpeechBrain**: ``EncoderClassifier.from_hparams(source=<local folder>)``
  and ``encode_batch`` on one file at a time (the folder's
  ``hyperparams.yaml`` holds the very same modules; no hub access).

Both load the audio with :func:`seed_brain.dataio.audio.load_audio` and include
it in their time. RTF (real-time factor) = processing time / audio
duration. Then the cost of one-step SEED (``SEEDBrain.enhance``: per-
utterance noise, ``RDMMLP`` with ``D`` = 256 for GE2E and 192 for ECAPA,
feature ensemble) on one embedding, as a percentage of the encoder's time
on one 4 s utterance (median of ``--repeats`` runs each, audio already in
memory), and the same for a whole batch of ``--files`` embeddings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from bench_common import parse_with_threads  # noqa: E402

from seed_brain.dataio.audio import load_audio  # noqa: E402
from seed_brain.lobes import RDMMLP  # noqa: E402
from seed_brain.model.brain import SEEDBrain  # noqa: E402
from seed_brain.model.diffusion import SEEDDiffusion  # noqa: E402

DEFAULT_DATA = REPO / ".." / "shared" / "data"

GE2E_HPARAMS = """\
# GE2E as a SpeechBrain EncoderClassifier: waveforms go straight to the
# model (it computes its own mel features); weights in embedding_model.ckpt.
compute_features: !new:torch.nn.Identity
mean_var_norm: !new:speechbrain.nnet.containers.LengthsCapableSequential
    input_shape: [null, null]
embedding_model: !new:seed_brain.lobes.ge2e.GE2E
    weights: null
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
"""


def machine_line():
    """CPU model, core count, torch threads and load average."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_training import machine_line as line

    return line()


def ge2e_weights():
    """``"resemblyzer"`` when its weights are installed, else ``None``."""
    from seed_brain.lobes.ge2e import find_pretrained_ge2e

    try:
        find_pretrained_ge2e()
        return "resemblyzer"
    except FileNotFoundError:
        return None


def make_ge2e(folder):
    """Our GE2E module and an EncoderClassifier folder with the same one."""
    from seed_brain.lobes.ge2e import GE2E

    weights = ge2e_weights()
    os.makedirs(folder, exist_ok=True)
    Path(folder, "hyperparams.yaml").write_text(GE2E_HPARAMS, encoding="utf-8")
    encoder = GE2E(weights=weights)
    torch.save(encoder.state_dict(), Path(folder, "embedding_model.ckpt"))
    label = "GE2E (resemblyzer)" if weights else "GE2E (random weights)"
    return label, encoder, 256


def make_ecapa(folder, small=False):
    """ECAPA with random weights, exported in the published layout."""
    from seed_brain.model.encoders import ECAPAEncoder, export_ecapa

    size = {}
    if small:  # for smoke tests only
        size = dict(
            channels=[16, 16, 16, 16, 48],
            attention_channels=8,
            se_channels=8,
        )
    torch.manual_seed(0)
    encoder = ECAPAEncoder(pretrained_path=None, **size)
    encoder.mean_var_norm_emb.train()(torch.randn(8, 1, 192))
    export_ecapa(encoder, folder)
    encoder = ECAPAEncoder(pretrained_path=folder, **size).eval()
    return "ECAPA-TDNN (random weights)", encoder, 192


def make_brain(encoder, dim):
    """A ``SEEDBrain`` with the encoder and a fresh ``RDMMLP(dim)``."""
    torch.manual_seed(0)
    denoiser = RDMMLP(dim)
    # A trained denoiser's output layer is not zero: randomise it, so that
    # no step is skipped by a zero weight.
    torch.nn.init.normal_(denoiser.output_proj.weight, std=0.01)
    return SEEDBrain(
        modules={"encoder": encoder, "denoiser": denoiser},
        hparams={
            "diffusion": SEEDDiffusion(),
            "sample_rate": 16000,
            "sample_t": 50,
            "ensemble_weight": 0.5,
            "use_ema": False,
        },
        run_opts={"device": "cpu", "noprogressbar": True},
    )


def median_time(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls (one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_encoder(label, encoder, dim, folder, items, args):
    """One row of each table for one encoder."""
    from speechbrain.inference.speaker import EncoderClassifier

    brain = make_brain(encoder, dim)
    seconds = sum(load_audio(p).numel() for p in items.values()) / 16000
    warm = dict(list(items.items())[:2])
    brain.embed_files(warm, batch_size=max(args.batch_sizes))

    ours_s = {}
    for size in args.batch_sizes:
        start = time.perf_counter()
        ours = brain.embed_files(items, batch_size=size)
        ours_s[size] = time.perf_counter() - start

    classifier = EncoderClassifier.from_hparams(
        source=str(folder),
        savedir=str(Path(folder) / "savedir"),
        run_opts={"device": "cpu"},
    )
    for path in list(items.values())[:2]:  # warm-up
        classifier.encode_batch(load_audio(path)[None])
    start = time.perf_counter()
    theirs = {}
    for uid, path in items.items():
        emb = classifier.encode_batch(load_audio(path)[None])
        theirs[uid] = emb.reshape(-1)
    sb_s = time.perf_counter() - start
    cos = min(
        float(torch.nn.functional.cosine_similarity(ours[u], theirs[u], dim=0))
        for u in items
    )

    # One-step SEED vs embedding a 4 s utterance (audio in memory).
    wav4 = load_audio(next(iter(items.values())))[: 4 * 16000][None]
    if wav4.shape[1] < 4 * 16000:
        wav4 = torch.nn.functional.pad(wav4, (0, 4 * 16000 - wav4.shape[1]))
    with torch.inference_mode():
        emb_t = median_time(lambda: brain.encode(wav4), args.repeats)
        one = brain.encode(wav4)
        seed_t = median_time(
            lambda: brain.enhance(one, ["u"]), args.seed_repeats
        )
        stacked = torch.stack([ours[u] for u in items])
        ids = list(items)
        seed_all = median_time(
            lambda: brain.enhance(stacked, ids), max(3, args.repeats)
        )
    return {
        "label": label,
        "dim": dim,
        "files": len(items),
        "seconds": seconds,
        "ours_s": ours_s,
        "sb_s": sb_s,
        "min_cos": cos,
        "emb4_s": emb_t,
        "seed1_s": seed_t,
        "seed_all_s": seed_all,
    }


def pick_files(data, count):
    """The first ``count`` test-other files, spread over the speakers."""
    speakers = sorted(
        p for p in (Path(data) / "speech" / "test-other").iterdir()
    )
    per_speaker = [sorted(s.glob("*.flac")) for s in speakers if s.is_dir()]
    files = []
    for rank in range(max(len(p) for p in per_speaker)):
        for paths in per_speaker:
            if rank < len(paths) and len(files) < count:
                files.append(paths[rank])
    return {p.stem: str(p) for p in files}


def main(argv=None):
    """Command-line entry point: prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed-repeats", type=int, default=200)
    parser.add_argument("--encoders", nargs="+", default=["ge2e", "ecapa"])
    parser.add_argument(
        "--small-ecapa", action="store_true", help="tiny ECAPA (tests)"
    )
    args = parse_with_threads(parser, argv)
    items = pick_files(args.data, args.files)
    work = Path(tempfile.mkdtemp(prefix="bench_embedding_"))
    rows = []
    before = machine_line()
    try:
        for name in args.encoders:
            folder = work / name
            if name == "ge2e":
                label, encoder, dim = make_ge2e(folder)
            elif name == "ecapa":
                label, encoder, dim = make_ecapa(folder, args.small_ecapa)
            else:
                raise SystemExit(f"unknown encoder {name!r}")
            print(f"[{label}] ...", file=sys.stderr)
            rows.append(bench_encoder(label, encoder, dim, folder, items, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    after = machine_line().rsplit(" ", 1)[-1]

    print(f"Machine: {before} (before); load average {after} (after).")
    print()
    print(
        f"Table 1: embedding {rows[0]['files']} test-other files "
        f"({rows[0]['seconds']:.0f} s of audio), audio loading included."
    )
    print()
    print(
        "| encoder | extraction | files per call | time (s) | RTF "
        "| speed-up vs SB |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        sb_s = r["sb_s"]
        print(
            f"| {r['label']} | SpeechBrain encode_batch | 1 | {sb_s:.2f} | "
            f"{sb_s / r['seconds']:.4f} | 1x |"
        )
        for size, ours_s in r["ours_s"].items():
            print(
                f"| {r['label']} | ours: sorted by length, inference_mode "
                f"| {size} | {ours_s:.2f} | {ours_s / r['seconds']:.4f} | "
                f"{sb_s / ours_s:.2f}x |"
            )
    print()
    print(
        "Min cosine similarity, ours (largest batch) vs SpeechBrain: "
        + ", ".join(f"{r['label']} {r['min_cos']:.6f}" for r in rows)
        + "."
    )
    print()
    print(
        "Table 2: one-step SEED (SEEDBrain.enhance: RDMMLP, t = 50, feature "
        "ensemble) against embedding one 4 s utterance (batch 1), medians."
    )
    print()
    print(
        "| encoder | D | embed 4 s (ms) | one-step SEED, 1 embedding (ms) "
        "| added | SEED per embedding in a batch of "
        f"{rows[0]['files']} (ms) | added |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = r["seed_all_s"] / r["files"]
        print(
            f"| {r['label']} | {r['dim']} | {1e3 * r['emb4_s']:.1f} | "
            f"{1e3 * r['seed1_s']:.3f} | "
            f"{100 * r['seed1_s'] / r['emb4_s']:.2f} % | "
            f"{1e3 * per:.4f} | {100 * per / r['emb4_s']:.3f} % |"
        )


if __name__ == "__main__":
    main()
