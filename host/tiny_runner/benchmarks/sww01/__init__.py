"""Streaming wake word (sww01, MLPerf Tiny v1.3): the truth files, the scoring, the features."""
