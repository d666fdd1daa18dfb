"""Entry point of ``python -m emo_lobes.data.corpora summarize`` (the command is in :mod:`~emo_lobes.data.corpora.cli`)."""
import sys

from emo_lobes.data.corpora.cli import main

if __name__ == "__main__":
    sys.exit(main())
