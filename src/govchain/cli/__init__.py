"""The govchain command."""
