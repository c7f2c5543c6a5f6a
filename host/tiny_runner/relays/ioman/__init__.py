"""The EEMBC Arduino Uno IO manager: the pass-through board of the EEMBC EnergyRunner."""
