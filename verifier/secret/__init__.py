"""The secret ballot: ristretto255 ElGamal, its proofs, the trustees' key
generation and the tally (docs/secret-ballot.md).

Nothing here depends on the rest of the verifier but its errors: the civic
rules (``urne.verifier.civic``) and the trustee's command use it.
"""
