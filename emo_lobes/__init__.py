"""emo_lobes: shared lobes, corpus parsers, splits and metrics for multi-corpus speech emotion recognition."""
