"""Urne's verifier: what citizens and observers run on their own machine.

Pure and small: hashing, proofs, signed notes, checkpoints and tiles. It never
imports the server side (``ledger``, ``api``) nor a database or web framework;
an import-linter contract in the test suite enforces that.
"""
