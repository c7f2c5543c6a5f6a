"""One measurement: pre-flight, the session, the procedures, the capture, the run directory."""
