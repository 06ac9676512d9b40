// The secret ballot in the browser (docs/secret-ballot.md): the same bytes as
// verifier/secret/ computes in Python, which tests/web/test_secret_crypto.py
// checks in Chromium against docs/spec/secret-vectors.json.
//
// No curve arithmetic is written here: ristretto255 (RFC 9496: canonical
// encodings, the group law, scalar multiplication) is @noble/curves' and
// SHA-512 @noble/hashes', vendored unmodified in /static/vendor. This module
// composes them as docs/secret-ballot.md says:
//
//   H(tag, p1, ..., pn) = SHA-512(len(tag) || tag || len(p1) || p1 || ...)
//                         read little-endian, mod L (each len 4 bytes big-endian)
//   a ciphertext of m:   (alpha, beta) = (g^r, h^r g^m)
//   a range proof:       c_0 || s_0 || ... || c_{K-1} || s_{K-1}, accepted iff
//                        sum c_i = H("urne/secret/v1/range", context, label, h,
//                        i32(v_0)..i32(v_{K-1}), alpha, beta, A_0, B_0, ...)
//                        with A_i = g^{s_i} / alpha^{c_i},
//                             B_i = h^{s_i} / (beta / g^{v_i})^{c_i}
//   equal logarithms:    c || s, log_g X = log_Y Z, accepted iff
//                        c = H("urne/secret/v1/dleq", context, label, X, Y, Z, A, B)
//                        with A = g^s / X^c, B = Y^s / Z^c
//   a ballot:            one ciphertext per proposal, each proven 0 or 1
//                        (label "option" || i32(k)), and their product proven
//                        within [min, max] (label "count"); the context is
//                        "ristretto255", the manifest's fingerprint, h, the pseudonym.
//   a capped budget's:   also `spend`, with the projects' costs c_k (manifest
//                        order), the budget U and the floor V = ceil(U p / 100)
//                        (p the minimum share; no floor when p = 0). The cost
//                        ciphertext (alpha_S, beta_S) = prod ct_k^{c_k} encrypts
//                        S = sum c_k m_k. "ceiling" encrypts x = U - S in
//                        B = max(1, bit length of U) bits, bits[i] = (g^{t_i},
//                        h^{t_i} g^{x_i}), each proven 0 or 1 (label
//                        "ceiling-bit" || i32(i)); with (alpha_X, beta_X) =
//                        prod bits[i]^{2^i}, `sum` proves equal logarithms
//                        log_g A = log_h Z for A = alpha_S alpha_X and
//                        Z = beta_S beta_X / g^U (label "ceiling"): S + x = U.
//                        "floor" likewise encrypts y = S - V (labels
//                        "floor-bit" || i32(i), "floor"), with A = alpha_S / alpha_Y
//                        and Z = beta_S / (beta_Y g^V): S - y = V.
//
// Scalars are 32-byte little-endian integers below L; points their 32-byte
// canonical encodings. noble refuses to multiply by 0 (and the Python side's
// libsodium by anything giving the identity): as verifier/secret/group.py,
// a multiplication by 0 or of the identity is answered here as the identity.
// Costs and budgets are below 2^53 and are BigInts in every computation.
//
// Random values (each ciphertext's randomness, the provers' nonces) come from
// crypto.getRandomValues: 64 bytes reduced mod L. A caller may pass `rng`
// instead (the published vectors only), drawn in this order: the randomness
// r_0 .. r_{n-1}; then, for the option proofs in order and then the count
// proof, w (the real branch) and, for each other branch in increasing order,
// its c_i and then its s_i; then, for a capped budget, the ceiling's
// t_0 .. t_{B-1}, each of its bits' range-proof nonces in bit order, and the
// nonce w of its sum; then the same for the floor.

import { ristretto255 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { WalletError, b64decode, b64encode, concat, equalBytes } from "./core.js";

const Point = ristretto255.Point;

export const GROUP = "ristretto255";
/** The group's order L = 2^252 + 27742317777372353535851937790883648493. */
export const ORDER = Point.Fn.ORDER;
export const CHALLENGE_FORMAT = "urne-challenge/1";
export const TAG_RANGE = "urne/secret/v1/range";
export const TAG_DLEQ = "urne/secret/v1/dleq";
const POINT_SIZE = 32;
const SCALAR_SIZE = 32;
const utf8 = new TextEncoder();

// -- scalars ------------------------------------------------------------------------------

function mod(k) {
  const r = BigInt(k) % ORDER;
  return r < 0n ? r + ORDER : r;
}

function numberLE(bytes) {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]);
  return x;
}

