"""Contributions: accounts, submitted practices, their check against the shapes, review and publication.

Everything a contributor or reviewer makes lives in one SQLite file under ``Settings.state_dir``
(`database`); accepting a submission publishes a new release (`publication`). The server's
routes are in `icgraph.server.contribute`.
"""
