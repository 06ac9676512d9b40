"""Issuance through an OpenID Provider (docs/spec/eligibility.md): the
authorization code flow's server side, the ID token's validation, and one
credential per (process, subject).

The citizen's wallet runs the authorization request itself (PKCE, ``state``,
``nonce``) and brings back the code. The issuer then, in order:

1. checks the blinded point and the redirect URI (before any network call);
2. redeems the code at the provider's token endpoint with its client secret
   and the wallet's PKCE verifier (Authlib's OAuth 2.0 client): a replayed or
   stolen code is refused there (``code_refused``);
3. validates the ID token with joserfc against the provider's published JWKS:
   the signature (``alg: none`` and keys outside the JWKS refused), ``iss``,
   ``aud`` (and ``azp``), ``exp``, ``iat``, and ``nonce``, which must be the
   ``credential_nonce`` of the process and the blinded point
   (``urne.verifier.civic.eligibility``), so that a token obtained for one
   request answers no other;
4. reads the claims the rule needs from the ID token, else from the userinfo
   endpoint (its ``sub`` must be the ID token's; a signed userinfo is
   validated like the ID token);
5. evaluates the manifest's rule (:func:`urne.verifier.civic.eligibility.evaluate`);
6. in one transaction: at most one answer per (process, subject), where the
   subject is kept only as HMAC-SHA256 under the process's roll key; the same
   subject with the same blinded point is answered again (a lost answer).

Every refusal before step 6 commits leaves nothing behind: no row, no mark.
Nothing of the claims is stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from requests.adapters import HTTPAdapter
from sqlalchemy.engine import Engine
from urllib3.exceptions import HTTPError as TransportError

from urne.ledger.db.engine import write_connection
from urne.ledger.errors import LedgerError
from urne.ledger.issuance.errors import BadBlindedPoint, IssuanceConflict, IssuanceRefused
from urne.ledger.issuance.issue import check_blinded
from urne.ledger.issuance.issuer_key import IssuerKey
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.models import SUBJECTS
from urne.verifier.citizen.keyfile import UnsafeKeyFile, private_dir, read_private, write_new
from urne.verifier.civic.eligibility import Eligibility, Ineligible, credential_nonce, evaluate
from urne.verifier.civic.entries import Process
from urne.verifier.errors import FormatError, UrneError

__all__ = [
    "PROVIDERS_FILE",
    "SUBJECT_DOMAIN",
    "IdentityIneligible",
    "IdentityRefused",
    "ProviderClient",
    "ProviderConfig",
    "ProviderUnavailable",
    "Providers",
    "ProvidersFile",
    "answer_subject",
    "eligibility_of",
    "issue_oidc",
    "load_providers",
    "pin_registration",
    "subject_hash",
    "subjects_count",
]

#: What the subject's HMAC covers: SUBJECT_DOMAIN || iss || 0x0a || sub.
SUBJECT_DOMAIN = b"urne/v1/oidc-subject\n"
#: The issuer's client registrations, next to its keys (owner-readable only).
PROVIDERS_FILE = "oidc-providers.json"
_PROVIDERS_FORMAT = "urne/v1/oidc-providers"

#: What the wallet sends: RFC 7636 verifiers (43-128 unreserved characters),
#: and an authorization code of a sane size.
_VERIFIER = re.compile(r"[A-Za-z0-9._~\-]{43,128}")
_CODE = re.compile(r"[\x21-\x7e]{1,2048}")
#: The signature algorithms accepted on an ID token (never ``none``, never HMAC:
#: the client secret is not a key anyone should sign identities with).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]
#: The most bytes read of a provider's discovery document, JWKS, token answer
#: or userinfo.
MAX_ANSWER = 1024 * 1024
#: Seconds of clock difference allowed on ``exp`` and ``iat``.
LEEWAY = 60
_METADATA_TTL = 3600.0
_JWKS_REFRESH = 60.0


class IdentityRefused(IssuanceRefused):
    """The provider's answer does not identify someone for this request
    (``code_refused``, ``id_token_signature``, ``id_token_alg``,
    ``id_token_issuer``, ``id_token_audience``, ``id_token_expired``,
    ``id_token_nonce``, ``id_token_invalid``, ``userinfo_mismatch``,
    ``bad_redirect_uri``, ``bad_code_verifier``, ``not_an_identity_process``)."""

    status = 400


class IdentityIneligible(IssuanceRefused):
    """The person is who they say, and the rule leaves them out
    (``ineligible``, ``claim_missing``, ``acr_too_low``)."""

    status = 403


class ProviderUnavailable(LedgerError):
    """The provider did not answer, answered nonsense, or this issuer has no
    client registration for it (``provider_unavailable``,
    ``provider_not_configured``)."""

    code = "provider_unavailable"
    status = 503


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """This issuer's registration at one provider (docs/guides/institutions.md)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    #: the scopes asked for; FranceConnect names a scope after each claim
    scopes: tuple[str, ...]
    #: where the provider may send the citizen back: the wallet page's
    #: callback; ``http://127.0.0.1/path`` (no port) admits any port (RFC 8252
    #: §7.3), for ``urne-wallet``'s local callback
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_post"

    def allows_redirect(self, uri: str) -> bool:
        if uri in self.redirect_uris:
            return True
        try:
            u = urlsplit(uri)
            port = u.port
        except ValueError:
            return False
        if u.scheme != "http" or u.hostname not in ("127.0.0.1", "::1") or port is None:
            return False
        bare = f"http://{u.netloc.rsplit(':', 1)[0]}{u.path}"
        return not u.query and not u.fragment and bare in self.redirect_uris

    def resolve_redirect(self, base: str) -> str | None:
        """This provider's registered redirect URI for the callback ``base``
        the wallet names (docs/spec/eligibility.md §2): ``base`` itself if
        registered, else the one registered URI under it (``base`` + ``/``
        + a name of this provider's); a loopback ``base`` keeps its port.
        None if there is none. Each provider having callbacks of its own, a
        wallet knows from the address the browser comes back to which
        provider sent it (a mix-up, RFC 9700 §4.4, is caught there)."""
        if self.allows_redirect(base):
            return base
        try:
            u = urlsplit(base)
            port = u.port
        except ValueError:
            return None
        if u.query or u.fragment:
            return None
        loopback = u.scheme == "http" and u.hostname in ("127.0.0.1", "::1") and port is not None
        host = u.netloc.rsplit(":", 1)[0] if loopback else u.netloc
        prefix = f"{u.scheme}://{host}{u.path.rstrip('/')}/"
        found = [r for r in self.redirect_uris if r.startswith(prefix)]
        if len(found) != 1:
            return None
        if not loopback:
            return found[0]
        rest = found[0][len(f"{u.scheme}://{host}") :]
        return f"{u.scheme}://{u.netloc}{rest}"


