"""The transparency log as an observer checks it: RFC 9162 hashing and proofs, compact
ranges, C2SP signed notes, checkpoints and tiles.

Depends on nothing else in Urne but the error model."""
