"""The run folder: the only code that knows its files. ``names`` (its file names), ``record``
(a clip's line in the index), ``store`` (the one writer: atomic temp-then-rename),
``journal`` (the index appended as clips finish), ``lock`` (one run per folder), ``reader``
(the one reader), ``guard`` (output errors, and no tool writing over a run)."""
