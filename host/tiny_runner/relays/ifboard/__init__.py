"""The MLCommons enhanced interface board (STM32H573I-DK) running the official interface firmware."""
