"""The ``torch`` estimator: signpose's Holistic graph (estimators/holistic) with its six
networks batched in PyTorch, for a GPU: ``estimator`` (the estimator), ``runtime`` (crops
and networks on the device), ``net`` and ``tflite`` (the networks read from their .tflite
files and run op by op), ``warp`` (OpenCV 4.x's warp), ``bench`` (the GPU benchmark).
Importing a submodule imports PyTorch."""
