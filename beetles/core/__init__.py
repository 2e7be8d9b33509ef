"""The core every product shares: specimens and their coordinate frames, photos
and their fitting into the network frame, cross-validation rounds, metrics,
Procrustes analysis, training history, atomic files, errors, PyTorch devices."""
