"""The ``seed-brain`` command line: verify, embed, enhance, score, export.

::

    seed-brain verify --model MODEL a.wav b.wav
    seed-brain embed --model MODEL *.wav --out emb.pt [--no-enhance]
    seed-brain enhance --model MODEL emb.pt --out enhanced.pt
    seed-brain score --model MODEL trials.txt --audio-root DIR --out scores.txt
    seed-brain export RUN_FOLDER OUT_FOLDER

``MODEL`` is a folder written by ``seed-brain export`` (or a hub id).
``python -m seed_brain.inference.cli`` is the same command. ``seed-brain
<command>
--help`` explains each command.

Errors: a mistake (a missing or damaged file, a bad value, a full disk)
is reported as one line, ``seed-brain: error: ...``, with exit status 1
(:mod:`seed_brain.utils.errors`); ``--debug`` or ``SEED_BRAIN_DEBUG=1`` shows
its traceback.

Ids and reproducibility: SEED's forward noise is seeded per item id (see
:mod:`seed_brain.inference`). By default the id of an audio file is a hash
of its waveform (``--ids content``), so the same audio always gives the
same enhanced embedding; ``--ids path`` uses the path as written (in a
trial list: relative to ``--audio-root``), which is what the recipe does:
a trial list whose paths are the recipe's item keys (``clean/<path>``,
``<condition>/<path>``) reproduces its EERs exactly.

Authors
 * seed-brain developers 2026
"""

import argparse
import logging
import os
import sys

import torch

from seed_brain.inference.trial_scoring import _enhance_all, score_trials_file
from seed_brain.utils.errors import UserError, debug_requested, run_main
from seed_brain.utils.files import save_torch
from seed_brain.utils.progress import progress

__all__ = ["build_parser", "main", "score_trials_file"]

logger = logging.getLogger(__name__)

EMB_FORMAT = "seed-brain-embeddings"

_ID_HELP = (
    "what seeds SEED's forward noise per file: 'content' (default), a hash "
    "of the waveform, so the same audio always gives the same output; "
    "'path', the path as written (the recipe's convention)"
)


class CLIError(UserError):
    """An error reported as ``seed-brain: error: ...`` (exit status 1)."""


# ------------------------------------------------------------- helpers
def _load_model(args):
    from seed_brain.inference import SEEDSpeakerRecognition

    run_opts = {"device": args.device} if args.device else None
    return SEEDSpeakerRecognition.from_hparams(
        source=args.model, savedir=args.savedir, run_opts=run_opts
    )


# ------------------------------------------------------------ commands
def _cmd_verify(args):
    """``seed-brain verify``: one score and decision for two files."""
    model = _load_model(args)
    score, same = model.verify_files(
        args.audio_a,
        args.audio_b,
        threshold=args.threshold,
        enhance=not args.no_enhance,
    )
    threshold = args.threshold
    if threshold is None:
        threshold = (
            model.threshold_baseline if args.no_enhance else model.threshold
        )
    system = "encoder alone" if args.no_enhance else "SEED"
    print(f"score: {score.item():.6f} ({system}, cosine)")
    verdict = "same speaker" if bool(same) else "different speakers"
    sign = ">" if bool(same) else "<="
    print(f"decision: {verdict} (score {sign} threshold {threshold:g})")
    return 0


