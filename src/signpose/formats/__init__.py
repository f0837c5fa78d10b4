"""Keypoints in and out of files, knowing nothing of run folders: ``pose`` (pose-format's
.pose bytes), ``posefolder`` (other tools' folders of .pose files), ``keypoints_pickle`` (the
keypoints pickle of data/extract_phoenix_keypoints*.py), ``safepickle`` (unpickling
untrusted files)."""
