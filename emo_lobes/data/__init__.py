"""Data: corpus parsers, audio reading, label sets, corpus declarations, splits, manifests and synthetic corpora."""
