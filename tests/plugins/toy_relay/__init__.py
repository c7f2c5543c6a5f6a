"""A made-up pass-through board that lives outside tiny-runner: a driver, an emulator and the
declaration that registers them (see toy_relay-0.1.dist-info/entry_points.txt)."""
