"""Command-line interface: one click command per module, the group in main.py."""
