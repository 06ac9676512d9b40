// The receipt check, in the browser (docs/guides/web.md §3, docs/spec/verification.md §1).
//
// The same checks as `urne-verify receipt`, with nothing but WebCrypto:
//   1. the receipt is well-formed (verifier/check/receipt.py, Receipt.from_json);
//   2. the trusted verifier key is well-formed and its key ID matches
//      (c2sp.org/signed-note: SHA-256(name || "\n" || 0x01 || public key)[:4]);
//   3. the checkpoint is a signed note with an Ed25519 signature by that key
//      over its text, and its text is a checkpoint (c2sp.org/tlog-checkpoint)
//      whose origin is the receipt's;
//   4. SHA-256(0x00 || entry) is leaf `index` of the tree the checkpoint signs
//      (RFC 9162 §2.1.3.2);
//   optionally 5. the log's latest checkpoint is signed by the same key and
//      extends the receipt's (RFC 9162 §2.1.4.2 consistency proof).
// Steps 2 and 3 refuse what verifier/tlog/note.py and checkpoint.py refuse,
// with the same codes; steps 4 and 5 are the proof algorithm of docs/spec/log.md
// §3.1, as verifier/tlog/proof.py implements it.
// The receipt never leaves the page: only the latest checkpoint and a
// consistency proof are fetched, for step 5.
"use strict";