/** `k` mod L as 32 bytes, little-endian. */
export function scalarToBytes(k) {
  const out = new Uint8Array(SCALAR_SIZE);
  let x = mod(k);
  for (let i = 0; i < SCALAR_SIZE; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

/** A canonical scalar: 32 bytes, little-endian, below L; else `code`. */
export function scalarFromBytes(bytes, what, code = "bad_scalar") {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SCALAR_SIZE) {
    throw new WalletError(code, `${what}: expected a 32-byte scalar`);
  }
  const k = numberLE(bytes);
  if (k >= ORDER) throw new WalletError(code, `${what}: a scalar must be below the group order`);
  return k;
}

/** A uniform non-zero scalar: 64 bytes from the CSPRNG, reduced mod L. */
export function randomScalar() {
  for (;;) {
    const k = numberLE(crypto.getRandomValues(new Uint8Array(64))) % ORDER;
    if (k !== 0n) return k;
  }
}

/** H(tag, parts...) (docs/secret-ballot.md §1): `tag` text or bytes, `parts` bytes. */
export function hashToScalar(tag, parts = []) {
  const h = sha512.create();
  for (const p of [typeof tag === "string" ? utf8.encode(tag) : tag, ...parts]) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, p.length, false);
    h.update(len);
    h.update(p);
  }
  return numberLE(h.digest()) % ORDER;
}

// -- points -------------------------------------------------------------------------------

const IDENTITY = new Uint8Array(POINT_SIZE);

function decodePoint(bytes, what, allowIdentity = false) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== POINT_SIZE) {
    throw new WalletError("bad_point", `${what}: expected a 32-byte ristretto255 point`);
  }
  if (equalBytes(bytes, IDENTITY)) {
    if (allowIdentity) return Point.ZERO;
    throw new WalletError("bad_point", `${what}: the identity is not allowed here`);
  }
  try {
    return Point.fromBytes(bytes); // RFC 9496 §4.3.1: canonical, else refused
  } catch (e) {
    throw new WalletError("bad_point", `${what}: not the canonical encoding of a ristretto255 point`);
  }
}

/** `g^k`, `P^k` for a secret `k` (constant-time multiplication). */
function baseSecret(k) {
  return mulSecret(k, Point.BASE);
}

function mulSecret(k, p) {
  const x = mod(k);
  if (x === 0n || p.is0()) return Point.ZERO;
  return p.multiply(x);
}

/** `g^k`, `P^k` for a public `k` (a verifier's: variable-time). */
function basePublic(k) {
  return Point.BASE.multiplyUnsafe(mod(k));
}

function mulPublic(k, p) {
  return p.multiplyUnsafe(mod(k));
}

// -- the proofs ---------------------------------------------------------------------------

function i32(k) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, k, false);
  return out;
}

/** The label of option `k`'s proof: "option" || i32(k). */
export function optionLabel(k) {
  return concat(utf8.encode("option"), i32(k));
}

const COUNT_LABEL = utf8.encode("count");

function ballotContext(fingerprint, keyBytes, pseudonym) {
  for (const [v, what] of [
    [fingerprint, "the manifest's fingerprint"],
    [pseudonym, "the pseudonym"],
  ]) {
    if (!(v instanceof Uint8Array)) throw new WalletError("bad_context", `${what} is bytes`);
  }
  return [utf8.encode(GROUP), fingerprint, keyBytes, pseudonym];
}

function rangeChallenge(ctx, label, key, ct, values, commitments) {
  return hashToScalar(TAG_RANGE, [
    ...ctx,
    label,
    key.bytes,
    concat(...values.map(i32)),
    ct.alpha.toBytes(),
    ct.beta.toBytes(),
    ...commitments.map((p) => p.toBytes()),
  ]);
}