def _cmd_embed(args):
    """``seed-brain embed``: embeddings of audio files to a .pt file."""
    model = _load_model(args)
    paths = list(args.files)
    for path in paths:
        if not os.path.isfile(path):
            raise CLIError(f"audio file '{path}' not found.")
    base, content = [None] * len(paths), [None] * len(paths)
    with progress(total=len(paths), desc="embed", always=True) as bar:
        for chunk, ids, emb in model.iter_encode_files(paths, args.batch_size):
            for i, uid, e in zip(chunk, ids, emb):
                base[i], content[i] = e, uid
            bar.update(len(chunk))
    ids = content if args.ids == "content" else paths
    emb = torch.stack(base)
    if not args.no_enhance:
        emb = _enhance_all(model, emb, ids)
    save_torch(
        {
            "format": EMB_FORMAT,
            "ids": ids,
            "files": paths,
            "emb": emb.contiguous(),
            "enhanced": not args.no_enhance,
        },
        args.out,
    )
    what = "encoder" if args.no_enhance else "SEED-enhanced"
    print(
        f"wrote {len(paths)} {what} embeddings ({emb.shape[1]}-d) to {args.out}"
    )
    return 0


def _read_embeddings(path):
    """Embeddings of a .pt file: ``(kind, ids, emb, blob)``."""
    if not os.path.isfile(path):
        raise CLIError(f"embedding file '{path}' not found.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CLIError(
            f"cannot read '{path}' as a torch file of tensors ({err})."
        ) from err
    if isinstance(blob, torch.Tensor):
        single = blob.dim() == 1
        emb = blob.reshape(1, -1) if single else blob.reshape(len(blob), -1)
        return ("tensor1" if single else "tensor"), None, emb, blob
    if isinstance(blob, dict) and isinstance(blob.get("emb"), torch.Tensor):
        if blob.get("enhanced"):
            raise CLIError(
                f"'{path}' holds SEED-enhanced embeddings already; enhance "
                "the encoder's own (seed-brain embed --no-enhance)."
            )
        emb = blob["emb"].reshape(blob["emb"].shape[0], -1)
        ids = blob.get("ids")
        if ids is not None and len(ids) != emb.shape[0]:
            raise CLIError(
                f"'{path}': {len(ids)} ids for {emb.shape[0]} embeddings."
            )
        return "dict", ids, emb, blob
    if (
        isinstance(blob, dict)
        and blob
        and all(
            isinstance(k, str) and isinstance(v, torch.Tensor)
            for k, v in blob.items()
        )
    ):
        ids = list(blob)
        emb = torch.stack([blob[k].reshape(-1) for k in ids])
        return "mapping", ids, emb, blob
    raise CLIError(
        f"'{path}' is not an embedding file: expected a [N, D] tensor, a "
        "dict {id: [D] tensor}, or a dict with 'emb' (and 'ids'), as "
        "written by seed-brain embed --no-enhance."
    )


def _cmd_enhance(args):
    """``seed-brain enhance``: SEED-enhances stored embeddings."""
    kind, ids, emb, blob = _read_embeddings(args.embeddings)
    model = _load_model(args)
    if ids is None:
        from seed_brain.inference import embedding_id

        ids = [embedding_id(e) for e in emb]
    out = _enhance_all(model, emb.float(), list(ids))
    if kind == "tensor1":
        result = out[0]
    elif kind == "tensor":
        result = out
    elif kind == "mapping":
        result = dict(zip(ids, out))
    else:
        result = dict(blob)
        result.update(emb=out, ids=list(ids), enhanced=True)
        result.setdefault("format", EMB_FORMAT)
    save_torch(result, args.out)
    print(f"wrote {out.shape[0]} SEED-enhanced embeddings to {args.out}")
    return 0


def _cmd_score(args):
    """``seed-brain score``: scores, EER and minDCF of a trial list."""
    model = _load_model(args)
    result = score_trials_file(
        model,
        args.trials,
        args.audio_root,
        args.out,
        enhance=not args.no_enhance,
        ids=args.ids,
        batch_size=args.batch_size,
        save_every=args.save_every,
    )
    system = "encoder alone" if args.no_enhance else "SEED"
    print(
        f"wrote {result['n_target'] + result['n_nontarget']} scores "
        f"({system}) to {args.out}"
    )
    if result["eer"] is None:
        print("EER: n/a (the list needs target and non-target trials)")
        return 0
    print(
        f"EER: {result['eer']:.6f} % (threshold "
        f"{result['eer_threshold']:.6f})  minDCF: {result['min_dcf']:.6f} "
        f"(p_target {getattr(model.hparams, 'p_target', 0.05)})  on "
        f"{result['n_target']} target / {result['n_nontarget']} "
        "non-target trials"
    )
    return 0


