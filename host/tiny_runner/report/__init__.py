"""What a run leaves behind: results.json, the MLPerf results.txt, the human summary."""