/** Prove that `ct` encrypts `values[values.indexOf(m)]` with randomness `r`. */
function proveRange(ctx, label, key, ct, values, m, r, rng) {
  const real = values.indexOf(m);
  if (real < 0) throw new WalletError("bad_choice", "the plaintext is not one of the values");
  const cs = values.map(() => 0n);
  const ss = values.map(() => 0n);
  const commitments = [];
  const w = mod(rng());
  values.forEach((v, i) => {
    if (i === real) {
      commitments.push(baseSecret(w), mulSecret(w, key.point));
      return;
    }
    cs[i] = mod(rng());
    ss[i] = mod(rng());
    commitments.push(
      baseSecret(ss[i]).subtract(mulSecret(cs[i], ct.alpha)),
      mulSecret(ss[i], key.point).subtract(mulSecret(cs[i], ct.beta.subtract(baseSecret(BigInt(v))))),
    );
  });
  const c = rangeChallenge(ctx, label, key, ct, values, commitments);
  cs[real] = mod(c - cs.reduce((a, b) => a + b, 0n));
  ss[real] = mod(w + cs[real] * r);
  return concat(...values.flatMap((_, i) => [scalarToBytes(cs[i]), scalarToBytes(ss[i])]));
}

/** Whether `proof` (decoded scalars) holds; the verifier's side of proveRange. */
function rangeHolds(ctx, label, key, ct, values, proof) {
  const commitments = [];
  values.forEach((v, i) => {
    const [c, s] = [proof[2 * i], proof[2 * i + 1]];
    commitments.push(
      basePublic(s).subtract(mulPublic(c, ct.alpha)),
      mulPublic(s, key.point).subtract(mulPublic(c, ct.beta.subtract(basePublic(BigInt(v))))),
    );
  });
  const sum = mod(proof.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b, 0n));
  return sum === rangeChallenge(ctx, label, key, ct, values, commitments);
}

function dleqChallenge(ctx, label, bigX, y, z, a, b) {
  return hashToScalar(TAG_DLEQ, [...ctx, label, ...[bigX, y, z, a, b].map((p) => p.toBytes())]);
}

/** Prove log_g X = log_Y Z for X = g^x, Z = Y^x: c || s (docs/secret-ballot.md §2). */
function proveDleq(ctx, label, x, y, rng) {
  const w = mod(rng());
  const c = dleqChallenge(ctx, label, baseSecret(x), y, mulSecret(x, y), baseSecret(w), mulSecret(w, y));
  return concat(scalarToBytes(c), scalarToBytes(mod(w + c * x)));
}

/** Whether `proof` ([c, s], decoded) proves log_g X = log_Y Z. */
function dleqHolds(ctx, label, bigX, y, z, proof) {
  const [c, s] = proof;
  const a = basePublic(s).subtract(mulPublic(c, bigX));
  const b = mulPublic(s, y).subtract(mulPublic(c, z));
  return c === dleqChallenge(ctx, label, bigX, y, z, a, b);
}

function range(lo, hi) {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function encrypt(key, m, r) {
  return { alpha: baseSecret(r), beta: mulSecret(r, key.point).add(baseSecret(BigInt(m))) };
}

function total(cts) {
  return cts.reduce((acc, ct) => ({ alpha: acc.alpha.add(ct.alpha), beta: acc.beta.add(ct.beta) }), {
    alpha: Point.ZERO,
    beta: Point.ZERO,
  });
}

function ciphertextBytes(ct) {
  return concat(ct.alpha.toBytes(), ct.beta.toBytes());
}

function electionKey(bytes) {
  return { bytes, point: decodePoint(bytes, "the election key") };
}

function checkBounds(options, min, max) {
  const ok = (n) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(options) || options < 1 || !ok(min) || !ok(max) || min > max) {
    throw new WalletError("bad_rule", "a rule has at least one proposal and 0 <= min <= max");
  }
}

function chosenSet(selected, options) {
  const chosen = new Set(selected);
  for (const k of chosen) {
    if (!Number.isSafeInteger(k) || k < 0 || k >= options) {
      throw new WalletError("bad_choice", `${k} is not the index of one of the ${options} proposals`);
    }
  }
  return chosen;
}

// -- a budget's shape: the number of projects, the bounds on the cost ---------------------

