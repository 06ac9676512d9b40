"""The eligibility roll and blind issuance: issuer keys, one-time codes, who was issued
a credential. Stored apart from the log."""
