"""The measurement procedures, one module per mode, each driving a connected DUT."""
