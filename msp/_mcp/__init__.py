"""The MCP front-end: a stdio server over the same application layer as the CLI."""
