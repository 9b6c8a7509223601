"""The plugin host: loads integrations and calls each hook implementation alone."""
