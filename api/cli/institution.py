"""An institution's commands, from its own machine, through the API: its key,
opening, closing and publishing processes, importing rolls. Every request is
signed (docs/spec/api.md §6). They need no server-side package."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from urne.api.cli.common import (
    KeyFileOpt,
    LogKeyOpt,
    ServerOpt,
    client_for,
    fail,
    institution_app,
    new_private_file,
    official_app,
    paper_app,
    process_app,
    roll_app,
)
from urne.api.client import InstitutionKey, ServiceError, UrneClient
from urne.verifier.citizen import authoring
from urne.verifier.citizen.rollcsv import RollFileError, read_roll_csv
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.entries import IDENTIFIER, b64encode
from urne.verifier.civic.process import count
from urne.verifier.credentials import bls
from urne.verifier.errors import FormatError
from urne.verifier.tlog.tiles import MAX_ENTRY_SIZE

if TYPE_CHECKING:
    from urne.verifier.check.opendata import ExportReport


@institution_app.command("keygen")
def institution_keygen(
    name: Annotated[str, typer.Argument(help="The institution's name (its key id).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the key file (0600).")],
) -> None:
    """Make an institution's Ed25519 key; prints the public key to register."""

    if not IDENTIFIER.fullmatch(name):
        fail("a name is 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit", 2)
    key = InstitutionKey.generate(name)
    try:
        key.save(out)
    except FileExistsError:
        fail(f"{out} exists; it is never overwritten", 2)
    except OSError as exc:
        fail(f"cannot write {out}: {exc}", 2)
    public = b64encode(key.public_key)
    typer.echo(f"key file:    {out} (keep it secret; back it up offline)")
    typer.echo(f"public key:  {public}")
    typer.echo("Give the service's operator this line to register the institution:")
    typer.echo(f"  urne institution add {name} {public}")


#: The fields of a process description (docs/guides/operating.md §Institutions).
DESCRIPTION = {"id", "type", "title", "text", "opens", "closes", "rule"}


DESCRIPTION_OPTIONAL = {"issuer", "officials", "proposals", "secret", "answers", "eligibility"}


def manifest_from_description(
    desc: dict[str, Any], institution: AuthorKey, issuer: Mapping[str, Any]
) -> bytes:
    """The signed manifest of a process description (``FormatError`` if it is
    not one). ``issuer`` is the manifest's issuer object."""

    missing = sorted(DESCRIPTION - set(desc))
    unknown = sorted(set(desc) - DESCRIPTION - DESCRIPTION_OPTIONAL)
    if missing or unknown:
        raise FormatError(f"missing fields {missing}, unknown fields {unknown}")
    proposals = []
    for p in desc.get("proposals", []):
        if not isinstance(p, dict) or not {"id", "title", "body"} <= set(p) <= {
            "id",
            "title",
            "body",
            "cost",
        }:
            raise FormatError(f'a proposal is {{"id", "title", "body"[, "cost"]}}, not {p!r}')
        proposals.append(authoring.proposal(p["id"], p["title"], p["body"], cost=p.get("cost")))
    extra: dict[str, Any] = {}
    if "secret" in desc:
        # a secret vote or budget (docs/secret-ballot.md §3): the trustees as each one's
        # `urne-trustee keygen` printed them, and the threshold
        sec = desc["secret"]
        if not isinstance(sec, dict) or set(sec) != {"threshold", "trustees"}:
            raise FormatError('"secret" is {"threshold": t, "trustees": [...]}')
        extra["secret"] = {
            "group": "ristretto255",
            "threshold": sec["threshold"],
            "trustees": sec["trustees"],
        }
    if "answers" in desc:  # what the institution commits to answer, and by when
        extra["answers"] = desc["answers"]
    if "eligibility" in desc:  # an identity provider decides who may ask (docs/spec/eligibility.md)
        extra["eligibility"] = desc["eligibility"]
    return sign_entry(
        {
            "v": 1,
            "kind": "process",
            "id": desc["id"],
            "type": desc["type"],
            "title": desc["title"],
            "text": desc["text"],
            "institution": b64encode(institution.public_key),
            "opens": desc["opens"],
            "closes": desc["closes"],
            "issuer": dict(issuer),
            "officials": desc.get("officials", []),
            "proposals": proposals,
            "rule": desc["rule"],
            **extra,
        },
        institution,
    )


