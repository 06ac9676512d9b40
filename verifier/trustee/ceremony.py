"""What a trustee does, step by step (docs/secret-ballot.md §3, §4, §6;
docs/guides/trustees.md).

- :func:`keygen`: an Ed25519 key for its entries and a share key ``E = g^e``
  with the proof of ``e`` (§3); the public object goes to the institution,
  which names it in the manifest.
- :func:`ceremony`: on the log, it deals (its polynomial saved before its deal
  is posted), waits for the other trustees' deals, checks the shares dealt to
  it, complains about each wrong one, then posts its check. Run again, it does
  what is left and nothing twice.
- :func:`decrypt`: after the close, its share of the election key from the
  deals of the qualified trustees, checked against its verification key, and
  its decryption of the totals that it computed from the ballots of the log.
- :func:`status`: the ceremony as this trustee sees it.

Every decision rests on the log read and replayed through the rules
(:class:`~urne.verifier.trustee.ledger.Ledger`): the service never tells the
trustee what to decrypt, only the log does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from urne.verifier.check.workers import invalid_proofs
from urne.verifier.citizen import authoring
from urne.verifier.citizen.service import ServiceRefused
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.entries import IDENTIFIER, Ballot, Deal, b64encode
from urne.verifier.civic.process import ProcessState, Registry, UnknownProcess
from urne.verifier.civic.secret import Ceremony, SecretState
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import invalid_credentials
from urne.verifier.errors import FetchError
from urne.verifier.secret import dkg, tally
from urne.verifier.secret.group import (
    Group,
    bls12_381_g2,
    group_named,
    random_scalar,
    ristretto255,
)
from urne.verifier.secret.proofs import SchnorrProof
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.trustee import keyfile
from urne.verifier.trustee.keyfile import TrusteeError, TrusteeFile
from urne.verifier.trustee.ledger import HttpLedger, Ledger, LogRefused, service_log_key

__all__ = [
    "Session",
    "ceremony",
    "decrypt",
    "keygen",
    "open_session",
    "public_object",
    "share",
    "status",
    "trusted_log_key",
]

Say = Callable[[str], None]
_MAX_NAME = 200


def keygen(process_id: str, name: str, *, office: bool = False) -> TrusteeFile:
    """A new trustee's secret for ``process_id``: nothing is written here.
    ``office``: an office of the credential issuers, whose ceremony makes the
    issuer key in BLS12-381 G2 (docs/spec/issuer-ceremony.md)."""
    if not IDENTIFIER.fullmatch(process_id):
        raise TrusteeError(
            f"{process_id!r} is not a process id (letters, digits, '.', '_', ':', '-')",
            code="bad_process_id",
        )
    if not name.strip() or len(name) > _MAX_NAME:
        raise TrusteeError(
            f"a trustee's name is 1 to {_MAX_NAME} characters, as the manifest shows it",
            code="bad_name",
        )
    g = bls12_381_g2() if office else ristretto255()
    key = AuthorKey.generate()
    e = random_scalar(g)
    tf = TrusteeFile(
        process=process_id, name=name, seed=key.seed, share_secret=e, public={}, group=g.name
    )
    tf.public = public_object(tf)
    return tf


def public_object(tf: TrusteeFile) -> dict[str, str]:
    """``{"name", "key", "share_key", "proof"}`` for the manifest's
    ``secret.trustees`` (§3): the proof of ``e`` is made in the share-key
    context of the process id and the trustee's Ed25519 key."""
    g = group_named(tf.group)
    key = AuthorKey(tf.seed)
    proof = SchnorrProof.prove(
        dkg.share_context(g, tf.process, key.public_key), dkg.LABEL_SHARE_KEY, tf.share_secret
    )
    return {
        "name": tf.name,
        "key": b64encode(key.public_key),
        "share_key": b64encode(g.base(tf.share_secret)),
        "proof": b64encode(proof.to_bytes()),
    }


