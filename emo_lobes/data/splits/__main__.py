"""Entry point of ``python -m emo_lobes.data.splits make|show`` (the commands are in :mod:`~emo_lobes.data.splits.cli`)."""
import sys

from emo_lobes.data.splits.cli import main

if __name__ == "__main__":
    sys.exit(main())
