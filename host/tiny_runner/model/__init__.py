"""The reference models, what is in them, and the host's TFLM interpreter."""