def issuer_shape(desc: dict[str, Any]) -> tuple[int, int]:
    issuer = desc.get("issuer", {})
    if isinstance(issuer, dict) and set(issuer) == {"offices"}:
        urls = issuer["offices"]
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            fail('"issuer": {"offices": [...]} lists each office\'s address, in order', 2)
        return 1, len(urls)
    if not isinstance(issuer, dict) or not set(issuer) <= {"threshold", "shares"}:
        fail(
            '"issuer" is {"threshold": t, "shares": n} (both optional), or {"offices": '
            "[url, ...]} for a key the offices made (urne process reserve)",
            2,
        )
    return issuer.get("threshold", 1), issuer.get("shares", 1)


def log_registry(client: UrneClient, log_key: str | None) -> Any:
    """The service's log read whole and replayed through the rules, under
    ``log_key`` (or, if not given, the key the service states, with a note)."""
    from urne.verifier.tlog.note import Ed25519Verifier
    from urne.verifier.trustee.ledger import HttpLedger, service_log_key

    if log_key is None:
        log_key = service_log_key(client.base_url)
        typer.echo(
            f"note: trusting the log key the service gave ({log_key}); compare it with the "
            "one its operator publishes, or pass --log-key",
            err=True,
        )
    return HttpLedger(client.base_url, Ed25519Verifier.from_vkey(log_key)).refresh()


def offices_issuer(
    client: UrneClient, process_id: str, urls: list[str], log_key: str | None
) -> dict[str, Any]:
    """The manifest's ``issuer`` for a key the offices made: the issuer key,
    ``t`` of ``n`` and each qualified office with its address (``urls``, one
    per office in the reservation's order) and its share's public key, all
    read from the log (docs/spec/issuer-ceremony.md §3)."""
    reg = log_registry(client, log_key)
    ceremony = reg.issuer_ceremonies.get(process_id)
    if ceremony is None:
        fail(f"{process_id} was not reserved with offices (urne process reserve)")
    if ceremony.key is None:
        fail(
            f"the offices' ceremony of {process_id} has not ended: once they have checked, "
            "publish the issuer key (urne process issuer-key)"
        )
    if len(urls) != len(ceremony.spec.trustees):
        fail(
            f'"issuer": {{"offices"}} lists {len(urls)} addresses; the reservation names '
            f"{len(ceremony.spec.trustees)} offices, one address each, in its order",
            2,
        )
    return {
        "public_key": b64encode(ceremony.key),
        "threshold": ceremony.spec.threshold,
        "shares": len(ceremony.spec.trustees),
        "offices": [
            {"share": j, "url": urls[j - 1], "public_key": b64encode(x)}
            for j, x in ceremony.offices()
        ],
    }


