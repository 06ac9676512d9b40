"""The trustee of a secret vote or budget on its own machine: ``urne-trustee``
(docs/guides/trustees.md, docs/secret-ballot.md).

- :mod:`~urne.verifier.trustee.keyfile`: the trustee's secret file (its signing
  key, its share key, its polynomial once it has dealt);
- :mod:`~urne.verifier.trustee.ledger`: the log as the trustee reads it, every
  entry replayed through the rules (``urne.verifier.civic.process.Registry``),
  and the entries it posts;
- :mod:`~urne.verifier.trustee.ceremony`: key generation, the key ceremony,
  the decryption of the tally, the status;
- :mod:`~urne.verifier.trustee.cli`: the command line.

It needs nothing of the server side.
"""
