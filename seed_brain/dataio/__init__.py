"""Data in: audio files, manifests, trial lists, test conditions, corpora,
downloads, generated noise and rooms, the demonstration corpus, and the
recipe's data preparation.

Authors
 * seed-brain developers 2026
"""
