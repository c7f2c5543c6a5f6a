"""A run's resources: bench files, detection, the monitor and pass-through board registries."""
