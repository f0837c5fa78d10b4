"""The vocabulary every stage passes on: a clip as a dataset lists it (``clip``), a clip's
keypoint arrays (``keypoints``), what the arrays mean (``layout``), per-split counts (``stats``)."""
