"""signpose's own MediaPipe Holistic graph (0.10.21, static image mode, a fresh graph per
frame): its steps and geometry as numpy array code (``steps``), the six networks it runs
(``weights``, shipped in ``models/``), and the layout of its files. The runtimes that run the
networks are the estimators beside it: ``litert`` (the CPU) and ``torch_holistic`` (a GPU)."""