const CEILING = "ceiling";
const FLOOR = "floor";
/** Costs and budgets are below 2^53 (docs/spec/entries.md), so no sum wraps around L. */
const AMOUNT_LIMIT = 1n << 53n;

/** The label of bit `i`'s proof in a spending bound: "ceiling-bit" || i32(i), "floor-bit" || i32(i). */
export function bitLabel(bound, i) {
  return concat(utf8.encode(`${bound}-bit`), i32(i));
}

function isObject(v) {
  return Boolean(v) && typeof v === "object" && !Array.isArray(v);
}

/** The sorted names of an object's fields, joined by commas; null for anything else. */
function fieldsOf(v) {
  return isObject(v) ? Object.keys(v).sort().join() : null;
}

function whole(v) {
  return Number.isSafeInteger(v) && v >= 0;
}

/** A whole amount below 2^53 (a Number or a BigInt) as a BigInt; else null. */
function amount(v) {
  if (typeof v === "bigint") return v >= 0n && v < AMOUNT_LIMIT ? v : null;
  return whole(v) ? BigInt(v) : null;
}

/** `spend` ({costs, ceiling, floor}, floor 0 or absent: none) for `options`
 * proposals, as BigInts, with `bits` = B; null for none. Else a WalletError (bad_rule). */
function spendOf(spend, options) {
  if (spend === undefined || spend === null) return null;
  const bad = (why) => new WalletError("bad_rule", `a budget's bounds on a ballot's cost: ${why}`);
  if (!isObject(spend) || !Array.isArray(spend.costs)) throw bad("expected {costs, ceiling, floor}");
  const costs = spend.costs.map(amount);
  const ceiling = amount(spend.ceiling);
  const floor = spend.floor === undefined ? 0n : amount(spend.floor);
  if (costs.includes(null) || ceiling === null || floor === null || floor > ceiling) {
    throw bad("costs and bounds are whole numbers below 2^53, the floor at most the ceiling");
  }
  if (costs.length !== options) throw bad(`one cost per proposal: ${options} expected, ${costs.length} given`);
  return { costs, ceiling, floor, bits: Math.max(1, ceiling.toString(2).length) };
}

/** What a budget's rule asks a secret ballot to prove (verifier/secret/ballot.py
 * budget_shape): {min, max}, the number of projects (min_projects ..
 * max_projects, every project when max_projects is null), and `spend`, null
 * unless ballots are capped: {costs, ceiling, floor}, the projects' costs in
 * `proposals`' order (the manifest's, each with its `cost`), the budget, and
 * its min_share_percent rounded up (a cost is a whole number; 0: no floor).
 * Else a WalletError (bad_rule). */
export function budgetShape(rule, proposals) {
  const bad = (why) => new WalletError("bad_rule", `a budget's rule: ${why}`);
  if (!isObject(rule) || !Array.isArray(proposals)) throw bad("expected a rule and the projects");
  const { budget, capped } = rule;
  const [least, most, share] = [rule.min_projects, rule.max_projects, rule.min_share_percent];
  if (!whole(budget) || !whole(least) || !(most === null || whole(most)) || !whole(share) || share > 100 || typeof capped !== "boolean") {
    throw bad("budget, min_projects, max_projects (or null), min_share_percent (0 to 100) and capped");
  }
  const costs = proposals.map((q) => (isObject(q) ? q.cost : undefined));
  if (!costs.every(whole)) throw bad("every project has a cost, a whole number");
  const shape = { min: least, max: most === null ? proposals.length : most, spend: null };
  if (!capped) return shape;
  const floor = (BigInt(budget) * BigInt(share) + 99n) / 100n; // rounded up
  return { ...shape, spend: { costs, ceiling: budget, floor: Number(floor) } };
}

/** What a vote's rule asks a secret ballot to prove: {min, max}, and no `spend`. */
export function voteShape(rule) {
  if (!isObject(rule) || !whole(rule.min) || !whole(rule.max)) {
    throw new WalletError("bad_rule", "a vote's rule: min and max");
  }
  return { min: rule.min, max: rule.max, spend: null };
}

/** {min, max, spend} for a secret process's manifest (its type, rule and
 * proposals): voteShape or budgetShape. */
