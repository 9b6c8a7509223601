"""Models and events: validated inputs, immutable events, the session views and actions."""
