"""One module per CLI command: `register(subparsers)` with light imports, heavy imports in the handler."""