def utc_now() -> str:
    """Now, as entries write times (``YYYY-MM-DDTHH:MM:SSZ``, which compare as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_description(path: Path) -> dict[str, Any]:
    try:
        desc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the process description {path}: {exc}", 2)
    if not isinstance(desc, dict):
        fail(f"{path}: a process description is a JSON object", 2)
    return desc


def save_receipt(receipt: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        fd = new_private_file(path)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(receipt, fh, indent=1)
            fh.write("\n")
        typer.echo(f"receipt:  {path}")


def post_entry(client: UrneClient, entry: bytes) -> dict[str, Any]:
    try:
        return client.post_entry(entry)
    except ServiceError as exc:
        fail(str(exc))


ReceiptOpt = Annotated[
    Path | None, typer.Option("--receipt", help="Save the entry's receipt there (a new file).")
]


def open_process(
    client: UrneClient, desc: dict[str, Any], log_key: str | None = None
) -> tuple[dict[str, Any], int]:
    """Ask for the issuer key, sign the manifest and append it: ``(receipt, index)``.

    The description is checked in full, its size included (with a stand-in
    issuer key of the same size), before the service is asked for the real
    one, which reserves the id on the log for this institution. Run again
    after a failure, the same institution gets the same key and reservation
    back, so an interrupted opening never burns the id."""

    assert client.key is not None
    threshold, shares = issuer_shape(desc)
    urls = desc.get("issuer", {}).get("offices")
    if urls is not None:  # a key the offices made: it is on the log
        issuer = offices_issuer(client, desc["id"], urls, log_key)
        receipt = client.post_entry(manifest_from_description(desc, client.key.key, issuer))
        return receipt, int(receipt["index"])
    placeholder = {
        "public_key": b64encode(bls.current_backend().sk_to_pk(1)),  # any valid point
        "threshold": threshold,
        "shares": shares,
    }
    # FormatError if not a valid entry; the same size as the real manifest
    trial = manifest_from_description(desc, client.key.key, placeholder)
    if len(trial) > MAX_ENTRY_SIZE:
        raise FormatError(
            f"the manifest would be {len(trial)} bytes; an entry is at most {MAX_ENTRY_SIZE} "
            "(shorten the texts or the proposals)",
            code="entry_too_large",
        )
    answer = client.create_issuer_key(desc["id"], threshold=threshold, shares=shares)
    receipt = client.post_entry(manifest_from_description(desc, client.key.key, answer["issuer"]))
    return receipt, int(receipt["index"])


@process_app.command("open")
def process_open(
    description: Annotated[Path, typer.Argument(help="The process description (JSON).")],
    server: ServerOpt,
    key: KeyFileOpt,
    receipt: ReceiptOpt = None,
    allow_past: Annotated[
        bool,
        typer.Option(help="Open a process whose closing time has passed (a record of the past)."),
    ] = False,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The log's verifier key, as published (read when the offices made the key).",
        ),
    ] = None,
) -> None:
    """Open a process: its issuer key on the service, then its signed manifest."""
    from urne.verifier.errors import VerificationError

    desc = read_description(description)
    if desc.get("type") == "sortition":
        try:
            desc = sortition_description(desc, description.parent)
        except FormatError as exc:
            fail(f"{description}: {exc}", 2)
    closes = desc.get("closes")
    if not allow_past and isinstance(closes, str) and closes <= utc_now():
        fail(
            f"{description}: the process closes at {closes}, which has passed; "
            "nobody could take part (--allow-past opens it anyway)",
            2,
        )
    client = client_for(server, key)
    try:
        answer, index = open_process(client, desc, log_key)
    except VerificationError as exc:
        fail(f"{description}: {exc}", 2)
    except ServiceError as exc:
        fail(str(exc))
    typer.echo(f"opened {desc['id']}: manifest at index {index}")
    save_receipt(answer, receipt)


def sortition_description(desc: dict[str, Any], base: Path) -> dict[str, Any]:
    """A sortition's description with its rule completed from its pool file
    and its beacon time (docs/guides/institutions.md, "A citizens' panel"):
    ``"pool": {"file": "pool.csv"}`` (relative to the description) becomes the
    file's SHA-256, its number of people and its features, read from its
    header; ``"beacon": {"at": time}`` becomes quicknet's first round
    released at or after that time. Anything given in full is kept as is."""
    from urne.verifier.civic.beacon import QUICKNET

    rule = desc.get("rule")
    if not isinstance(rule, dict):
        return desc
    rule = dict(rule)
    pool = rule.get("pool")
    if isinstance(pool, dict) and set(pool) == {"file"} and isinstance(pool["file"], str):
        path = base / pool["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FormatError(f"cannot read the pool file {path}: {exc.strerror}") from exc
        header, _, rest = data.partition(b"\n")
        columns = header.decode("utf-8", "replace").split(",")
        if columns[0] != "id" or len(columns) < 2:
            raise FormatError(f"{path}: the first line is the header id,<feature>,<feature>...")
        rule["pool"] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "people": rest.count(b"\n"),
            "features": columns[1:],
        }
    beacon = rule.get("beacon")
    if isinstance(beacon, dict) and set(beacon) == {"at"} and isinstance(beacon["at"], str):
        try:
            at = datetime.strptime(beacon["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError as exc:
            raise FormatError(
                f"rule.beacon.at: expected a time YYYY-MM-DDTHH:MM:SSZ: {exc}"
            ) from exc
        rule["beacon"] = {
            "chain": QUICKNET.chain_hash,
            "round": QUICKNET.round_at(int(at.timestamp()) - 1) + 1,
        }
    return {**desc, "rule": rule}


def read_people(path: Path) -> list[str]:
    """The ``person`` column of a roll CSV, read as the issuer reads it
    (:func:`urne.verifier.citizen.rollcsv.read_roll_csv`): a refusal names the
    file's line here, before anything is sent. Each person is checked by the
    service."""
    try:
        return [person for _, person in read_roll_csv(path)]
    except RollFileError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", 2)


@roll_app.command("import")
def roll_import(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    people_csv: Annotated[Path, typer.Argument(help="CSV with a 'person' column.")],
    server: ServerOpt,
    key: KeyFileOpt,
    codes_out: Annotated[
        Path, typer.Option("--codes-out", help="Where to write person,code (a new 0600 file).")
    ],
    skip_existing: Annotated[
        bool,
        typer.Option(help="Keep people already on the roll (no new code), not refuse."),
    ] = False,
) -> None:
    """Put people on a process's roll; writes their one-time codes, once."""
    people = read_people(people_csv)
    client = client_for(server, key)
    fd = new_private_file(codes_out)
    try:
        answer = client.import_roll(process_id, people, skip_existing=skip_existing)
    except ServiceError as exc:
        os.close(fd)
        codes_out.unlink()
        fail(str(exc))
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["person", "code"])
        writer.writerows(answer["codes"].items())
        fh.flush()
        os.fsync(fh.fileno())
    typer.echo(f"{answer['imported']} people added to the roll of {process_id}")
    if answer["skipped"]:
        typer.echo(f"{len(answer['skipped'])} already on it, skipped (their codes are unchanged)")
    typer.echo(
        f"codes: {codes_out} (print and mail them, then destroy this file; for an issuer "
        "with offices, each office loads it first: urne office roll)"
    )


