"""The session manager: turns validated input into events and planned actions."""
