"""Browser tests of the explorer: Playwright drives Debian's chromium against a live devnet.

A package, so that its helpers import as `browser.<module>` both under pytest
(tests/ is on sys.path, as for procs and govprocs) and under mypy (tests/ is a
base of mypy_path).
"""
