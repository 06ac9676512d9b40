// Taking part through the manifest's identity provider, in the browser
// (docs/spec/eligibility.md §2; docs/guides/web.md §3a).
//
// On the wallet page (take-part.js), "Take part with <provider>": the record
// and its sealed request (r, B) are already kept in IndexedDB; this module
// draws a PKCE verifier (RFC 7636, S256) and a `state`, binds the request to
// B with the nonce, asks the service for the provider's authorization address
// and keeps the login under way in this tab's sessionStorage (the process, the
// state, the verifier and the redirect URI) before the page leaves for the
// provider.
//
// On the callback page (/oidc/callback, which loads this module alone), the
// provider sends the browser back with `code` and `state`, or `error`. The
// code is taken out of the address bar and the history at once, the login
// under way is read and forgotten (it is good once), `state` must be the one
// this tab drew, and only then is the code sent, with the verifier and the
// same B, to the service's issuer, which redeems it at the provider. The
// answer is unblinded and checked under the manifest's issuer key exactly as
// with a one-time code (record.js), the provider's logout link is kept for
// this tab's session, and the browser goes back to the wallet page, where the
// citizen casts as usual. No token is ever read here: the issuer checks the
// ID token; the wallet only carries its hint to the provider's logout.

import { sha256 } from "@noble/hashes/sha2.js";
import * as core from "./core.js";
import * as store from "./record.js";

/** SHA-256's domain for the nonce: the nonce is base64url(SHA-256(domain ‖ process ‖ "\n" ‖ B)). */
export const NONCE_DOMAIN = "urne/v1/oidc-nonce\n";
/** Where the provider sends the browser back, on this service's origin. */
export const CALLBACK_PATH = "/oidc/callback";
/** This tab's login under way (sessionStorage: never shared with other tabs, gone with the tab). */
const LOGIN_KEY = "urne-oidc-login";
const LOGOUT_PREFIX = "urne-oidc-logout ";
const utf8 = new TextEncoder();

/** base64url without padding (RFC 4648 §5). */
export function b64url(bytes) {
  return core.b64encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size) {
  return b64url(crypto.getRandomValues(new Uint8Array(size)));
}

/** A PKCE verifier (64 characters: 48 random bytes) and its S256 challenge. */
export function pkcePair() {
  const verifier = randomText(48);
  return { verifier, challenge: b64url(sha256(utf8.encode(verifier))) };
}

/** The request's `state`: 32 random bytes, 43 characters. */
export function newState() {
  return randomText(32);
}

/** The nonce binding the login to the sealed request B (48 bytes) of `processId`. */
export function credentialNonce(processId, blinded) {
  return b64url(sha256(core.concat(utf8.encode(NONCE_DOMAIN), utf8.encode(processId), utf8.encode("\n"), blinded)));
}

/** An http(s) address as text, or null for anything else (javascript:, garbage). */
function webAddress(text) {
  try {
    const u = new URL(String(text));
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch (e) {
    return null;
  }
}

/** The wallet page of a process. */
function wallet(processId) {
  return `/p/${encodeURIComponent(processId)}/take-part`;
}

// -- the wallet page: leaving for the provider ----------------------------------------------

/** Ask the service for the provider's authorization request for `process`
 * and the sealed request `blinded` (bytes), keep the login under way in this
 * tab, and return the address to send the citizen to. */
export async function authorize({ process, logKey, name, provider, blinded }) {
  const { verifier, challenge } = pkcePair();
  const state = newState();
  const redirectUri = `${location.origin}${CALLBACK_PATH}`;
  const body = { redirect_uri: redirectUri, state, nonce: credentialNonce(process, blinded), code_challenge: challenge };
  const answer = await store.call("POST", `/issuance/${encodeURIComponent(process)}/authorize`, JSON.stringify(body));
  const url = webAddress(answer.url);
  if (!url) throw new core.WalletError("error", "the service's answer is no web address");
  // the provider's own callback on this origin (the base, or a path under it)
  const back = webAddress(answer.redirect_uri);
  if (!back || !(back === redirectUri || back.startsWith(`${redirectUri}/`))) {
    throw new core.WalletError("error", "the service named a callback elsewhere");
  }
  const pending = { pid: process, state, verifier, redirect_uri: back, log_key: logKey, name, provider };
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify(pending));
  return url;
}

/** The provider's logout address for this process's login in this tab, or null. */
export function logoutLink(logKey, processId) {
  try {
    const kept = sessionStorage.getItem(LOGOUT_PREFIX + store.recordKey(logKey, processId));
    return kept ? webAddress(kept) : null;
  } catch (e) {
    return null;
  }
}

export function forgetLogout(logKey, processId) {
  try {
    sessionStorage.removeItem(LOGOUT_PREFIX + store.recordKey(logKey, processId));
  } catch (e) {
    /* nothing kept */
  }
}

