"""A made-up energy monitor that lives outside tiny-runner: a driver, an emulator and the
declaration that registers them (see toy_monitor-0.1.dist-info/entry_points.txt)."""
