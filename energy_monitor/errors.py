"""Monitor errors: each says which instrument, what was sent and what came back."""


class MonitorError(Exception):
    """Base of everything a monitor driver raises for a bench problem (not a bug)."""


class MonitorNotResponding(MonitorError):
    """The instrument did not answer (wrong port, unplugged, held by another program)."""


class MonitorRefused(MonitorError):
    """The instrument answered a command with an error."""


class MonitorFirmwareTooOld(MonitorError):
    """The instrument's firmware lacks what the measurement needs."""


class MonitorDataError(MonitorError):
    """The sample stream broke: overflow, unparseable data, the device went away."""
