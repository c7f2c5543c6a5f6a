"""The published MLPerf Tiny results, shipped with the package (table.py)."""
