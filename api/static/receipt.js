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
  // Every word shown comes from the page (static/strings.js, docs/guides/web.md §4).
  const T = (key, values, count) => (window.UrneStrings ? window.UrneStrings.t(key, values, count) : key);
  const quoted = (v) => JSON.stringify(v);

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
      throw new CheckError(FETCH_FAILED, T("fetch_no_answer", { what }));
    }
    if (!r.ok) throw new CheckError(FETCH_FAILED, T("fetch_http", { what, status: String(r.status) }));
    return r;
  }

  // -- bytes ------------------------------------------------------------------------------

  function b64decode(s, what) {
    if (typeof s !== "string") throw new CheckError("bad_receipt", T("expected_base64_text", { what }));
    if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
      throw new CheckError("bad_base64", T("not_base64", { what }));
    }
    let bin;
    try {
      bin = atob(s);
    } catch (e) {
      throw new CheckError("bad_base64", T("not_base64", { what }));
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

  // proof.py _check_hash; `what` names the hash, asked for only on a refusal
  function checkHash(what, value) {
    if (value.length !== HASH_SIZE) {
      throw new CheckError("bad_hash_length", T("bad_hash_length", { what: what(), got: value.length, want: HASH_SIZE }, value.length));
    }
  }

  // proof.py _check_proof_hashes
  function checkProofHashes(proof) {
    proof.forEach((h, i) => checkHash(() => T("what_proof_hash", { i: String(i) }), h));
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
      throw new CheckError("root_mismatch", T("root_mismatch", { what: T(what), computed: hex(computed), expected: hex(expected) }));
    }
  }

  // proof.py root_from_inclusion_proof (docs/spec/log.md §3.1, inclusion steps 2-6)
  async function rootFromInclusionProof(leafHash, index, size, proof) {
    index = BigInt(index);
    size = BigInt(size);
    if (!(0n <= index && index < size)) {
      throw new CheckError("bad_index", T("bad_index", { index: String(index), size: String(size) }));
    }
    checkHash(() => T("what_leaf_hash"), leafHash);
    checkProofHashes(proof);
    const [inner, border] = decomposeInclusion(index, size);
    if (proof.length !== inner + border) {
      throw new CheckError(
        "bad_proof_length",
        T("bad_inclusion_length", { index: String(index), size: String(size), got: proof.length, want: inner + border }, proof.length),
      );
    }
    const res = await chainInner(leafHash, proof.slice(0, inner), index);
    return chainBorderRight(res, proof.slice(inner));
  }

  // proof.py verify_inclusion (docs/spec/log.md §3.1, inclusion steps 1-7): is the
  // leaf with `leafHash` at `index` in the tree of `size` with `root`?
  async function verifyInclusion(leafHash, index, size, proof, root) {
    checkHash(() => T("what_root"), root);
    const computed = await rootFromInclusionProof(leafHash, index, size, proof);
    expectRoot("what_root", computed, root);
  }

  // proof.py _check_consistency_sizes
  function checkConsistencySizes(size1, size2) {
    if (size1 < 0n || size2 < 0n) {
      throw new CheckError("bad_proof", T("negative_sizes", { size1: String(size1), size2: String(size2) }));
    }
    if (size2 < size1) throw new CheckError("bad_size", T("size2_smaller", { size1: String(size1), size2: String(size2) }));
    // the empty tree is a prefix of every tree: such a proof proves nothing
    if (size1 === 0n) throw new CheckError("bad_size", T("size_zero"));
  }

  // proof.py _check_equal_sizes
  function checkEqualSizes(size, proof) {
    if (proof.length !== 0) {
      throw new CheckError("bad_proof_length", T("equal_sizes_proof", { size: String(size), got: proof.length }, proof.length));
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
    checkHash(() => T("what_root1"), root1);
    checkProofHashes(proof);
    if (proof.length === 0) {
      throw new CheckError("bad_proof_length", T("empty_consistency", { size1: String(size1), size2: String(size2) }));
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
        T("bad_consistency_length", { size1: String(size1), size2: String(size2), got: proof.length, want }, proof.length),
      );
    }
    const mask = (size1 - 1n) >> BigInt(shift);
    let hash1 = await chainInnerRight(seed, rest.slice(0, inner), mask);
    hash1 = await chainBorderRight(hash1, rest.slice(inner));
    expectRoot("what_root1", hash1, root1);
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
      expectRoot("what_root", root1, root2);
      return;
    }
    checkHash(() => T("what_root2"), root2);
    const computed = await rootFromConsistencyProof(size1, size2, proof, root1);
    expectRoot("what_root2", computed, root2);
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
      throw new CheckError("bad_key_name", T("bad_key_name", { what, found: quoted(name) }));
    }
  }

  // note.py _b64decode: standard, padded and canonical base64, so that a note
  // has exactly one encoding
  function b64decodeCanonical(value, what, code) {
    const want = T("not_canonical_base64", { what, found: quoted(value.slice(0, 100)) });
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
        T("note_control", { what, code: m[0].charCodeAt(0).toString(16).padStart(4, "0"), offset: String(m.index) }),
      );
    }
    if (LONE_SURROGATE.test(s)) throw new CheckError("malformed_note", T("lone_surrogate", { what }));
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
    checkName(name, T("what_vkey"));
    const what = T("what_vkey_named", { name: quoted(name) });
    if (!HEX8.test(hex8)) {
      throw new CheckError("bad_vkey", T("vkey_bad_id", { what, found: quoted(hex8) }));
    }
    const key = b64decodeCanonical(key64, what, "bad_vkey");
    if (key.length === 0) throw new CheckError("bad_vkey", T("vkey_empty", { what }));
    const want = await keyId(name, key[0], key.slice(1));
    if (hex(want) !== hex8.toLowerCase()) {
      throw new CheckError("key_id_mismatch", T("key_id_mismatch", { given: hex8.toLowerCase(), computed: hex(want) }));
    }
    if (key[0] !== ED25519) {
      throw new CheckError("unsupported_algorithm", T("unsupported_algorithm", { type: String(key[0]) }));
    }
    if (key.length - 1 !== ED25519_KEY_SIZE) {
      throw new CheckError("bad_vkey", T("vkey_size", { got: key.length - 1, want: ED25519_KEY_SIZE }, key.length - 1));
    }
    let cryptoKey;
    try {
      cryptoKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new CheckError("no_ed25519", T("no_ed25519"));
    }
    return { name, keyId: want, key: cryptoKey, vkey: text };
  }

  // note.py parse_note: the text (up to and including the first newline of the
  // last "\n\n") and its signature lines "— <name> base64(key ID || signature)",
  // none verified yet.
  function parseNote(msg) {
    checkChars(msg, T("what_note"));
    const split = msg.lastIndexOf("\n\n");
    if (split < 0) throw new CheckError("malformed_note", T("note_no_blank"));
    const text = msg.slice(0, split + 1);
    const block = msg.slice(split + 2);
    if (!block.endsWith("\n")) {
      throw new CheckError("malformed_note", T("note_signature_newline"));
    }
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) {
      throw new CheckError("malformed_note", T("note_too_many", { max: MAX_SIGNATURES, got: lines.length }));
    }
    const signatures = lines.map((line, i) => {
      const what = T("what_signature_line", { n: String(i + 1) });
      if (!line.startsWith(EM_DASH)) {
        throw new CheckError("malformed_note", T("signature_line_dash", { what, found: quoted(line.slice(0, 40)) }));
      }
      const [name, b64] = partition(line.slice(EM_DASH.length), " ");
      checkName(name, what);
      const raw = b64decodeCanonical(b64, what, "malformed_note");
      if (raw.length < KEY_ID_SIZE + 1) {
        throw new CheckError("malformed_note", T("signature_line_short", { what, want: KEY_ID_SIZE + 1, got: raw.length }));
      }
      return { name, keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) };
    });
    // note.py Note: the text ends in a newline (always true of a split note)
    if (!text.endsWith("\n")) throw new CheckError("malformed_note", T("note_text_newline"));
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
        throw new CheckError("bad_signature", T("bad_signature"));
      }
      return note;
    }
    throw new CheckError("unknown_key", T("unknown_key", { key: `${trusted.name}+${hex(trusted.keyId)}` }));
  }

  // cosignature.py WitnessKey.from_vkey: `<name>+<hex key ID>+<base64(0x04 || key)>`.
  const COSIGNATURE_V1 = 0x04;
  const MAX_TIMESTAMP = (1n << 63n) - 1n;

  async function parseWitnessKey(vkey) {
    const text = String(vkey).trim();
    const [name, rest] = partition(text, "+");
    const [hex8, key64] = partition(rest, "+");
    checkName(name, T("what_vkey"));
    const what = T("what_vkey_named", { name: quoted(name) });
    if (!HEX8.test(hex8)) throw new CheckError("bad_vkey", T("vkey_bad_id", { what, found: quoted(hex8) }));
    const key = b64decodeCanonical(key64, what, "bad_vkey");
    if (key.length !== 1 + ED25519_KEY_SIZE || key[0] !== COSIGNATURE_V1) {
      throw new CheckError("unsupported_algorithm", T("not_a_witness_key", { name }));
    }
    const want = await keyId(name, COSIGNATURE_V1, key.slice(1));
    if (hex(want) !== hex8.toLowerCase()) {
      throw new CheckError("key_id_mismatch", T("key_id_mismatch", { given: hex8.toLowerCase(), computed: hex(want) }));
    }
    const cryptoKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, keyId: want, key: cryptoKey, vkey: text };
  }

  // cosignature.py verify_cosignatures: lines of other keys are ignored; a line
  // of a trusted witness must be 76 bytes, carry a time of at most 2**63-1 and
  // verify over "cosignature/v1\ntime <t>\n" + the checkpoint text; fewer
  // than `quorum` distinct witnesses refuse the checkpoint.
  async function checkCosignatures(note, witnesses, quorum) {
    const found = [];
    for (const w of witnesses) {
      const sig = note.signatures.find((s) => s.name === w.name && equal(s.keyId, w.keyId));
      if (!sig) continue;
      if (sig.signature.length !== 8 + ED25519_SIG_SIZE) {
        throw new CheckError("bad_cosignature", T("bad_cosignature", { name: w.name }));
      }
      const time = new DataView(sig.signature.buffer, sig.signature.byteOffset, 8).getBigUint64(0);
      if (time > MAX_TIMESTAMP) throw new CheckError("bad_cosignature", T("bad_cosignature", { name: w.name }));
      const message = concat(enc.encode(`cosignature/v1\ntime ${time}\n`), enc.encode(note.text));
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, w.key, sig.signature.slice(8), message);
      if (!ok) throw new CheckError("bad_cosignature", T("bad_cosignature", { name: w.name }));
      found.push({ name: w.name, time: Number(time) });
    }
    if (found.length < quorum) {
      throw new CheckError(
        "no_quorum",
        T("no_quorum", { seen: String(found.length), of: String(witnesses.length), quorum: String(quorum) }),
      );
    }
    return found;
  }

  function malformed(message) {
    return new CheckError("malformed_checkpoint", T("malformed_checkpoint", { detail: message }));
  }

  // checkpoint.py _check_line
  function checkLine(value, what) {
    if (value === "") throw malformed(T("line_empty", { what }));
    const m = LINE_CONTROL.exec(value);
    if (m) throw malformed(T("line_control", { what, code: m[0].charCodeAt(0).toString(16).padStart(4, "0") }));
    if (LONE_SURROGATE.test(value)) throw malformed(T("lone_surrogate", { what }));
  }

  // checkpoint.py Checkpoint.parse (and the checks of Checkpoint.__post_init__)
  function parseCheckpoint(text) {
    if (!text.endsWith("\n")) throw malformed(T("checkpoint_newline", { found: quoted(text.slice(-20)) }));
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) throw malformed(T("checkpoint_lines", { got: lines.length }));
    const [origin, sizeText, rootText, ...extensions] = lines;
    checkLine(origin, T("what_origin"));
    if (!SIZE.test(sizeText)) {
      throw malformed(T("checkpoint_size", { found: quoted(sizeText) }));
    }
    // 2**63 has 19 digits; checking the length first keeps BigInt() cheap
    if (sizeText.length > 19 || BigInt(sizeText) > MAX_TREE_SIZE) throw malformed(T("checkpoint_size_big", { found: sizeText }));
    if (rootText === "") throw malformed(T("checkpoint_root_empty"));
    let root;
    try {
      root = b64decode(rootText, T("what_root_hash"));
    } catch (e) {
      throw malformed(T("checkpoint_root_base64", { found: quoted(rootText) }));
    }
    if (b64encode(root) !== rootText) throw malformed(T("checkpoint_root_canonical", { found: quoted(rootText) }));
    if (root.length !== HASH_SIZE) {
      throw new CheckError("bad_hash_length", T("checkpoint_root_length", { got: root.length, want: HASH_SIZE }, root.length));
    }
    extensions.forEach((ext, i) => checkLine(ext, T("what_extension_line", { n: String(i + 1) })));
    return { origin, size: BigInt(sizeText), root, extensions };
  }

  // checkpoint.py open_checkpoint: signature first (an unsigned text is not
  // even parsed), then the text, then the origin.
  async function openCheckpoint(signed, trusted, origin) {
    const note = await openNote(signed, trusted);
    const cp = parseCheckpoint(note.text);
    if (cp.origin !== origin) {
      throw new CheckError("origin_mismatch", T("origin_mismatch", { checkpoint: quoted(cp.origin), receipt: quoted(origin) }));
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
      throw new CheckError("bad_receipt", T("receipt_not_json", { error: e.message }));
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      throw new CheckError("bad_receipt", T("receipt_not_object"));
    }
    const keys = Object.keys(obj).sort();
    if (keys.join() !== FIELDS.join()) {
      throw new CheckError("bad_receipt", T("receipt_fields", { want: FIELDS.join(", "), got: keys.join(", ") }));
    }
    if (obj.v !== 1) throw new CheckError("bad_receipt", T("receipt_version", { v: quoted(obj.v) }));
    if (!Number.isSafeInteger(obj.index) || obj.index < 0) throw new CheckError("bad_receipt", T("receipt_index"));
    for (const k of ["origin", "log_key", "checkpoint"]) {
      if (typeof obj[k] !== "string") throw new CheckError("bad_receipt", T("receipt_not_text", { field: k }));
    }
    if (!Array.isArray(obj.inclusion_proof)) throw new CheckError("bad_receipt", T("receipt_proof_not_list"));
    return {
      origin: obj.origin,
      logKey: obj.log_key,
      index: obj.index,
      entry: b64decode(obj.entry, T("what_receipt_entry")),
      checkpoint: obj.checkpoint,
      proof: obj.inclusion_proof.map((h, i) => b64decode(h, T("what_inclusion_hash", { i: String(i) }))),
    };
  }

  function describeEntry(bytes) {
    try {
      const obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      return { kind: obj.kind ?? "?", process: obj.process ?? obj.id ?? "?", json: JSON.stringify(obj, null, 2) };
    } catch (e) {
      return { kind: "?", process: "?", json: T("entry_not_json") };
    }
  }

  // A failed proof says what it computed; a citizen needs to hear what that
  // means for the receipt. Only the message changes, never the code.
  async function explained(check, code, message) {
    try {
      await check;
    } catch (e) {
      if (e instanceof CheckError && e.code === code) throw new CheckError(code, T("explained", { message, detail: e.message }));
      throw e;
    }
  }

  // Runs every check; `report(step, ok, text)` is told of each. Resolves to a
  // summary, or rejects with a CheckError naming the first failure.
  async function checkReceipt(receiptText, vkeyText, report, latest, policy) {
    const say = report || (() => {});
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      throw new CheckError("no_webcrypto", T("no_webcrypto"));
    }
    const receipt = parseReceipt(receiptText);
    say("receipt", true, T("step_receipt", { index: String(receipt.index), origin: receipt.origin }));
    const trusted = await parseVerifierKey(vkeyText);
    say("key", true, T("step_key", { key: `${trusted.name}+${hex(trusted.keyId)}` }));
    const cp = await openCheckpoint(receipt.checkpoint, trusted, receipt.origin);
    say("signature", true, T("step_signature", { size: String(cp.size) }));
    let witnessed = null;
    if (policy && policy.witnesses.length) {
      const found = await checkCosignatures(parseNote(receipt.checkpoint), policy.witnesses, policy.quorum);
      witnessed = { seen: found.length, of: policy.witnesses.length, names: found.map((f) => f.name) };
      say("witnesses", true, T("step_witnesses", { seen: String(witnessed.seen), of: String(witnessed.of), names: witnessed.names.join(", ") }));
    }
    const leaf = await hashLeaf(receipt.entry);
    await explained(
      verifyInclusion(leaf, receipt.index, cp.size, receipt.proof, cp.root),
      "root_mismatch",
      T("explain_inclusion"),
    );
    const n = receipt.proof.length;
    say("inclusion", true, T("step_inclusion", { index: String(receipt.index), num: n }, n));
    const out = { index: receipt.index, size: cp.size, entry: describeEntry(receipt.entry), leafHash: b64encode(leaf), keyDiffers: receipt.logKey.trim() !== trusted.vkey, witnessed };
    if (latest) {
      const now = await latest(trusted, receipt.origin, cp);
      out.latestSize = now;
      say("consistency", true, T("step_consistency", { size: String(now) }));
    }
    return out;
  }

  // Step 5 against this server: its latest checkpoint and a consistency proof.
  async function fromThisServer(trusted, origin, then) {
    const r = await fetchOrFail("/checkpoint", T("what_latest_checkpoint"));
    // strict UTF-8, byte order mark kept: the bytes the Python verifier would read
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(await r.arrayBuffer());
    } catch (e) {
      throw new CheckError("malformed_note", T("latest_not_utf8"));
    }
    const now = await openCheckpoint(text, trusted, origin);
    if (now.size < then.size) {
      throw new CheckError("log_shrank", T("log_shrank", { now: String(now.size), then: String(then.size) }));
    }
    let proof = [];
    if (now.size > then.size) {
      const q = await fetchOrFail(`/log/proof/consistency?size1=${then.size}&size2=${now.size}`, T("what_consistency_proof"));
      proof = (await q.json()).proof.map((h, i) => b64decode(h, T("what_consistency_hash", { i: String(i) })));
    }
    await explained(
      verifyConsistency(then.size, now.size, proof, then.root, now.root),
      "root_mismatch",
      T("explain_consistency"),
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
    parseWitnessKey,
    checkCosignatures,
    parseNote,
    openNote,
    parseCheckpoint,
    openCheckpoint,
    hashLeaf,
    b64decode,
    b64encode,
  };

  // -- the page ---------------------------------------------------------------------------

  // the kinds of entry (verifier/civic/entries.py KINDS), named in the reader's words
  const ENTRY_KINDS = ["institution", "reservation", "process", "ballot", "paper", "close", "result", "draw", "answer", "delegate", "delegation"];

  // result: "valid", "invalid", or "unchecked" (could not check)
  function show(verdict, result, title, detail) {
    verdict.hidden = false;
    verdict.className = `verdict ${result}`;
    verdict.dataset.result = result;
    verdict.querySelector(".title").textContent = title;
    verdict.querySelector(".detail").textContent = detail;
  }

  // "Get the witnessed receipt": this server's current receipt of the same
  // entry replaces the pasted one, and the check runs again.
  function offerWitnessed(area, form) {
    const button = document.getElementById("get-witnessed");
    if (!button) return;
    button.hidden = false;
    button.onclick = async () => {
      button.hidden = true;
      let index;
      try {
        index = JSON.parse(area.value).index;
      } catch (e) {
        return;
      }
      try {
        const r = await fetchOrFail(`/entries/${index}/receipt`, T("what_receipt_entry"));
        const fresh = await r.json();
        if (fresh.entry !== JSON.parse(area.value).entry) return;
        area.value = JSON.stringify(fresh, null, 2);
        form.requestSubmit();
      } catch (e) {
        /* the verdict already says it could not be checked */
      }
    };
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

    // The witnesses the reader trusts: one verifier key a line, and how many must have cosigned.
    const witnessInput = document.getElementById("witness-keys");
    const quorumInput = document.getElementById("witness-quorum");
    async function readPolicy() {
      if (!witnessInput) return null;
      const keys = witnessInput.value.split("\n").map((l) => l.trim()).filter((l) => l);
      if (!keys.length) return null;
      const witnesses = [];
      for (const k of keys) witnesses.push(await parseWitnessKey(k));
      const asked = quorumInput.value.trim();
      const quorum = asked === "" ? witnesses.length : Number(asked);
      if (!Number.isInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
        throw new CheckError("bad_policy", T("bad_policy", { quorum: asked, of: String(witnesses.length) }));
      }
      return { witnesses, quorum };
    }

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
        .catch((e) => show(verdict, "unchecked", T("no_receipt_title"), T("no_receipt_detail", { index, error: e.message })));
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
        const policy = await readPolicy();
        const out = await checkReceipt(area.value, keyInput.value, report, current.checked ? fromThisServer : null, policy);
        const kind = ENTRY_KINDS.includes(out.entry.kind) ? T(`kind_${out.entry.kind}`) : out.entry.kind;
        const parts = [T("valid_detail", { index: String(out.index), kind, process: out.entry.process, size: String(out.size) })];
        if (out.latestSize !== undefined) parts.push(T("valid_still_held", { size: String(out.latestSize) }));
        if (out.witnessed) parts.push(T("valid_witnessed", { seen: String(out.witnessed.seen), of: String(out.witnessed.of) }));
        if (out.keyDiffers) parts.push(T("valid_key_differs"));
        show(verdict, "valid", T("valid_title"), parts.join(" "));
        document.getElementById("entry-json").textContent = out.entry.json;
        document.getElementById("leaf-hash").textContent = out.leafHash;
        entryBox.hidden = false;
      } catch (e) {
        const code = e instanceof CheckError ? e.code : "error";
        report(code, false, e.message);
        if (code === FETCH_FAILED) show(verdict, "unchecked", T("unchecked_title"), T("unchecked_detail", { message: e.message, code }));
        else if (code === "no_quorum") {
          // Not a verdict on the log: a receipt given at casting time is
          // cosigned moments later. This server's current receipt of the entry
          // may carry the cosignatures (asking names the entry to the server).
          show(verdict, "unchecked", T("not_witnessed_title"), T("not_witnessed_detail", { message: e.message, code }));
          offerWitnessed(area, form);
        } else show(verdict, "invalid", T("invalid_title"), T("invalid_detail", { message: e.message, code }));
        verdict.dataset.code = code;
      }
    });
    form.dataset.ready = "yes";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
