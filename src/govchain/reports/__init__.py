"""The report channel (issue 15): complaints and reports the public sends a node.

report.py checks a report and names it (its id); store.py keeps a node's
reports in their own SQLite file, bounded; ratelimit.py and signed.py guard the
HTTP edge (api/reports_routes.py): who may send how often, and which committee
member signed a request to read them. Handling a report is a transaction
(state/kinds/report_handle.py). docs/reports.md tells the whole story.
"""
