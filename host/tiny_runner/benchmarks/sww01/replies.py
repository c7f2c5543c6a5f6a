"""The sww01 DUT's replies to `start` and `stop`, as the reference firmware prints them
(mlcommons/tiny benchmark/reference_submissions/streaming_wakeword/sww_ref_l4r5zi/Core/Src/
sww_ref_util.c, ee_start_detection / ee_stop_detection / ee_print_vals_int8):

    start -> Listening for I2S data ... / DMA receive initiated.
    stop  -> Streaming stopped. / target activations: / [v, v, ... (16 a line) / ... v  / ]

Only what the host relies on is required: the stop reply must say the stream stopped (that is
the DUT's second timestamp pulse, the end of the energy window), and its activations, when it
prints them, must be int8 values."""

from __future__ import annotations

import re

from ...errors import ProtocolError

STOPPED = "Streaming stopped."
ACTIVATIONS_HEADER = "target activations:"
START_REFUSED = "I2S Rx currently in progress"
ALREADY_IDLE = "I2S is already idle"
_VALUE = re.compile(r"^-?\d{1,3}$")


def check_started(lines: list[str]) -> None:
    if any(line.startswith(START_REFUSED) for line in lines):
        raise ProtocolError(f"the DUT refused 'start%': it was still streaming ({' '.join(lines)})")


def parse_stopped(lines: list[str]) -> list[int] | None:
    """The logged int8 outputs of the model for each frame, None when the DUT printed none;
    ProtocolError when the reply does not say the stream stopped."""
    if not any(line.strip() == STOPPED for line in lines):
        if any(line.startswith(ALREADY_IDLE) for line in lines):
            raise ProtocolError("the DUT answered 'stop%' with 'I2S is already idle': it was not streaming, so it "
                                "never started (no timestamp pulse ended the stream)")
        raise ProtocolError(f"the DUT answered 'stop%' with {lines!r}, not {STOPPED!r}")
    heads = [i for i, line in enumerate(lines) if line.strip().startswith(ACTIVATIONS_HEADER)]
    if not heads:
        return None
    text = " ".join(lines[heads[0] + 1:]).strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ProtocolError(f"the DUT's target activations are not a bracketed list: {text[:80]!r}")
    items = [item.strip() for item in text[1:-1].replace(",", " ").split()]
    if not all(_VALUE.match(item) and -128 <= int(item) <= 127 for item in items):
        bad = next(item for item in items if not (_VALUE.match(item) and -128 <= int(item) <= 127))
        raise ProtocolError(f"the DUT's target activations hold {bad!r}, not an int8 value")
    return [int(item) for item in items]
