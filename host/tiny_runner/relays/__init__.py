"""Pass-through boards (relays) between the host and an energy-mode DUT, one folder each:
its driver, its emulator for the virtual lab and its declaration (plugin.py, registered in the
entry-point group `tiny_runner.relays`). tiny_runner.bench.relays is the registry."""