@process_app.command("close")
def process_close(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    server: ServerOpt,
    key: KeyFileOpt,
    receipt: ReceiptOpt = None,
) -> None:
    """Close a process: nothing after the close counts."""
    client = client_for(server, key)
    assert client.key is not None
    answer = post_entry(client, authoring.close(process_id, client.key.key))
    typer.echo(f"closed {process_id}: close at index {answer['index']}")
    save_receipt(answer, receipt)


@process_app.command("draw")
def process_draw(
    process_id: Annotated[str, typer.Argument(help="The sortition.")],
    pool: Annotated[Path, typer.Option("--pool", help="The pool file the manifest committed to.")],
    beacon: Annotated[
        str,
        typer.Option(
            "--beacon",
            help="drand quicknet's signature of the manifest's round (hex), as "
            "https://api.drand.sh/<chain>/public/<round> publishes it.",
        ),
    ],
    server: ServerOpt,
    key: KeyFileOpt,
    log_key: LogKeyOpt = None,
    receipt: ReceiptOpt = None,
) -> None:
    """Draw a sortition's panel: check the log, replay the draw from the pool
    and the beacon, and append the signed draw (docs/spec/sortition.md)."""
    from urne.verifier.check.sortition import compute_draw
    from urne.verifier.errors import VerificationError

    try:
        signature = bytes.fromhex(beacon.strip())
    except ValueError:
        fail("--beacon: expected the round's signature in hex (96 hex digits)", 2)
    try:
        data = pool.read_bytes()
    except OSError as exc:
        fail(f"cannot read the pool file {pool}: {exc.strerror}", 2)
    client = client_for(server, key)
    assert client.key is not None
    try:
        report = recount_export(client, process_id, log_key)
        got = compute_draw(report, data, signature)
    except VerificationError as exc:
        fail(f"{exc.code}: {exc}", 2)
    except ServiceError as exc:
        fail(str(exc))
    entry = authoring.draw(
        process_id,
        client.key.key,
        got.rule.round,
        signature,
        got.outcome.attempt,
        [(m.id, m.values) for m in got.panel],
    )
    answer = post_entry(client, entry)
    typer.echo(
        f"drew {process_id}: {len(got.panel)} members (attempt {got.outcome.attempt}), "
        f"draw at index {answer['index']}"
    )
    for seat, m in enumerate(got.panel, start=1):
        typer.echo(f"  {seat:>3}. {m.id} ({', '.join(m.values)})")
    save_receipt(answer, receipt)


