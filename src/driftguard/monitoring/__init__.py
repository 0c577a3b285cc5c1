"""Monitoring runs over windows of stored predictions: typed reports (drift, data quality,
fairness, performance) stored as history, the counts-based and purged paths, report retention,
and the facts a run measured."""
