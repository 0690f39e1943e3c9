"""Durable storage behind a small interface: SQLite (WAL) and an in-memory twin."""