@process_app.command("answer")
def process_answer(
    process_id: Annotated[str, typer.Argument(help="The process answered.")],
    status: Annotated[
        str,
        typer.Option("--status", help="accepted, rejected or in_study (a decision is final)."),
    ],
    text: Annotated[
        list[str],
        typer.Option(
            "--text",
            help="The answer's text; LANG:TEXT gives one translation (repeat for each), "
            "e.g. --text 'fr:Nous étudions…' --text 'en:We are studying…'.",
        ),
    ],
    server: ServerOpt,
    key: KeyFileOpt,
    proposal: Annotated[
        str | None,
        typer.Option("--proposal", help="The proposal answered (a petition is answered whole)."),
    ] = None,
    cost: Annotated[
        int | None, typer.Option("--cost", min=0, help="What it will cost, if known.")
    ] = None,
    receipt: ReceiptOpt = None,
) -> None:
    """Answer a petition, or one of a process's proposals (docs/spec/answers.md)."""
    from urne.verifier.civic.entries import ANSWER_STATUSES

    if status not in ANSWER_STATUSES:
        fail(f"--status: expected one of {', '.join(ANSWER_STATUSES)}, not {status!r}", 2)
    translations: dict[str, str] = {}
    plain: list[str] = []
    for t in text:
        lang, sep, rest = t.partition(":")
        if sep and 2 <= len(lang) <= 8 and lang.replace("-", "").isalpha():
            translations[lang] = rest.strip()
        else:
            plain.append(t)
    if (plain and translations) or len(plain) > 1:
        fail("--text: give one plain text, or one LANG:TEXT per language", 2)
    body: str | dict[str, str] = plain[0] if plain else translations
    if not body or (isinstance(body, dict) and not all(body.values())):
        fail("--text: the answer's text is empty", 2)
    client = client_for(server, key)
    assert client.key is not None
    try:
        entry = authoring.answer(
            process_id, client.key.key, proposal, status, body, utc_now(), cost=cost
        )
    except FormatError as exc:
        fail(f"{exc.code}: {exc}", 2)
    answer = post_entry(client, entry)
    subject = f"proposal {proposal}" if proposal else "the petition"
    typer.echo(f"answered {subject} of {process_id} ({status}): answer at index {answer['index']}")
    save_receipt(answer, receipt)


def recount_export(client: UrneClient, process_id: str, log_key: str | None) -> ExportReport:
    """Download the process's open data and check it in full (every proof,
    signature and credential; ``urne.verifier.check.opendata.check_export``)."""
    from urne.verifier.check.opendata import check_export, parse_header
    from urne.verifier.tlog.note import Ed25519Verifier

    pid = urllib.parse.quote(process_id, safe="")
    data = client.get_bytes(f"/processes/{pid}/entries.jsonl")
    lines = data.splitlines(keepends=True)
    vkey = log_key if log_key is not None else parse_header(lines[0] if lines else b"").log_key
    return check_export(lines, Ed25519Verifier.from_vkey(vkey))


