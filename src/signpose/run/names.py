"""The names inside a run folder: its own files, and the marks of its temporary files."""

from __future__ import annotations

import errno

INDEX = "index.jsonl"
STATS = "stats.json"
RUN_INFO = "run.json"
LOGS = "logs"
POSE_SUFFIX = ".pose"
TMP_MARK = ".tmp-"
LOCK = ".lock"
# The run's own names at its top level: no split may take one of them.
RESERVED_NAMES = frozenset({INDEX, STATS, RUN_INFO, LOGS, LOCK})
# Writing into the run folder fails this way for every clip alike: the run stops.
RUN_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
