"""``issue``: one blind signature for one person on the roll, once."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from urne.ledger.db.engine import write_connection
from urne.ledger.issuance.codes import code_hash, normalise_code
from urne.ledger.issuance.errors import (
    BadBlindedPoint,
    IssuanceConflict,
    IssuanceNotFound,
    KeyFileError,
)
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.models import ROLL, SHARES
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import CREDENTIAL_SIZE
from urne.verifier.errors import FormatError


def check_blinded(blinded: object) -> bytes:
    if not isinstance(blinded, bytes | bytearray | memoryview):
        raise BadBlindedPoint(f"a blinded point is bytes, not {type(blinded).__name__}")
    blinded = bytes(blinded)
    if len(blinded) != CREDENTIAL_SIZE:
        raise BadBlindedPoint(
            f"a blinded point is {CREDENTIAL_SIZE} bytes (compressed G1), got {len(blinded)}"
        )
    if bls.current_backend().g1_decompress(blinded) is None:
        raise BadBlindedPoint(
            "the blinded point is not a canonical compressed point of G1's prime-order "
            "subgroup other than the identity"
        )
    return blinded


def _today() -> date:
    """The day in UTC: all the roll records of when (docs/spec/issuance.md §3)."""
    return datetime.now(UTC).date()


def issue(
    engine: Engine,
    keyring: IssuerKeyring,
    process_id: str,
    code: str,
    blinded: bytes,
    *,
    share_index: int | None = None,
) -> bytes:
    """Answer one credential request: ``sk * B``, or share ``share_index``'s ``f(i) * B``.

    In order, each refusal leaving the roll untouched:

    1. the process has a key here (``unknown_process``) and the share, if the
       key is shared, is one this issuer holds (``bad_share_index``);
    2. the code is well-formed (``bad_code``) and ``B`` is a canonical point of
       G1's prime-order subgroup, not the identity (``bad_blinded_point``) --
       checked before any lock is taken;
    3. in one transaction holding the person's row (``SELECT ... FOR UPDATE``
       on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): the code is on the roll
       (``unknown_code``, compared in constant time); the person has not been
       answered (``already_issued``) -- for a shared key: not by this share,
       and every share signs the same ``B`` (``blinded_mismatch``); then sign,
       mark the person (the day only, and the SHA-256 of ``B``) and commit.
       A code answered already is answered again for the very same ``B``
       (its holder lost the answer: a reload, a network cut), and nothing
       more is recorded: ``sk * B`` again tells nobody anything new.

    The answer is returned only once the mark is committed; if signing or the
    commit fails, the transaction rolls back and the code stays usable. So two
    concurrent requests with one code never both get an answer. The key signs
    only for someone eligible, which also bounds how many timings of its
    secret operation an attacker can collect.
    """
    record, key = keyring.signer(process_id, share_index)
    raw = normalise_code(code)
    blinded = check_blinded(blinded)
    roll_key = keyring.roll_key(process_id, create=False)
    if roll_key is None:
        raise KeyFileError(
            f"no roll key for {process_id!r} in {keyring.roll_dir}: import the roll, "
            "or install its key on this issuer",
            code="no_roll_key",
        )
    digest = code_hash(roll_key, process_id, raw)
    shared = record.shares > 1
    with write_connection(engine) as conn, conn.begin():
        row = conn.execute(
            sa.select(ROLL.c.person, ROLL.c.code_hash, ROLL.c.issued, ROLL.c.blinded_hash)
            .where(ROLL.c.process_id == process_id, ROLL.c.code_hash == digest)
            .with_for_update()
        ).first()
        # The index finds the row; the comparison that decides is constant-time.
        # (Lookup timing could at most reveal HMAC outputs, which say nothing
        # about any other code.)
        if row is None or not hmac.compare_digest(row.code_hash, digest):
            raise IssuanceNotFound(
                f"this code is not on the roll of {process_id!r}", code="unknown_code"
            )
        fingerprint = hashlib.sha256(blinded).digest()
        # The same B again (an answer lost in transit): answered again, and
        # nothing is recorded. sk*B is what the requester received already,
        # so this gives nobody anything new, and a code is never spent
        # without its holder getting the credential.
        again = row.blinded_hash is not None and hmac.compare_digest(row.blinded_hash, fingerprint)
        mark: dict[str, object] | None = {
            "issued": True,
            "issued_on": _today(),
            "blinded_hash": fingerprint,
        }
        if not shared:
            if row.issued:
                if not again:
                    raise IssuanceConflict(
                        "this code has already been used for a credential",
                        code="already_issued",
                    )
                mark = None
        else:
            done = conn.execute(
                sa.select(SHARES.c.share_index).where(
                    SHARES.c.process_id == process_id,
                    SHARES.c.person == row.person,
                    SHARES.c.share_index == share_index,
                )
            ).first()
            if row.issued:
                if not again:
                    raise IssuanceConflict(
                        "other share holders signed a different blinded point for this code; "
                        "every share must sign the same one"
                        if done is None
                        else f"share {share_index} has already answered this code",
                        code="blinded_mismatch" if done is None else "already_issued",
                    )
                mark = None
            if done is None:
                conn.execute(
                    SHARES.insert(),
                    [{"process_id": process_id, "person": row.person, "share_index": share_index}],
                )
        try:
            answer = key.sign_blinded(blinded)
        except FormatError as exc:  # checked above; kept for the type's sake
            raise BadBlindedPoint(str(exc)) from exc
        if mark is not None:
            conn.execute(
                ROLL.update()
                .where(ROLL.c.process_id == process_id, ROLL.c.person == row.person)
                .values(**mark)
            )
    return answer
