"""Helpers every step shares: files, progress bars, errors, locks, text lists
and the distributed rank.

Authors
 * seed-brain developers 2026
"""
