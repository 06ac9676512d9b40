"""What a citizen's (or an institution's) own machine computes: entries to sign, a
pseudonym, blinding and unblinding, key files.

Nothing else in the verifier depends on it: an observer's checks never run an
author's code."""
