// Runs in the wallet page (tests/web/test_secret_crypto.py): every value of
// docs/spec/secret-vectors.json, computed and checked by /static/wallet/secret.js,
// those of its secret votes (`part` "votes") or of its secret budgets ("budgets").
async ({ vectors: v, part }) => {
  const c = await import("/static/wallet/core.js");
  const s = await import("/static/wallet/secret.js");
  const context = (k) => ({
    fingerprint: c.fromHex(k.fingerprint),
    key: c.fromHex(k.key),
    pseudonym: c.fromHex(k.pseudonym),
    options: k.options,
    min: k.min,
    max: k.max,
    spend: k.spend, // a vote's: none
  });
  const verdict = (k) => {
    try {
      return s.verifyBallot({ ...context(k), encrypted: k.encrypted }) === true ? "accepted" : "no answer";
    } catch (e) {
      return e.code || String(e);
    }
  };
  // the ballot of `k` as secret.js makes it (with `shape` for its bounds) from
  // the fixed values, in the draw order the file states: the ballot's, then a
  // budget's spending bounds'
  const DRAWS = ["randomness", "nonces", "ceiling_randomness", "ceiling_nonces", "floor_randomness", "floor_nonces"];
  const encrypt = (k, shape) => {
    const draws = DRAWS.flatMap((field) => k[field] ?? []).map(BigInt);
    let drawn = 0;
    const out = s.encryptBallot({ ...context(k), ...shape, selected: k.selected, rng: () => draws[drawn++] });
    return {
      encrypted: out.encrypted,
      randomness: out.randomness.map(String),
      drawn,
      draws: draws.length,
      verdict: verdict(k),
    };
  };
  if (part === "votes") {
    return {
      order: String(s.ORDER),
      hashes: v.hash_to_scalar.map((h) => String(s.hashToScalar(h.tag, h.parts.map(c.fromHex)))),
      ballots: v.ballots.map((k) => encrypt(k, {})),
      refused: Object.fromEntries(v.refused.map((k) => [k.name, verdict(k)])),
    };
  }
  if (part !== "budgets") throw new Error(`no part ${part} in the vectors`);
  return {
    ballots: v.budget_ballots.map((k) => {
      // the shape the rule asks for, from the manifest's rule and projects
      const shape = s.budgetShape(k.rule, k.proposals);
      return { shape, ...encrypt(k, { min: shape.min, max: shape.max, spend: shape.spend }) };
    }),
    refused: Object.fromEntries(v.budget_refused.map((k) => [k.name, verdict(k)])),
    // a ballot proven against other bounds holds for them
    proven: Object.fromEntries(
      v.budget_refused.filter((k) => k.proven_with).map((k) => [k.name, verdict({ ...k, spend: k.proven_with })]),
    ),
  };
}
