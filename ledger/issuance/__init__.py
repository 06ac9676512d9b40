"""The eligibility roll and blind issuance: per-process issuer keys, one-time
codes, ``issue``. Stored apart from the log.

docs/spec/issuance.md (the operator's protocol) and docs/spec/credentials.md
(the cryptography). Privacy rule: identity is seen here, at issuance, and
nowhere else. The issuer sees who asks (by their one-time code) and the
blinded point ``B``; it never sees the pseudonym, the message or the
credential, and it stores nothing that links to the log. The only public
numbers are how many people are on a process's roll, how many have been
answered and how many codes the help desk replaced (:func:`roll_size`,
:func:`issued_count`, :func:`codes_replaced` in ``roll``).

Keys (:class:`IssuerKeyring`, under ``<key_dir>``)::

    issuers/<process_id>.pub        public record: group key, threshold, share keys
    issuers/<process_id>.key        the secret key of a single-issuer process (0600)
    issuers/<process_id>.<i>.key    share i of a t-of-n key (0600), one per office
    roll/<process_id>.key           the roll key: HMAC key of the one-time codes (0600)

The roll (``models``): one row per person and process with the
HMAC of their one-time code -- never the code -- and whether (and on which
day, never at what time) they were answered.

Modules: ``keyring`` (issuer keys and roll keys on disk), ``issuer_key`` (the
secret key and its blind signature), ``codes`` (one-time codes and their
HMAC), ``roll`` (importing and counting the roll), ``issue`` (answering a
request), ``errors``, ``models``. This package's ``__init__`` imports none of
them: ``issuer_key`` loads without a database driver.

Errors (each class declares its HTTP status)::

    LedgerError                                                        503
    ├── InvalidRequest                                                 400
    │   ├── IssuanceRefused      bad_share_index, bad_code             400
    │   │   ├── IssuanceNotFound unknown_process, unknown_code         404
    │   │   └── IssuanceConflict already_issued, blinded_mismatch      409
    │   ├── BadBlindedPoint      bad_blinded_point; also a verifier    400
    │   │                        FormatError
    │   ├── RollRefused          bad_process_id, bad_person,           400
    │   │                        duplicate_person, already_on_roll,
    │   │                        bad_roll_csv, bad_threshold
    │   └── IssuerKeyExists      issuer_key_exists                     409
    └── KeyFileError             bad_key_file, no_roll_key: the key    503
                                 directory is damaged or incomplete
    UnsafeKeyFile                unsafe_key_file: a key readable by    503
                                 group or others (urne.verifier.citizen.keyfile)
"""
