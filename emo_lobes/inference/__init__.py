"""Inference: classify new audio with a trained experiment folder, through one adapter per recipe."""
