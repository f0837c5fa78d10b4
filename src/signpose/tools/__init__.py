"""What users do with a run (or a folder of .pose files, or a keypoints pickle): ``verify``
(+ ``verify_report``), ``export_pickle``, ``export_npz``, ``render``, ``report``."""