def _cmd_export(args):
    """``seed-brain export``: a training run to an inference folder."""
    from seed_brain.inference.export import export_model

    encoder_yaml = None
    if args.encoder_yaml:
        with open(args.encoder_yaml, encoding="utf-8") as fin:
            encoder_yaml = fin.read()
    out = export_model(
        args.run_folder,
        args.out_folder,
        threshold=args.threshold,
        threshold_baseline=args.threshold_baseline,
        encoder_yaml=encoder_yaml,
        overwrite=args.overwrite,
    )
    print(f"exported {args.run_folder} to {out}")
    print(f"load it with SEEDSpeakerRecognition.from_hparams(source='{out}')")
    return 0


# -------------------------------------------------------------- parser
def _model_args(parser):
    parser.add_argument(
        "--model",
        required=True,
        help="model folder written by 'seed-brain export' (or a hub id)",
    )
    parser.add_argument(
        "--savedir",
        default=None,
        help="where SpeechBrain links the model files (default: load the "
        "folder in place)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="torch device, e.g. cpu or cuda:0 (default: SpeechBrain's "
        "choice, a GPU when there is one)",
    )


def _command(sub, name, func, model=True, **texts):
    """A sub-command: ``texts`` are its help, description and epilog."""
    p = sub.add_parser(name, formatter_class=argparse.HelpFormatter, **texts)
    if model:
        _model_args(p)
    p.set_defaults(func=func)
    return p


def _no_enhance_arg(parser, text):
    parser.add_argument("--no-enhance", action="store_true", help=text)


def _threshold_arg(parser, flag, text):
    parser.add_argument(flag, type=float, default=None, help=text)


def _batch_args(parser):
    parser.add_argument(
        "--ids", choices=("content", "path"), default="content", help=_ID_HELP
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, help="files per encoder call"
    )


def build_parser():
    """The ``argparse`` parser of ``seed-brain``.

    Example
    -------
    >>> args = build_parser().parse_args(
    ...     ["verify", "--model", "m", "a.wav", "b.wav"]
    ... )
    >>> args.command, args.audio_a, args.no_enhance
    ('verify', 'a.wav', False)
    """
    fmt = argparse.HelpFormatter
    parser = argparse.ArgumentParser(
        prog="seed-brain",
        description="SEED speaker-embedding enhancement: verify speakers, "
        "embed and enhance, score trial lists, export trained models.",
        epilog="Run 'seed-brain <command> --help' for a command's options.",
        formatter_class=fmt,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of errors (also SEED_BRAIN_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True

    p = _command(
        sub,
        "verify",
        _cmd_verify,
        help="are two recordings the same speaker?",
        description="Scores two audio files (cosine similarity of their "
        "SEED-enhanced embeddings) and decides same / different speaker "
        "with the model's threshold.",
        epilog="example: seed-brain verify --model results/model a.wav b.wav",
    )
    p.add_argument("audio_a", metavar="A", help="first audio file")
    p.add_argument("audio_b", metavar="B", help="second audio file")
    _threshold_arg(
        p,
        "--threshold",
        "accept when score > threshold (default: the model's)",
    )
    _no_enhance_arg(p, "score the encoder's own embeddings (no SEED)")

    p = _command(
        sub,
        "embed",
        _cmd_embed,
        help="embeddings of audio files",
        description="Embeds audio files (any rate or channel count) and "
        "saves a torch file: {'ids', 'files', 'emb' [N, D], 'enhanced'}, "
        "rows in the order of the files.",
        epilog="example: seed-brain embed --model results/model *.wav "
        "--out emb.pt",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--out", required=True, help="output .pt file")
    _no_enhance_arg(
        p,
        "store the encoder's own embeddings (enhance them later with "
        "'seed-brain enhance')",
    )
    _batch_args(p)

    p = _command(
        sub,
        "enhance",
        _cmd_enhance,
        help="SEED-enhance stored embeddings",
        description="SEED-enhances encoder embeddings stored in a torch "
        "file: the output of 'seed-brain embed --no-enhance', a dict with "
        "'emb' [N, D] and optional 'ids', a dict {id: [D] tensor}, or a "
        "bare [N, D] tensor. Ids seed the noise; without ids, a hash of "
        "each embedding does. The output has the input's layout.",
        epilog="example: seed-brain enhance --model results/model emb.pt "
        "--out enhanced.pt",
    )
    p.add_argument("embeddings", metavar="EMB", help="input .pt file")
    p.add_argument("--out", required=True, help="output .pt file")

    p = _command(
        sub,
        "score",
        _cmd_score,
        help="score a trial list and report EER / minDCF",
        description="Scores a 'label enrol test' trial list (paths "
        "relative to --audio-root; label 1 target, 0 non-target) with "
        "cosine similarity, writes 'score label enrol test' lines and "
        "prints the EER and minDCF. Files are embedded once, in batches; "
        "their embeddings are cached in OUT.embeddings.pt, so an "
        "interrupted run resumes and a rerun (e.g. --no-enhance) embeds "
        "nothing.",
        epilog="example: seed-brain score --model results/model trials.txt "
        "--audio-root data/test --out scores.txt",
    )
    p.add_argument("trials", help="trial list (label enrol test)")
    p.add_argument(
        "--audio-root",
        required=True,
        help="folder the trial paths are relative to",
    )
    p.add_argument("--out", required=True, help="score file to write")
    _no_enhance_arg(p, "score the encoder's own embeddings (the baseline)")
    _batch_args(p)
    p.add_argument(
        "--save-every",
        type=int,
        default=20,
        help="batches between saves of the embedding cache",
    )

    p = _command(
        sub,
        "export",
        _cmd_export,
        model=False,
        help="make an inference folder from a training run",
        description="Writes an inference folder (hyperparams.yaml with "
        "modules and pretrainer, encoder.ckpt, denoiser.ckpt with the EMA "
        "weights when used, README.md with the measured table) from a "
        "finished train.py run: its best checkpoint by dev EER.",
        epilog="example: seed-brain export results/seed_ge2e/1986 "
        "results/model",
    )
    p.add_argument("run_folder", metavar="RUN_FOLDER", help="output_folder")
    p.add_argument("out_folder", metavar="OUT_FOLDER", help="folder to write")
    _threshold_arg(
        p,
        "--threshold",
        "decision threshold of SEED scores (default: EER threshold on "
        "the run's clean test trials)",
    )
    _threshold_arg(
        p,
        "--threshold-baseline",
        "decision threshold of the encoder's own scores",
    )
    p.add_argument(
        "--encoder-yaml",
        default=None,
        help="file with the HyperPyYAML node that builds the encoder "
        "without loading weights (default: the run's node)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a model folder written earlier",
    )
    for p in sub.choices.values():  # also after the command
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the Python traceback of errors",
        )
    return parser


def main(argv=None):
    """Runs ``seed-brain``; returns the exit status.

    Arguments
    ---------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on a user error (one line on stderr; see
        :func:`seed_brain.utils.errors.run_main`), 130 when interrupted. Bugs
        keep their traceback.

    Example
    -------
    >>> main(["enhance", "--model", "m", "/no/such/emb.pt", "--out", "x"])
    1
    """
    args = build_parser().parse_args(argv)
    return run_main(
        lambda _: args.func(args),
        [],
        prog="seed-brain",
        debug=args.debug or debug_requested(),
    )


if __name__ == "__main__":
    sys.exit(main())