(function () {
  const EM_DASH = "\u2014 ";
  const HASH_SIZE = 32;
  const MAX_TREE_SIZE = (1n << 63n) - 1n;
  const enc = new TextEncoder();

  class CheckError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  // "Could not check" is not "invalid" (as urne-verify's exit 2 is not its
  // exit 1): the log did not answer, which says nothing about the receipt.
  const FETCH_FAILED = "fetch_failed";

  async function fetchOrFail(url, what) {
    let r;
    try {
      r = await fetch(url, { cache: "no-store" });
    } catch (e) {
      throw new CheckError(FETCH_FAILED, `${what} could not be fetched: the log did not answer`);
    }
    if (!r.ok) throw new CheckError(FETCH_FAILED, `${what} could not be fetched (HTTP ${r.status})`);
    return r;
  }

  // -- bytes ------------------------------------------------------------------------------

  function b64decode(s, what) {
    if (typeof s !== "string") throw new CheckError("bad_receipt", `${what}: expected base64 text`);
    if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
      throw new CheckError("bad_base64", `${what}: not valid base64`);
    }
    let bin;
    try {
      bin = atob(s);
    } catch (e) {
      throw new CheckError("bad_base64", `${what}: not valid base64`);
    }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function b64encode(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let k = 0;
    for (const p of parts) {
      out.set(p, k);
      k += p.length;
    }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  async function sha256(data) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }

  const hashLeaf = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const hashChildren = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

  // -- RFC 9162 proofs (docs/spec/log.md §3) -------------------------------------------------
  //
  // One algorithm, specified in docs/spec/log.md §3.1 and implemented twice: here and
  // in verifier/tlog/proof.py. Each function below names its Python twin and
  // takes the same steps in the same order, refusing with the same codes, so
  // that a reviewer checks one algorithm and the browser tests can require both
  // to give the same verdict on every case. Sizes and indices are BigInt: a log
  // may outgrow 2**53, and the Python integers never overflow either.

  // int.bit_length()
  function bitLength(x) {
    return x === 0n ? 0 : x.toString(2).length;
  }

  // int.bit_count()
  function bitCount(x) {
    let n = 0;
    for (const c of x.toString(2)) if (c === "1") n++;
    return n;
  }

  // proof.py _check_hash
  function checkHash(what, value) {
    if (value.length !== HASH_SIZE) {
      throw new CheckError("bad_hash_length", `${what} is ${value.length} bytes, want ${HASH_SIZE}`);
    }
  }

  // proof.py _check_proof_hashes
  function checkProofHashes(proof) {
    proof.forEach((h, i) => checkHash(`proof[${i}]`, h));
  }

  // proof.py _decompose_inclusion: `inner` hashes lie below the level where the
  // paths to `index` and to `size - 1` meet, `border` hashes are the left
  // siblings above it (one per set bit of `index` there).
  function decomposeInclusion(index, size) {
    const inner = bitLength(index ^ (size - 1n));
    const border = bitCount(index >> BigInt(inner));
    return [inner, border];
  }

  // proof.py _chain_inner
  async function chainInner(seed, proof, index) {
    for (let i = 0; i < proof.length; i++) {
      const h = proof[i];
      seed = ((index >> BigInt(i)) & 1n) === 0n ? await hashChildren(seed, h) : await hashChildren(h, seed);
    }
    return seed;
  }

  // proof.py _chain_inner_right
  async function chainInnerRight(seed, proof, index) {
    for (let i = 0; i < proof.length; i++) {
      if (((index >> BigInt(i)) & 1n) === 1n) seed = await hashChildren(proof[i], seed);
    }
    return seed;
  }

  // proof.py _chain_border_right
  async function chainBorderRight(seed, proof) {
    for (const h of proof) seed = await hashChildren(h, seed);
    return seed;
  }

  // proof.py _expect_root
  function expectRoot(what, computed, expected) {
    if (!equal(computed, expected)) {
      throw new CheckError("root_mismatch", `${what} mismatch: proof yields ${hex(computed)}, expected ${hex(expected)}`);
    }
  }

  // proof.py root_from_inclusion_proof (docs/spec/log.md §3.1, inclusion steps 2-6)
  async function rootFromInclusionProof(leafHash, index, size, proof) {
    index = BigInt(index);
    size = BigInt(size);
    if (!(0n <= index && index < size)) {
      throw new CheckError("bad_index", `index ${index} is not below tree size ${size}`);
    }
    checkHash("leaf hash", leafHash);
    checkProofHashes(proof);
    const [inner, border] = decomposeInclusion(index, size);
    if (proof.length !== inner + border) {
      throw new CheckError(
        "bad_proof_length",
        `inclusion proof for index ${index} in size ${size} has ${proof.length} hashes, want ${inner + border}`,
      );
    }
    const res = await chainInner(leafHash, proof.slice(0, inner), index);
    return chainBorderRight(res, proof.slice(inner));
  }

  // proof.py verify_inclusion (docs/spec/log.md §3.1, inclusion steps 1-7): is the
  // leaf with `leafHash` at `index` in the tree of `size` with `root`?
  async function verifyInclusion(leafHash, index, size, proof, root) {
    checkHash("root", root);
    const computed = await rootFromInclusionProof(leafHash, index, size, proof);
    expectRoot("root", computed, root);
  }

  // proof.py _check_consistency_sizes
  function checkConsistencySizes(size1, size2) {
    if (size1 < 0n || size2 < 0n) {
      throw new CheckError("bad_proof", `tree sizes must not be negative, got ${size1} and ${size2}`);
    }
    if (size2 < size1) throw new CheckError("bad_size", `size2 (${size2}) is smaller than size1 (${size1})`);
    // the empty tree is a prefix of every tree: such a proof proves nothing
    if (size1 === 0n) throw new CheckError("bad_size", "a consistency proof from size 0 proves nothing and is refused");
  }

  // proof.py _check_equal_sizes
  function checkEqualSizes(size, proof) {
    if (proof.length !== 0) {
      throw new CheckError("bad_proof_length", `sizes are equal (${size}) but the proof has ${proof.length} hashes, want 0`);
    }
  }

  // proof.py root_from_consistency_proof (docs/spec/log.md §3.1, consistency steps
  // 1, 2 and 4-12): the root of size `size2` the proof implies, once the same
  // proof has reproduced `root1` for `size1` (`root1` itself for equal sizes).
  async function rootFromConsistencyProof(size1, size2, proof, root1) {
    size1 = BigInt(size1);
    size2 = BigInt(size2);
    checkConsistencySizes(size1, size2);
    if (size1 === size2) {
      checkEqualSizes(size1, proof);
      return root1;
    }
    checkHash("root1", root1);
    checkProofHashes(proof);
    if (proof.length === 0) {
      throw new CheckError("bad_proof_length", `empty consistency proof from size ${size1} to ${size2}`);
    }
    let [inner, border] = decomposeInclusion(size1 - 1n, size2);
    const shift = bitLength(size1 & -size1) - 1; // trailing zeros of size1
    inner -= shift;
    // The proof starts with the hash of the subtree of size 2**shift that ends
    // the old tree, unless the old tree is exactly that subtree.
    let seed, rest;
    if (size1 === 1n << BigInt(shift)) {
      seed = root1;
      rest = proof;
    } else {
      seed = proof[0];
      rest = proof.slice(1);
    }
    if (rest.length !== inner + border) {
      const want = proof.length - rest.length + inner + border;
      throw new CheckError(
        "bad_proof_length",
        `consistency proof from ${size1} to ${size2} has ${proof.length} hashes, want ${want}`,
      );
    }
    const mask = (size1 - 1n) >> BigInt(shift);
    let hash1 = await chainInnerRight(seed, rest.slice(0, inner), mask);
    hash1 = await chainBorderRight(hash1, rest.slice(inner));
    expectRoot("root1", hash1, root1);
    const hash2 = await chainInner(seed, rest.slice(0, inner), mask);
    return chainBorderRight(hash2, rest.slice(inner));
  }

  // proof.py verify_consistency (docs/spec/log.md §3.1, consistency steps 1-12):
  // is the tree (size1, root1) a prefix of the tree (size2, root2)?
  async function verifyConsistency(size1, size2, proof, root1, root2) {
    size1 = BigInt(size1);
    size2 = BigInt(size2);
    checkConsistencySizes(size1, size2);
    if (size1 === size2) {
      // Nothing is hashed: the claim is only that the two roots are the same,
      // compared as given (as transparency-dev/merkle, whatever their length).
      checkEqualSizes(size1, proof);
      expectRoot("root", root1, root2);
      return;
    }
    checkHash("root2", root2);
    const computed = await rootFromConsistencyProof(size1, size2, proof, root1);
    expectRoot("root2", computed, root2);
  }

  // -- keys, signed notes, checkpoints (docs/spec/checkpoints-and-tiles.md §1, §2) ---------------
  //
  // The refusals of verifier/tlog/note.py and verifier/tlog/checkpoint.py, in
  // their order and with their codes: the page and `urne-verify` must not
  // disagree on which checkpoints are well-formed.

  const ED25519 = 0x01;
  const MAX_SIGNATURES = 100; // note.py MAX_SIGNATURES (golang.org/x/mod sumdb/note)
  const KEY_ID_SIZE = 4;
  const ED25519_KEY_SIZE = 32;
  const ED25519_SIG_SIZE = 64;
  // Unicode White_Space (what signed-note means by "Unicode spaces"), spelled
  // out as in note.py: JavaScript's \s is another set.
  const WHITE_SPACE = /[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  const NOTE_CONTROL = /[\x00-\x09\x0b-\x1f]/; // note.py _CONTROL: newline allowed
  const LINE_CONTROL = /[\x00-\x1f]/; // checkpoint.py _CONTROL
  // A string that UTF-8 cannot encode: a lone surrogate, which JSON escapes can
  // produce (in unicode mode, a pair is one code point and does not match).
  const LONE_SURROGATE = /[\ud800-\udfff]/u;
  const SIZE = /^(?:0|[1-9][0-9]*)$/; // checkpoint.py _SIZE, ASCII digits only
  const HEX8 = /^[0-9a-fA-F]{8}$/;

  // str.partition(sep)
  function partition(s, sep) {
    const i = s.indexOf(sep);
    return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + sep.length)];
  }

  // note.py is_valid_key_name
  function isValidKeyName(name) {
    return name !== "" && !name.includes("+") && !WHITE_SPACE.test(name) && !NOTE_CONTROL.test(name) && !LONE_SURROGATE.test(name);
  }

  // note.py _check_name
  function checkName(name, what) {
    if (!isValidKeyName(name)) {
      throw new CheckError("bad_key_name", `${what}: expected a non-empty key name without white space or '+', found ${JSON.stringify(name)}`);
    }
  }

  // note.py _b64decode: standard, padded and canonical base64, so that a note
  // has exactly one encoding
  function b64decodeCanonical(value, what, code) {
    const want = `${what}: expected standard, padded, canonical base64, found ${JSON.stringify(value.slice(0, 100))}`;
    if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new CheckError(code, want);
    let raw;
    try {
      raw = b64decode(value, what);
    } catch (e) {
      throw new CheckError(code, want);
    }
    if (b64encode(raw) !== value) throw new CheckError(code, want);
    return raw;
  }

  // note.py _check_chars
  function checkChars(s, what) {
    const m = NOTE_CONTROL.exec(s);
    if (m) {
      throw new CheckError(
        "malformed_note",
        `${what}: expected no control characters other than newline, found U+${m[0].charCodeAt(0).toString(16).padStart(4, "0")} at offset ${m.index}`,
      );
    }
    if (LONE_SURROGATE.test(s)) throw new CheckError("malformed_note", `${what}: expected valid UTF-8, found a lone surrogate`);
  }

  // note.py key_id: SHA-256(name || "\n" || type || public key)[:4]
  async function keyId(name, alg, publicKey) {
    return (await sha256(concat(enc.encode(name + "\n"), Uint8Array.of(alg), publicKey))).slice(0, KEY_ID_SIZE);
  }

  // note.py Ed25519Verifier.from_vkey: `<name>+<hex key ID>+<base64(0x01 || key)>`.
  async function parseVerifierKey(vkey) {
    // blanks around a pasted key are the paste's, not the key's
    const text = String(vkey).trim();
    // split at the first two "+" only: the base64 may hold "+"
    const [name, rest] = partition(text, "+");
    const [hex8, key64] = partition(rest, "+");
    checkName(name, "verifier key");
    if (!HEX8.test(hex8)) {
      throw new CheckError("bad_vkey", `verifier key ${JSON.stringify(name)}: expected an 8-digit hex key ID, found ${JSON.stringify(hex8)}`);
    }
    const key = b64decodeCanonical(key64, `verifier key ${JSON.stringify(name)}`, "bad_vkey");
    if (key.length === 0) throw new CheckError("bad_vkey", `verifier key ${JSON.stringify(name)}: key data is empty`);
    const want = await keyId(name, key[0], key.slice(1));
    if (hex(want) !== hex8.toLowerCase()) {
      throw new CheckError(
        "key_id_mismatch",
        `the trusted key's ID is ${hex8.toLowerCase()}, but the key hashes to ${hex(want)}: it was mistyped`,
      );
    }
    if (key[0] !== ED25519) {
      throw new CheckError("unsupported_algorithm", `the trusted key is of signature type ${key[0]}, not Ed25519 (1)`);
    }
    if (key.length - 1 !== ED25519_KEY_SIZE) {
      throw new CheckError("bad_vkey", `Ed25519 public key is ${key.length - 1} bytes, want ${ED25519_KEY_SIZE}`);
    }
    let cryptoKey;
    try {
      cryptoKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new CheckError(
        "no_ed25519",
        "this browser cannot verify Ed25519 signatures (WebCrypto); use a current browser or `urne-verify receipt`",
      );
    }
    return { name, keyId: want, key: cryptoKey, vkey: text };
  }

  // note.py parse_note: the text (up to and including the first newline of the
  // last "\n\n") and its signature lines "— <name> base64(key ID || signature)",
  // none verified yet.
  function parseNote(msg) {
    checkChars(msg, "note");
    const split = msg.lastIndexOf("\n\n");
    if (split < 0) throw new CheckError("malformed_note", "note: expected a blank line between text and signatures, found none");
    const text = msg.slice(0, split + 1);
    const block = msg.slice(split + 2);
    if (!block.endsWith("\n")) {
      throw new CheckError("malformed_note", "note: expected signature lines each ending in a newline after the blank line");
    }
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) {
      throw new CheckError("malformed_note", `note: expected at most ${MAX_SIGNATURES} signatures, found ${lines.length}`);
    }
    const signatures = lines.map((line, i) => {
      const what = `signature line ${i + 1}`;
      if (!line.startsWith(EM_DASH)) {
        throw new CheckError("malformed_note", `${what}: expected it to start with an em dash and a space, found ${JSON.stringify(line.slice(0, 40))}`);
      }
      const [name, b64] = partition(line.slice(EM_DASH.length), " ");
      checkName(name, what);
      const raw = b64decodeCanonical(b64, what, "malformed_note");
      if (raw.length < KEY_ID_SIZE + 1) {
        throw new CheckError("malformed_note", `${what}: expected at least ${KEY_ID_SIZE + 1} bytes (key ID and signature), found ${raw.length}`);
      }
      return { name, keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) };
    });
    // note.py Note: the text ends in a newline (always true of a split note)
    if (!text.endsWith("\n")) throw new CheckError("malformed_note", "note text must be non-empty and end in a newline");
    return { text, signatures };
  }

  // note.py open_note, with the one trusted key: lines by other keys are
  // ignored, the first line by the trusted key must verify (repeats after it
  // are ignored), and some line must be by the trusted key. The whole note is
  // parsed before any signature is looked at.
  async function openNote(msg, trusted) {
    const note = parseNote(msg);
    const message = enc.encode(note.text);
    for (const sig of note.signatures) {
      if (sig.name !== trusted.name || !equal(sig.keyId, trusted.keyId)) continue;
      const ok = sig.signature.length === ED25519_SIG_SIZE && (await crypto.subtle.verify({ name: "Ed25519" }, trusted.key, sig.signature, message));
      if (!ok) {
        throw new CheckError(
          "bad_signature",
          "the checkpoint's signature by the trusted key does not verify: the checkpoint was changed",
        );
      }
      return note;
    }
    throw new CheckError("unknown_key", `the checkpoint carries no signature by the trusted key ${trusted.name}+${hex(trusted.keyId)}`);
  }

  function malformed(message) {
    return new CheckError("malformed_checkpoint", `checkpoint: ${message}`);
  }

  // checkpoint.py _check_line
  function checkLine(value, what) {
    if (value === "") throw malformed(`expected a non-empty ${what}, found an empty line`);
    const m = LINE_CONTROL.exec(value);
    if (m) throw malformed(`${what}: expected no control characters, found U+${m[0].charCodeAt(0).toString(16).padStart(4, "0")}`);
    if (LONE_SURROGATE.test(value)) throw malformed(`${what}: expected valid UTF-8, found a lone surrogate`);
  }

  // checkpoint.py Checkpoint.parse (and the checks of Checkpoint.__post_init__)
  function parseCheckpoint(text) {
    if (!text.endsWith("\n")) throw malformed(`expected text ending in a newline, found ${JSON.stringify(text.slice(-20))}`);
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) throw malformed(`expected at least 3 lines (origin, size, root hash), found ${lines.length}`);
    const [origin, sizeText, rootText, ...extensions] = lines;
    checkLine(origin, "origin");
    if (!SIZE.test(sizeText)) {
      throw malformed(`expected a decimal tree size without sign or leading zeroes, found ${JSON.stringify(sizeText)}`);
    }
    // 2**63 has 19 digits; checking the length first keeps BigInt() cheap
    if (sizeText.length > 19 || BigInt(sizeText) > MAX_TREE_SIZE) throw malformed(`expected a tree size below 2**63, found ${sizeText}`);
    if (rootText === "") throw malformed("expected a non-empty root hash line, found an empty line");
    let root;
    try {
      root = b64decode(rootText, "root hash");
    } catch (e) {
      throw malformed(`expected a base64 root hash, found ${JSON.stringify(rootText)}`);
    }
    if (b64encode(root) !== rootText) throw malformed(`expected canonical padded base64 root hash, found ${JSON.stringify(rootText)}`);
    if (root.length !== HASH_SIZE) {
      throw new CheckError("bad_hash_length", `checkpoint: root hash is ${root.length} bytes, want ${HASH_SIZE}`);
    }
    extensions.forEach((ext, i) => checkLine(ext, `extension line ${i + 1}`));
    return { origin, size: BigInt(sizeText), root, extensions };
  }

  // checkpoint.py open_checkpoint: signature first (an unsigned text is not
  // even parsed), then the text, then the origin.
  async function openCheckpoint(signed, trusted, origin) {
    const note = await openNote(signed, trusted);
    const cp = parseCheckpoint(note.text);
    if (cp.origin !== origin) {
      throw new CheckError("origin_mismatch", `the checkpoint is of the log ${JSON.stringify(cp.origin)}, the receipt of ${JSON.stringify(origin)}`);
    }
    return cp;
  }

  // -- the receipt ------------------------------------------------------------------------

  const FIELDS = ["checkpoint", "entry", "inclusion_proof", "index", "log_key", "origin", "v"];

  function parseReceipt(text) {
    let obj;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new CheckError("bad_receipt", `this is not a receipt: it is not JSON (${e.message})`);
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      throw new CheckError("bad_receipt", "this is not a receipt: a receipt is a JSON object");
    }
    const keys = Object.keys(obj).sort();
    if (keys.join() !== FIELDS.join()) {
      throw new CheckError("bad_receipt", `a receipt has the fields ${FIELDS.join(", ")}; this one has ${keys.join(", ")}`);
    }
    if (obj.v !== 1) throw new CheckError("bad_receipt", `receipt version ${JSON.stringify(obj.v)}, this page reads 1`);
    if (!Number.isSafeInteger(obj.index) || obj.index < 0) throw new CheckError("bad_receipt", "the receipt's index is not an integer >= 0");
    for (const k of ["origin", "log_key", "checkpoint"]) {
      if (typeof obj[k] !== "string") throw new CheckError("bad_receipt", `the receipt's ${k} is not text`);
    }
    if (!Array.isArray(obj.inclusion_proof)) throw new CheckError("bad_receipt", "the receipt's inclusion_proof is not a list");
    return {
      origin: obj.origin,
      logKey: obj.log_key,
      index: obj.index,
      entry: b64decode(obj.entry, "the receipt's entry"),
      checkpoint: obj.checkpoint,
      proof: obj.inclusion_proof.map((h, i) => b64decode(h, `inclusion_proof[${i}]`)),
    };
  }

  function describeEntry(bytes) {
    try {
      const obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      return { kind: obj.kind ?? "?", process: obj.process ?? obj.id ?? "?", json: JSON.stringify(obj, null, 2) };
    } catch (e) {
      return { kind: "?", process: "?", json: "(not a JSON entry)" };
    }
  }

  // A failed proof says what it computed; a citizen needs to hear what that
  // means for the receipt. Only the message changes, never the code.
  async function explained(check, code, message) {
    try {
      await check;
    } catch (e) {
      if (e instanceof CheckError && e.code === code) throw new CheckError(code, `${message} (${e.message})`);
      throw e;
    }
  }

  // Runs every check; `report(step, ok, text)` is told of each. Resolves to a
  // summary, or rejects with a CheckError naming the first failure.
  async function checkReceipt(receiptText, vkeyText, report, latest) {
    const say = report || (() => {});
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      throw new CheckError("no_webcrypto", "this page can only check receipts when served over HTTPS (WebCrypto); use `urne-verify receipt`");
    }
    const receipt = parseReceipt(receiptText);
    say("receipt", true, `A receipt for log index ${receipt.index}, log ${receipt.origin}.`);
    const trusted = await parseVerifierKey(vkeyText);
    say("key", true, `Trusted key ${trusted.name}+${hex(trusted.keyId)}.`);
    const cp = await openCheckpoint(receipt.checkpoint, trusted, receipt.origin);
    say("signature", true, `The checkpoint (tree size ${cp.size}) is signed by the trusted key.`);
    const leaf = await hashLeaf(receipt.entry);
    await explained(
      verifyInclusion(leaf, receipt.index, cp.size, receipt.proof, cp.root),
      "root_mismatch",
      "the inclusion proof leads to another root than the checkpoint's: the entry, its index or the proof was changed",
    );
    say("inclusion", true, `The entry is leaf ${receipt.index} of that tree (inclusion proof of ${receipt.proof.length} hashes).`);
    const out = { index: receipt.index, size: cp.size, entry: describeEntry(receipt.entry), leafHash: b64encode(leaf), keyDiffers: receipt.logKey.trim() !== trusted.vkey };
    if (latest) {
      const now = await latest(trusted, receipt.origin, cp);
      out.latestSize = now;
      say("consistency", true, `Today's log (size ${now}) is signed by the same key and still holds the entry (consistency proof).`);
    }
    return out;
  }

  // Step 5 against this server: its latest checkpoint and a consistency proof.
  async function fromThisServer(trusted, origin, then) {
    const r = await fetchOrFail("/checkpoint", "the log's latest checkpoint");
    // strict UTF-8, byte order mark kept: the bytes the Python verifier would read
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(await r.arrayBuffer());
    } catch (e) {
      throw new CheckError("malformed_note", "the log's latest checkpoint is not valid UTF-8");
    }
    const now = await openCheckpoint(text, trusted, origin);
    if (now.size < then.size) {
      throw new CheckError("log_shrank", `the log's latest checkpoint (size ${now.size}) is smaller than the receipt's (${then.size}): the log went back`);
    }
    let proof = [];
    if (now.size > then.size) {
      const q = await fetchOrFail(`/log/proof/consistency?size1=${then.size}&size2=${now.size}`, "the consistency proof");
      proof = (await q.json()).proof.map((h, i) => b64decode(h, `consistency proof[${i}]`));
    }
    await explained(
      verifyConsistency(then.size, now.size, proof, then.root, now.root),
      "root_mismatch",
      "the consistency proof fails: the newer checkpoint does not extend the receipt's (the log was rewritten)",
    );
    return now.size;
  }

  window.UrneReceipt = {
    CheckError,
    checkReceipt,
    fromThisServer,
    verifyInclusion,
    verifyConsistency,
    rootFromInclusionProof,
    rootFromConsistencyProof,
    parseVerifierKey,
    parseNote,
    openNote,
    parseCheckpoint,
    openCheckpoint,
    hashLeaf,
    b64decode,
    b64encode,
  };

  // -- the page ---------------------------------------------------------------------------

  // result: "valid", "invalid", or "unchecked" (could not check)
  function show(verdict, result, title, detail) {
    verdict.hidden = false;
    verdict.className = `verdict ${result}`;
    verdict.dataset.result = result;
    verdict.querySelector(".title").textContent = title;
    verdict.querySelector(".detail").textContent = detail;
  }

  function setup() {
    const form = document.getElementById("receipt-form");
    if (!form) return;
    const area = document.getElementById("receipt-text");
    const file = document.getElementById("receipt-file");
    const keyInput = document.getElementById("trusted-key");
    const current = document.getElementById("check-current");
    const verdict = document.getElementById("verdict");
    const steps = document.getElementById("checks");
    const entryBox = document.getElementById("entry");

    file.addEventListener("change", async () => {
      if (file.files.length) area.value = await file.files[0].text();
    });

    const index = form.dataset.index;
    if (index) {
      fetch(`/entries/${index}/receipt`, { cache: "no-store" })
        .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((t) => {
          area.value = JSON.stringify(JSON.parse(t), null, 2);
        })
        .catch((e) => show(verdict, "unchecked", "No receipt loaded", `The receipt of entry ${index} could not be fetched: ${e.message}`));
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      steps.replaceChildren();
      entryBox.hidden = true;
      verdict.hidden = true;
      verdict.dataset.result = "";
      verdict.dataset.code = "";
      const report = (step, ok, text) => {
        const li = document.createElement("li");
        li.className = ok ? "ok" : "fail";
        li.dataset.step = step;
        li.textContent = text;
        steps.append(li);
      };
      try {
        const out = await checkReceipt(area.value, keyInput.value, report, current.checked ? fromThisServer : null);
        let detail = `Entry ${out.index} (${out.entry.kind} of ${out.entry.process}) is in the log whose key you trust, under a checkpoint of size ${out.size}.`;
        if (out.latestSize !== undefined) detail += ` Today's log (size ${out.latestSize}) still holds it.`;
        if (out.keyDiffers) detail += " Note: the receipt names another key than the one you trust; only the key you trust was used.";
        show(verdict, "valid", "Valid receipt", detail);
        document.getElementById("entry-json").textContent = out.entry.json;
        document.getElementById("leaf-hash").textContent = out.leafHash;
        entryBox.hidden = false;
      } catch (e) {
        const code = e instanceof CheckError ? e.code : "error";
        report(code, false, e.message);
        if (code === FETCH_FAILED) show(verdict, "unchecked", "Could not check", `${e.message} (${code}). Try again later; the receipt itself is not in question.`);
        else show(verdict, "invalid", "Not valid", `${e.message} (${code})`);
        verdict.dataset.code = code;
      }
    });
    form.dataset.ready = "yes";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