export function ballotShape(manifest) {
  const type = isObject(manifest) ? manifest.type : undefined;
  if (type === "vote") return voteShape(manifest.rule);
  if (type === "budget") return budgetShape(manifest.rule, manifest.proposals);
  throw new WalletError("bad_rule", "a secret process is a vote or a budget");
}

/** `prod ct_k^{w_k}`: the encryption of `sum w_k m_k` (public weights). */
function weighted(cts, weights) {
  return cts.reduce(
    (acc, ct, k) => ({
      alpha: acc.alpha.add(mulPublic(weights[k], ct.alpha)),
      beta: acc.beta.add(mulPublic(weights[k], ct.beta)),
    }),
    { alpha: Point.ZERO, beta: Point.ZERO },
  );
}

/** `prod bits[i]^{2^i}`, the encryption of a slack, by Horner's rule (a doubling and an addition per bit). */
function slackOf(bits) {
  return bits.reduceRight((acc, ct) => ({ alpha: acc.alpha.double().add(ct.alpha), beta: acc.beta.double().add(ct.beta) }), {
    alpha: Point.ZERO,
    beta: Point.ZERO,
  });
}

/** One spending bound: `slack` in `bits` bits, each encrypted and proven 0 or
 * 1, and the sum's proof of equal logarithms; `spentRandomness` is the cost
 * ciphertext's (sum c_k r_k). Draws t_0 .. t_{B-1}, then each bit's nonces, then the sum's. */
function proveBound(ctx, h, name, slack, bits, spentRandomness, draw) {
  if (slack < 0n || slack >= 1n << BigInt(bits)) {
    throw new WalletError("bad_choice", `the ${name}'s slack ${slack} is not within ${bits} bits`);
  }
  const ts = range(0, bits - 1).map(() => mod(draw()));
  const values = ts.map((_, i) => Number((slack >> BigInt(i)) & 1n));
  const cts = ts.map((t, i) => encrypt(h, values[i], t));
  const proofs = cts.map((ct, i) => proveRange(ctx, bitLabel(name, i), h, ct, [0, 1], values[i], ts[i], draw));
  const x = ts.reduce((acc, t, i) => acc + (t << BigInt(i)), 0n);
  const witness = mod(name === CEILING ? spentRandomness + x : spentRandomness - x);
  return {
    bits: cts.map((ct) => b64encode(ciphertextBytes(ct))),
    proofs: proofs.map(b64encode),
    sum: b64encode(proveDleq(ctx, utf8.encode(name), witness, h.point, draw)),
  };
}

/** Check one decoded spending bound against the cost ciphertext `spent`; throws bad_ballot_proof. */
function checkBound(ctx, h, name, spent, bound, proof) {
  proof.bits.forEach((ct, i) => {
    if (!rangeHolds(ctx, bitLabel(name, i), h, ct, [0, 1], proof.proofs[i])) {
      throw new WalletError("bad_ballot_proof", `the proof that bit ${i} of the ${name}'s slack is 0 or 1 does not verify`);
    }
  });
  const x = slackOf(proof.bits);
  // the ceiling: spent + slack = ceiling; the floor: spent - slack = floor
  const [a, b] =
    name === CEILING
      ? [spent.alpha.add(x.alpha), spent.beta.add(x.beta)]
      : [spent.alpha.subtract(x.alpha), spent.beta.subtract(x.beta)];
  if (!dleqHolds(ctx, utf8.encode(name), a, h.point, b.subtract(basePublic(bound)), proof.sum)) {
    const how = name === CEILING ? "at most" : "at least";
    throw new WalletError("bad_ballot_proof", `the proof that the chosen projects cost ${how} ${bound} does not verify`);
  }
}

// -- the ballot ---------------------------------------------------------------------------

/** Encrypt a choice (`selected`: the indices of the chosen proposals, of
 * `options`) under the election key `key` (32 bytes) and prove it, in the
 * context of the manifest's `fingerprint` and the ballot's `pseudonym`; for
 * a capped budget, `spend` ({costs, ceiling, floor}: budgetShape's) adds the
 * proof that the choice costs within its bounds. Returns the ballot's
 * `encrypted` field (docs/secret-ballot.md §5) and each option's randomness,
 * which a challenge reveals and a cast ballot forgets. */
