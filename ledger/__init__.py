"""Urne's ledger: the log and the civic record on SQL storage (SQLite or PostgreSQL).

Rooms, one concern each:

- ``urne.ledger.log``: the append-only log (store, sequencer, log key, tile export);
- ``urne.ledger.civic``: the civic record on top of it (admission under each
  process's rules, credential checks in batches, open-data export, pabulib import);
- ``urne.ledger.issuance``: the eligibility roll and blind issuance, stored apart
  from the log;
- ``urne.ledger.institutions``: registered institutions and their signed requests;
- ``urne.ledger.db``: engines, settings, migrations.

It builds on ``urne.verifier`` for every format and check an observer also
needs, so the service and its observers read entries with the same code. This
package imports nothing by itself: ``import urne.ledger`` loads no database
driver.
"""
