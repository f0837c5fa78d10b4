"""MediaPipe Holistic's six networks and graph, batched, in PyTorch (static image mode).

`TorchHolistic(device=..., batch_size=...)`.process(list of RGB uint8 frames) gives, per
frame (`.landmarks(frames)`: as arrays), what `mediapipe.solutions.holistic.Holistic(static_image_mode=True,
model_complexity=1)` gives with a fresh graph per frame. Needs torch and mediapipe 0.10.21
(for the model files, read from its wheel and verified by sha256).
"""

from .holistic import MODELS, TorchHolistic
from .landmarks import PART_SHAPES, HolisticResult, Landmarks, to_arrays

__all__ = ["MODELS", "PART_SHAPES", "HolisticResult", "Landmarks", "TorchHolistic", "to_arrays"]
