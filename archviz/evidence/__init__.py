"""Audit evidence packs."""
