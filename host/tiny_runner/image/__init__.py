"""The C firmware image: generated, built, read, flashed, installed."""
