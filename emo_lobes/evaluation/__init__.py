"""Evaluation: metrics and test_results.json, markdown tables, functional baselines and cross-corpus scoring."""
