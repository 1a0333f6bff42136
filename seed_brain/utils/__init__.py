"""Helpers every step shares: files, progress bars, errors, locks, text lists,
the distributed rank and the packages' lazy attributes.

Authors
 * seed-brain developers 2026
"""
