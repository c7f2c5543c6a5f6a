"""Board descriptors, one TOML file per board; shipped as package data (tiny_runner.board_files)."""
