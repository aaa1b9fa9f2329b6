"""Helpers for the tests and the GPU check: stand-ins of the downloads."""
