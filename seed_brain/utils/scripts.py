"""What the scripts of ``recipes/`` share: a parser made from the script's
docstring, the log format, and the train.py arguments of a prepared test
set.

Authors
 * seed-brain developers 2026
"""

import argparse
import json
import logging

__all__ = ["doc_parser", "print_test_set", "start_logging"]


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
