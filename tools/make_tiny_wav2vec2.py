#!/usr/bin/env python3
"""Write a tiny randomly initialised wav2vec2 (config.json, weights, preprocessor_config.json) to a local folder.

Run: python tools/make_tiny_wav2vec2.py --output_folder results/tiny_wav2vec2 [--hidden_size 32 --num_layers 2]

The Hugging Face hub is unreachable offline; recipes load this folder through the same ``from_pretrained`` code
as a real model (``--ssl_source=<folder>``, with ``HF_HUB_OFFLINE=1``). Random weights: for tests, quick runs and
benchmarks only, never for results.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import cli_errors  # noqa: E402
from emo_lobes.lobes.ssl_frontend import write_tiny_wav2vec2  # noqa: E402


@cli_errors
def main(argv=None):
    """Parse the options and write the model; returns its folder.

    Example
    -------
    >>> import tempfile
    >>> folder = main(["--output_folder", tempfile.mkdtemp(), "--hidden_size", "16", "--num_layers", "1"])
    tiny wav2vec2 written to ...
    >>> os.path.isfile(os.path.join(folder, "config.json"))
    True
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden_size", type=int, default=32)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--conv_channels", type=int, default=32)
    parser.add_argument("--num_heads", type=int, default=2)
    args = parser.parse_args(argv)
    folder = write_tiny_wav2vec2(args.output_folder, seed=args.seed, hidden_size=args.hidden_size,
                                 num_layers=args.num_layers, conv_channels=args.conv_channels,
                                 num_heads=args.num_heads)
    print(f"tiny wav2vec2 written to {folder}")
    return folder


if __name__ == "__main__":
    main()
