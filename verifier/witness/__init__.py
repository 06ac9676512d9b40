"""The witness: cosigns a log's checkpoints that extend what it saw (docs/spec/witness.md)."""