@dataclass
class Session:
    """One command's run: the secret file (held locked by the caller), the
    log, and where to say what happens."""

    path: Path
    file: TrusteeFile
    ledger: Ledger
    say: Say = print

    @property
    def key(self) -> AuthorKey:
        return AuthorKey(self.file.seed)

    @property
    def group(self) -> Group:
        return group_named(self.file.group)

    def save(self) -> None:
        """The file as it is now, with the last checkpoint read."""
        if self.ledger.checkpoint is not None:
            self.file.checkpoint = self.ledger.checkpoint
        keyfile.save(self.path, self.file)

    def read(self) -> tuple[Registry, _Position]:
        """The log as it is now, and this trustee's place in its process."""
        reg = self.ledger.refresh()
        return reg, self._locate(reg)

    def _locate(self, reg: Registry) -> _Position:
        if self.file.office:
            return self._locate_office(reg)
        pid = self.file.process
        try:
            st = reg.state(pid)
        except UnknownProcess as exc:
            raise TrusteeError(
                f"the log holds no process {pid!r} yet: the institution opens it with your "
                "public object (urne-trustee keygen printed it) in the manifest's trustees",
                code="unknown_process",
            ) from exc
        sec = st.secret
        if sec is None:
            raise TrusteeError(
                f"process {pid!r} is not secret (a vote or a budget)", code="not_secret"
            )
        me = self.key.public_key
        index = sec.spec.index_of(me)
        if index is None:
            raise TrusteeError(
                f"your key {b64encode(me)} is not among the trustees of {pid!r}'s manifest: "
                "give the institution your public object (urne-trustee keygen printed it)",
                code="not_a_trustee",
            )
        return self._position(st, sec, index)

    def _locate_office(self, reg: Registry) -> _Position:
        pid = self.file.process
        sec = reg.issuer_ceremonies.get(pid)
        if sec is None:
            raise TrusteeError(
                f"the log holds no reservation of {pid!r} with issuers' offices yet: the "
                "institution reserves the id with your public object (urne-trustee keygen "
                "--office printed it)",
                code="unknown_process",
            )
        me = self.key.public_key
        index = sec.spec.index_of(me)
        if index is None:
            raise TrusteeError(
                f"your key {b64encode(me)} is not among the offices of {pid!r}'s reservation",
                code="not_a_trustee",
            )
        return self._position(reg.processes.get(pid), sec, index)

    def _position(self, st: ProcessState | None, sec: Ceremony, index: int) -> _Position:
        pid = self.file.process
        ref = sec.spec.trustees[index - 1]
        if ref.share_key != self.group.base(self.file.share_secret):
            raise TrusteeError(
                f"the log names your key as {sec.role} {index} with another share key "
                "than this file's: this file cannot take part",
                code="wrong_share_key",
            )
        if self.file.fingerprint is None:
            self.file.fingerprint = sec.fingerprint
        elif self.file.fingerprint != sec.fingerprint:
            raise TrusteeError(
                f"this file took part in another manifest of {pid!r} than the one on this log "
                "(another log, or the log started afresh)",
                code="another_manifest",
            )
        return _Position(st, sec, index)

    def who(self, sec: Ceremony, j: int) -> str:
        return f"{sec.role} {j} ({sec.spec.trustees[j - 1].name})"

    def names(self, sec: Ceremony, js: list[int]) -> str:
        return ", ".join(self.who(sec, j) for j in js)


@dataclass
class _Position:
    #: the process (None for an office before the manifest)
    st: ProcessState | None
    #: the trustees' ceremony (a :class:`SecretState`) or the offices'
    sec: Ceremony
    index: int

    @property
    def secret(self) -> SecretState:
        """The secret vote's state (a trustee's position, never an office's)."""
        assert isinstance(self.sec, SecretState)
        return self.sec

    @property
    def process(self) -> ProcessState:
        assert self.st is not None
        return self.st


def trusted_log_key(tf: TrusteeFile, service: str, given: str | None, note: Say) -> Ed25519Verifier:
    """The log key this file trusts: its own, else the one given, else the
    service's own (``note`` says so); kept in the file."""
    if tf.log_key is not None:
        if given is not None and given != tf.log_key:
            raise TrusteeError(
                f"your file trusts the log key {tf.log_key}, not {given}: one file takes "
                "part in one log",
                code="another_log",
            )
        return Ed25519Verifier.from_vkey(tf.log_key)
    if given is None:
        given = service_log_key(service)
        note(
            f"note: trusting the log key the service gave ({given}); compare it with the one "
            "the organisers publish"
        )
    key = Ed25519Verifier.from_vkey(given)
    tf.log_key = key.vkey
    return key


