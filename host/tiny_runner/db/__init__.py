"""The results database: every run's figures, windows and provenance in SQLite (schema.py),
written from the run directory's results.json (rows.py) by store.py. Run directories stay the
raw truth; the database can be rebuilt from them."""
