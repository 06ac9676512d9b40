// Runs in the wallet page (tests/web/test_crypto_vectors.py): every value of
// docs/spec/wallet-vectors.json, computed by /static/wallet/core.js.
async (v) => {
  const c = await import("/static/wallet/core.js");
  const cases = v.cases.map((k) => {
    const seed = c.fromHex(k.seed);
    const pseudonym = c.publicKeyOf(seed);
    const message = c.credentialMessage(k.process, pseudonym);
    const b = c.blind(message, BigInt("0x" + k.r));
    const credential = c.unblind(message, b.r, c.fromHex(k.blind_signature), c.fromHex(k.issuer_public_key));
    const entry = c.ballotEntry(k.process, seed, credential, k.seq, k.choice);
    return {
      pseudonym: c.hex(pseudonym),
      credential_message: c.hex(message),
      hash_to_g1: c.hex(c.hashToG1(message).toBytes(true)),
      blinded: c.hex(b.blinded),
      credential: c.hex(credential),
      verifies: c.verifyCredential(c.fromHex(k.issuer_public_key), k.process, pseudonym, credential),
      signing_bytes: c.hex(c.signingBytes(JSON.parse(k.entry))),
      signature: JSON.parse(new TextDecoder().decode(entry)).sig,
      entry: new TextDecoder().decode(entry),
    };
  });
  const t = v.threshold;
  const shares = new Map(Object.entries(t.blind_shares).map(([i, s]) => [Number(i), c.fromHex(s)]));
  const combined = c.combineShares(shares);
  const message = c.credentialMessage(t.process, c.fromHex(t.pseudonym));
  return {
    cases,
    threshold: {
      shares_verify: [...shares].map(([i, s]) => c.verifyBlindShare(c.fromHex(t.share_public_keys[String(i)]), c.fromHex(t.blinded), s)),
      combined: c.hex(combined),
      credential: c.hex(c.unblind(message, BigInt("0x" + t.r), combined, c.fromHex(t.issuer_public_key))),
    },
    canonical: v.canonical.map((x) => c.canonicalText(x.value)),
    refused: Object.fromEntries(Object.entries(v.g1_refused).map(([n, h]) => [n, !c.isG1Point(c.fromHex(h))])),
    wrong_answer: (() => {
      const k = v.cases[0];
      const message = c.credentialMessage(k.process, c.fromHex(k.pseudonym));
      try {
        c.unblind(message, BigInt("0x" + k.r) + 1n, c.fromHex(k.blind_signature), c.fromHex(k.issuer_public_key));
        return "accepted";
      } catch (e) {
        return e.code;
      }
    })(),
  };
}
