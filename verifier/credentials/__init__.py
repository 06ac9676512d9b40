"""Anonymous credentials as a verifier sees them: the one door to BLS12-381 and the
check of a credential against its issuer's public key."""
