// What the wallet's two pages share: the wallet page (take-part.js) and the
// page an identity provider sends the citizen back to (identity.js).
//
// - The record, in IndexedDB ("urne-wallet", one record per log key and
//   process, keyed "<log key> <process>"): the file urne-wallet keeps
//   (verifier/citizen/wallet.py). Every write is durable ("strict") before the
//   promise resolves, and a record is changed under a Web Lock of its own, so
//   two tabs never write over each other's changes.
// - The service's API: an answer, or a refusal with its stable code
//   (`Refused`), or no answer that says whether it was done (`Offline`).
// - The end of issuance: the issuer's blind signature unblinded, checked
//   under the manifest's issuer key, and kept; the blinding factor forgotten.

import * as core from "./core.js";

const DB_NAME = "urne-wallet";
const STORE = "processes";

/** The record's key: one record per log and process. */
export function recordKey(logKey, processId) {
  return `${logKey} ${processId}`;
}

/** `template` with its `{name}` placeholders filled from `values`. */
export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

// -- storage ------------------------------------------------------------------------------

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

/** The record kept under `key`, or null. */
export async function load(key) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const req = d.transaction(STORE, "readonly").objectStore(STORE).get(key);
    req.onsuccess = () => resolve(req.result || null);
    req.onerror = () => reject(req.error);
  });
}

/** Keep `record` under `key`; resolves once it is durably committed ("strict": flushed to disk). */
export async function save(key, record) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(STORE, "readwrite", { durability: "strict" });
    tx.objectStore(STORE).put(record, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Run `work` holding the lock of the record `key`, so that two tabs (or a late
 * upgrade and a revote) never write over each other's changes. */
export function locked(key, work) {
  if (!navigator.locks) return work(); // a browser without Web Locks: one tab, as before
  return navigator.locks.request(`urne-wallet ${key}`, () => work());
}

// -- the service --------------------------------------------------------------------------

export class Refused extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class Offline extends Error {}

/** Refusals the service answers with 503 that are an answer nonetheless: the
 * identity provider could not be used, and nothing was done. */
const ANSWERED_503 = new Set(["provider_unavailable", "provider_not_configured", "no_manifest"]);

export async function call(method, path, body) {
  let r;
  try {
    r = await fetch(path, {
      method,
      cache: "no-store",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body,
    });
  } catch (e) {
    throw new Offline(e.message);
  }
  let obj = null;
  try {
    obj = await r.json();
  } catch (e) {
    obj = null;
  }
  if (!r.ok) {
    const err = obj && obj.error;
    const coded = err && typeof err.code === "string";
    if (r.status === 503 && coded && ANSWERED_503.has(err.code)) throw new Refused(err.code, String(err.message || ""), r.status);
    // a server's own trouble is no answer to the request: it may or may not be done
    if (r.status >= 500) throw new Offline(`HTTP ${r.status}`);
    if (coded) throw new Refused(err.code, String(err.message || ""), r.status);
    if (r.status === 429) throw new Refused("too_many_requests", "", 429);
    throw new Offline(`HTTP ${r.status}`);
  }
  if (obj === null) throw new Offline("not JSON");
  return obj;
}

// -- the end of issuance ------------------------------------------------------------------

/** Unblind the issuer's `blindSignature` (bytes: sk·B, or the shares combined)
 * with the record's r, check the credential under `issuerKey` (the manifest's,
 * 96 bytes), and keep it in `record` (saved under `key`). The blinding factor
 * is forgotten: nothing links B to the pseudonym any more. A credential that
 * does not verify is refused (`bad_credential`) and nothing changes. */
export async function keepCredential(key, record, issuerKey, blindSignature) {
  const seed = core.b64decode(record.pseudonym_seed, "seed", core.SEED_SIZE);
  const pseudonym = core.publicKeyOf(seed);
  const message = core.credentialMessage(record.process, pseudonym);
  const r = BigInt(`0x${record.blinding.r}`);
  const credential = core.unblind(message, r, blindSignature, issuerKey);
  if (!core.verifyCredential(issuerKey, record.process, pseudonym, credential)) {
    throw new core.WalletError("bad_credential", "the credential does not verify");
  }
  record.credential = core.b64encode(credential);
  record.blinding = null;
  delete record.code;
  await save(key, record);
  return record;
}
