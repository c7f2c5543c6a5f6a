"""The DUT's transport and protocol: any pyserial URL, the wire log, the text protocol."""
