// Runs in the wallet page (tests/web/test_secret_crypto.py): every value of
// docs/spec/secret-vectors.json, computed and checked by /static/wallet/secret.js.
async (v) => {
  const c = await import("/static/wallet/core.js");
  const s = await import("/static/wallet/secret.js");
  const context = (k) => ({
    fingerprint: c.fromHex(k.fingerprint),
    key: c.fromHex(k.key),
    pseudonym: c.fromHex(k.pseudonym),
    options: k.options,
    min: k.min,
    max: k.max,
  });
  const verdict = (k) => {
    try {
      return s.verifyBallot({ ...context(k), encrypted: k.encrypted }) === true ? "accepted" : "no answer";
    } catch (e) {
      return e.code || String(e);
    }
  };
  return {
    order: String(s.ORDER),
    hashes: v.hash_to_scalar.map((h) => String(s.hashToScalar(h.tag, h.parts.map(c.fromHex)))),
    ballots: v.ballots.map((k) => {
      // the fixed values, in the draw order the file states
      const draws = [...k.randomness, ...k.nonces].map(BigInt);
      let drawn = 0;
      const out = s.encryptBallot({ ...context(k), selected: k.selected, rng: () => draws[drawn++] });
      return {
        encrypted: out.encrypted,
        randomness: out.randomness.map(String),
        drawn,
        verdict: verdict(k),
      };
    }),
    refused: Object.fromEntries(v.refused.map((k) => [k.name, verdict(k)])),
  };
}