def _config_error(path: Path, why: str) -> ProviderUnavailable:
    # the file's name only: the answer reaches the citizen, the key directory
    # is the operator's business
    return ProviderUnavailable(
        f"{path.name} in the issuer's key directory: {why}", code="provider_not_configured"
    )


def load_providers(path: str | Path) -> dict[str, ProviderConfig]:
    """The registrations in ``path`` (``{"format", "providers": [...]}``), by
    issuer; a missing file is no provider; a damaged one is refused whole, as
    is one that group or others may read (it holds client secrets)."""
    path = Path(path)
    try:
        text = read_private(path)
    except FileNotFoundError:
        return {}
    except UnsafeKeyFile as exc:
        raise _config_error(path, "group or others may read it: chmod 600 it") from exc
    except OSError as exc:
        raise _config_error(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise _config_error(path, "not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != _PROVIDERS_FORMAT:
        raise _config_error(
            path, f'expected {{"format": "{_PROVIDERS_FORMAT}", "providers": [...]}}'
        )
    out: dict[str, ProviderConfig] = {}
    for i, p in enumerate(doc.get("providers") or []):
        where = f"providers[{i}]"
        if not isinstance(p, dict):
            raise _config_error(path, f"{where}: expected an object")
        unknown = set(p) - {
            "issuer",
            "client_id",
            "client_secret",
            "scopes",
            "redirect_uris",
            "token_endpoint_auth_method",
        }
        if unknown:
            raise _config_error(path, f"{where}: unknown field(s) {sorted(unknown)}")
        strings = {k: p.get(k) for k in ("issuer", "client_id", "client_secret")}
        for k, v in strings.items():
            if not isinstance(v, str) or not v:
                raise _config_error(path, f"{where}.{k}: expected a non-empty string")
        scopes = p.get("scopes", ["openid"])
        uris = p.get("redirect_uris")
        if not isinstance(scopes, list) or "openid" not in scopes:
            raise _config_error(path, f"{where}.scopes: a list that includes openid")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            raise _config_error(path, f"{where}.redirect_uris: expected a list of URLs")
        method = p.get("token_endpoint_auth_method", "client_secret_post")
        if method not in ("client_secret_post", "client_secret_basic"):
            raise _config_error(
                path, f"{where}.token_endpoint_auth_method: client_secret_post or _basic"
            )
        issuer = str(strings["issuer"])
        shared = {u for c in out.values() for u in c.redirect_uris} & set(uris)
        if shared:
            raise _config_error(
                path,
                f"{where}.redirect_uris: {sorted(shared)[0]} is another provider's too; each "
                "provider needs callbacks of its own (a mix-up, RFC 9700 §4.4)",
            )
        out[issuer] = ProviderConfig(
            issuer=issuer,
            client_id=str(strings["client_id"]),
            client_secret=str(strings["client_secret"]),
            scopes=tuple(str(s) for s in scopes),
            redirect_uris=tuple(uris),
            token_endpoint_auth_method=method,
        )
    return out


def subject_hash(roll_key: bytes, issuer: str, sub: str) -> bytes:
    return hmac.new(
        roll_key, SUBJECT_DOMAIN + issuer.encode() + b"\n" + sub.encode(), hashlib.sha256
    ).digest()


class _AnswerTooLarge(requests.RequestException):
    """A provider's answer past :data:`MAX_ANSWER` bytes."""


class _BoundedAdapter(HTTPAdapter):
    """Reads each answer up to :data:`MAX_ANSWER` bytes, and no further.

    Mounted (:func:`_bounded`) on every session that asks a provider anything,
    Authlib's for the token request included, whose answer requests would
    otherwise read whole: the body is read here, decoded, in chunks, and
    handed on as the response's ``raw`` file. That file carries no cookies,
    so a session keeps none from a provider (nothing in the code flow asks
    it to).
    """

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        response = super().send(
            request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        body = bytearray()
        try:
            for chunk in response.raw.stream(64 * 1024, decode_content=True):
                body += chunk
                if len(body) > MAX_ANSWER:
                    response.close()  # the rest is never read
                    raise _AnswerTooLarge(f"its answer is larger than {MAX_ANSWER:,} bytes")
        except TransportError as exc:  # what requests itself would raise for it
            response.close()
            raise requests.ConnectionError(exc, request=request) from exc
        response.raw.release_conn()
        response.raw = io.BytesIO(bytes(body))
        return response


def _bounded(session: requests.Session) -> requests.Session:
    """``session``, its answers read up to :data:`MAX_ANSWER` bytes."""
    for scheme in ("https://", "http://"):
        session.mount(scheme, _BoundedAdapter())
    return session


class ProviderClient:
    """One provider, as this issuer's client: its discovery document and JWKS
    (cached; the JWKS fetched again, at most once a minute, when a token names
    a key it does not hold: the provider rotated its keys)."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def __repr__(self) -> str:
        return f"ProviderClient({self.config.issuer!r})"

    def _fetch(self, url: str, what: str, headers: dict[str, str]) -> tuple[str, bytes]:
        """``GET url``: its media type and body, refused past
        :data:`MAX_ANSWER` bytes (read no further) or the timeout."""
        try:
            with _bounded(requests.Session()) as session:
                r = session.get(url, timeout=self.timeout, headers=headers)
                r.raise_for_status()
                body = r.content
                kind = r.headers.get("content-type", "").split(";")[0].strip()
        except _AnswerTooLarge as exc:
            raise ProviderUnavailable(
                f"the identity provider's {what} at {url} is larger than {MAX_ANSWER:,} bytes"
            ) from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable(
                f"the identity provider's {what} at {url} did not answer: {exc}"
            ) from exc
        return kind, body

    def _get_json(self, url: str, what: str) -> Any:
        _, body = self._fetch(url, what, {"accept": "application/json"})
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ProviderUnavailable(f"the identity provider's {what} is not JSON") from exc

    def metadata(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0 §4); its
        ``issuer`` must be the configured one exactly (§4.3)."""
        with self._lock:
            fresh = self.clock() - self._metadata_at < _METADATA_TTL
            if self._metadata is not None and fresh:
                return self._metadata
        url = self.config.issuer + "/.well-known/openid-configuration"
        doc = self._get_json(url, "discovery document")
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in needed):
            raise ProviderUnavailable(f"{url} is not a discovery document")
        if doc["issuer"] != self.config.issuer:
            raise ProviderUnavailable(
                f"{url} names the issuer {doc['issuer']!r}, not {self.config.issuer!r}"
            )
        with self._lock:
            self._metadata, self._metadata_at = doc, self.clock()
        return doc

    def keyset(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            fresh = self.clock() - self._keys_at < _METADATA_TTL
            if self._keys is not None and not refresh and fresh:
                return self._keys
            if refresh and self.clock() - self._keys_at < _JWKS_REFRESH and self._keys:
                return self._keys
        url = self.metadata()["jwks_uri"]
        doc = self._get_json(url, "JWKS")
        try:
            keys = KeySet.import_key_set(doc)
        except (jose_errors.JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(f"{url} is not a JWK Set: {exc}") from exc
        with self._lock:
            self._keys, self._keys_at = keys, self.clock()
        return keys

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
        acr_values: tuple[str, ...] = (),
    ) -> str:
        """The authorization request the wallet sends the citizen to (RFC 6749
        §4.1.1 with RFC 7636 S256): no secret in it, and nothing stored here."""
        session = OAuth2Session(
            self.config.client_id,
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
        )
        extra: dict[str, str] = {
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "prompt": "login",
        }
        if acr_values:
            extra["acr_values"] = " ".join(acr_values)
        url, _ = session.create_authorization_url(
            self.metadata()["authorization_endpoint"], state=state, **extra
        )
        return str(url)

    def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """Redeem the authorization code (RFC 6749 §4.1.3) with the client's
        secret and the wallet's PKCE verifier."""
        token_endpoint = self.metadata()["token_endpoint"]
        session = OAuth2Session(
            self.config.client_id,
            self.config.client_secret,
            token_endpoint_auth_method=self.config.token_endpoint_auth_method,
            redirect_uri=redirect_uri,
        )
        _bounded(session)
        try:
            token = session.fetch_token(
                token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                timeout=self.timeout,
            )
        except OAuthError as exc:
            raise IdentityRefused(
                f"the identity provider refused the authorization code ({exc.error}): it was "
                "used already, has expired, or was not issued for this request; log in again",
                code="code_refused",
            ) from exc
        except _AnswerTooLarge as exc:
            raise ProviderUnavailable(
                f"the identity provider's token endpoint at {token_endpoint} answered with "
                f"more than {MAX_ANSWER:,} bytes"
            ) from exc
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(
                f"the identity provider's token endpoint did not answer: {exc}"
            ) from exc
        finally:
            session.close()
        if not isinstance(token, Mapping) or not isinstance(token.get("id_token"), str):
            raise IdentityRefused(
                "the identity provider answered without an ID token (is openid in the scopes?)",
                code="id_token_invalid",
            )
        return dict(token)

    def _decode(self, value: str, what: str) -> dict[str, Any]:
        for refresh in (False, True):
            keys = self.keyset(refresh=refresh)
            try:
                claims = jwt.decode(value, keys, algorithms=ALGORITHMS).claims
            except jose_errors.InvalidKeyIdError:
                continue  # perhaps a rotated key: fetch the JWKS once more
            except jose_errors.UnsupportedAlgorithmError as exc:
                raise IdentityRefused(
                    f"the {what} is signed with an algorithm not accepted here "
                    f"(accepted: {', '.join(ALGORITHMS)}): {exc.description}",
                    code="id_token_alg",
                ) from exc
            except jose_errors.BadSignatureError as exc:
                raise IdentityRefused(
                    f"the {what}'s signature does not verify with the provider's published keys",
                    code="id_token_signature",
                ) from exc
            except (jose_errors.JoseError, ValueError, TypeError) as exc:
                raise IdentityRefused(
                    f"the {what} is not a JWS this issuer can read: {exc}",
                    code="id_token_invalid",
                ) from exc
            if not isinstance(claims, dict):
                raise IdentityRefused(f"the {what} is not a JSON object", code="id_token_invalid")
            return claims
        raise IdentityRefused(
            f"the {what} is signed by a key the provider does not publish",
            code="id_token_signature",
        )

    def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature and ``iss``, ``aud``,
        ``azp``, ``exp``, ``iat``, ``sub`` and ``nonce`` hold (OpenID Connect
        Core §3.1.3.7)."""
        claims = self._decode(id_token, "ID token")
        registry = JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            leeway=LEEWAY,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for name in ("iss", "nonce"):  # a list holding the value is not the value
            if name in claims and not isinstance(claims[name], str):
                raise IdentityRefused(f"the ID token's {name} is not a string",
                                      code="id_token_invalid")  # fmt: skip
        try:
            registry.validate(claims)
        except jose_errors.ExpiredTokenError as exc:
            raise IdentityRefused("the ID token has expired", code="id_token_expired") from exc
        except jose_errors.ClaimError as exc:
            claim = getattr(exc, "claim", "")
            if claim == "iss":
                raise IdentityRefused(
                    "the ID token was not issued by the process's provider", code="id_token_issuer"
                ) from exc
            if claim == "aud":
                raise IdentityRefused(
                    "the ID token was issued for another client", code="id_token_audience"
                ) from exc
            if claim == "nonce":
                raise IdentityRefused(
                    "the ID token was obtained for another request (its nonce differs)",
                    code="id_token_nonce",
                ) from exc
            raise IdentityRefused(
                f"the ID token has a bad or missing {claim!r} claim", code="id_token_invalid"
            ) from exc
        except jose_errors.JoseError as exc:
            raise IdentityRefused(
                f"the ID token is invalid: {exc}", code="id_token_invalid"
            ) from exc
        aud = claims["aud"]
        several = isinstance(aud, list) and len(aud) > 1
        if ("azp" in claims or several) and claims.get("azp") != self.config.client_id:
            raise IdentityRefused(
                "the ID token was issued to another authorized party (azp)",
                code="id_token_audience",
            )
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise IdentityRefused("the ID token's sub is not a string", code="id_token_invalid")
        return claims

    def userinfo(self, access_token: str, sub: str) -> dict[str, Any]:
        """The userinfo response (OpenID Connect Core §5.3), plain or signed;
        its ``sub`` must be the ID token's (§5.3.2)."""
        url = self.metadata().get("userinfo_endpoint")
        if not isinstance(url, str):
            raise ProviderUnavailable("the identity provider publishes no userinfo endpoint")
        kind, body = self._fetch(url, "userinfo", {"authorization": f"Bearer {access_token}"})
        if kind == "application/jwt":
            info = self._decode(body.decode("ascii", "replace").strip(), "userinfo")
            if info.get("iss", self.config.issuer) != self.config.issuer:
                raise IdentityRefused("the userinfo was not signed by the provider",
                                      code="id_token_issuer")  # fmt: skip
            aud = info.get("aud", self.config.client_id)
            if self.config.client_id not in (aud if isinstance(aud, list) else [aud]):
                raise IdentityRefused("the userinfo is for another client",
                                      code="id_token_audience")  # fmt: skip
        else:
            try:
                info = json.loads(body)
            except ValueError as exc:
                raise ProviderUnavailable("the userinfo is not JSON") from exc
        if not isinstance(info, dict) or not hmac.compare_digest(
            str(info.get("sub", "")).encode(), sub.encode()
        ):
            raise IdentityRefused(
                "the userinfo describes another subject than the ID token",
                code="userinfo_mismatch",
            )
        return info


class Providers:
    """The clients of one issuer, by provider issuer (from
    ``<key_dir>/oidc-providers.json``, through :class:`ProvidersFile`)."""

    def __init__(self, configs: Mapping[str, ProviderConfig]) -> None:
        self._clients = {iss: ProviderClient(c) for iss, c in configs.items()}

    def client(self, eligibility: Eligibility) -> ProviderClient:
        found = self._clients.get(eligibility.provider)
        if found is None:
            raise ProviderUnavailable(
                f"this issuer has no client registration at {eligibility.provider} "
                f"({eligibility.name}): add it to {PROVIDERS_FILE} in the key directory",
                code="provider_not_configured",
            )
        return found


class ProvidersFile:
    """``<key_dir>/oidc-providers.json``, read again when it changes (its
    size, inode, mode or times): an operator edits a registration without
    restarting the service. One ``stat`` per request."""

    def __init__(self, keyring: IssuerKeyring) -> None:
        self.path = keyring.key_dir / PROVIDERS_FILE
        self._lock = threading.Lock()
        self._seen: tuple[int, ...] | None = None
        self._providers = Providers({})

    def current(self) -> Providers:
        try:
            st = self.path.stat()
            seen: tuple[int, ...] | None = (
                st.st_ctime_ns,
                st.st_mtime_ns,
                st.st_size,
                st.st_ino,
                st.st_mode,
            )
        except FileNotFoundError:
            seen = None
        with self._lock:
            if seen != self._seen or seen is None:
                self._providers = Providers(load_providers(self.path))
                self._seen = seen
            return self._providers


def eligibility_of(process: Process) -> Eligibility:
    """The process's provider and rule; ``not_an_identity_process`` if it takes codes."""
    if process.eligibility is None:
        raise IdentityRefused(
            f"process {process.id!r} takes one-time codes, not an identity provider",
            code="not_an_identity_process",
        )
    return process.eligibility


def check_request(
    client: ProviderClient, *, redirect_uri: str, code: str | None, code_verifier: str | None
) -> None:
    if not client.config.allows_redirect(redirect_uri):
        raise IdentityRefused(
            f"redirect_uri {redirect_uri!r} is not one this issuer registered at the provider",
            code="bad_redirect_uri",
        )
    if code_verifier is not None and not _VERIFIER.fullmatch(code_verifier):
        raise IdentityRefused(
            "code_verifier: 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)",
            code="bad_code_verifier",
        )
    if code is not None and not _CODE.fullmatch(code):
        raise IdentityRefused("code: not an authorization code", code="code_refused")


def issue_oidc(
    engine: Engine,
    keyring: IssuerKeyring,
    providers: Providers,
    process: Process,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    blinded: bytes,
) -> tuple[bytes, dict[str, Any]]:
    """Answer one credential request of an identity-provider process: the
    blind signature ``sk·B``, and what the wallet may show (the provider's
    name; its logout address when it has one). The steps and their refusals
    are the module's; none leaves a trace before the answer is committed."""
    eligibility = eligibility_of(process)
    _, key = keyring.signer(process.id, None)
    blinded = check_blinded(blinded)
    client = providers.client(eligibility)
    check_request(client, redirect_uri=redirect_uri, code=code, code_verifier=code_verifier)
    tokens = client.exchange(code, code_verifier, redirect_uri)
    claims = client.validate_id_token(tokens["id_token"], credential_nonce(process.id, blinded))
    sub = claims["sub"]
    if any(c not in claims for c in eligibility.claims):
        access = tokens.get("access_token")
        if not isinstance(access, str):
            raise IdentityRefused(
                "the provider gave no access token to read the claims the rule needs",
                code="id_token_invalid",
            )
        claims = {**client.userinfo(access, sub), "acr": claims.get("acr")}
    try:
        evaluate(eligibility, claims, claims.get("acr"), process.closes)
    except Ineligible as exc:
        raise IdentityIneligible(
            f"the rule of {process.id!r} leaves this person out: {exc}", code=exc.code
        ) from exc
    info: dict[str, Any] = {"provider": eligibility.name}
    end = client.metadata().get("end_session_endpoint")  # before the answer is committed
    if isinstance(end, str):
        info["logout"] = end
        info["id_token_hint"] = tokens["id_token"]
    roll_key = keyring.roll_key(process.id, create=True)
    assert roll_key is not None
    pin_registration(keyring, process.id, client.config)
    digest = subject_hash(roll_key, eligibility.provider, sub)
    answer = answer_subject(engine, key, process.id, digest, blinded)
    return answer, info


#: Where each process's registration is pinned, under the key directory.
_PINS = "oidc"


def pin_registration(keyring: IssuerKeyring, process_id: str, config: ProviderConfig) -> None:
    """The provider and client a process's people are vouched for under, fixed
    at its first answer (``<key_dir>/oidc/<process>.json``, 0600).

    A provider's ``sub`` is pairwise: another client registration gives the
    same person another ``sub``, so changing the registration while a process
    runs would let everyone take part twice. A request under another
    registration than the pinned one is refused (``provider_not_configured``);
    so is one on another issuance host whose key directory pinned another."""
    path = keyring.key_dir / _PINS / f"{process_id}.json"
    pinned = {"process_id": process_id, "provider": config.issuer, "client_id": config.client_id}
    try:
        found = json.loads(read_private(path))
    except FileNotFoundError:
        private_dir(keyring.key_dir)
        private_dir(path.parent)
        try:
            write_new(path, json.dumps(pinned))
        except FileExistsError:
            found = json.loads(read_private(path))
        else:
            return
    except (ValueError, UrneError) as exc:
        raise _config_error(path, f"the pinned registration is damaged: {exc}") from exc
    if found != pinned:
        raise ProviderUnavailable(
            f"the people of {process_id!r} were vouched for under another client "
            "registration at the provider, whose subjects differ: restore that "
            "registration, or the process would let everyone take part twice",
            code="provider_not_configured",
        )


def answer_subject(
    engine: Engine, key: IssuerKey, process_id: str, digest: bytes, blinded: bytes
) -> bytes:
    """Step 6: at most one answer per (process, subject). The subject's first
    request is signed and recorded in one transaction; the same subject with
    the same ``B`` is answered again and nothing is recorded; with another
    ``B``, ``already_issued``. Two first requests of one subject at once: one
    commits, the other reads its row (and is answered only for the same ``B``)."""
    fingerprint = hashlib.sha256(blinded).digest()
    for attempt in (1, 2):
        try:
            with write_connection(engine) as conn, conn.begin():
                row = conn.execute(
                    sa.select(SUBJECTS.c.blinded_hash)
                    .where(SUBJECTS.c.process_id == process_id, SUBJECTS.c.subject_hash == digest)
                    .with_for_update()
                ).first()
                if row is not None and not hmac.compare_digest(row.blinded_hash, fingerprint):
                    raise IssuanceConflict(
                        "this person has already received a credential for this process",
                        code="already_issued",
                    )
                try:
                    answer = key.sign_blinded(blinded)
                except FormatError as exc:  # checked by the caller; kept for the type's sake
                    raise BadBlindedPoint(str(exc)) from exc
                if row is None:
                    conn.execute(
                        SUBJECTS.insert(),
                        [
                            {
                                "process_id": process_id,
                                "subject_hash": digest,
                                "issued_on": datetime.now(UTC).date(),
                                "blinded_hash": fingerprint,
                            }
                        ],
                    )
            return answer
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def subjects_count(engine: Engine, process_id: str) -> int:
    """How many distinct subjects were answered for ``process_id`` (public)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(SUBJECTS.c.process_id == process_id)
            ).scalar_one()
        )