export function encryptBallot({ fingerprint, key, pseudonym, options, selected, min, max, spend, rng }) {
  checkBounds(options, min, max);
  const bounds = spendOf(spend, options);
  const chosen = chosenSet(selected, options);
  if (chosen.size < min || chosen.size > max) {
    throw new WalletError("bad_choice", `choose from ${min} to ${max} proposals, not ${chosen.size}`);
  }
  const spent = bounds ? [...chosen].reduce((n, k) => n + bounds.costs[k], 0n) : 0n;
  if (bounds && (spent > bounds.ceiling || spent < bounds.floor)) {
    throw new WalletError("bad_choice", `the chosen projects cost ${spent}, not within ${bounds.floor} to ${bounds.ceiling}`);
  }
  const draw = rng || randomScalar;
  const h = electionKey(key);
  const ctx = ballotContext(fingerprint, h.bytes, pseudonym);
  const randomness = range(0, options - 1).map(() => mod(draw()));
  const cts = randomness.map((r, k) => encrypt(h, chosen.has(k) ? 1 : 0, r));
  const proofs = cts.map((ct, k) =>
    proveRange(ctx, optionLabel(k), h, ct, [0, 1], chosen.has(k) ? 1 : 0, randomness[k], draw),
  );
  const sum = mod(randomness.reduce((a, b) => a + b, 0n));
  const count = proveRange(ctx, COUNT_LABEL, h, total(cts), range(min, max), chosen.size, sum, draw);
  const encrypted = {
    ciphertexts: cts.map((ct) => b64encode(ciphertextBytes(ct))),
    proofs: proofs.map(b64encode),
    count: b64encode(count),
  };
  if (bounds) {
    const spentRandomness = randomness.reduce((acc, r, k) => acc + bounds.costs[k] * r, 0n);
    encrypted.spend = { [CEILING]: proveBound(ctx, h, CEILING, bounds.ceiling - spent, bounds.bits, spentRandomness, draw) };
    if (bounds.floor > 0n) {
      encrypted.spend[FLOOR] = proveBound(ctx, h, FLOOR, spent - bounds.floor, bounds.bits, spentRandomness, draw);
    }
  }
  return { encrypted, randomness };
}

function unb64(value, what) {
  if (typeof value !== "string" || value.length > 1_000_000) {
    throw new WalletError("bad_base64", `${what}: expected base64`);
  }
  return b64decode(value, what);
}

function decodeCiphertext(value, what) {
  const raw = unb64(value, what);
  if (raw.length !== 2 * POINT_SIZE) {
    throw new WalletError("bad_point", `${what}: expected 64 bytes (alpha || beta)`);
  }
  return {
    alpha: decodePoint(raw.subarray(0, POINT_SIZE), `${what}.alpha`, true),
    beta: decodePoint(raw.subarray(POINT_SIZE), `${what}.beta`, true),
  };
}

function decodeRangeProof(value, branches, what) {
  const raw = unb64(value, what);
  if (raw.length !== 2 * SCALAR_SIZE * branches) {
    throw new WalletError("bad_proof", `${what}: expected ${2 * SCALAR_SIZE * branches} bytes`);
  }
  return Array.from({ length: 2 * branches }, (_, i) =>
    scalarFromBytes(raw.subarray(SCALAR_SIZE * i, SCALAR_SIZE * (i + 1)), what, "bad_proof"),
  );
}

/** The ciphertexts of `encrypted`, its shape checked first: with a `spend`
 * when `withSpend` is true, without when false, either when null. */
function decodeCiphertexts(encrypted, options, withSpend) {
  const what = "ballot.encrypted";
  const [plain, spending] = ["ciphertexts,count,proofs", "ciphertexts,count,proofs,spend"];
  const fields = fieldsOf(encrypted);
  const fits = withSpend === null ? fields === plain || fields === spending : fields === (withSpend ? spending : plain);
  if (!fits) {
    const named = withSpend ? "ciphertexts, proofs, count and spend" : "ciphertexts, proofs and count";
    throw new WalletError("bad_encrypted_ballot", `${what}: expected an object with ${named}`);
  }
  const { ciphertexts, proofs } = encrypted;
  if (!Array.isArray(ciphertexts) || !Array.isArray(proofs)) {
    throw new WalletError("bad_encrypted_ballot", `${what}: ciphertexts and proofs are lists`);
  }
  if (ciphertexts.length !== options || proofs.length !== options) {
    throw new WalletError(
      "bad_encrypted_ballot",
      `${what}: ${options} ciphertexts and ${options} proofs, one per proposal; found ${ciphertexts.length} and ${proofs.length}`,
    );
  }
  return ciphertexts.map((c, k) => decodeCiphertext(c, `${what}.ciphertexts[${k}]`));
}

