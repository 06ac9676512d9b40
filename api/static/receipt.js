// The receipt check, in the browser (docs/web.md §3, docs/verification.md §1).
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

  // -- RFC 9162 proofs --------------------------------------------------------------------

  function checkHashes(proof, what) {
    proof.forEach((h, i) => {
      if (h.length !== HASH_SIZE) {
        throw new CheckError("bad_hash_length", `${what}[${i}] is ${h.length} bytes, want ${HASH_SIZE}`);
      }
    });
  }

  // RFC 9162 §2.1.3.2: is `leaf` the leaf `index` of the tree of `size` with `root`?
  async function verifyInclusion(leaf, index, size, proof, root) {
    index = BigInt(index);
    size = BigInt(size);
    checkHashes(proof, "inclusion_proof");
    checkHashes([leaf, root], "hash");
    if (index >= size) {
      throw new CheckError("bad_index", `index ${index} is not below the tree size ${size}`);
    }
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0n) throw new CheckError("bad_proof", "the inclusion proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await hashChildren(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await hashChildren(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new CheckError("bad_proof", "the inclusion proof is too short");
    if (!equal(r, root)) {
      throw new CheckError(
        "root_mismatch",
        "the inclusion proof leads to another root than the checkpoint's: the entry, its index or the proof was changed",
      );
    }
  }

  // RFC 9162 §2.1.4.2: does the tree (size2, root2) extend the tree (size1, root1)?
  async function verifyConsistency(size1, size2, proof, root1, root2) {
    size1 = BigInt(size1);
    size2 = BigInt(size2);
    checkHashes(proof, "consistency proof");
    if (size1 > size2) throw new CheckError("bad_size", `size ${size2} is smaller than ${size1}`);
    // as verifier/tlog/proof.py: a proof from the empty tree proves nothing
    if (size1 === 0n) throw new CheckError("bad_size", "a consistency proof from size 0 proves nothing");
    if (size1 === size2) {
      if (proof.length !== 0) throw new CheckError("bad_proof", "a proof between equal sizes is empty");
      if (!equal(root1, root2)) {
        throw new CheckError("root_mismatch", "two different roots were signed for the same size");
      }
      return;
    }
    checkHashes([root1, root2], "root");
    if (proof.length === 0) throw new CheckError("bad_proof", "the consistency proof is empty");
    let path = proof;
    if ((size1 & (size1 - 1n)) === 0n) path = [root1, ...proof];
    let fn = size1 - 1n;
    let sn = size2 - 1n;
    while ((fn & 1n) === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) throw new CheckError("bad_proof", "the consistency proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        fr = await hashChildren(c, fr);
        sr = await hashChildren(c, sr);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = await hashChildren(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n || !equal(fr, root1) || !equal(sr, root2)) {
      throw new CheckError(
        "not_consistent",
        "the consistency proof fails: the newer checkpoint does not extend the receipt's (the log was rewritten)",
      );
    }
  }

  // -- keys, signed notes, checkpoints ----------------------------------------------------

  // A verifier key `<name>+<key ID, 8 hex>+<base64(0x01 || Ed25519 public key)>`.
  async function parseVerifierKey(vkey) {
    // as verifier/tlog/note.py Ed25519Verifier.from_vkey: the base64 may hold "+"
    const text = String(vkey).trim();
    const p1 = text.indexOf("+");
    const p2 = p1 < 0 ? -1 : text.indexOf("+", p1 + 1);
    const name = p1 < 0 ? "" : text.slice(0, p1);
    const id = p2 < 0 ? "" : text.slice(p1 + 1, p2).toLowerCase();
    const data = p2 < 0 ? "" : text.slice(p2 + 1);
    if (!name || !/^[0-9a-f]{8}$/.test(id)) {
      throw new CheckError("bad_vkey", "the trusted key is not a verifier key <name>+<8 hex digits>+<base64>");
    }
    if (/[\s\u0000-\u001f]/.test(name)) throw new CheckError("bad_vkey", "the key's name has blanks or controls");
    const raw = b64decode(data, "the trusted key");
    if (raw.length === 0) throw new CheckError("bad_vkey", "the trusted key's data is empty");
    const keyId = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
    if (hex(keyId) !== id) {
      throw new CheckError("key_id_mismatch", `the trusted key's ID is ${hex(keyId)}, the key says ${id}: it was mistyped`);
    }
    if (raw[0] !== 0x01) throw new CheckError("unsupported_algorithm", "the trusted key is not an Ed25519 key");
    if (raw.length !== 33) throw new CheckError("bad_vkey", "an Ed25519 key is 32 bytes");
    let key;
    try {
      key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new CheckError(
        "no_ed25519",
        "this browser cannot verify Ed25519 signatures (WebCrypto); use a current browser or `urne-verify receipt`",
      );
    }
    return { name, keyId, key, vkey: text };
  }

  // c2sp.org/signed-note: the text, up to and including the last "\n\n"'s first
  // newline, signed by a line "— <name> base64(key ID || signature)".
  async function openNote(note, trusted) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new CheckError("malformed_note", "the checkpoint is not a signed note (no blank line before its signatures)");
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (!block.endsWith("\n")) throw new CheckError("malformed_note", "the checkpoint's signature lines do not end with a newline");
    let matched = 0;
    for (const line of block.slice(0, -1).split("\n")) {
      if (!line.startsWith(EM_DASH)) {
        throw new CheckError("malformed_note", `a signature line does not start with an em dash: ${line.slice(0, 40)}`);
      }
      const rest = line.slice(EM_DASH.length);
      const sp = rest.indexOf(" ");
      const name = sp < 0 ? rest : rest.slice(0, sp);
      const raw = b64decode(sp < 0 ? "" : rest.slice(sp + 1), "a signature line");
      if (raw.length < 5) throw new CheckError("malformed_note", "a signature line is too short");
      if (name !== trusted.name || !equal(raw.slice(0, 4), trusted.keyId)) continue;
      matched++;
      if (raw.length === 4 + 64 && (await crypto.subtle.verify({ name: "Ed25519" }, trusted.key, raw.slice(4), enc.encode(text)))) {
        return text;
      }
    }
    if (matched === 0) {
      throw new CheckError("unknown_key", `the checkpoint carries no signature by the trusted key ${trusted.name}+${hex(trusted.keyId)}`);
    }
    throw new CheckError("bad_signature", "the checkpoint's signature by the trusted key does not verify: the checkpoint was changed");
  }

  function parseCheckpoint(text) {
    const lines = text.slice(0, -1).split("\n");
    if (!text.endsWith("\n") || lines.length < 3) throw new CheckError("malformed_checkpoint", "the checkpoint has fewer than three lines");
    const [origin, sizeText, rootText] = lines;
    if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeText) || BigInt(sizeText) > MAX_TREE_SIZE) {
      throw new CheckError("malformed_checkpoint", `the checkpoint's tree size ${JSON.stringify(sizeText)} is not a decimal size`);
    }
    const root = b64decode(rootText, "the checkpoint's root");
    if (root.length !== HASH_SIZE || b64encode(root) !== rootText) {
      throw new CheckError("malformed_checkpoint", "the checkpoint's root is not canonical base64 of 32 bytes");
    }
    return { origin, size: BigInt(sizeText), root };
  }

  async function openCheckpoint(note, trusted, origin) {
    const cp = parseCheckpoint(await openNote(note, trusted));
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
    await verifyInclusion(leaf, receipt.index, cp.size, receipt.proof, cp.root);
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
    const r = await fetch("/checkpoint", { cache: "no-store" });
    if (!r.ok) throw new CheckError("unreachable", `the log's latest checkpoint could not be fetched (HTTP ${r.status})`);
    const now = await openCheckpoint(await r.text(), trusted, origin);
    if (now.size < then.size) {
      throw new CheckError("log_shrank", `the log's latest checkpoint (size ${now.size}) is smaller than the receipt's (${then.size}): the log went back`);
    }
    let proof = [];
    if (now.size > then.size) {
      const q = await fetch(`/log/proof/consistency?size1=${then.size}&size2=${now.size}`, { cache: "no-store" });
      if (!q.ok) throw new CheckError("unreachable", `no consistency proof could be fetched (HTTP ${q.status})`);
      proof = (await q.json()).proof.map((h, i) => b64decode(h, `consistency proof[${i}]`));
    }
    await verifyConsistency(then.size, now.size, proof, then.root, now.root);
    return now.size;
  }

  window.UrneReceipt = { CheckError, checkReceipt, fromThisServer, verifyInclusion, verifyConsistency, parseVerifierKey, hashLeaf, b64decode, b64encode };

  // -- the page ---------------------------------------------------------------------------

  function show(verdict, ok, title, detail) {
    verdict.hidden = false;
    verdict.className = ok ? "verdict valid" : "verdict invalid";
    verdict.dataset.result = ok ? "valid" : "invalid";
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
        .catch((e) => show(verdict, false, "No receipt loaded", `The receipt of entry ${index} could not be fetched: ${e.message}`));
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
        show(verdict, true, "Valid receipt", detail);
        document.getElementById("entry-json").textContent = out.entry.json;
        document.getElementById("leaf-hash").textContent = out.leafHash;
        entryBox.hidden = false;
      } catch (e) {
        const code = e instanceof CheckError ? e.code : "error";
        report(code, false, e.message);
        show(verdict, false, "Not valid", `${e.message} (${code})`);
        verdict.dataset.code = code;
      }
    });
    form.dataset.ready = "yes";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
