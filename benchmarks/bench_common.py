"""What the scripts of ``benchmarks/`` share: the ``--threads`` option.

Authors
 * seed-brain developers 2026
"""

import logging

import torch


def parse_with_threads(parser, argv=None):
    """Parses ``argv`` with a ``--threads`` option added to ``parser``.

    A given ``--threads`` sets torch's thread count; log messages below
    WARNING are not shown.

    Arguments
    ---------
    parser : argparse.ArgumentParser
        The script's parser, without ``--threads``.
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        The parsed arguments.

    Example
    -------
    >>> import argparse
    >>> parse_with_threads(argparse.ArgumentParser(), []).threads is None
    True
    """
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    return args
