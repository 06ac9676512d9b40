// Runs in the wallet page (tests/web/test_secret_crypto.py): every secret
// budget of docs/spec/secret-vectors.json, computed and checked by
// /static/wallet/secret.js.
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
    spend: k.spend,
  });
  const verdict = (k) => {
    try {
      return s.verifyBallot({ ...context(k), encrypted: k.encrypted }) === true ? "accepted" : "no answer";
    } catch (e) {
      return e.code || String(e);
    }
  };
  return {
    ballots: v.budget_ballots.map((k) => {
      // the shape the rule asks for, from the manifest's rule and projects
      const shape = s.budgetShape(k.rule, k.proposals);
      // the fixed values, in the draw order the file states
      const draws = [
        ...k.randomness,
        ...k.nonces,
        ...k.ceiling_randomness,
        ...k.ceiling_nonces,
        ...k.floor_randomness,
        ...k.floor_nonces,
      ].map(BigInt);
      let drawn = 0;
      const out = s.encryptBallot({
        ...context(k),
        min: shape.min,
        max: shape.max,
        spend: shape.spend,
        selected: k.selected,
        rng: () => draws[drawn++],
      });
      return {
        shape,
        encrypted: out.encrypted,
        randomness: out.randomness.map(String),
        drawn,
        draws: draws.length,
        verdict: verdict(k),
      };
    }),
    refused: Object.fromEntries(v.budget_refused.map((k) => [k.name, verdict(k)])),
    // a ballot proven against other bounds holds for them
    proven: Object.fromEntries(
      v.budget_refused.filter((k) => k.proven_with).map((k) => [k.name, verdict({ ...k, spend: k.proven_with })]),
    ),
  };
}
