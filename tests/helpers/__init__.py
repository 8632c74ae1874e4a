"""Builders for test fixtures: gcc-compiled libraries, wheels with exact RECORDs, pinned
published wheels. Nothing here imports the code under test except to share its RECORD hash."""
