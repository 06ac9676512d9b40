// The citizen's side of the protocol, in the browser (docs/guides/wallet.md,
// docs/spec/wallet-vectors.md): the same bytes as verifier/citizen/ and
// verifier/credentials/ compute in Python, which tests/web/test_crypto_vectors.py
// checks in Chromium for fixed inputs.
//
// No curve arithmetic is written here: BLS12-381 (hash to G1 under RFC 9380,
// point encodings with their subgroup checks, the pairing) and Ed25519 are
// @noble/curves, vendored unmodified in /static/vendor/noble-curves (its
// SOURCES.md gives the package's integrity and each file's SHA-256). This
// module only composes them, as docs/spec/credentials.md §2 says:
//
//   m = "urne/v1/credential\n" || UTF-8(process) || 0x00 || pseudonym
//   H = hash_to_G1(m, DST)   B = r*H   (r uniform in [1, n-1], fresh)
//   S = r^-1 * S'            accepted only if e(S, G2) == e(H, PK)
//
// An entry is RFC 8785 canonical JSON signed by its author over
// "urne/v1/" || kind || "\n" || JCS(entry without "sig") (docs/spec/entries.md §1).

import { bls12_381 } from "@noble/curves/bls12-381.js";
import { ed25519 } from "@noble/curves/ed25519.js";

export const CREDENTIAL_DST = "URNE-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_";
export const CREDENTIAL_PREFIX = "urne/v1/credential\n";
export const CREDENTIAL_SIZE = 48;
export const ISSUER_PUBLIC_KEY_SIZE = 96;
export const SEED_SIZE = 32;

const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;
const Fr = bls12_381.fields.Fr;
/** The order r of G1, G2 and the scalars. */
export const CURVE_ORDER = Fr.ORDER;
const utf8 = new TextEncoder();

/** A refusal with a stable code, as the Python side names it. */
export class WalletError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// -- bytes --------------------------------------------------------------------------------

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s) {
  if (typeof s !== "string" || !/^(?:[0-9a-f]{2})*$/.test(s)) throw new WalletError("bad_hex", "not lower-case hex");
  return Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
}

/** Standard, padded base64 (RFC 4648 §4), as the entries carry it. */
export function b64encode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Standard, padded, canonical base64 of `size` bytes (when given), else a WalletError. */
export function b64decode(value, what, size) {
  let raw;
  try {
    if (typeof value !== "string") throw new Error("not text");
    raw = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch (e) {
    throw new WalletError("bad_base64", `${what}: not valid base64`);
  }
  if (b64encode(raw) !== value) throw new WalletError("bad_base64", `${what}: not canonical base64`);
  if (size !== undefined && raw.length !== size) {
    throw new WalletError("bad_length", `${what}: ${raw.length} bytes, want ${size}`);
  }
  return raw;
}

// -- canonical JSON (RFC 8785) --------------------------------------------------------------

/** RFC 8785 (JCS) of the values entries hold: strings, safe integers, booleans,
 * null, arrays and objects. JCS takes its string escapes and its key order
 * (UTF-16 code units) from ECMAScript itself, so JSON.stringify of a string and
 * the default sort are the specification here. Floats are refused, as
 * verifier/civic/canonical.py refuses them. */
export function canonicalText(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new WalletError("bad_json", `${value} is not an integer within ±(2^53-1)`);
    return String(value);
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(value[k])}`).join(",")}}`;
  }
  throw new WalletError("bad_json", `a ${typeof value} has no canonical JSON`);
}

export function canonical(value) {
  return utf8.encode(canonicalText(value));
}

// -- the pseudonym (Ed25519, RFC 8032) ------------------------------------------------------

export function newSeed() {
  return crypto.getRandomValues(new Uint8Array(SEED_SIZE));
}

export function publicKeyOf(seed) {
  if (seed.length !== SEED_SIZE) throw new WalletError("bad_seed", `seed is ${seed.length} bytes, want 32`);
  return ed25519.getPublicKey(seed);
}

/** The bytes an entry's author signs: "urne/v1/" + kind + "\n" + JCS(entry without "sig"). */
export function signingBytes(obj) {
  const body = { ...obj };
  delete body.sig;
  return concat(utf8.encode(`urne/v1/${obj.kind}\n`), canonical(body));
}

/** The entry's leaf bytes: JCS of the entry with its "sig" (Ed25519 under `seed`). */
export function signEntry(obj, seed) {
  const body = { ...obj };
  delete body.sig;
  const sig = ed25519.sign(signingBytes(body), seed);
  return canonical({ ...body, sig: b64encode(sig) });
}

/** A ballot (a vote or budget choice) or, with `choice` null, a petition
 * signature: docs/spec/entries.md §3; `seq` grows with each revote. */
export function ballotEntry(processId, seed, credential, seq, choice) {
  const obj = {
    v: 1,
    kind: "ballot",
    process: processId,
    pseudonym: b64encode(publicKeyOf(seed)),
    credential: b64encode(credential),
    seq,
  };
  if (choice !== null && choice !== undefined) obj.choice = [...choice];
  return signEntry(obj, seed);
}

/** A pseudonym standing as a delegate in a vote, under a public `name`
 * (docs/spec/delegation.md §2; verifier/citizen/authoring.py `delegate`). */
export function delegateEntry(processId, seed, credential, name) {
  return signEntry(
    {
      v: 1,
      kind: "delegate",
      process: processId,
      pseudonym: b64encode(publicKeyOf(seed)),
      credential: b64encode(credential),
      name,
    },
    seed,
  );
}

