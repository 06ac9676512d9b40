"""Storage plumbing: engines for SQLite and PostgreSQL, the settings, the migrations."""
