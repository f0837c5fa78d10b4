"""Extract PHOENIX keypoints into a keypoints pickle, in one process (a run folder beside it resumes).

    python data/extract_phoenix_keypoints.py --dataset_path D --output_path single.pkl --max_samples_per_split 10
"""

import sys

from signpose.cli.scripts import extract_and_export

if __name__ == "__main__":
    sys.exit(extract_and_export(sys.argv[1:], __doc__.splitlines()[0], default_workers=1))
