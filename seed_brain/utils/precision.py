"""The arithmetic precision of the frozen encoder while caching.

Building the view cache is nearly all encoder work (the shared data's
default run: 60,000 crop encodings, two thirds of the run). Where the
hardware computes bfloat16 natively (CPUs with AVX512-BF16 or AMX, CUDA
GPUs with bf16), running the encoder under bfloat16 autocast for the cache
is about 3x faster on the GE2E LSTM and changes an embedding by far less
than the corruption the denoiser removes (cosine to float32 >= 0.999).
Dev and test embeddings, and so the frozen-encoder baseline, stay float32.

Authors
 * seed-brain developers 2026
"""

import torch

__all__ = ["PRECISIONS", "autocast_dtype", "native_bf16", "resolve_precision"]

#: What ``cache_precision`` accepts.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

#: The CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU feature flags named in ``cpuinfo`` (empty where unreadable)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[-1].split())
    except OSError:
        pass
    return set()


def native_bf16(device="cpu", cpuinfo="/proc/cpuinfo"):
    """Whether ``device`` computes bfloat16 natively.

    Arguments
    ---------
    device : str or torch.device
        ``"cpu"``, ``"cuda:0"``, ...
    cpuinfo : str
        Where the CPU flags are read (Linux); elsewhere CPUs count as not
        native, which only means float32 is kept.

    Returns
    -------
    bool

    Example
    -------
    >>> native_bf16("cpu", cpuinfo="/nonexistent")
    False
    """
    kind = torch.device(device).type
    if kind == "cuda":
        cuda = torch.cuda
        return bool(cuda.is_available() and cuda.is_bf16_supported())
    if kind == "cpu":
        return bool(_cpu_flags(cpuinfo) & set(BF16_CPU_FLAGS))
    return False


def resolve_precision(precision, device="cpu", cpuinfo="/proc/cpuinfo"):
    """``fp32``, ``bf16`` or ``fp16`` for a ``cache_precision`` setting.

    Arguments
    ---------
    precision : str or None
        One of :data:`PRECISIONS`; ``auto`` is ``bf16`` where the device
        computes it natively (:func:`native_bf16`), else ``fp32``. None
        is ``fp32``.
    device : str or torch.device
        Where the encoder runs.
    cpuinfo : str
        Passed to :func:`native_bf16`.

    Returns
    -------
    str

    Example
    -------
    >>> resolve_precision("bf16")
    'bf16'
    >>> resolve_precision("auto", "cpu", cpuinfo="/nonexistent")
    'fp32'
    >>> resolve_precision("half")
    Traceback (most recent call last):
     ...
    ValueError: cache_precision: 'half' is not one of auto, fp32, ...
    """
    if precision is None:
        return "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"cache_precision: {precision!r} is not one of "
            f"{', '.join(PRECISIONS)}: set it in the yaml or with "
            "--cache_precision=..."
        )
    if precision == "auto":
        return "bf16" if native_bf16(device, cpuinfo) else "fp32"
    return precision


def autocast_dtype(precision):
    """The autocast dtype of a resolved precision (None for ``fp32``).

    Example
    -------
    >>> autocast_dtype("bf16")
    torch.bfloat16
    >>> autocast_dtype("fp32") is None
    True
    """
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[
        precision
    ]