function keepLogout(key, answer) {
  const end = answer.logout ? webAddress(answer.logout) : null;
  if (!end || typeof answer.id_token_hint !== "string") return;
  const u = new URL(end);
  u.searchParams.set("id_token_hint", answer.id_token_hint);
  sessionStorage.setItem(LOGOUT_PREFIX + key, u.href);
}

// -- the callback page: back from the provider ----------------------------------------------

/** This tab's login under way, forgotten as it is read (it serves once), or null. */
function takePending() {
  try {
    const text = sessionStorage.getItem(LOGIN_KEY);
    sessionStorage.removeItem(LOGIN_KEY);
    const pending = text ? JSON.parse(text) : null;
    const fields = ["pid", "state", "verifier", "redirect_uri", "log_key"];
    return pending && fields.every((f) => typeof pending[f] === "string") ? pending : null;
  } catch (e) {
    return null;
  }
}

class Stop extends Error {
  constructor(code, values = {}) {
    super(code);
    this.code = code;
    this.values = values;
  }
}

/** The provider's own words for its refusal, as plain text, kept short. */
function providerError(params) {
  const said = params.get("error_description") || params.get("error") || "";
  return said.replace(/\s+/g, " ").trim().slice(0, 200);
}

async function callback() {
  const $ = (id) => document.getElementById(id);
  const S = JSON.parse($("wallet-strings").textContent);
  const box = $("callback-message");
  const params = new URLSearchParams(location.search);
  // the code leaves the address bar (and this entry of the history) before anything else
  if (location.search || location.hash) history.replaceState(null, "", location.pathname);
  const pending = takePending();
  const name = pending && typeof pending.name === "string" ? pending.name : "";

  const show = (text, kind, code) => {
    box.textContent = text;
    box.className = `notice ${kind}`;
    box.dataset.kind = kind;
    box.dataset.code = code;
  };
  const sentence = (e) => {
    if (e instanceof Stop) return [store.fill(S[`identity_${e.code}`], { name, ...e.values }), e.code];
    if (e instanceof store.Offline) return [store.fill(S.identity_offline, { name }), "offline"];
    if (e instanceof store.Refused || e instanceof core.WalletError) {
      let key = e.code;
      if (key.startsWith("id_token_") || key === "userinfo_mismatch") key = "id_token"; // the token did not check
      if (key === "bad_blind_signature") key = "bad_credential";
      const known = S[`identity_${key}`] || S[key];
      return [known ? store.fill(known, { name }) : store.fill(S.refused, { message: e.message }), e.code];
    }
    return [store.fill(S.error, { message: e && e.message ? e.message : String(e) }), "error"];
  };

  try {
    if (!pending) throw new Stop("no_login");
    $("callback-back-link").href = wallet(pending.pid);
    if (params.get("state") !== pending.state) throw new Stop("bad_state");
    // back at another provider's callback: a mix-up (RFC 9700 §4.4), never redeemed here
    if (`${location.origin}${location.pathname}` !== pending.redirect_uri) throw new Stop("bad_state");
    // RFC 9207: a provider that names itself must be the one the manifest names
    if (params.has("iss") && pending.provider && params.get("iss") !== pending.provider) throw new Stop("bad_state");
    if (params.has("error") || !params.get("code")) throw new Stop("login_failed", { error: providerError(params) || "?" });
    show(store.fill(S.identity_asking, { name }), "info", "");
    const key = store.recordKey(pending.log_key, pending.pid);
    await store.locked(key, async () => {
      const record = await store.load(key);
      if (record && record.credential) return; // another tab finished meanwhile: nothing to ask
      if (!record || !record.blinding) throw new Stop("no_login");
      const body = {
        code: params.get("code"),
        code_verifier: pending.verifier,
        redirect_uri: pending.redirect_uri,
        blinded: record.blinding.blinded,
      };
      const answer = await store.call("POST", `/issuance/${encodeURIComponent(pending.pid)}/identity`, JSON.stringify(body));
      const issuerKey = core.b64decode(record.issuer.public_key, "issuer key", core.ISSUER_PUBLIC_KEY_SIZE);
      await store.keepCredential(key, record, issuerKey, core.b64decode(answer.blind_signature, "blind signature"));
      keepLogout(key, answer);
    });
  } catch (e) {
    const [text, code] = sentence(e);
    show(text, "error", code);
    $(pending ? "callback-back" : "callback-home").hidden = false;
    document.body.dataset.ready = "yes";
    return;
  }
  // held: back to the wallet page, where the citizen casts (this page leaves the history)
  location.replace(wallet(pending.pid));
}

if (document.getElementById("oidc-callback")) callback();
