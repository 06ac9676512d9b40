"""The pages in the reader's language: English or French (docs/guides/web.md §4).

- **Which language.** ``?lang=xx``, else the ``lang`` cookie (set by the
  switch in every page's header, ``GET /lang/{code}``), else the
  ``Accept-Language`` header with its q-values (RFC 9110 §12.5.4), else
  English. Only a language Urne has words for counts: ``?lang=de`` is no
  choice, and the next source decides. Region subtags are dropped
  (``fr-CA`` is French).
- **The words.** GNU gettext catalogues: ``api/locale/<lang>/LC_MESSAGES/messages.po``
  is the source of truth, read once per process and compiled in memory (no
  ``.mo`` file, no build step). English is the catalogue's own language.
- **The language of one rendering** is a context variable, set by
  :func:`using` around it; the Jinja2 i18n extension's newstyle callables
  (``_``, ``gettext``, ``ngettext``, ``pgettext``) and the filters read it, so
  two requests rendered at once in two threads never mix their languages.
- **Numbers and dates** follow the language's conventions (Unicode CLDR, through
  Babel): ``|number`` (French groups thousands with a narrow no-break space),
  ``|datetime`` (a long date and the time, in UTC, said so).
- **The scripts' words** travel in the page, as a JSON data block
  ``<script type="application/json" id="urne-strings">`` that
  ``static/strings.js`` reads: see :func:`plural` and :func:`fill`, which
  render the same phrase on the server as the script does in the page.

Texts the institutions wrote (titles, proposals) come in the languages they
chose; :func:`preferences` orders the reader's languages for those.
"""

from __future__ import annotations

import gettext as gnu
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.numbers import format_percent as _format_percent
from babel.support import Translations
from jinja2 import Environment
from markupsafe import Markup, escape

from urne.api.negotiation import weighted

__all__ = [
    "COOKIE",
    "COOKIE_MAX_AGE",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "Phrase",
    "accepted_languages",
    "current",
    "fill",
    "format_chart_time",
    "format_moment",
    "format_number",
    "format_percent",
    "gettext",
    "install",
    "kind_label",
    "live_strings",
    "negotiate",
    "ngettext",
    "npgettext",
    "pgettext",
    "plural",
    "preferences",
    "receipt_strings",
    "status_label",
    "translations",
    "using",
]

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
#: Each language's name in itself, for the switch.
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
LOCALE_DIR = Path(__file__).parent / "locale"
#: Ranges of Accept-Language read at most: a longer header is someone's game.
MAX_RANGES = 32

_language: ContextVar[str] = ContextVar("urne_page_language", default=DEFAULT_LANGUAGE)


# -- which language --------------------------------------------------------------------------


def _primary(tag: str) -> str | None:
    """``fr`` of ``fr-CA``, lower case; None for what is no language tag."""
    primary = tag.strip().split("-")[0].lower()
    return primary if 0 < len(primary) <= 8 and primary.isascii() and primary.isalpha() else None


def accepted_languages(header: str) -> list[str]:
    """The primary language subtags of an ``Accept-Language`` header, the
    most wanted first: by q-value (``q=0`` means "not this one", a q-value
    that is no number in [0, 1] counts as 0), ties in the header's order."""
    ranked: list[tuple[float, int, str]] = []
    for position, (tag, q) in enumerate(weighted(header, MAX_RANGES)):
        primary = _primary(tag)
        if primary is not None and q > 0:  # not "*" nor garbage
            ranked.append((-q, position, primary))
    ranked.sort()
    return list(dict.fromkeys(primary for _, _, primary in ranked))


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of the pages: the first of the query parameter, the
    cookie and ``Accept-Language`` that names one of :data:`LANGUAGES`."""
    for choice in (query, cookie):
        primary = _primary(choice) if choice else None
        if primary in LANGUAGES:
            return primary
    for primary in accepted_languages(accept_language or ""):
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def preferences(query: str | None, cookie: str | None, accept_language: str | None) -> list[str]:
    """Every language the reader named, in the order :func:`negotiate` reads
    them, whether Urne has words for it or not: for the texts institutions
    wrote, which may be in Catalan or Breton."""
    named = [_primary(c) for c in (query, cookie) if c]
    named += accepted_languages(accept_language or "")
    return list(dict.fromkeys(p for p in named if p))


# -- the words ------------------------------------------------------------------------------


@cache
def translations(lang: str) -> gnu.NullTranslations:
    """The catalogue of ``lang``, compiled in memory from its ``.po`` file
    (fuzzy entries left out, as ``msgfmt`` leaves them). English is the
    msgids themselves."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalogue for {lang!r}; Urne has {', '.join(LANGUAGES)}")
    if lang == DEFAULT_LANGUAGE:
        return gnu.NullTranslations()
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def current() -> str:
    """The language of the page being rendered."""
    return _language.get()


