"""Turning DUT replies into results: statistics over windows, top-1 and AUC."""
