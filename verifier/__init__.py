"""Urne's verifier: what citizens and observers run on their own machine.

Rooms, one concern each (docs/design.md draws them):

- ``urne.verifier.tlog``: the transparency log (RFC 9162 proofs, compact
  ranges, signed notes, checkpoints, tiles); depends on nothing else in Urne;
- ``urne.verifier.civic``: the civic record's formats and rules (canonical
  JSON, entries, process rules, counting, budgets, pabulib);
- ``urne.verifier.credentials``: the BLS12-381 door and credential checks;
- ``urne.verifier.check``: receipts, open data, the audit;
- ``urne.verifier.citizen``: what an author's own machine computes (entries to
  sign, blinding, key files); nothing else here depends on it;
- ``urne.verifier.cli``: the ``urne-verify`` command.

It never imports the server side (``urne.ledger``, ``urne.api``) nor a
database or web framework: import-linter contracts in the test suite enforce
that, and ``pip install urne`` installs only what this package needs.
"""
