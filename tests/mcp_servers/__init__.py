"""MCP servers for the tests, written with the MCP SDK's own server API and run as processes."""
