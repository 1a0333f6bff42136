"""What the scripts of ``recipes/`` share: a parser made from the script's
docstring, the log format, the train.py arguments of a prepared test set,
and the command line of a test-set preparation.

Authors
 * seed-brain developers 2026
"""

import argparse
import json
import logging

__all__ = [
    "doc_parser",
    "print_test_set",
    "start_logging",
    "run_test_set_script",
]


def doc_parser(doc):
    """An ``ArgumentParser`` whose help is a script's docstring.

    The first paragraph is the description, the rest the epilog (kept as
    written).

    Example
    -------
    >>> parser = doc_parser("Does a thing.\\n\\nMore about it.")
    >>> parser.description, parser.epilog
    ('Does a thing.', 'More about it.')
    """
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )


def start_logging():
    """Log messages of level INFO and above, one plain line each."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def print_test_set(info):
    """Prints a prepared test set and the train.py arguments that use it.

    Example
    -------
    >>> print_test_set({"test_folder": "/d/wav", "trials": "/d/t.txt"})
    {
     "test_folder": "/d/wav",
     "trials": "/d/t.txt"
    }
    train.py arguments: --test_folder=/d/wav --test_trials=/d/t.txt
    """
    print(json.dumps(info, indent=1))
    print(
        f"train.py arguments: --test_folder={info['test_folder']} "
        f"--test_trials={info['trials']}"
    )


def run_test_set_script(doc, prepare, folders, options, argv=None):
    """The command line of a test-set preparation script.

    ``--<folder>`` for each of ``folders`` and ``--out_folder`` are required
    and passed to ``prepare`` in that order; each of ``options`` and
    ``--full_paths`` is passed by name. The returned summary is printed with
    :func:`print_test_set`.

    Arguments
    ---------
    doc : str
        The script's docstring (see :func:`doc_parser`).
    prepare : callable
        ``prepare(*folders, out_folder, full_paths=..., **options)``; returns
        the summary (with ``test_folder`` and ``trials``).
    folders : list of str
        Names of the required folder arguments.
    options : dict
        ``{name: (default, help)}`` of the optional arguments.
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    dict
        What ``prepare`` returned.

    Example
    -------
    >>> def prepare(data, out, full_paths=False, trials=None):
    ...     return {"test_folder": data, "trials": f"{out}/{trials}"}
    >>> info = run_test_set_script(
    ...     "Prepares.\\n\\nUsage.",
    ...     prepare,
    ...     ["data_folder"],
    ...     {"trials": ("t.txt", "trial list")},
    ...     ["--data_folder", "/d", "--out_folder", "/o"],
    ... )
    {
     "test_folder": "/d",
     "trials": "/o/t.txt"
    }
    train.py arguments: --test_folder=/d --test_trials=/o/t.txt
    """
    parser = doc_parser(doc)
    positional = [*folders, "out_folder"]
    for name in positional:
        parser.add_argument(f"--{name}", required=True)
    for name, (default, text) in options.items():
        parser.add_argument(f"--{name}", default=default, help=text)
    parser.add_argument("--full_paths", action="store_true")
    args = parser.parse_args(argv)
    start_logging()
    info = prepare(
        *(getattr(args, name) for name in positional),
        full_paths=args.full_paths,
        **{name: getattr(args, name) for name in options},
    )
    print_test_set(info)
    return info
