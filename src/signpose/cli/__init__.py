"""The command line: the only place that prints and chooses exit codes. ``main`` (the
``signpose`` command), ``scripts`` (the command lines of data/extract_phoenix_keypoints*.py
and verify_distributed_results.py), ``progress`` (the progress line)."""

from signpose.cli.main import main

__all__ = ["main"]
