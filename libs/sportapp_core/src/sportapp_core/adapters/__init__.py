"""Adapters: the only part of the core that imports frameworks and drivers."""
