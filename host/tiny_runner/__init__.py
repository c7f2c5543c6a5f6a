"""tiny-runner: latency, accuracy and energy of MLPerf Tiny models on microcontrollers."""

__version__ = "0.1.0"
