"""Data in: predictions, late labels and reference data sets, stored as columnar blocks with
mergeable per-block counts, and the queries that read them back. Below ``monitoring``, which
reads windows of them; imports nothing of it."""
