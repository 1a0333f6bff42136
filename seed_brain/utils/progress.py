"""Progress bars: the one place seed-brain makes them.

Authors
 * seed-brain developers 2026
"""

import sys

__all__ = ["progress"]


def progress(iterable=None, desc=None, total=None, always=False, disable=None):
    """A ``tqdm`` progress bar on standard error.

    Arguments
    ---------
    iterable : iterable or None
        What to go through (None: call ``update`` on the bar yourself).
    desc : str or None
        The bar's label.
    total : int or None
        How many steps (default: ``len(iterable)`` where it has one).
    always : bool
        Show the bar in logs too and keep it on screen when done (the
        command line's bars). False: shown on terminals only (not in logs
        or CI) and cleared when done.
    disable : bool or None
        True hides the bar (e.g. on every process but the first). A bar of
        ``total=0`` with nothing to go through is hidden too.

    Returns
    -------
    tqdm.tqdm
        The bar (also a context manager).

    Example
    -------
    >>> sum(progress(range(3), "counting"))
    3
    >>> with progress(total=0, desc="nothing") as bar:
    ...     bar.update(0)
    """
    from tqdm import tqdm

    if disable is None:
        if iterable is None and total == 0:
            disable = True
        else:
            disable = False if always else None
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        file=sys.stderr,
        dynamic_ncols=True,
        disable=disable,
        leave=always,
    )