@contextmanager
def using(lang: str) -> Iterator[str]:
    """Render in ``lang`` (one of :data:`LANGUAGES`) inside the block."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalogue for {lang!r}")
    token = _language.set(lang)
    try:
        yield lang
    finally:
        _language.reset(token)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(current()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current()).npgettext(context, singular, plural, n)


# -- numbers and dates ---------------------------------------------------------------------


def format_number(value: int | float) -> str:
    """``1234`` as ``1,234`` in English, ``1 234`` (narrow no-break space) in French."""
    return format_decimal(value, locale=_locale(current()))


def format_percent(share: float) -> str:
    """A share (0.25) as a percentage to the unit: ``25%`` in English, ``25 %``
    in French (a narrow no-break space before the sign, as CLDR writes it)."""
    return _format_percent(share, locale=_locale(current()))


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_moment(value: datetime | str) -> str:
    """A long date and the time, in UTC: "June 1, 2026, 9:00 AM UTC",
    "1 juin 2026, 09:00 UTC". The service knows no reader's time zone, so it
    says which one it uses."""
    at, loc = _moment(value), _locale(current())
    pattern = str(get_datetime_format("long", locale=loc)).replace("'", "")
    date = format_date(at, "long", locale=loc)
    time = format_time(at, "short", tzinfo=UTC, locale=loc)
    return pattern.replace("{1}", date).replace("{0}", time) + " UTC"


def format_chart_time(value: datetime | str) -> str:
    """Short, for an axis: "Jun 1, 09:00", "1 juin, 09:00" (UTC)."""
    at, loc = _moment(value), _locale(current())
    pattern = str(get_datetime_format("medium", locale=loc)).replace("'", "")
    date = format_skeleton("MMMd", at, tzinfo=UTC, locale=loc)
    time = format_skeleton("Hm", at, tzinfo=UTC, locale=loc)
    return pattern.replace("{1}", date).replace("{0}", time)


# -- words the pages share --------------------------------------------------------------------


def status_label(status: str) -> str:
    """A process's status (``urne.api.web.process_status``), in words."""
    labels = {
        "upcoming": pgettext("process status", "upcoming"),
        "open": pgettext("process status", "open"),
        "ended": pgettext("process status", "ended"),
        "closed": pgettext("process status", "closed"),
        # a sortition's, before and after its draw
        "awaiting": pgettext("process status", "awaiting its draw"),
        "drawn": pgettext("process status", "drawn"),
    }
    return labels.get(status, status)


def kind_label(kind: str) -> str:
    """A kind of process, in words."""
    labels = {
        "petition": pgettext("process kind", "petition"),
        "vote": pgettext("process kind", "vote"),
        "budget": pgettext("process kind", "participatory budget"),
        "sortition": pgettext("process kind", "citizens' panel"),
    }
    return labels.get(kind, kind)


# -- phrases the server and the scripts both render ---------------------------------------------

#: A phrase with ``%(name)s`` placeholders: one text, or a text per CLDR plural
#: category (``one``, ``other``, ``many``, ...), as ``Intl.PluralRules`` names them.
Phrase = str | dict[str, str]

#: A number of each plural category, to ask gettext for that category's form.
_SAMPLES = (*range(0, 111), 1_000_000)