@contextmanager
def open_session(
    service: str, path: Path, log_key: str | None, *, say: Say, note: Say
) -> Iterator[Session]:
    """The secret file at ``path``, locked for the run, and the service's log
    read under the key the file trusts."""
    with keyfile.locked(path):
        tf = keyfile.load(path)
        key = trusted_log_key(tf, service, log_key, note)
        yield Session(path, tf, HttpLedger(service, key, known=tf.checkpoint), say=say)


# -- the ceremony ------------------------------------------------------------------------


def ceremony(
    s: Session,
    *,
    wait: float,
    poll: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Deal, wait (at most ``wait`` seconds) for the other deals, check the
    shares dealt to this trustee, complain about the wrong ones, post the
    check; each step once, whatever was done before."""
    _, pos = s.read()
    s.save()  # the fingerprint and the checkpoint, read first
    _deal(s, pos)
    _, pos = s.read()
    pos = _wait_for_deals(s, pos, wait, poll, clock, sleep)
    sec, me = pos.sec, pos.index
    if sec.key is not None:
        _ended(s, pos)
        return
    _complain(s, pos)
    if me in sec.checks:
        s.say(f"Your check is on the log, at index {sec.checks[me]}.")
    else:
        index = _post_once(
            s,
            authoring.check(s.file.process, s.key, me, issuer=s.file.office),
            lambda p: p.sec.checks.get(p.index),
        )
        s.say(f"Your check is on the log, at index {index}: you have checked every deal before it.")
    # Deals end with the first check: the deals now on the log are all there
    # will be. One that came between the read above and the check is checked now.
    _, pos = s.read()
    if pos.sec.key is None:
        _complain(s, pos, quiet=True)
    _, pos = s.read()
    s.save()
    _summary(s, pos)


#: The service's answers that an equal entry is on the log already.
_ALREADY = {"already_checked", "already_complained", "already_decrypted"}


def _post_once(s: Session, leaf: bytes, on_log: Callable[[_Position], int | None]) -> int:
    """Post ``leaf``; where the service answers that an equal entry is there
    already (an earlier post whose answer was lost), ``on_log`` finds its index."""
    try:
        return s.ledger.post(leaf)
    except ServiceRefused as exc:
        if exc.code not in _ALREADY:
            raise
        _, pos = s.read()
        at = on_log(pos)
        if at is None:
            raise
        return at


def _own_polynomial(s: Session, deal: Deal, at: int) -> tuple[int, ...]:
    """The coefficients this file holds, which must be those of the deal on the log."""
    coeffs = s.file.coefficients
    g = s.group
    if coeffs is None or tuple(g.base(a) for a in coeffs) != deal.commitments:
        raise TrusteeError(
            f"your deal on the log (index {at}) was made with a polynomial this file does "
            "not hold (was the file restored from an older copy?): this file cannot decrypt. "
            "Do not post a check: without it, your deal stays out of the election key",
            code="lost_polynomial",
        )
    return coeffs


def _deal(s: Session, pos: _Position) -> None:
    """Make sure this trustee's deal is on the log."""
    sec, me, pid = pos.sec, pos.index, s.file.process
    if me in sec.deals:
        at, deal = sec.deals[me]
        _own_polynomial(s, deal, at)
        s.say(f"Your deal is on the log, at index {at}.")
        return
    if sec.key is not None:
        raise TrusteeError(
            f"the key ceremony of {pid!r} is over ({sec.key_name} at index {sec.key_at}) and "
            f"you did not deal: you are not one of its qualified {sec.role}s",
            code="ceremony_over",
        )
    if sec.checks:
        first = min(sec.checks, key=lambda j: sec.checks[j])
        raise TrusteeError(
            f"dealing is over: {s.who(sec, first)} checked at index {sec.checks[first]} "
            "before you dealt, so you will not be one of the qualified trustees; tell the "
            "institution",
            code="dealing_over",
        )
    leaf = s.file.deal
    if leaf is None:
        leaf = _make_deal(s, pos)
        s.file.deal = leaf
        s.save()  # before the post: a crash loses nothing, a retry posts these bytes
        s.say("Your polynomial is saved in your secret file; posting your deal.")
    else:
        s.say("Posting again the deal saved in your secret file (its post was not confirmed).")
    try:
        at = s.ledger.post(leaf)
    except ServiceRefused as exc:
        if exc.code != "already_dealt":
            raise
        _, pos = s.read()
        if me not in pos.sec.deals:
            raise
        at, deal = pos.sec.deals[me]
        _own_polynomial(s, deal, at)
    s.say(f"Your deal is on the log, at index {at}.")


def _make_deal(s: Session, pos: _Position) -> bytes:
    g, sec, me = s.group, pos.sec, pos.index
    t = sec.spec.threshold
    coeffs = tuple(random_scalar(g) for _ in range(t))
    share_keys = {j: ref.share_key for j, ref in enumerate(sec.spec.trustees, start=1)}
    dealt = dkg.deal(g, sec.fingerprint, me, t, share_keys, coefficients=coeffs)
    s.file.coefficients = coeffs
    return authoring.deal(
        s.file.process,
        s.key,
        me,
        dealt.commitments,
        dealt.proof.to_bytes(),
        [(j, x.ephemeral, x.masked, x.proof) for j, x in sorted(dealt.shares.items())],
        issuer=s.file.office,
    )


def _wait_for_deals(
    s: Session,
    pos: _Position,
    wait: float,
    poll: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> _Position:
    """Until every trustee has dealt, dealing is over, or ``wait`` seconds pass."""
    until = clock() + wait
    said = False
    while True:
        sec = pos.sec
        missing = [j for j in range(1, len(sec.spec.trustees) + 1) if j not in sec.deals]
        if not missing:
            s.say(f"Every {sec.role} has dealt.")
            return pos
        if sec.checks or sec.key is not None:
            s.say(f"Dealing is over; {s.names(sec, missing)} did not deal.")
            return pos
        left = until - clock()
        if left <= 0:
            s.say(
                f"Time is up: {s.names(sec, missing)} did not deal; they will not be among "
                "the qualified trustees once you check."
            )
            return pos
        if not said:
            s.say(f"Waiting for the deals of {s.names(sec, missing)} (at most {left:.0f} s).")
            said = True
        sleep(min(poll, left))
        try:
            _, pos = s.read()
        except FetchError as exc:  # a moment without an answer: read again at the next poll
            s.say(f"The service did not answer ({exc}); reading again in {poll:g} s.")


def _check_deals(s: Session, pos: _Position) -> tuple[list[int], list[int]]:
    """``(good, bad)``: the other dealers whose share to this trustee does or
    does not match their commitments."""
    g, sec, me = s.group, pos.sec, pos.index
    good, bad = [], []
    for dealer in sorted(sec.deals):
        if dealer == me:
            continue
        share = _decrypted_share(s, pos, dealer)
        if dkg.check_share(g, sec.deals[dealer][1].commitments, me, share):
            good.append(dealer)
        else:
            bad.append(dealer)
    return good, bad


def _decrypted_share(s: Session, pos: _Position, dealer: int) -> int | None:
    sec, me = pos.sec, pos.index
    for x in sec.deals[dealer][1].shares:
        if x.to == me:
            return dkg.decrypt_share(
                s.group,
                sec.fingerprint,
                dealer,
                me,
                dkg.EncryptedShare(x.ephemeral, x.masked),
                secret_key=s.file.share_secret,
            )
    return None  # the rules refuse a deal without a share for every other trustee


def _complain(s: Session, pos: _Position, *, quiet: bool = False) -> None:
    """Check every share dealt to this trustee; complain about each wrong one
    that no complaint has disqualified yet."""
    sec, me = pos.sec, pos.index
    good, bad = _check_deals(s, pos)
    if good and not quiet:
        s.say(f"The shares dealt to you by {s.names(sec, good)} match their commitments.")
    for dealer in bad:
        if dealer in sec.disqualified:
            if not quiet:
                s.say(
                    f"The share {s.who(sec, dealer)} dealt to you is wrong; the complaint at "
                    f"index {sec.disqualified[dealer]} disqualified it already."
                )
            continue
        _, deal = sec.deals[dealer]
        x = next(x for x in deal.shares if x.to == me)
        revealed, proof = dkg.complain(
            s.group,
            sec.fingerprint,
            dealer,
            me,
            s.file.share_secret,
            dkg.EncryptedShare(x.ephemeral, x.masked),
        )
        at = _post_once(
            s,
            authoring.complaint(
                s.file.process, s.key, me, dealer, revealed, proof.to_bytes(), issuer=s.file.office
            ),
            _disqualification(dealer),
        )
        s.say(
            f"The share {s.who(sec, dealer)} dealt to you is wrong: your complaint, at index "
            f"{at}, shows it and disqualifies {s.who(sec, dealer)}."
        )


def _disqualification(dealer: int) -> Callable[[_Position], int | None]:
    """Where the log shows ``dealer`` disqualified, if it does."""
    return lambda p: p.sec.disqualified.get(dealer)


def _ended(s: Session, pos: _Position) -> None:
    sec, me = pos.sec, pos.index
    s.say(f"The key ceremony is over: the {sec.key_name} is on the log, at index {sec.key_at}.")
    _summary(s, pos)
    s.save()
    if me in sec.qualified:
        _own_share(s, pos)
        s.say(f"Your share of the {sec.key_name} matches your verification key.")


def _summary(s: Session, pos: _Position) -> None:
    sec, me = pos.sec, pos.index
    if sec.key is not None:
        what = (
            "sign a credential together" if s.file.office else "decrypt the totals after the close"
        )
        s.say(
            f"Qualified {sec.role}s: {s.names(sec, list(sec.qualified))}; any "
            f"{sec.spec.threshold} of them {what}."
        )
        if me not in sec.qualified:
            s.say("You are not one of them.")
        return
    qualified = sec.qualified_now()
    s.say(
        f"Qualified so far (dealt, checked, not disqualified): "
        f"{s.names(sec, list(qualified)) or 'none'}; the institution publishes the "
        f"{sec.key_name} once enough have checked (at least {sec.spec.threshold})."
    )


# -- the decryption ------------------------------------------------------------------------


def _own_share(s: Session, pos: _Position) -> int:
    """``x_j``: this trustee's own share plus those the other qualified
    trustees dealt it, checked against its verification key ``X_j``."""
    g, sec, me = s.group, pos.sec, pos.index
    x = 0
    for dealer in sec.qualified:
        at, deal = sec.deals[dealer]
        if dealer == me:
            share: int | None = dkg.evaluate(_own_polynomial(s, deal, at), me, g.order)
        else:
            share = _decrypted_share(s, pos, dealer)
            if not dkg.check_share(g, deal.commitments, me, share):
                raise TrusteeError(
                    f"the share {s.who(sec, dealer)} dealt you is wrong and that trustee is "
                    "qualified (no complaint stood before the election key): your share of "
                    "the key is not the one the log promises; tell the institution",
                    code="bad_share",
                )
        assert share is not None
        x = (x + share) % g.order
    if g.base(x) != sec.verification_keys[me]:
        raise TrusteeError(
            "your share of the election key does not match your verification key on the log",
            code="bad_share",
        )
    return x


def decrypt(s: Session) -> None:
    """This trustee's decryption of the totals, after the close."""
    if s.file.office:
        raise TrusteeError(
            "an office of the credential issuers has nothing to decrypt: with its share of "
            "the issuer key it answers credential requests (urne office install)",
            code="not_a_trustee",
        )
    _, pos = s.read()
    s.save()
    sec, me, st, pid = pos.secret, pos.index, pos.process, s.file.process
    if st.closed_at is None:
        raise TrusteeError(
            f"process {pid!r} is not closed: trustees decrypt the totals after the close, "
            "never before",
            code="process_not_closed",
        )
    if sec.key is None:
        raise TrusteeError(
            f"process {pid!r} has no election key: its ceremony never ended", code="no_election_key"
        )
    if me not in sec.qualified:
        raise TrusteeError(
            f"you are not one of the qualified trustees of {pid!r} "
            f"({s.names(sec, list(sec.qualified))}): you have nothing to decrypt",
            code="not_qualified",
        )
    if me in sec.decryptions:
        s.say(f"Your decryption is on the log already, at index {sec.decryptions[me][0]}.")
        _decrypted(s, pos)
        return
    if st.results:
        s.say(
            f"The result of {pid!r} is on the log already, at index {st.results[0][0]}: "
            "your decryption is not needed."
        )
        return
    x = _own_share(s, pos)
    s.say("Your share of the election key matches your verification key.")
    _check_ballots(s, pos)
    assert sec.aggregates is not None
    s.say(
        f"{sec.counted} ballot(s) count (the last of each pseudonym through the close, at "
        f"index {st.closed_at}); every proof and credential checks. Decrypting their totals."
    )
    shares = tally.share_decryption(
        tally.decryption_context(s.group, sec.fingerprint, sec.key), x, sec.aggregates
    )
    at = _post_once(
        s,
        authoring.decryption(
            pid, s.key, me, [d for d, _ in shares], [p.to_bytes() for _, p in shares]
        ),
        lambda p: p.secret.decryptions[p.index][0] if p.index in p.secret.decryptions else None,
    )
    s.say(f"Your decryption is on the log, at index {at}.")
    _, pos = s.read()
    s.save()
    _decrypted(s, pos)


def _check_ballots(s: Session, pos: _Position) -> None:
    """Every ballot of the process: its credential the issuer's, its proofs
    holding. The totals of a log that holds others are not decrypted."""
    pid, sec = s.file.process, pos.secret
    ballots = s.ledger.ballots(pid)
    bad = invalid_credentials(
        pos.process.process.issuer_key, [(pid, b.pseudonym, b.credential) for b in ballots]
    )
    if bad:
        raise LogRefused(
            f"{len(bad)} ballot(s) of {pid!r} carry a credential that is not the issuer's: "
            "audit the log with urne-verify; a trustee decrypts no totals with such ballots",
            code="bad_credential",
        )
    bad = _invalid_proofs(sec, ballots)
    if bad:
        raise LogRefused(
            f"{len(bad)} ballot(s) of {pid!r} do not prove what they encrypt (the first by "
            f"pseudonym {b64encode(ballots[bad[0]].pseudonym)}): audit the log with "
            "urne-verify; a trustee decrypts no totals with such ballots",
            code="bad_ballot_proof",
        )


#: Ballots per batch of proofs, and the fewest worth starting worker processes for.
_PROOF_BATCH = 512
_PARALLEL_MIN = 4 * _PROOF_BATCH


def _invalid_proofs(sec: SecretState, ballots: list[Ballot]) -> list[int]:
    """The positions of the ballots whose form or proofs fail: on every core
    (the audit's worker processes) when there are many, about 2 ms a ballot."""
    ctx = sec.context()
    items = [(b.pseudonym, b.encrypted or {}) for b in ballots]
    workers = tally.cores()
    if len(items) < _PARALLEL_MIN or workers < 2:
        return invalid_proofs(ctx, items)
    from urne.verifier.check.workers import CredentialWorkers

    pool = CredentialWorkers(workers, bls.current_backend().name)
    try:
        starts = range(0, len(items), _PROOF_BATCH)
        futures = [pool.submit_proofs(ctx, items[k : k + _PROOF_BATCH]) for k in starts]
        return [k + i for k, f in zip(starts, futures, strict=True) for i in f.result()]
    finally:
        pool.shutdown()


def _decrypted(s: Session, pos: _Position) -> None:
    sec = pos.secret
    done = sorted(sec.decryptions)
    t = sec.spec.threshold
    if not done:
        s.say(f"No decryption is on the log yet; {t} are needed.")
        return
    enough = "enough for the result" if len(done) >= t else f"{t} are needed"
    s.say(f"{len(done)} decryption(s) on the log, by {s.names(sec, done)}: {enough}.")


# -- the status ------------------------------------------------------------------------------


def status(s: Session) -> None:
    """The ceremony of the process as this trustee reads it on the log."""
    _, pos = s.read()
    s.save()
    if s.file.office:
        _office_status(s, pos)
        return
    sec, me, st = pos.secret, pos.index, pos.process
    s.say(
        f"Process {s.file.process!r}: a secret {sec.process.type}, {sec.spec.threshold} of "
        f"{len(sec.spec.trustees)} trustees decrypt; you are {s.who(sec, me)}."
    )
    _participants(s, sec, me, sec.decryptions)
    if me in sec.deals:
        at, deal = sec.deals[me]
        _own_polynomial(s, deal, at)
        _, bad = _check_deals(s, pos)
        if bad:
            s.say(f"Wrong shares dealt to you: by {s.names(sec, bad)}.")
    _summary(s, pos)
    if sec.key is not None:
        s.say(f"Election key: {b64encode(sec.key)} (index {sec.key_at}).")
        if me in sec.qualified:
            _own_share(s, pos)
            s.say(f"Your share of the {sec.key_name} matches your verification key.")
    if st.closed_at is None:
        s.say("The process is not closed.")
    else:
        s.say(f"The process closed at index {st.closed_at}.")
        _decrypted(s, pos)
    s.say(f"Next: {_next_step(pos)}")


def _participants(
    s: Session, sec: Ceremony, me: int, decryptions: dict[int, tuple[int, tuple[bytes, ...]]]
) -> None:
    """A line per participant: what it did on the log, and where."""
    for j in range(1, len(sec.spec.trustees) + 1):
        parts = [f"dealt at index {sec.deals[j][0]}" if j in sec.deals else "has not dealt"]
        if j in sec.checks:
            parts.append(f"checked at index {sec.checks[j]}")
        if j in sec.disqualified:
            parts.append(f"disqualified by the complaint at index {sec.disqualified[j]}")
        if j in decryptions:
            parts.append(f"decrypted at index {decryptions[j][0]}")
        s.say(f"  {s.who(sec, j)}{' (you)' if j == me else ''}: {', '.join(parts)}")


def _office_status(s: Session, pos: _Position) -> None:
    sec, me = pos.sec, pos.index
    s.say(
        f"Process {s.file.process!r}: {sec.spec.threshold} of {len(sec.spec.trustees)} "
        f"offices sign each credential; you are {s.who(sec, me)}."
    )
    _participants(s, sec, me, {})
    _summary(s, pos)
    if sec.key is None:
        s.say(f"Next: {_next_ceremony_step(pos)}")
        return
    s.say(f"Issuer key: {b64encode(sec.key)} (index {sec.key_at}).")
    if me in sec.qualified:
        _own_share(s, pos)
        s.say("Your share of the issuer key matches your verification key.")
        s.say(
            "Next: install your share on your office's service, if it is not yet "
            "(urne office install; run again, it changes nothing)."
        )
    else:
        s.say("Next: nothing: you are not a qualified office.")


def _next_ceremony_step(pos: _Position) -> str:
    sec, me = pos.sec, pos.index
    if me not in sec.deals:
        if sec.checks:
            return "nothing: dealing is over without your deal; tell the institution."
        return "run urne-trustee ceremony to deal."
    if me not in sec.checks:
        return "run urne-trustee ceremony to check the deals dealt to you."
    return (
        f"the institution publishes the {sec.key_name} once at least "
        f"{sec.spec.threshold} {sec.role}s have checked."
    )


def share(s: Session) -> tuple[int, int, Ceremony]:
    """An office's share of the issuer key, once the ceremony ended:
    ``(index, x_j, ceremony)``, ``x_j`` checked against ``X_j`` on the log."""
    _, pos = s.read()
    s.save()
    sec, me = pos.sec, pos.index
    if not s.file.office:
        raise TrusteeError(
            "a trustee's share of an election key never leaves its file", code="not_an_office"
        )
    if sec.key is None:
        raise TrusteeError(
            f"the offices' key ceremony of {s.file.process!r} has not ended: "
            f"{_next_ceremony_step(pos)}",
            code="no_issuer_key",
        )
    if me not in sec.qualified:
        raise TrusteeError(
            f"you are not one of the qualified offices ({s.names(sec, list(sec.qualified))})",
            code="not_qualified",
        )
    return me, _own_share(s, pos), sec


def _next_step(pos: _Position) -> str:
    sec, me, st = pos.secret, pos.index, pos.process
    if sec.key is None:
        return _next_ceremony_step(pos)
    if me not in sec.qualified:
        return "nothing: you are not a qualified trustee."
    if st.closed_at is None:
        return "wait for the close, then run urne-trustee decrypt."
    if me in sec.decryptions:
        return "nothing: your part is done."
    if st.results:
        return "nothing: the result is on the log."
    return "run urne-trustee decrypt."
