"""Anonymous per-process credentials: blind BLS signatures on BLS12-381 (docs/spec/credentials.md).

A citizen takes part in a process under a pseudonym -- an Ed25519 key of their
own, fresh for the process. The credential is the issuer's BLS signature on::

    m = b"urne/v1/credential\\n" || UTF-8(process_id) || 0x00 || pseudonym_pubkey

hashed to G1 with RFC 9380 ``BLS12381G1_XMD:SHA-256_SSWU_RO_`` under the tag
:data:`CREDENTIAL_DST`, and it verifies as ``e(S, G2) == e(H(m), PK)`` with
the process's issuer key ``PK`` (G2, 96 bytes; ``S`` is G1, 48 bytes): the
minimal-signature-size variant, so that what every ballot carries and every
verifier hashes and decodes is in the cheaper group.

Issuance, without the issuer ever seeing ``m`` (Boldyreva's blind BLS)::

    citizen                                   issuer (checks eligibility, records it)
    H = H(m); r random in [1, r-1]
    B = r*H                      --- B --->
                                 <-- S' --    S' = sk*B   (B subgroup-checked first)
    S = r^-1 * S'  (= sk*H)
    check e(S, G2) == e(H, PK)

What blinding hides: for any ``H``, ``r*H`` with ``r`` uniform in ``[1, r-1]``
is a uniformly random point of G1 other than the identity. ``B`` is therefore
independent of ``m``: the issuer, even with unbounded computing power and
everything published later, cannot tell which credential, pseudonym or process
message came from which request (the unlinkability is information-theoretic).
What it does learn: who asked, when, and for which process key.

Why ``r`` is fresh for every issuance, from the OS CSPRNG: the hiding argument
needs ``r`` uniform and independent of everything else. Reused across two
requests, ``B1 = r*H1`` and ``B2 = r*H2`` are related, and linking them to the
published ``H1, H2`` becomes a decisional Diffie-Hellman question in G1 --
hard today, but no longer impossible, and solved at once for every request
that shared ``r`` if ``r`` ever leaks (a backup, a bug). Derived from ``m``
(say ``r = hash(m)``), the issuer could recompute ``r*H`` for every pseudonym
in the log and match. The citizen's blinding state is discarded after
unblinding.

Why a fresh issuer key per process: the issuer signs ``B`` blind, so it cannot
see which process ``m`` names. Only the key binds a credential to a process:
with one key for two processes, an eligible person could ask "for process A"
and receive a credential valid for B. One key per process (announced in the
process manifest) makes the issuer's eligibility check mean what it says.

Threshold issuance: ``split_key`` cuts the process key into Shamir shares
``f(1), ..., f(n)`` of a random polynomial of degree ``t - 1`` with
``f(0) = sk``. Each issuer signs the same ``B`` with its share; any ``t``
answers combine by Lagrange interpolation at zero (``combine_shares``)
into ``sk*B`` -- before or after unblinding, the maps being linear -- so no
fewer than ``t`` issuers can mint a credential. Each share's public key
``f(i)*G2`` lets the citizen check every answer (``verify_blind_share``).
A dealer (the caller of ``split_key``) knows ``sk``; a distributed key
generation, where nobody does, comes later.

Where each side lives: this module is what a verifier needs (the message, the
checks); the citizen's side (pseudonym, blinding, unblinding, combining shares)
is ``urne.verifier.citizen.blinding``; the issuer's secret key is server-side,
``urne.ledger.issuance.issuer_key``.

The verification functions (:func:`verify_credential`,
:func:`verify_credentials_batch`) return ``False`` on anything malformed or
wrong; :func:`check_credential` raises the typed error instead
(:class:`~urne.verifier.errors.FormatError` for what cannot be checked,
:class:`CredentialError` for a credential that does not verify).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from urne.verifier.credentials import bls
from urne.verifier.errors import FormatError, VerificationError

__all__ = [
    "CREDENTIAL_DST",
    "CREDENTIAL_PREFIX",
    "CREDENTIAL_SIZE",
    "ISSUER_KEY_SIZE",
    "ISSUER_PUBLIC_KEY_SIZE",
    "PSEUDONYM_SIZE",
    "CredentialError",
    "check_credential",
    "credential_message",
    "invalid_credentials",
    "verify_credential",
    "verify_credentials_batch",
]

#: Domain separation tag for hashing credential messages to G1 (RFC 9380 §3.1).
CREDENTIAL_DST = b"URNE-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
#: First bytes of every credential message.
CREDENTIAL_PREFIX = b"urne/v1/credential\n"
#: A credential (and a blinded message, a blind signature): a compressed point of G1.
CREDENTIAL_SIZE = bls.G1_COMPRESSED_SIZE
#: An issuer (or share) public key: a compressed point of G2.
ISSUER_PUBLIC_KEY_SIZE = bls.G2_COMPRESSED_SIZE
#: An issuer secret key or share: I2OSP(sk, 32), 0 < sk < r.
ISSUER_KEY_SIZE = bls.SCALAR_SIZE
#: A pseudonym: an Ed25519 public key.
PSEUDONYM_SIZE = 32


class CredentialError(VerificationError):
    """A well-formed credential, or blind signature, that does not verify."""

    code = "bad_credential"


# --------------------------------------------------------------------------
# The message
# --------------------------------------------------------------------------


def credential_message(process_id: str, pseudonym_pubkey: bytes) -> bytes:
    """``b"urne/v1/credential\\n" || UTF-8(process_id) || 0x00 || pseudonym_pubkey``.

    The NUL byte ends the process id, so it must not occur in it (nor may the
    id be empty); the pseudonym is exactly 32 bytes. Together these make the
    encoding injective: no two (process, pseudonym) pairs share a message. The
    id's UTF-8 bytes are taken as they are, without Unicode normalisation.
    """
    if not process_id:
        raise FormatError("process id is empty", code="bad_process_id")
    if "\x00" in process_id:
        raise FormatError("process id contains a NUL character", code="bad_process_id")
    try:
        encoded = process_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError("process id is not encodable as UTF-8", code="bad_process_id") from exc
    if len(pseudonym_pubkey) != PSEUDONYM_SIZE:
        raise FormatError(
            f"pseudonym is {len(pseudonym_pubkey)} bytes, want {PSEUDONYM_SIZE}",
            code="bad_pseudonym",
        )
    return CREDENTIAL_PREFIX + encoded + b"\x00" + bytes(pseudonym_pubkey)


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def verify_credential(
    public_key: bytes,
    process_id: str,
    pseudonym: bytes,
    credential: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> bool:
    """Whether ``credential`` is the issuer's signature for this process and pseudonym.

    ``False`` for anything malformed: the issuer key, the process id, the
    pseudonym or the credential encoding (wrong length, not a canonical
    compressed point, not in the subgroup, the identity).
    """
    try:
        message = credential_message(process_id, pseudonym)
    except FormatError:
        return False
    return bls.resolve(backend).verify(public_key, message, credential, CREDENTIAL_DST)


def check_credential(
    public_key: bytes,
    process_id: str,
    pseudonym: bytes,
    credential: bytes,
    *,
    backend: bls.AnyBackend | None = None,
) -> None:
    """:func:`verify_credential`, raising the reason instead of returning ``False``.

    :class:`~urne.verifier.errors.FormatError` when something cannot be checked (bad
    process id, pseudonym, key or credential encoding), :class:`CredentialError`
    when the credential is well-formed but not valid for this process and
    pseudonym under this key.
    """
    message = credential_message(process_id, pseudonym)
    be = bls.resolve(backend)
    pk = be.g2_decompress(public_key)
    if pk is None:
        raise FormatError(
            "issuer public key is not a compressed point of G2's prime-order subgroup",
            code="bad_public_key",
        )
    if len(credential) != CREDENTIAL_SIZE:
        raise FormatError(
            f"credential is {len(credential)} bytes, want {CREDENTIAL_SIZE}",
            code="bad_credential_length",
        )
    signature = be.g1_decompress(credential)
    if signature is None:
        raise FormatError(
            "credential is not a compressed point of G1's prime-order subgroup",
            code="bad_credential_encoding",
        )
    if not be.core_verify(pk, be.hash_to_g1(message, CREDENTIAL_DST), signature):
        raise CredentialError(
            f"credential does not verify for process {process_id!r} and pseudonym "
            f"{bytes(pseudonym).hex()} under issuer key {bytes(public_key).hex()}"
        )


def verify_credentials_batch(
    public_key: bytes,
    items: Iterable[tuple[str, bytes, bytes]],
    *,
    backend: bls.AnyBackend | None = None,
) -> bool:
    """Whether every ``(process_id, pseudonym, credential)`` verifies under ``public_key``.

    Accepts exactly the sets that :func:`verify_credential` accepts item by item,
    except with probability at most ``2**-128``: one random linear combination,
    two pairings for the whole batch (:meth:`urne.verifier.credentials.bls.Backend.batch_verify`).
    An empty batch is accepted when the key is valid. When a batch fails,
    :func:`invalid_credentials` finds the culprits.
    """
    be = bls.resolve(backend)
    batch = []
    for process_id, pseudonym, credential in items:
        try:
            message = credential_message(process_id, pseudonym)
        except FormatError:
            return False
        batch.append((public_key, message, credential))
    if not batch:
        return be.g2_decompress(public_key) is not None
    return be.batch_verify(batch, CREDENTIAL_DST)


def invalid_credentials(
    public_key: bytes,
    items: Sequence[tuple[str, bytes, bytes]],
    *,
    backend: bls.AnyBackend | None = None,
) -> list[int]:
    """The indices of the items :func:`verify_credential` rejects, in order.

    Batch-verifies, then halves every failing range: with ``k`` bad items
    among ``n`` it costs about ``2k log2(n/k)`` batches instead of ``n`` single
    verifications, and one batch when all are good.
    """

    def bad(lo: int, hi: int) -> list[int]:
        if verify_credentials_batch(public_key, items[lo:hi], backend=backend):
            return []
        if hi - lo == 1:
            return [lo]
        mid = (lo + hi) // 2
        return bad(lo, mid) + bad(mid, hi)

    return bad(0, len(items)) if items else []
