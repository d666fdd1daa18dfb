"""Shared neural modules (pooling, adapters, encoders, losses) used by the recipes."""