/** One spending bound's fields decoded: `bits` ciphertexts, `bits` proofs, the sum's proof. */
function decodeBound(value, bits, what) {
  if (fieldsOf(value) !== "bits,proofs,sum") {
    throw new WalletError("bad_encrypted_ballot", `${what}: expected an object with bits, proofs and sum`);
  }
  if (!Array.isArray(value.bits) || !Array.isArray(value.proofs)) {
    throw new WalletError("bad_encrypted_ballot", `${what}: bits and proofs are lists`);
  }
  if (value.bits.length !== bits || value.proofs.length !== bits) {
    throw new WalletError(
      "bad_encrypted_ballot",
      `${what}: ${bits} bits and ${bits} proofs; found ${value.bits.length} and ${value.proofs.length}`,
    );
  }
  return {
    bits: value.bits.map((c, i) => decodeCiphertext(c, `${what}.bits[${i}]`)),
    proofs: value.proofs.map((p, i) => decodeRangeProof(p, 2, `${what}.proofs[${i}]`)),
    sum: decodeRangeProof(value.sum, 1, `${what}.sum`), // c || s: two scalars, as one branch
  };
}

function decodeSpend(value, bounds) {
  const what = "ballot.encrypted.spend";
  const want = bounds.floor > 0n ? [CEILING, FLOOR] : [CEILING];
  if (fieldsOf(value) !== want.join()) {
    throw new WalletError("bad_encrypted_ballot", `${what}: expected an object with ${want.join(" and ")}`);
  }
  return {
    ceiling: decodeBound(value[CEILING], bounds.bits, `${what}.${CEILING}`),
    floor: bounds.floor > 0n ? decodeBound(value[FLOOR], bounds.bits, `${what}.${FLOOR}`) : null,
  };
}

/** Check a ballot's `encrypted` field: its shape (canonical base64, points,
 * scalars below L) and every proof, in the context of `fingerprint`, the
 * election key `key` and `pseudonym`, for `options` proposals, the rule's
 * `min` and `max` and, for a capped budget, `spend` (budgetShape's; a ballot
 * has `encrypted.spend` if and only if it is given). Returns true, or throws
 * a WalletError whose code is the verifier's (bad_encrypted_ballot,
 * bad_base64, bad_point, bad_proof, bad_ballot_proof). */
export function verifyBallot({ fingerprint, key, pseudonym, options, min, max, spend, encrypted }) {
  checkBounds(options, min, max);
  const bounds = spendOf(spend, options);
  const h = electionKey(key);
  const ctx = ballotContext(fingerprint, h.bytes, pseudonym);
  const what = "ballot.encrypted";
  const cts = decodeCiphertexts(encrypted, options, bounds !== null);
  const proofs = encrypted.proofs.map((p, k) => decodeRangeProof(p, 2, `${what}.proofs[${k}]`));
  const count = decodeRangeProof(encrypted.count, max - min + 1, `${what}.count`);
  const spendProof = bounds ? decodeSpend(encrypted.spend, bounds) : null;
  cts.forEach((ct, k) => {
    if (!rangeHolds(ctx, optionLabel(k), h, ct, [0, 1], proofs[k])) {
      throw new WalletError("bad_ballot_proof", `the proof that option ${k} is 0 or 1 does not verify`);
    }
  });
  if (!rangeHolds(ctx, COUNT_LABEL, h, total(cts), range(min, max), count)) {
    throw new WalletError("bad_ballot_proof", `the proof that ${min} to ${max} options are selected does not verify`);
  }
  if (bounds) {
    const spent = weighted(cts, bounds.costs);
    checkBound(ctx, h, CEILING, spent, bounds.ceiling, spendProof.ceiling);
    if (spendProof.floor) checkBound(ctx, h, FLOOR, spent, bounds.floor, spendProof.floor);
  }
  return true;
}

