"""Histories kept by other tools, recorded as msp events (``msp import ...``)."""
