"""Attributes of a package imported on first use.

Authors
 * seed-brain developers 2026
"""

import importlib


def lazy_attributes(package, homes):
    """A module ``__getattr__`` that imports each name from its home module.

    Arguments
    ---------
    package : str
        Name of the package it serves (for the error message).
    homes : dict
        ``{attribute name: module that defines it}``.

    Returns
    -------
    callable
        ``__getattr__(name)``, raising ``AttributeError`` for other names.

    Example
    -------
    >>> getattr_ = lazy_attributes("pkg", {"sqrt": "math"})
    >>> getattr_("sqrt")(4.0)
    2.0
    >>> getattr_("cbrt")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute cbrt
    """

    def __getattr__(name):
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError(f"module '{package}' has no attribute {name}")

    return __getattr__
