"""One center as several processes: cluster-wide locks, elected roles and ingest seats."""
