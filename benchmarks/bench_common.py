"""What the scripts of ``benchmarks/`` share: the ``--threads`` option and
their numeric options.

Authors
 * seed-brain developers 2026
"""

import logging

import torch


def add_numbers(parser, **defaults):
    """Adds an option ``--a-name`` per keyword ``a_name``, typed by its default.

    Arguments
    ---------
    parser : argparse.ArgumentParser
        The script's parser.
    **defaults : int or float
        The options' defaults, in the order of the help.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_numbers(parser, batch_size=128, seconds=60.0)
    >>> vars(parser.parse_args(["--batch-size", "8"]))
    {'batch_size': 8, 'seconds': 60.0}
    """
    for name, default in defaults.items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=type(default), default=default
        )


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