/** The pseudonym's vote delegated to the delegate `to` (a pseudonym's public
 * key, in base64), or, with `to` null, its delegation revoked; `seq` grows
 * with each delegation (authoring.py `delegation`). */
export function delegationEntry(processId, seed, credential, seq, to) {
  return signEntry(
    {
      v: 1,
      kind: "delegation",
      process: processId,
      pseudonym: b64encode(publicKeyOf(seed)),
      credential: b64encode(credential),
      seq,
      to: to === null || to === undefined ? null : to,
    },
    seed,
  );
}

// -- the credential (blind BLS, minimal-signature-size: G1 signatures, G2 keys) --------------

export function credentialMessage(processId, pseudonym) {
  return concat(utf8.encode(CREDENTIAL_PREFIX), utf8.encode(processId), Uint8Array.of(0), pseudonym);
}

export function hashToG1(message) {
  return bls12_381.shortSignatures.hash(message, CREDENTIAL_DST);
}

/** A uniformly random scalar in [1, r-1]: 32 random bytes are rejected until
 * one falls below r - 1 (at most a few draws), then 1 is added. */
export function randomScalar() {
  for (;;) {
    const x = BigInt(`0x${hex(crypto.getRandomValues(new Uint8Array(32)))}`);
    if (x < CURVE_ORDER - 1n) return x + 1n;
  }
}

function decodeG1(bytes, code, what) {
  try {
    if (bytes.length !== CREDENTIAL_SIZE) throw new Error("length");
    const p = G1.fromBytes(bytes); // canonical, compressed, on the curve, in the subgroup
    if (p.is0()) throw new Error("identity");
    return p;
  } catch (e) {
    throw new WalletError(code, `${what} is not a point of G1's prime-order subgroup`);
  }
}

function decodeG2(bytes, code, what) {
  try {
    if (bytes.length !== ISSUER_PUBLIC_KEY_SIZE) throw new Error("length");
    const p = G2.fromBytes(bytes);
    if (p.is0()) throw new Error("identity");
    return p;
  } catch (e) {
    throw new WalletError(code, `${what} is not a point of G2's prime-order subgroup`);
  }
}

/** Whether the G1 point of `bytes` decodes (the checks every decoded point gets). */
export function isG1Point(bytes) {
  try {
    decodeG1(bytes, "bad_point", "point");
    return true;
  } catch (e) {
    return false;
  }
}

/** Blind `message`: `{r, blinded}` with blinded = r*H(message), 48 bytes. `r` is
 * fresh from the CSPRNG unless given (test vectors only). */
export function blind(message, r) {
  const factor = r === undefined ? randomScalar() : BigInt(r);
  if (!(factor > 0n && factor < CURVE_ORDER)) throw new WalletError("bad_factor", "the blinding factor is a non-zero scalar");
  return { r: factor, blinded: hashToG1(message).multiply(factor).toBytes(true) };
}

function pairingCheck(signature, hashed, publicKey) {
  // e(S, G2) == e(H, PK), as the shortSignatures verification computes it
  return bls12_381.shortSignatures.verify(signature, hashed, publicKey);
}

/** S = r^-1 * S', returned (48 bytes) only if it is the issuer key's signature on `message`. */
export function unblind(message, r, blindSignature, issuerPublicKey) {
  const pk = decodeG2(issuerPublicKey, "bad_public_key", "the issuer's key");
  const answer = decodeG1(blindSignature, "bad_point", "the blind signature");
  const signature = answer.multiply(Fr.inv(Fr.create(BigInt(r))));
  if (!pairingCheck(signature, hashToG1(message), pk)) {
    throw new WalletError("bad_blind_signature", "the issuer's blind signature does not verify under its public key");
  }
  return signature.toBytes(true);
}

/** Whether `credential` is the issuer's signature for this process and pseudonym. */
export function verifyCredential(issuerPublicKey, processId, pseudonym, credential) {
  try {
    const pk = decodeG2(issuerPublicKey, "bad_public_key", "key");
    const s = decodeG1(credential, "bad_credential", "credential");
    return pairingCheck(s, hashToG1(credentialMessage(processId, pseudonym)), pk);
  } catch (e) {
    return false;
  }
}

/** Whether issuer share `i` signed `blinded`: e(S'_i, G2) == e(B, PK_i). */
export function verifyBlindShare(sharePublicKey, blinded, blindShare) {
  try {
    const pk = decodeG2(sharePublicKey, "bad_public_key", "key");
    return pairingCheck(decodeG1(blindShare, "bad_share", "share"), decodeG1(blinded, "bad_point", "B"), pk);
  } catch (e) {
    return false;
  }
}

/** Combine shares {i: f(i)*X} into f(0)*X by Lagrange interpolation at zero. */
export function combineShares(shares) {
  const indices = [...shares.keys()];
  if (!indices.length) throw new WalletError("bad_share", "no signature shares to combine");
  let sum = G1.ZERO;
  for (const i of indices) {
    if (!Number.isSafeInteger(i) || i <= 0) throw new WalletError("bad_share", "share indices are integers > 0");
    let num = Fr.ONE;
    let den = Fr.ONE;
    for (const j of indices) {
      if (j === i) continue;
      num = Fr.mul(num, Fr.create(BigInt(j)));
      den = Fr.mul(den, Fr.create(BigInt(j - i)));
    }
    const point = decodeG1(shares.get(i), "bad_share", `signature share ${i}`);
    sum = sum.add(point.multiply(Fr.mul(num, Fr.inv(den))));
  }
  return sum.toBytes(true);
}
