"""The model-risk lifecycle: what a model risk team is obliged to keep beside live monitoring —
the inventory record of each model and version (its card), independent validation and its
findings, periodic review and incidents. Below ``governance/``, which turns these records into
policy facts and deployment decisions; above ``monitoring/``, whose reports are evidence."""
