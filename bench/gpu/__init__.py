"""The torch estimator's one-run GPU check (check.sh) and what it needs: the pack of
dependencies for the offline GPU server (pack.sh), its data (data.py), the import check
(preflight.py), the per-part distances (compare.py) and the summary (summary.py). See
bench/README.md, "GPU check"."""
