"""The C firmware (protocol core, ports, int8 kernels); shipped as package data (tiny_runner.firmware_files)."""
