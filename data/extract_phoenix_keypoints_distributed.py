"""Extract PHOENIX keypoints into a keypoints pickle, in many processes: the same bytes as the one-process script.

    python data/extract_phoenix_keypoints_distributed.py --dataset_path D --output_path dist.pkl --max_samples_per_split 10 --num_workers 4
    (add --backend ray [--ray_address HOST:PORT] to run on Ray)
"""

import sys

from signpose.cli.scripts import extract_and_export

if __name__ == "__main__":
    sys.exit(extract_and_export(sys.argv[1:], __doc__.splitlines()[0], default_workers=None))