def publish_result(client: UrneClient, process_id: str, log_key: str | None) -> tuple[Any, Any]:
    """Recount the export and append the signed result of that recount:
    ``(report, receipt)``."""
    assert client.key is not None
    report = recount_export(client, process_id, log_key)
    tally, through = report.tally, report.last_index
    st = report.state
    if st is not None and st.secret is not None and st.closed_at is not None:
        # a secret process's decryptions follow its close; its result counts through the close
        through = st.closed_at
        tally = count(st, through)
    entry = authoring.result(process_id, client.key.key, through, tally)
    return report, client.post_entry(entry)


def end_ceremony(
    client: UrneClient, process_id: str, ceremony: Any, *, issuer: bool
) -> tuple[Any, Any]:
    """Sign and post the joint key of the qualified participants of
    ``ceremony`` (read from the log, checked whole): the trustees' election
    key, or with ``issuer`` the offices' issuer key. ``(the key entry's body,
    receipt)``; refused, in one line, while fewer than the threshold qualify."""
    from urne.verifier.secret import dkg

    assert client.key is not None
    role = ceremony.role
    if ceremony.key is not None:
        fail(f"{process_id}'s key ceremony already ended, at index {ceremony.key_at}")
    qualified = ceremony.qualified_now()
    if len(qualified) < ceremony.spec.threshold:
        fail(
            f"too_few_trustees: {len(qualified)} qualified {role}(s) (dealt, checked, not "
            f"disqualified): {list(qualified)}; the {ceremony.key_name} needs "
            f"{ceremony.spec.threshold}. Dealt: {sorted(ceremony.deals)}, checked: "
            f"{sorted(ceremony.checks)}, disqualified: {sorted(ceremony.disqualified)}. "
            "The others have not finished `urne-trustee ceremony`: run this again once they have"
        )
    key = dkg.joint_key(ceremony.group, [ceremony.deals[i][1].commitments[0] for i in qualified])
    entry = authoring.election_key(process_id, client.key.key, key, qualified, issuer=issuer)
    return {"key": b64encode(key), "qualified": list(qualified)}, client.post_entry(entry)


def election_key(client: UrneClient, process_id: str, log_key: str | None) -> tuple[Any, Any]:
    """A secret vote's or budget's election key, from the trustees' entries in the process's
    open data (checked in full): ``(the key entry's body, receipt)``."""
    report = recount_export(client, process_id, log_key)
    sec = None if report.state is None else report.state.secret
    if sec is None:
        fail(f"{process_id} is not a secret vote or budget")
    return end_ceremony(client, process_id, sec, issuer=False)


@process_app.command("election-key")
def process_election_key(
    process_id: Annotated[str, typer.Argument(help="The secret vote or budget.")],
    server: ServerOpt,
    key: KeyFileOpt,
    log_key: LogKeyOpt = None,
    receipt: ReceiptOpt = None,
) -> None:
    """End a secret vote's or budget's key ceremony: check every trustee's entry on the log and
    sign the election key of the qualified trustees (docs/secret-ballot.md §4)."""
    _publish_key(
        election_key, "trustees", "election key", process_id, server, key, log_key, receipt
    )


def _publish_key(
    make: Any,
    who: str,
    what: str,
    process_id: str,
    server: str,
    key: Path | None,
    log_key: str | None,
    receipt: Path | None,
) -> None:
    """Run ``make`` (:func:`election_key` or :func:`issuer_key`) and say what it published."""
    from urne.verifier.errors import UrneError

    client = client_for(server, key)
    try:
        body, answer = make(client, process_id, log_key)
    except ServiceError as exc:
        fail(str(exc))
    except UrneError as exc:
        fail(f"the log of {process_id} does not check: {exc} ({exc.code})")
    typer.echo(f"qualified {who}: {body['qualified']}")
    typer.echo(f"{what}: {body['key']}")
    typer.echo(f"published: {what} at index {answer['index']}")
    save_receipt(answer, receipt)