def plural(form: Callable[[int], str]) -> dict[str, str]:
    """``form(n)`` (an ``ngettext`` call, so that extraction finds the message)
    for every plural category of the current language, keyed by category:
    what a script needs to choose the form with ``Intl.PluralRules``."""
    loc, out = _locale(current()), dict[str, str]()
    for n in _SAMPLES:
        out.setdefault(str(loc.plural_form(n)), form(n))
    return out


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def fill(phrase: Phrase, count: int | None = None, attr: str = "field", **values: Any) -> Markup:
    """The phrase with each ``%(name)s`` replaced by
    ``<span data-{attr}="name">value</span>``, integers formatted for the
    language (pass an identifier such as a log index as text). The same
    markup ``UrneStrings.fill`` builds in the page, so a script can refresh
    the numbers in place."""
    if isinstance(phrase, dict):
        category = str(_locale(current()).plural_form(count if count is not None else 0))
        phrase = phrase.get(category, phrase["other"])

    def value(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        name = m.group(1)
        v = values[name]
        shown = format_number(v) if isinstance(v, int) and not isinstance(v, bool) else str(v)
        return f'<span data-{attr}="{name}">{escape(shown)}</span>'

    parts: list[str] = []
    end = 0
    for m in _PLACEHOLDER.finditer(phrase):
        parts.append(str(escape(phrase[end : m.start()])))
        parts.append(value(m))
        end = m.end()
    parts.append(str(escape(phrase[end:])))
    return Markup("".join(parts))


def install(env: Environment) -> None:
    """The i18n extension's callables on the current language, and the filters."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    cast(Any, env).install_gettext_callables(
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    env.filters["number"] = format_number
    env.filters["percent"] = format_percent
    env.filters["datetime"] = format_moment
    env.filters["chart_time"] = format_chart_time
    env.globals["fill"] = fill
    env.globals["status_label"] = status_label
    env.globals["kind_label"] = kind_label
    env.globals["current_language"] = current
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES


# -- the scripts' words ---------------------------------------------------------------------------
#
# Called while a page renders (the current language set): each gives the
# table a page writes into its ``urne-strings`` block for one script. The
# process page renders the same phrases itself with :func:`fill`, so the
# server's first rendering and the script's refreshes read alike.


def live_strings() -> dict[str, Phrase]:
    """``static/live.js``: the live counts of a process page."""
    return {
        "petition_reached": plural(
            lambda n: ngettext(
                "%(total)s signature, threshold %(threshold)s reached at log index %(index)s",
                "%(total)s signatures, threshold %(threshold)s reached at log index %(index)s",
                n,
            )
        ),
        "petition_not_reached": plural(
            lambda n: ngettext(
                "%(total)s signature, threshold %(threshold)s not reached yet",
                "%(total)s signatures, threshold %(threshold)s not reached yet",
                n,
            )
        ),
        "signatures_split": gettext("%(signatures)s online, %(paper_signatures)s on paper"),
        "ballots_online": plural(
            lambda n: ngettext("%(ballots)s ballot online", "%(ballots)s ballots online", n)
        ),
        "ballots_online_plus_paper": plural(
            lambda n: ngettext(
                "%(ballots)s ballot online, plus paper batches",
                "%(ballots)s ballots online, plus paper batches",
                n,
            )
        ),
        "ballots_online_and_paper": plural(
            lambda n: ngettext(
                "%(ballots)s ballot online, %(paper_ballots)s on paper",
                "%(ballots)s ballots online, %(paper_ballots)s on paper",
                n,
            )
        ),
        "vote_total": plural(lambda n: ngettext("%(total)s vote", "%(total)s votes", n)),
        "delegated": plural(
            lambda n: ngettext(
                "%(delegated)s of these votes came through a delegation",
                "%(delegated)s of these votes came through a delegation",
                n,
            )
        ),
        "vote_split": gettext("%(counts)s online, %(paper_counts)s on paper"),
        "budget_outcome": gettext("Together they cost %(spent)s of the budget of %(budget)s."),
        "approvals": plural(
            lambda n: ngettext("%(approvals)s approval", "%(approvals)s approvals", n)
        ),
        "none_selected": gettext("No project is selected yet."),
    }


def receipt_strings() -> dict[str, Phrase]:
    """``static/receipt.js``: the receipt check's steps, verdicts and refusals
    (their codes are the Python verifier's; docs/guides/web.md §3)."""
    return {
        # what is being read, named in the refusals
        "what_latest_checkpoint": gettext("the log's latest checkpoint"),
        "what_consistency_proof": gettext("the consistency proof"),
        "what_consistency_hash": gettext("hash %(i)s of the consistency proof"),
        "what_inclusion_hash": gettext("hash %(i)s of the inclusion proof"),
        "what_proof_hash": gettext("hash %(i)s of the proof"),
        "what_receipt_entry": gettext("the receipt's entry"),
        "what_leaf_hash": gettext("the leaf hash"),
        "what_root": gettext("the root"),
        "what_root1": gettext("the root of the older tree"),
        "what_root2": gettext("the root of the newer tree"),
        "what_root_hash": gettext("the root hash"),
        "what_vkey": gettext("the verifier key"),
        "what_vkey_named": gettext("the verifier key %(name)s"),
        "what_note": gettext("the signed note"),
        "what_signature_line": gettext("signature line %(n)s"),
        "what_origin": gettext("the origin line"),
        "what_extension_line": gettext("extension line %(n)s"),
        # the log did not answer (could not check)
        "fetch_no_answer": gettext("%(what)s could not be fetched: the log did not answer"),
        "fetch_http": gettext("%(what)s could not be fetched (HTTP %(status)s)"),
        # bytes and proofs
        "expected_base64_text": gettext("%(what)s: expected base64 text"),
        "not_base64": gettext("%(what)s: not valid base64"),
        "bad_hash_length": plural(
            lambda n: ngettext(
                "%(what)s is %(got)s byte, want %(want)s",
                "%(what)s is %(got)s bytes, want %(want)s",
                n,
            )
        ),
        "root_mismatch": gettext(
            "%(what)s does not match: the proof yields %(computed)s, expected %(expected)s"
        ),
        "bad_index": gettext("index %(index)s is not below the tree size %(size)s"),
        "bad_inclusion_length": plural(
            lambda n: ngettext(
                "the inclusion proof for index %(index)s in size %(size)s has %(got)s hash, "
                "want %(want)s",
                "the inclusion proof for index %(index)s in size %(size)s has %(got)s hashes, "
                "want %(want)s",
                n,
            )
        ),
        "negative_sizes": gettext("tree sizes must not be negative, got %(size1)s and %(size2)s"),
        "size2_smaller": gettext("size2 (%(size2)s) is smaller than size1 (%(size1)s)"),
        "size_zero": gettext("a consistency proof from size 0 proves nothing and is refused"),
        "equal_sizes_proof": plural(
            lambda n: ngettext(
                "the sizes are equal (%(size)s) but the proof has %(got)s hash, want 0",
                "the sizes are equal (%(size)s) but the proof has %(got)s hashes, want 0",
                n,
            )
        ),
        "empty_consistency": gettext("empty consistency proof from size %(size1)s to %(size2)s"),
        "bad_consistency_length": plural(
            lambda n: ngettext(
                "the consistency proof from %(size1)s to %(size2)s has %(got)s hash, want %(want)s",
                "the consistency proof from %(size1)s to %(size2)s has %(got)s hashes, "
                "want %(want)s",
                n,
            )
        ),
        # keys, signed notes, checkpoints
        "bad_key_name": gettext(
            "%(what)s: expected a non-empty key name without white space or '+', found %(found)s"
        ),
        "not_canonical_base64": gettext(
            "%(what)s: expected standard, padded, canonical base64, found %(found)s"
        ),
        "note_control": gettext(
            "%(what)s: expected no control characters other than newline, "
            "found U+%(code)s at offset %(offset)s"
        ),
        "lone_surrogate": gettext("%(what)s: expected valid UTF-8, found a lone surrogate"),
        "vkey_bad_id": gettext("%(what)s: expected an 8-digit hex key ID, found %(found)s"),
        "vkey_empty": gettext("%(what)s: the key data is empty"),
        "key_id_mismatch": gettext(
            "the trusted key's ID is %(given)s, but the key hashes to %(computed)s: it was mistyped"
        ),
        "unsupported_algorithm": gettext(
            "the trusted key is of signature type %(type)s, not Ed25519 (1)"
        ),
        "vkey_size": plural(
            lambda n: ngettext(
                "the Ed25519 public key is %(got)s byte, want %(want)s",
                "the Ed25519 public key is %(got)s bytes, want %(want)s",
                n,
            )
        ),
        "no_ed25519": gettext(
            "this browser cannot verify Ed25519 signatures (WebCrypto); "
            "use a current browser or urne-verify receipt"
        ),
        "note_no_blank": gettext(
            "the signed note: expected a blank line between text and signatures, found none"
        ),
        "note_signature_newline": gettext(
            "the signed note: expected signature lines each ending in a newline "
            "after the blank line"
        ),
        "note_too_many": gettext(
            "the signed note: expected at most %(max)s signatures, found %(got)s"
        ),
        "signature_line_dash": gettext(
            "%(what)s: expected it to start with an em dash and a space, found %(found)s"
        ),
        "signature_line_short": gettext(
            "%(what)s: expected at least %(want)s bytes (key ID and signature), found %(got)s"
        ),
        "note_text_newline": gettext("the note's text must be non-empty and end in a newline"),
        "bad_signature": gettext(
            "the checkpoint's signature by the trusted key does not verify: "
            "the checkpoint was changed"
        ),
        "unknown_key": gettext("the checkpoint carries no signature by the trusted key %(key)s"),
        "malformed_checkpoint": gettext("checkpoint: %(detail)s"),
        "line_empty": gettext("%(what)s: expected text, found an empty line"),
        "line_control": gettext("%(what)s: expected no control characters, found U+%(code)s"),
        "checkpoint_newline": gettext("expected text ending in a newline, found %(found)s"),
        "checkpoint_lines": gettext(
            "expected at least 3 lines (origin, size, root hash), found %(got)s"
        ),
        "checkpoint_size": gettext(
            "expected a decimal tree size without sign or leading zeroes, found %(found)s"
        ),
        "checkpoint_size_big": gettext("expected a tree size below 2**63, found %(found)s"),
        "checkpoint_root_empty": gettext(
            "expected a non-empty root hash line, found an empty line"
        ),
        "checkpoint_root_base64": gettext("expected a base64 root hash, found %(found)s"),
        "checkpoint_root_canonical": gettext(
            "expected a canonical, padded base64 root hash, found %(found)s"
        ),
        "checkpoint_root_length": plural(
            lambda n: ngettext(
                "checkpoint: the root hash is %(got)s byte, want %(want)s",
                "checkpoint: the root hash is %(got)s bytes, want %(want)s",
                n,
            )
        ),
        "origin_mismatch": gettext(
            "the checkpoint is of the log %(checkpoint)s, the receipt of %(receipt)s"
        ),
        # the receipt itself
        "receipt_not_json": gettext("this is not a receipt: it is not JSON (%(error)s)"),
        "receipt_not_object": gettext("this is not a receipt: a receipt is a JSON object"),
        "receipt_fields": gettext("a receipt has the fields %(want)s; this one has %(got)s"),
        "receipt_version": gettext("receipt version %(v)s; this page reads version 1"),
        "receipt_index": gettext("the receipt's index is not an integer >= 0"),
        "receipt_not_text": gettext("the receipt's %(field)s is not text"),
        "receipt_proof_not_list": gettext("the receipt's inclusion_proof is not a list"),
        "entry_not_json": gettext("(not a JSON entry)"),
        "explained": gettext("%(message)s (%(detail)s)"),
        "explain_inclusion": gettext(
            "the inclusion proof leads to another root than the checkpoint's: "
            "the entry, its index or the proof was changed"
        ),
        "explain_consistency": gettext(
            "the consistency proof fails: the newer checkpoint does not extend "
            "the receipt's (the log was rewritten)"
        ),
        "no_webcrypto": gettext(
            "this page can only check receipts when served over HTTPS (WebCrypto); "
            "use urne-verify receipt"
        ),
        "latest_not_utf8": gettext("the log's latest checkpoint is not valid UTF-8"),
        "log_shrank": gettext(
            "the log's latest checkpoint (size %(now)s) is smaller than the receipt's "
            "(%(then)s): the log went back"
        ),
        # the steps and the verdict
        "step_receipt": gettext("A receipt for log index %(index)s, log %(origin)s."),
        "step_key": gettext("Trusted key %(key)s."),
        "step_signature": gettext(
            "The checkpoint (tree size %(size)s) is signed by the trusted key."
        ),
        "step_inclusion": plural(
            lambda n: ngettext(
                "The entry is leaf %(index)s of that tree (inclusion proof of %(num)s hash).",
                "The entry is leaf %(index)s of that tree (inclusion proof of %(num)s hashes).",
                n,
            )
        ),
        "step_witnesses": gettext(
            "The checkpoint is seen by %(seen)s of %(of)s independent witnesses (%(names)s)."
        ),
        "step_consistency": gettext(
            "Today's log (size %(size)s) is signed by the same key and still holds the entry "
            "(consistency proof)."
        ),
        "kind_institution": pgettext("entry kind", "registration of an institution"),
        "kind_reservation": pgettext("entry kind", "reservation of a process id"),
        "kind_process": pgettext("entry kind", "process"),
        "kind_ballot": pgettext("entry kind", "ballot"),
        "kind_paper": pgettext("entry kind", "paper batch"),
        "kind_close": pgettext("entry kind", "close"),
        "kind_result": pgettext("entry kind", "result"),
        "kind_draw": pgettext("entry kind", "draw by lot"),
        "kind_answer": pgettext("entry kind", "answer"),
        "kind_delegate": pgettext("entry kind", "standing as a delegate"),
        "kind_delegation": pgettext("entry kind", "delegation"),
        "valid_title": gettext("Valid receipt"),
        "valid_detail": gettext(
            "Entry %(index)s (%(kind)s of %(process)s) is in the log whose key you trust, "
            "under a checkpoint of size %(size)s."
        ),
        "valid_still_held": gettext("Today's log (size %(size)s) still holds it."),
        "valid_witnessed": gettext(
            "Seen by %(seen)s of %(of)s independent witnesses: this receipt is of the log "
            "they were shown."
        ),
        "not_a_witness_key": gettext(
            "%(name)s is not a witness's key (a witness key is an Ed25519 key of type 0x04)"
        ),
        "bad_cosignature": gettext(
            "the cosignature of witness %(name)s does not verify over this checkpoint"
        ),
        "no_quorum": gettext(
            "the checkpoint is cosigned by %(seen)s of the %(of)s witnesses you trust; you "
            "asked for %(quorum)s"
        ),
        "bad_policy": gettext("a quorum of %(quorum)s cannot be met by %(of)s witnesses"),
        "valid_key_differs": gettext(
            "Note: the receipt names another key than the one you trust; "
            "only the key you trust was used."
        ),
        "invalid_title": gettext("Not valid"),
        "invalid_detail": gettext("%(message)s (%(code)s)"),
        "unchecked_title": gettext("Could not check"),
        "unchecked_detail": gettext(
            "%(message)s (%(code)s). Try again later; the receipt itself is not in question."
        ),
        "not_witnessed_title": gettext("Not witnessed yet"),
        "not_witnessed_detail": gettext(
            "%(message)s (%(code)s). A receipt given when the entry was cast is cosigned "
            "moments later: get this entry's current receipt and check it again. A receipt "
            "the witnesses never cosign is of a log they were not shown."
        ),
        "no_receipt_title": gettext("No receipt loaded"),
        "no_receipt_detail": gettext(
            "The receipt of entry %(index)s could not be fetched: %(error)s"
        ),
    }
