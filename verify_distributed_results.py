"""Check that the single-process and distributed keypoints pickles (or run folders) are identical.

    python verify_distributed_results.py --single single.pkl --distributed dist.pkl [--splits train]
"""

import sys

from signpose.cli.scripts import verify_pickles

if __name__ == "__main__":
    sys.exit(verify_pickles(sys.argv[1:]))