@process_app.command("reserve")
def process_reserve(
    process_id: Annotated[str, typer.Argument(help="The process id to reserve.")],
    office: Annotated[
        list[Path],
        typer.Option(
            "--office",
            help="An office's public object (from urne-trustee keygen --office); repeat for "
            "each office, in order: office 1, 2, ...",
        ),
    ],
    threshold: Annotated[
        int, typer.Option("--threshold", min=1, help="How many offices sign each credential.")
    ],
    server: ServerOpt,
    key: KeyFileOpt,
) -> None:
    """Reserve a process id with the offices that will make its issuer key, with no
    dealer (docs/spec/issuer-ceremony.md)."""
    from urne.verifier.errors import VerificationError

    offices = []
    for path in office:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"cannot read the office's public object {path}: {exc}", 2)
        if not isinstance(obj, dict):
            fail(f"{path}: an office's public object is a JSON object", 2)
        offices.append(obj)
    if not 1 <= threshold <= len(offices):
        fail(f"--threshold {threshold}: between 1 and the {len(offices)} offices", 2)
    client = client_for(server, key)
    try:
        answer = client.create_issuer_key(process_id, threshold=threshold, offices=offices)
    except ServiceError as exc:
        fail(str(exc))
    except VerificationError as exc:
        fail(f"{exc} ({exc.code})", 2)
    typer.echo(
        f"reserved {process_id} for {len(offices)} offices, {threshold} of which sign each "
        f"credential: reservation at index {answer['reservation_index']}"
    )
    typer.echo("Next: each office runs urne-trustee ceremony; then urne process issuer-key.")


def issuer_key(client: UrneClient, process_id: str, log_key: str | None) -> tuple[Any, Any]:
    """The issuer key of the offices' ceremony, from the log read whole and
    checked: ``(the key entry's body, receipt)``."""
    c = log_registry(client, log_key).issuer_ceremonies.get(process_id)
    if c is None:
        fail(f"{process_id} was not reserved with offices (urne process reserve)")
    return end_ceremony(client, process_id, c, issuer=True)


@process_app.command("issuer-key")
def process_issuer_key(
    process_id: Annotated[str, typer.Argument(help="The process reserved with offices.")],
    server: ServerOpt,
    key: KeyFileOpt,
    log_key: LogKeyOpt = None,
    receipt: ReceiptOpt = None,
) -> None:
    """End the offices' key ceremony: check every office's entry on the log and sign
    the issuer key of the qualified offices (docs/spec/issuer-ceremony.md §2)."""
    _publish_key(issuer_key, "offices", "issuer key", process_id, server, key, log_key, receipt)


@process_app.command("publish")
def process_publish(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    server: ServerOpt,
    key: KeyFileOpt,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            help="The log's verifier key, as published; default: the one the export names "
            "(which checks the export's consistency, not who signed it).",
        ),
    ] = None,
    receipt: ReceiptOpt = None,
) -> None:
    """Recount a process from its open data and sign the result of that recount."""
    from urne.verifier.errors import VerificationError

    client = client_for(server, key)
    try:
        report, answer = publish_result(client, process_id, log_key)
    except ServiceError as exc:
        fail(str(exc))
    except VerificationError as exc:
        fail(f"the export of {process_id} does not check: {exc} ({exc.code})")
    typer.echo(
        f"recounted {report.entries} entries of {process_id} through index {report.last_index} "
        f"({report.credentials_checked} credentials checked)"
    )
    typer.echo(json.dumps(report.tally, ensure_ascii=False, sort_keys=True))
    typer.echo(f"published: result at index {answer['index']}")
    save_receipt(answer, receipt)


