"""Every error type signpose raises on purpose, in one place.

Two families: errors that stop a command (``SignposeError`` and its children: the CLI
turns each into one line and exit status 2), and errors of one clip or one frame
(``ClipError``, ``FrameError``: recorded in the index, the run goes on).
"""

from __future__ import annotations


class SignposeError(Exception):
    """A command cannot go on: bad input, bad output folder, missing model. One line."""


class DatasetError(SignposeError):
    """The dataset cannot be read at all (missing root, unknown layout, bad annotations)."""


class StoreError(SignposeError):
    """The output folder cannot be used (or a clip would be written outside it)."""


class RunBusyError(StoreError):
    """Another signpose run holds the output folder's lock."""


class OutputError(StoreError):
    """Writing into the run folder fails for every clip alike (disk full, read-only, no
    permission, quota): the run stops, keeping what is finished."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class SourceError(SignposeError):
    """An input to verify / export / render / report cannot be read, or is not of the expected schema."""


class UnsafePickleError(SourceError):
    """A pickle asked for a global that the keypoint schema never needs."""


class DependencyError(SignposeError):
    """An optional package the command needs is not installed (one line with the pip command)."""


class EstimatorError(SignposeError):
    """An estimator cannot run as asked (unknown name or option, a model file missing)."""


class BackendError(SignposeError):
    """The backend cannot run the work (workers cannot see the data, no cluster...)."""


class ClipError(Exception):
    """A clip that cannot be processed at all (no frames, missing folder, broken video)."""


class VideoError(ClipError):
    """A video file that cannot be decoded (missing, not a video, no frames, corrupt)."""


class FrameError(Exception):
    """A frame file that cannot be turned into an image."""


class NotRegularFile(OSError):
    """A path that is not a regular file, or is over its size limit: it was not read."""
