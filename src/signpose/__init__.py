"""signpose: deterministic MediaPipe Holistic keypoints for sign-language datasets."""

__version__ = "0.1.0"
