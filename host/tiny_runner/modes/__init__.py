"""The measurement procedures, one module per mode, each driving a connected DUT."""


class Procedure:
    """What every mode gets from the session: the request, the DUT, the golden check, the
    results dict it fills in place (so a failure keeps what was measured), log and progress."""

    def __init__(self, session, dut, golden):
        self.session = session
        self.req = session.req
        self.dut = dut
        self.golden = golden
        self.results = session.results
        self.log = session.run_dir.log
        self.progress = session.progress

    def run(self) -> None:
        raise NotImplementedError
