"""The client API (Ava-compatible)."""