@roll_app.command("replace")
def roll_replace(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    person: Annotated[str, typer.Argument(help="The person whose letter was lost.")],
    server: ServerOpt,
    key: KeyFileOpt,
) -> None:
    """The help desk: a new one-time code for someone not yet answered; the old
    code stops working. Every replacement is counted, and the count published."""
    client = client_for(server, key)
    try:
        answer = client.replace_code(process_id, person)
    except ServiceError as exc:
        fail(str(exc))
    typer.echo(f"new code for {person} in {process_id}: {answer['code']}")
    typer.echo(
        f"the old code no longer works; codes replaced in {process_id} so far: "
        f"{answer['codes_replaced']} (published)"
    )


@official_app.command("keygen")
def official_keygen(
    name: Annotated[str, typer.Argument(help="The official's name (a person or a desk).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the key file (0600).")],
) -> None:
    """Make an official's Ed25519 key; prints the entry of a process description's
    ``officials`` that names it."""
    if not name.strip() or len(name) > 200:
        fail("an official's name is 1 to 200 characters", 2)
    key = InstitutionKey(name, AuthorKey.generate())
    try:
        key.save(out)
    except FileExistsError:
        fail(f"{out} exists; it is never overwritten", 2)
    except OSError as exc:
        fail(f"cannot write {out}: {exc}", 2)
    typer.echo(f"key file:    {out} (keep it secret)")
    typer.echo(f"public key:  {b64encode(key.public_key)}")
    typer.echo('Put this in the process description\'s "officials":')
    typer.echo(f"  {json.dumps({'name': name, 'key': b64encode(key.public_key)})}")


def _counts(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        pid, sep, count = value.partition("=")
        if not sep or not count.isdigit() or pid in out:
            fail(f"--count takes PROPOSAL=NUMBER, each proposal once; found {value!r}", 2)
        out[pid] = int(count)
    return out


def _paper_ballots(path: Path) -> list[list[str]]:
    """One paper ballot per line: the chosen project ids separated by spaces."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", 2)
    return [line.split() for line in lines if line.strip()]


@paper_app.command("record")
def paper_record(
    process_id: Annotated[str, typer.Argument(help="The process.")],
    sheet: Annotated[
        Path,
        typer.Argument(
            help="The signed tally sheet (its scan or file): its SHA-256 is recorded, "
            "and a sheet counts once per process.",
            exists=True,
            dir_okay=False,
        ),
    ],
    batch: Annotated[str, typer.Option("--batch", help="The batch id, unique in the process.")],
    server: ServerOpt,
    key: Annotated[Path, typer.Option("--key", help="The official's key file.")],
    signatures: Annotated[
        int | None, typer.Option("--signatures", min=0, help="A petition: signatures on paper.")
    ] = None,
    count: Annotated[
        list[str] | None,
        typer.Option("--count", help="A vote: PROPOSAL=NUMBER, repeated for each proposal."),
    ] = None,
    ballots: Annotated[
        Path | None,
        typer.Option(
            "--ballots",
            exists=True,
            dir_okay=False,
            help="A budget: a file with one paper ballot per line, the project ids "
            "separated by spaces.",
        ),
    ] = None,
    receipt: ReceiptOpt = None,
) -> None:
    """Record a batch of paper ballots, signed with an official's key."""
    given = [x is not None for x in (signatures, count, ballots)]
    if sum(given) != 1:
        fail("give exactly one of --signatures, --count or --ballots", 2)
    client = client_for(server, key)
    assert client.key is not None
    digest = hashlib.sha256(sheet.read_bytes()).hexdigest()
    try:
        entry = authoring.paper_batch(
            process_id,
            client.key.key,
            batch,
            digest,
            signatures=signatures,
            counts=None if count is None else _counts(count),
            ballots=None if ballots is None else _paper_ballots(ballots),
        )
    except FormatError as exc:
        fail(f"{exc} ({exc.code})", 2)
    answer = post_entry(client, entry)
    typer.echo(
        f"recorded batch {batch} of {process_id} (sheet {digest}) at index {answer['index']}"
    )
    save_receipt(answer, receipt)