// -- the challenge (cast-or-audit) --------------------------------------------------------

/** Check that each ciphertext of `encrypted` is the encryption, under `key`,
 * of the choice shown (`selected`: proposal indices) with the randomness
 * revealed (one scalar per proposal). A budget's `spend` proof is not opened
 * (its randomness is not revealed): verifyBallot checks it. Returns true, or
 * throws a WalletError (code challenge_mismatch) naming the first proposal
 * that does not match. */
export function openChallenge({ key, encrypted, selected, randomness }) {
  const h = electionKey(key);
  const options = Array.isArray(encrypted?.ciphertexts) ? encrypted.ciphertexts.length : 0;
  const cts = decodeCiphertexts(encrypted, options, null);
  if (!Array.isArray(randomness) || randomness.length !== cts.length) {
    throw new WalletError("challenge_mismatch", `one randomness per proposal: ${cts.length} expected`);
  }
  const chosen = chosenSet(selected, options);
  cts.forEach((ct, k) => {
    const again = encrypt(h, chosen.has(k) ? 1 : 0, randomness[k]);
    if (!equalBytes(ciphertextBytes(again), ciphertextBytes(ct))) {
      throw new WalletError(
        "challenge_mismatch",
        `proposal ${k}: the ciphertext is not the encryption of the choice shown (${chosen.has(k) ? "chosen" : "not chosen"})`,
      );
    }
  });
  return true;
}

/** The challenge file of a ballot that is then discarded, never cast
 * (docs/secret-ballot.md §5): its choice as proposal ids (`proposals`: the
 * manifest's ids, in order; `selected`: indices) and each proposal's
 * randomness. Byte strings are standard base64, as in the entries; a
 * budget's ballot keeps its `spend`. */
export function challengeFile({ process, pseudonym, fingerprint, key, encrypted, proposals, selected, randomness }) {
  if (!Array.isArray(proposals) || proposals.length !== encrypted.ciphertexts.length) {
    throw new WalletError("bad_choice", "one proposal id per ciphertext");
  }
  if (!Array.isArray(randomness) || randomness.length !== proposals.length) {
    throw new WalletError("bad_choice", "one randomness per proposal");
  }
  const chosen = chosenSet(selected, proposals.length);
  return {
    format: CHALLENGE_FORMAT,
    process,
    pseudonym: b64encode(pseudonym),
    fingerprint: b64encode(fingerprint),
    key: b64encode(key),
    encrypted: {
      ciphertexts: [...encrypted.ciphertexts],
      proofs: [...encrypted.proofs],
      count: encrypted.count,
      ...(encrypted.spend === undefined ? {} : { spend: JSON.parse(JSON.stringify(encrypted.spend)) }),
    },
    choice: proposals.filter((_, k) => chosen.has(k)),
    randomness: randomness.map((r) => b64encode(scalarToBytes(r))),
  };
}

/** A challenge file read back for `proposals` (the manifest's ids, in
 * order): its fields decoded, the choice as indices. Throws a WalletError on
 * anything malformed; the ballot is then checked with verifyBallot and
 * openChallenge. */
export function readChallenge(file, proposals) {
  if (!file || typeof file !== "object" || file.format !== CHALLENGE_FORMAT) {
    throw new WalletError("bad_challenge", `not a ${CHALLENGE_FORMAT} file`);
  }
  if (!Array.isArray(file.choice) || !Array.isArray(file.randomness)) {
    throw new WalletError("bad_challenge", "choice and randomness are lists");
  }
  const selected = file.choice.map((id) => {
    const k = proposals.indexOf(id);
    if (k < 0) throw new WalletError("bad_challenge", `${JSON.stringify(id)} is not a proposal of this process`);
    return k;
  });
  return {
    process: file.process,
    pseudonym: unb64(file.pseudonym, "pseudonym"),
    fingerprint: unb64(file.fingerprint, "fingerprint"),
    key: unb64(file.key, "key"),
    encrypted: file.encrypted,
    selected,
    randomness: file.randomness.map((r, k) => scalarFromBytes(unb64(r, `randomness[${k}]`), `randomness[${k}]`)),
  };
}
