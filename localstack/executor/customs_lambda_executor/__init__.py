"""LocalStack Lambda runtime executor for custom runtimes, as host processes (no Docker)."""
