// The wallet page of one process (/p/{id}/take-part; docs/guides/wallet.md).
//
// What it keeps, in IndexedDB ("urne-wallet", one record per log key and
// process), is the file urne-wallet keeps (verifier/citizen/wallet.py,
// format "urne-wallet-process/1"), so that "Export my wallet" gives a file the
// command reads and "Import" takes the command's file. Nothing is lost between
// two steps, as in the command:
//   - the pseudonym and the blinding state (r, B) are stored before the code is
//     sent; after a reload or a network cut, the page asks again with the same
//     code and the same B, and the issuer answers the same point again
//     (docs/spec/issuance.md §3): the code is never spent without the browser
//     holding the credential. The code itself is kept only until then;
//   - a ballot is stored as pending before it is posted, and a retry sends the
//     very same bytes: if the first post did arrive, the service refuses the
//     copy and the page finds the entry in the process's open data.
// Every string shown comes from the page (#wallet-strings), in its language.
// The record and the service's calls are record.js's, shared with the page an
// identity provider sends the citizen back to.
//
// A process whose manifest names an identity provider (docs/spec/eligibility.md)
// also offers "Take part with <provider>": the record and its sealed request
// are made and kept exactly as for a code, before the page leaves for the
// provider (identity.js); back on the callback page, the same B is answered
// and the credential kept, and the citizen comes back here to cast. The
// provider's logout link, kept for the tab's session, is offered here.
//
// A secret vote or budget (docs/secret-ballot.md): the ballot is encrypted and
// proven here (secret.js) under the election key, in the context of the
// manifest's fingerprint F. The page reads the manifest and the election key
// from their entries in the log, each checked with its inclusion proof against
// the log key, and computes F = SHA-256(manifest bytes) itself; the service's
// own `fingerprint` must agree. What the ballot proves comes from those bytes
// too (secret.ballotShape): a vote's min and max; a budget's number of
// projects and, when capped, its projects' costs, its budget and its floor,
// which the ballot proves it spends within. Cast-or-audit (Benaloh): as soon
// as a choice is valid, the page seals a ballot and shows its fingerprint
// (SHA-256 of the JCS of its `encrypted` field), before the citizen says what
// to do with it.
// "Cast" sends that very ballot and forgets its randomness; "Check this
// ballot first" opens it instead (its randomness and choice, checked here and
// offered as a urne-challenge/1 file), and it is never cast: a new ballot,
// with fresh randomness, is sealed for casting. So the page cannot know, when
// it encrypts, which ballots will be checked. The record keeps the choice of
// each cast ballot (`choices`, by seq, as urne-wallet's file does) to say
// "Your vote: ..." (or "Your projects: ...") on the citizen's own devices: the
// log never shows it. No randomness of a cast ballot is kept.
//
// A majority judgment (docs/spec/counting-ranked.md §1): a group of radio
// buttons per proposal; the ballot's `grades` go in the order of the proposals
// of the manifest as the log holds it (read with its inclusion proof under the
// log key, as a secret vote's), never in an order only the service states, and
// every proposal must be graded, with a grade of that manifest's scale, before
// anything is sent. A Schulze vote: a list per place (1st choice, 2nd...),
// each proposal at most once, no place left empty before a later one; the
// ballot's `choice` is the ranking, best first.
//
// A vote with delegation (docs/spec/delegation.md): besides casting, the
// citizen may delegate their vote to a delegate the page lists (by name), or
// revoke, and may stand as a delegate under a public name. The entries are
// authoring.py's `delegation` and `delegate`, signed as ballots are; a
// delegation's `seq` is the record's counter, the one ballots use (as
// urne-wallet's `Wallet.delegate`), so it grows with each. Each is stored as
// pending before it is posted, and its receipt checked, as a ballot's.

import { sha256 } from "@noble/hashes/sha2.js";
import * as core from "./core.js";
import * as identity from "./identity.js";
import * as store from "./record.js";
import * as secret from "./secret.js";

const FORMAT = "urne-wallet-process/1";
const ALREADY_IN = new Set(["already_signed", "already_voted", "stale_seq", "already_delegate"]);

const data = JSON.parse(document.getElementById("take-part-data").textContent);
const S = JSON.parse(document.getElementById("wallet-strings").textContent);
const $ = (id) => document.getElementById(id);
const RECORD_KEY = store.recordKey(data.log_key, data.process);
const numbers = new Intl.NumberFormat(document.documentElement.lang || "en");
const { fill } = store;

// -- storage and the service (record.js) ---------------------------------------------------

const { Refused, Offline, call } = store;

function load() {
  return store.load(RECORD_KEY);
}

function save(record) {
  return store.save(RECORD_KEY, record);
}

function locked(work) {
  return store.locked(RECORD_KEY, work);
}

function newRecord() {
  return {
    format: FORMAT,
    server: location.origin,
    issuer_url: location.origin,
    process: data.process,
    log_key: data.log_key,
    log_key_given: false,
    issuer: data.issuer,
    pseudonym_seed: core.b64encode(core.newSeed()),
    credential: null,
    blinding: null,
    seq: 0,
    pending: null,
    receipts: [],
  };
}

/** The file urne-wallet keeps: the record without what only the page uses. */
function exported(record) {
  const out = { ...record };
  delete out.code;
  if (!out.choices || !Object.keys(out.choices).length) delete out.choices; // a secret vote's only
  if (out.blinding) out.blinding = { r: out.blinding.r, blinded: out.blinding.blinded };
  return out;
}

// -- saying things ------------------------------------------------------------------------

function say(text, kind = "info") {
  const box = $("wallet-message");
  box.hidden = false;
  box.className = `notice ${kind}`;
  box.dataset.kind = kind;
  box.textContent = text;
}

/** What went wrong, as a sentence for the citizen, and its code. */
function sentence(e) {
  if (e instanceof Offline) return [S.offline, "offline"];
  if (e instanceof Refused || e instanceof core.WalletError) {
    // the identity provider's refusals name it: "FranceConnect did not answer..."
    const known = S[e.code] || S[`identity_${e.code}`];
    return [known ? fill(known, { name: PROVIDER_NAME }) : fill(S.refused, { message: e.message }), e.code];
  }
  return [fill(S.error, { message: e && e.message ? e.message : String(e) }), "error"];
}

function sayError(e) {
  const [text, code] = sentence(e);
  say(text, "error");
  $("wallet-message").dataset.code = code;
}

const titles = new Map(data.proposals.map((p) => [p.id, p]));
const GRADED = data.type === "vote" && data.rule.method === "majority-judgment";
const RANKED = data.type === "vote" && data.rule.method === "schulze";
const gradeLabels = new Map((data.scale || []).map((g) => [g.id, g.label]));
const DELEGATION = Array.isArray(data.delegates); // a vote with delegation
const PROVIDER_NAME = data.eligibility ? data.eligibility.name : ""; // its "Take part with ..." button
const delegateNames = new Map((data.delegates || []).map((d) => [d.key, d.name]));

function names(choice) {
  const named = choice.map((id) => (titles.has(id) ? titles.get(id).title : id));
  return named.length ? named.join(", ") : S.no_choice;
}

/** A choice in words: a vote's proposals, a budget's projects with their total. */
function sayChoice(choice) {
  const choices = names(choice);
  if (data.type === "budget") {
    const total = choice.reduce((n, id) => n + (titles.get(id)?.cost || 0), 0);
    return fill(S.your_projects, { choices, total: numbers.format(total), budget: numbers.format(data.rule.budget) });
  }
  return fill(S.your_vote, { choices });
}

/** What an entry of ours says, in words; a secret ballot's choice is the one
 * this browser kept (`record.choices`), never read from the log. */
function describe(entryBytes, record) {
  const obj = JSON.parse(new TextDecoder().decode(entryBytes));
  if (obj.kind === "delegate") return fill(S.your_standing, { name: obj.name });
  if (obj.kind === "delegation") {
    if (obj.to === null) return S.your_revocation;
    return fill(S.your_delegation, { name: delegateNames.get(obj.to) || obj.to });
  }
  if ("encrypted" in obj) {
    const kept = record && record.choices ? record.choices[String(obj.seq)] : undefined;
    return Array.isArray(kept) ? sayChoice(kept) : S.your_encrypted_ballot;
  }
  if (Array.isArray(obj.grades)) {
    // the ballot's grades are in the manifest's order, which the page's list follows
    const grades = obj.grades.map((g, k) => {
      const q = data.proposals[k];
      return fill(S.grade_of, { title: q ? q.title : `#${k + 1}`, grade: gradeLabels.get(g) || g });
    });
    return fill(S.your_grades, { grades: grades.join("; ") });
  }
  if (!("choice" in obj)) return fill(S.your_signature, { title: data.title });
  if (RANKED) {
    const ranked = obj.choice.map((id, k) => fill(S.ranked_item, { n: k + 1, title: titles.has(id) ? titles.get(id).title : id }));
    return fill(S.your_ranking, { choices: ranked.length ? ranked.join(", ") : S.no_choice });
  }
  return sayChoice(obj.choice);
}

// -- joining: the credential --------------------------------------------------------------

async function obtainCredential(record) {
  const blinded = core.b64decode(record.blinding.blinded, "blinded", core.CREDENTIAL_SIZE);
  const issuerKey = core.b64decode(data.issuer.public_key, "issuer key", core.ISSUER_PUBLIC_KEY_SIZE);
  const path = `/issuance/${encodeURIComponent(data.process)}`;
  let blindSignature;
  if (Number(data.issuer.shares) === 1) {
    const answer = await call("POST", path, JSON.stringify({ code: record.code, blinded: record.blinding.blinded }));
    blindSignature = core.b64decode(answer.blind_signature, "blind signature");
  } else {
    // t-of-n: each share in turn, each answer checked under its share key. A key
    // the offices made with no dealer (docs/spec/issuer-ceremony.md §5): each
    // office at its own address, checked under the key the manifest names.
    let sources;
    if (Array.isArray(data.issuer.offices)) {
      sources = data.issuer.offices.map((o) => ({ index: Number(o.share), base: String(o.url), key: o.public_key }));
    } else {
      const info = await call("GET", path);
      sources = Object.keys(info.share_public_keys)
        .map(Number)
        .map((index) => ({ index, base: "", key: info.share_public_keys[String(index)] }));
    }
    sources.sort((a, b) => a.index - b.index);
    const needed = Number(data.issuer.threshold);
    const shares = new Map();
    let lastRefusal = null;
    for (const { index, base, key } of sources) {
      let answer;
      try {
        answer = await call("POST", base + path, JSON.stringify({ code: record.code, blinded: record.blinding.blinded, share: index }));
      } catch (e) {
        // an office that refuses, or cannot be reached, is passed over
        if (e instanceof Refused || (base && e instanceof Offline)) {
          lastRefusal = e instanceof Refused ? e : lastRefusal;
          continue;
        }
        throw e;
      }
      const share = core.b64decode(answer.blind_signature, "blind signature share");
      const shareKey = core.b64decode(key, "share key");
      if (core.verifyBlindShare(shareKey, blinded, share)) shares.set(index, share);
      if (shares.size === needed) break;
    }
    if (shares.size < needed) throw lastRefusal || new core.WalletError("not_enough_shares", "not enough shares");
    blindSignature = core.combineShares(shares);
  }
  // unblinded, checked, kept; r has served: nothing links B to the pseudonym any more
  return store.keepCredential(RECORD_KEY, record, issuerKey, blindSignature);
}

/** The record as it stands, or a new one, with its pseudonym and its sealed
 * request (r, B) made if it has none yet; not saved. */
async function prepared() {
  let record = await load();
  if (record && record.credential) return record;
  if (!record) record = newRecord();
  if (!record.blinding) {
    const seed = core.b64decode(record.pseudonym_seed, "seed", core.SEED_SIZE);
    const b = core.blind(core.credentialMessage(data.process, core.publicKeyOf(seed)));
    record.blinding = { r: b.r.toString(16), blinded: core.b64encode(b.blinded) };
  }
  return record;
}

async function join(code) {
  const record = await prepared();
  if (record.credential) return record;
  record.code = code;
  await save(record); // before the request: an answer lost can be asked for again
  try {
    return await obtainCredential(record);
  } catch (e) {
    if (e instanceof Refused) {
      // refused for good: the code is not sent again at the next load (B is kept)
      delete record.code;
      await save(record);
    }
    throw e;
  }
}

/** Through the manifest's identity provider (docs/spec/eligibility.md): the
 * record and its sealed request are kept before the page is left, so that an
 * answer lost on the way back is asked for again with the same B after
 * logging in again; then the provider's address, or null when this browser
 * holds a credential already. The rest happens on the callback page
 * (identity.js), which finds the login under way in this tab's session. */
async function loginWithProvider() {
  const record = await prepared();
  if (record.credential) return null;
  await save(record); // before anything leaves the page
  return identity.authorize({
    process: data.process,
    logKey: data.log_key,
    name: data.eligibility.name,
    provider: data.eligibility.provider,
    blinded: core.b64decode(record.blinding.blinded, "blinded", core.CREDENTIAL_SIZE),
  });
}

// -- casting ------------------------------------------------------------------------------

/** The choice on the page: a list of proposal ids; for a majority judgment,
 * a grade id (or null) per proposal of the page; for Schulze, each place's
 * proposal id ("" for none), in order. */
function chosen() {
  if (GRADED) {
    return data.proposals.map((q) => {
      const input = document.querySelector(`#grades-${CSS.escape(q.id)} input:checked`);
      return input ? input.value : null;
    });
  }
  if (RANKED) return [...document.querySelectorAll("#choices select")].map((el) => el.value);
  return [...document.querySelectorAll("#choices input:checked")].map((i) => i.value);
}

/** How many proposals the choice grades, ranks or chooses. */
function chosenCount(choice) {
  return GRADED || RANKED ? choice.filter(Boolean).length : choice.length;
}

/** A majority judgment's problem: the proposals not graded yet. */
function gradesProblem(grades) {
  const missing = data.proposals.filter((q, k) => !grades[k]).map((q) => q.title);
  return missing.length ? fill(S.grade_missing, { titles: missing.join(", ") }) : "";
}

/** A Schulze ranking's problem: a gap, a proposal twice, too few or too many. */
function rankingProblem(places) {
  const rule = data.rule;
  const last = places.reduce((at, id, k) => (id ? k : at), -1);
  if (places.slice(0, last + 1).some((id) => !id)) return S.rank_gap;
  const seen = new Set();
  for (const id of places.filter(Boolean)) {
    if (seen.has(id)) return fill(S.rank_twice, { title: titles.has(id) ? titles.get(id).title : id });
    seen.add(id);
  }
  if (seen.size < rule.min || seen.size > rule.max) {
    return rule.min === rule.max ? fill(S.rank_exactly, { n: rule.min }) : fill(S.rank_between, { min: rule.min, max: rule.max });
  }
  return "";
}

/** What the rule says of the current choice: "" when it may be cast. */
function choiceProblem(choice) {
  const rule = data.rule;
  if (GRADED) return gradesProblem(choice);
  if (RANKED) return rankingProblem(choice);
  if (data.type === "vote") {
    if (choice.length < rule.min || choice.length > rule.max) {
      return rule.method === "single" ? S.choose_one : fill(S.choose_between, { min: rule.min, max: rule.max });
    }
  } else if (data.type === "budget") {
    const total = choice.reduce((n, id) => n + titles.get(id).cost, 0);
    if (rule.capped && total > rule.budget) return fill(S.over_budget, { over: numbers.format(total - rule.budget) });
    if (rule.capped && total * 100 < rule.budget * rule.min_share_percent) {
      return fill(S.min_share, { least: numbers.format(Math.ceil((rule.budget * rule.min_share_percent) / 100)) });
    }
    if (choice.length < rule.min_projects) {
      return rule.min_projects === 1 ? S.min_projects_one : fill(S.min_projects, { n: rule.min_projects });
    }
    if (rule.max_projects !== null && choice.length > rule.max_projects) {
      return rule.max_projects === 1 ? S.max_projects_one : fill(S.max_projects, { n: rule.max_projects });
    }
  }
  return "";
}

let touched = false; // no red before the citizen has chosen or tried to cast

function updateChoice() {
  if (data.type === "petition") return;
  const choice = chosen();
  if (data.type === "budget") {
    const total = choice.reduce((n, id) => n + titles.get(id).cost, 0);
    $("budget-total").textContent = fill(S.total, { total: numbers.format(total), budget: numbers.format(data.rule.budget) });
    const meter = $("budget-used");
    // over the budget, the bar is full and its colour the meter's "bad" one
    meter.max = Math.max(total, data.rule.budget);
    meter.low = meter.high = data.rule.budget;
    meter.optimum = 0;
    meter.value = total;
  }
  const problem = choiceProblem(choice);
  const hint = $("choice-hint");
  const n = chosenCount(choice);
  if (!touched && n === 0) {
    hint.textContent = "";
    hint.dataset.problem = "";
    return;
  }
  let counted = fill(S.chosen, { n });
  if (GRADED) counted = fill(S.graded, { n, total: data.proposals.length });
  else if (RANKED) counted = fill(S.ranked, { n });
  hint.textContent = problem || (data.type === "vote" && data.rule.method === "single" ? "" : counted);
  hint.dataset.problem = problem ? "yes" : "";
}

/** Post `entry` (bytes); a retry refused as a copy is looked up in the open data. */
async function post(record, entry, retry) {
  let receipt;
  try {
    receipt = await call("POST", "/entries", new TextDecoder().decode(entry));
  } catch (e) {
    if (e instanceof Offline) throw e; // stays pending: the page offers to send it again
    const found = retry && e instanceof Refused && ALREADY_IN.has(e.code) ? await find(entry) : null;
    if (!found) {
      record.pending = null; // refused for good: nothing of it is in the log
      forgetChoice(record, entry);
      await save(record);
      throw e;
    }
    receipt = found;
  }
  say(S.checking);
  const text = JSON.stringify(receipt);
  if (!core.equalBytes(core.b64decode(receipt.entry, "entry"), entry)) {
    throw new core.WalletError("bad_receipt", "the receipt is for another entry");
  }
  try {
    await window.UrneReceipt.checkReceipt(text, data.log_key, null, null);
  } catch (e) {
    throw new core.WalletError("bad_receipt", e.message);
  }
  record.pending = null;
  record.receipts.push(receipt);
  await save(record);
  return receipt;
}

async function find(entry) {
  let lines;
  try {
    const r = await fetch(`/processes/${encodeURIComponent(data.process)}/entries.jsonl`, { cache: "no-store" });
    if (!r.ok) return null;
    lines = (await r.text()).split("\n").slice(1);
  } catch (e) {
    return null;
  }
  const want = new TextDecoder().decode(entry);
  for (const line of lines) {
    if (!line) continue;
    const obj = JSON.parse(line);
    if (core.canonicalText(obj.entry) === want) return call("GET", `/entries/${obj.index}/receipt`);
  }
  return null;
}

function forgetChoice(record, entry) {
  if (!record.choices) return;
  const obj = JSON.parse(new TextDecoder().decode(entry));
  if (!record.receipts.some((r) => JSON.parse(new TextDecoder().decode(core.b64decode(r.entry, "entry"))).seq === obj.seq)) {
    delete record.choices[String(obj.seq)];
  }
}

/** Cast `choice`; for a secret vote, `sealed` is the ballot whose fingerprint
 * was shown (its randomness is dropped here, before anything is stored). */
async function cast(choice, sealed) {
  const record = await load();
  const seed = core.b64decode(record.pseudonym_seed, "seed", core.SEED_SIZE);
  const credential = core.b64decode(record.credential, "credential", core.CREDENTIAL_SIZE);
  let entry;
  if (sealed) {
    entry = core.signEntry(
      {
        v: 1,
        kind: "ballot",
        process: data.process,
        pseudonym: core.b64encode(core.publicKeyOf(seed)),
        credential: core.b64encode(credential),
        seq: record.seq,
        encrypted: sealed.encrypted,
      },
      seed,
    );
    record.choices = { ...(record.choices || {}), [String(record.seq)]: [...choice] };
  } else if (GRADED) {
    entry = core.signEntry(
      {
        v: 1,
        kind: "ballot",
        process: data.process,
        pseudonym: core.b64encode(core.publicKeyOf(seed)),
        credential: core.b64encode(credential),
        seq: record.seq,
        grades: await manifestGrades(choice),
      },
      seed,
    );
  } else {
    entry = core.ballotEntry(data.process, seed, credential, record.seq, data.type === "petition" ? null : choice);
  }
  record.pending = core.b64encode(entry);
  record.seq += 1;
  await save(record); // before the post: a retry sends these very bytes
  return post(record, entry, false);
}

// -- a vote with delegation: delegating, revoking, standing --------------------------------------

/** Sign `make(seed, credential, record)`'s entry, store it as pending, post it. */
async function sendSigned(make) {
  const record = await load();
  const seed = core.b64decode(record.pseudonym_seed, "seed", core.SEED_SIZE);
  const credential = core.b64decode(record.credential, "credential", core.CREDENTIAL_SIZE);
  const entry = make(seed, credential, record);
  record.pending = core.b64encode(entry);
  await save(record); // before the post: a retry sends these very bytes
  return post(record, entry, false);
}

/** Delegate to the delegate `to` (base64 key), or revoke (`to` null). */
function delegateTo(to) {
  return sendSigned((seed, credential, record) => {
    const entry = core.delegationEntry(data.process, seed, credential, record.seq, to);
    record.seq += 1;
    return entry;
  });
}

function standAs(name) {
  return sendSigned((seed, credential) => core.delegateEntry(data.process, seed, credential, name));
}

/** The entries of the kept receipts, in order. */
function keptEntries(record) {
  return (record ? record.receipts : []).map((r) => entryObject(core.b64decode(r.entry, "entry")));
}

// -- a majority judgment: the grades in the order of the manifest the log holds -------------

/** The grades chosen on the page (one per proposal of the page, in its order),
 * as the ballot carries them: one per proposal of the manifest read from the
 * log with its inclusion proof, in that manifest's order, each on its scale.
 * Nothing is sent when they do not fit (`bad_grades`). */
async function manifestGrades(choice) {
  const bytes = await loggedEntry(data.manifest_index, "bad_vote_manifest");
  let manifest;
  try {
    manifest = entryObject(bytes);
  } catch (e) {
    throw new core.WalletError("bad_vote_manifest", "not JSON");
  }
  const rule = manifest.rule || {};
  const fits =
    manifest.kind === "process" &&
    manifest.id === data.process &&
    manifest.type === "vote" &&
    rule.method === "majority-judgment" &&
    Array.isArray(manifest.proposals) &&
    Array.isArray(rule.grades);
  if (!fits) throw new core.WalletError("bad_vote_manifest", "not this process's manifest");
  const given = new Map(data.proposals.map((q, k) => [q.id, choice[k]]));
  const scale = new Set(rule.grades.map((g) => g && g.id));
  const ids = manifest.proposals.map((q) => q && q.id);
  const grades = ids.map((id) => given.get(id));
  const unknown = data.proposals.some((q) => !ids.includes(q.id));
  if (unknown || grades.some((g) => typeof g !== "string" || !scale.has(g))) {
    throw new core.WalletError("bad_grades", "a proposal or a grade the manifest does not have");
  }
  return grades;
}

// -- a secret vote or budget: the context, the sealed ballot, the challenge -------------------

const SECRET = data.secret; // null for a public process
let contextPromise = null;

function entryObject(bytes) {
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
}

/** Entry `index` of the log, its receipt checked against the log key: its bytes. */
async function loggedEntry(index, code) {
  const receipt = await call("GET", `/entries/${index}/receipt`);
  if (receipt.index !== index) throw new core.WalletError(code, `the service answered for entry ${receipt.index}`);
  try {
    await window.UrneReceipt.checkReceipt(JSON.stringify(receipt), data.log_key, null, null);
  } catch (e) {
    throw new core.WalletError(code, e.message);
  }
  return core.b64decode(receipt.entry, "entry");
}

/** The log index of the election key: in the page's data, or, when the
 * ceremony ended after the page was served, in the same page served now. */
async function keyIndex() {
  if (SECRET.key_index !== null) return SECRET.key_index;
  let fresh;
  try {
    const r = await fetch(location.pathname, { cache: "no-store" });
    const page = new DOMParser().parseFromString(await r.text(), "text/html");
    fresh = JSON.parse(page.getElementById("take-part-data").textContent);
  } catch (e) {
    throw new Offline(e.message);
  }
  if (!fresh.secret || fresh.secret.key_index === null) throw new core.WalletError("no_election_key", "no election key yet");
  SECRET.key_index = fresh.secret.key_index;
  return SECRET.key_index;
}

/** What encrypting needs: F, the election key, the proposals' ids and what
 * the rule asks a ballot to prove (min, max and a capped budget's spend),
 * every one from the log. */
async function loadContext() {
  const manifestBytes = await loggedEntry(SECRET.manifest_index, "bad_manifest");
  let manifest;
  try {
    manifest = entryObject(manifestBytes);
  } catch (e) {
    throw new core.WalletError("bad_manifest", "not JSON");
  }
  const proposals = Array.isArray(manifest.proposals) ? manifest.proposals.map((q) => q && q.id) : [];
  const sameProposals = proposals.length === data.proposals.length && proposals.every((id, k) => id === data.proposals[k].id);
  const sameProcess = manifest.kind === "process" && manifest.id === data.process && manifest.type === data.type;
  if (!sameProcess || !manifest.secret || !manifest.rule || !sameProposals) {
    throw new core.WalletError("bad_manifest", "not this process's manifest");
  }
  let shape;
  try {
    shape = secret.ballotShape(manifest); // the bounds and the costs of the manifest's bytes
  } catch (e) {
    throw new core.WalletError("bad_manifest", e.message);
  }
  const fingerprint = sha256(manifestBytes); // F, computed here
  const info = await call("GET", `/processes/${encodeURIComponent(data.process)}`);
  if (!info.secret || info.secret.fingerprint !== core.b64encode(fingerprint)) {
    throw new core.WalletError("fingerprint_mismatch", "the service's fingerprint is not the manifest's");
  }
  if (!info.secret.election_key) throw new core.WalletError("no_election_key", "no election key yet");
  const keyEntry = entryObject(await loggedEntry(await keyIndex(), "bad_election_key"));
  if (keyEntry.kind !== "election-key" || keyEntry.process !== data.process || keyEntry.key !== info.secret.election_key) {
    throw new core.WalletError("bad_election_key", "the election key in the log is not the service's");
  }
  const key = core.b64decode(keyEntry.key, "election key", 32);
  return { fingerprint, key, proposals, min: shape.min, max: shape.max, spend: shape.spend };
}

function context() {
  if (!contextPromise) {
    contextPromise = loadContext().catch((e) => {
      contextPromise = null; // asked again next time
      throw e;
    });
  }
  return contextPromise;
}

/** SHA-256 of the JCS of a ballot's `encrypted` field, as 16 groups of 4 hex digits. */
function ballotFingerprint(encrypted) {
  return core.hex(sha256(core.canonical(encrypted))).match(/.{4}/g).join(" ");
}

let sealed = null; // the ballot whose fingerprint is shown: {choice, encrypted, randomness, ...}
let sealing = null; // the sealing under way, if any
let sealGeneration = 0;
const opened = new Set(); // the fingerprints of checked ballots: never cast

function sameChoice(a, b) {
  return a.length === b.length && a.every((id, k) => id === b[k]);
}

async function sealBallot(choice) {
  const ctx = await context();
  const record = await load();
  const seed = core.b64decode(record.pseudonym_seed, "seed", core.SEED_SIZE);
  const pseudonym = core.publicKeyOf(seed);
  const selected = choice.map((id) => ctx.proposals.indexOf(id));
  const out = secret.encryptBallot({
    fingerprint: ctx.fingerprint,
    key: ctx.key,
    pseudonym,
    options: ctx.proposals.length,
    selected,
    min: ctx.min,
    max: ctx.max,
    spend: ctx.spend,
  });
  return { choice: [...choice], selected, pseudonym, ctx, encrypted: out.encrypted, randomness: out.randomness, fingerprint: ballotFingerprint(out.encrypted) };
}

function showSealed() {
  const ready = Boolean(sealed);
  $("sealed-ready").hidden = !ready;
  $("sealed-state").hidden = ready;
  $("sealed-fingerprint").textContent = ready ? sealed.fingerprint : "";
  $("sealed").dataset.fingerprint = ready ? sealed.fingerprint : "";
}

/** Seal a ballot for the current choice (after any change of it), quietly:
 * what goes wrong is said when the citizen casts or checks. */
function reseal() {
  if (!SECRET) return;
  sealed = null;
  const generation = ++sealGeneration;
  const choice = chosen();
  const held = document.body.dataset.wallet === "joined" && !$("step-ballot").hidden && !$("ballot-form").hidden;
  $("sealed-state").dataset.code = "";
  if (!held || choiceProblem(choice)) {
    $("sealed-state").textContent = S.sealed_choose;
    showSealed();
    sealing = null;
    return;
  }
  $("sealed-state").textContent = S.sealing;
  showSealed();
  sealing = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 0)); // the sentence shows first
    const s = await sealBallot(choice);
    if (generation === sealGeneration) {
      sealed = s;
      showSealed();
    }
    return s;
  })();
  sealing.catch((e) => {
    if (generation === sealGeneration) {
      const [text, code] = sentence(e); // no key yet, or no network: said here, quietly
      $("sealed-state").textContent = text;
      $("sealed-state").dataset.code = code;
      showSealed();
    }
  });
}

/** The sealed ballot of `choice` (the one shown, else one sealed now), taken
 * for one use only: cast, or opened, never both. */
async function takeSealed(choice) {
  if (sealing) {
    try {
      await sealing;
    } catch (e) {
      /* sealed again below, where the error is said */
    }
  }
  let s = sealed;
  if (!s || s.taken || !sameChoice(s.choice, choice)) s = await sealBallot(choice);
  // from here to the return, nothing waits: no one else can take the same ballot
  if (s.taken || opened.has(s.fingerprint)) throw new core.WalletError("error", "this ballot was already used");
  s.taken = true;
  if (sealed === s) sealed = null;
  showSealed();
  return s;
}

/** Cast-or-audit's audit: open the sealed ballot, check it here, offer its
 * challenge file, and never cast it. */
async function challenge(choice) {
  const s = await takeSealed(choice);
  opened.add(s.fingerprint); // whatever happens next, this one is never cast
  const { ctx } = s;
  const file = secret.challengeFile({
    process: data.process,
    pseudonym: s.pseudonym,
    fingerprint: ctx.fingerprint,
    key: ctx.key,
    encrypted: s.encrypted,
    proposals: ctx.proposals,
    selected: s.selected,
    randomness: s.randomness,
  });
  const text = `${JSON.stringify(file, null, 1)}\n`;
  // the file as it will be read back: its proofs, then its ciphertexts against the choice it shows
  const back = secret.readChallenge(JSON.parse(text), ctx.proposals);
  secret.verifyBallot({
    fingerprint: back.fingerprint,
    key: back.key,
    pseudonym: back.pseudonym,
    options: ctx.proposals.length,
    min: ctx.min,
    max: ctx.max,
    spend: ctx.spend,
    encrypted: back.encrypted,
  });
  secret.openChallenge({ key: back.key, encrypted: back.encrypted, selected: back.selected, randomness: back.randomness });
  const shown = back.selected.map((k) => ctx.proposals[k]);
  $("step-challenge").hidden = false;
  const verdict = $("challenge-verdict");
  verdict.className = "verdict valid";
  verdict.dataset.result = "valid";
  $("challenge-what").textContent = fill(S.challenge_holds, { choices: names(shown) });
  $("challenge-detail").textContent = S.challenge_checked;
  $("challenge-fingerprint").textContent = s.fingerprint;
  const link = $("challenge-download");
  link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  link.download = `challenge-${data.process}-${s.fingerprint.slice(0, 9).replace(" ", "")}.json`;
  // the manifest read with its inclusion proof under the log key this page trusts
  $("challenge-command").textContent = `urne-verify challenge ${link.download} --service ${location.origin} --log-key '${data.log_key}'`;
  $("step-challenge").dataset.fingerprint = s.fingerprint;
  $("step-challenge").scrollIntoView({ block: "nearest" });
}

async function castSecret(choice) {
  const s = await takeSealed(choice);
  s.randomness = null; // it leaves now: its randomness is dropped, never stored
  return locked(() => cast(choice, s));
}

async function retryPending() {
  const record = await load();
  return post(record, core.b64decode(record.pending, "pending"), true);
}

// -- the page -----------------------------------------------------------------------------

/** A moment after casting, keep the witnessed receipt if the log has one. */
function laterWitnessed(receipt) {
  setTimeout(async () => {
    const better = await witnessed(receipt);
    if (!better) return;
    const record = await locked(async () => {
      const now = await load(); // as it is now, after anything cast meanwhile
      const k = now.receipts.findIndex((r) => r.index === receipt.index);
      if (k < 0) return now;
      now.receipts[k] = better;
      await save(now);
      return now;
    });
    const shown = $("receipt-download");
    if (shown.download === `receipt-${data.process}-${receipt.index}.json`) showReceipt(better, record);
    listReceipts(record);
  }, 1500);
}

function showReceipt(receipt, record) {
  const entry = core.b64decode(receipt.entry, "entry");
  $("step-receipt").hidden = false;
  const verdict = $("receipt-verdict");
  verdict.className = "verdict valid";
  verdict.dataset.result = "valid";
  $("receipt-what").textContent = describe(entry, record);
  const obj = entryObject(entry);
  const sealedNote = "encrypted" in obj ? ` ${S.secret_receipt} ${fill(S.sealed_as, { fingerprint: ballotFingerprint(obj.encrypted) })}` : "";
  $("receipt-detail").textContent = `${fill(S.receipt_valid, { index: receipt.index })}${sealedNote} ${S.receipt_kept}`;
  const link = $("receipt-download");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 1)], { type: "application/json" }));
  link.download = `receipt-${data.process}-${receipt.index}.json`;
}

/** The position among `receipts` of the ballot that counts (a petition's
 * first signature, a vote's last ballot) and of the last delegation. */
function countingIndex(receipts) {
  const kinds = receipts.map((r) => entryObject(core.b64decode(r.entry, "entry")).kind);
  const ballots = kinds.flatMap((k, i) => (k === "ballot" ? [i] : []));
  const delegation = kinds.lastIndexOf("delegation");
  return { kinds, ballot: ballots.length ? (data.type === "petition" ? ballots[0] : ballots[ballots.length - 1]) : -1, delegation };
}

/** What a kept receipt's entry is now: counts (or in force), or replaced. */
function receiptStatus(counting, i) {
  const kind = counting.kinds[i];
  if (kind === "delegate") return [S.standing_recorded, true];
  if (kind === "delegation") return i === counting.delegation ? [S.delegation_counts, true] : [S.delegation_replaced, false];
  return i === counting.ballot ? [S.counts, true] : [S.replaced, false];
}

// The latest re-check of the receipts (one result per receipt), kept across renders.
let lastChecks = [];

function listReceipts(record, checks) {
  if (checks) lastChecks = checks;
  const list = $("receipt-list");
  list.replaceChildren();
  const receipts = record ? record.receipts : [];
  $("my-receipts").hidden = receipts.length === 0;
  const counting = countingIndex(receipts);
  receipts.forEach((receipt, i) => {
    const li = document.createElement("li");
    li.dataset.index = receipt.index;
    const what = describe(core.b64decode(receipt.entry, "entry"), record);
    const [status, counts] = receiptStatus(counting, i);
    li.textContent = `${what} (#${receipt.index}, ${status}) `;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 1)], { type: "application/json" }));
    link.download = `receipt-${data.process}-${receipt.index}.json`;
    link.textContent = S.download;
    link.className = "receipt-download";
    li.append(link);
    li.dataset.counts = counts ? "yes" : "no";
    const check = lastChecks[i];
    if (check) {
      li.dataset.check = check.result;
      li.append(` — ${check.text}`);
    }
    list.append(li);
  });
}

/** The service's current receipt of the same entry, if it carries more
 * signatures (witnesses' cosignatures gathered since casting) and checks; else null. */
async function witnessed(receipt) {
  try {
    const newer = await call("GET", `/entries/${receipt.index}/receipt`);
    if (newer.entry !== receipt.entry) return null;
    const count = (r) => window.UrneReceipt.parseNote(r.checkpoint).signatures.length;
    if (count(newer) <= count(receipt)) return null;
    await window.UrneReceipt.checkReceipt(JSON.stringify(newer), data.log_key, null, null);
    return newer;
  } catch (e) {
    return null;
  }
}

/** Replace each kept receipt by its witnessed version where there is one. */
async function upgrade(record) {
  let changed = false;
  for (let i = 0; i < record.receipts.length; i++) {
    const better = await witnessed(record.receipts[i]);
    if (better) {
      record.receipts[i] = better;
      changed = true;
    }
  }
  if (changed) await save(record);
  return record;
}

async function recheck() {
  const record = await upgrade(await load());
  const checks = [];
  for (const receipt of record.receipts) {
    try {
      const out = await window.UrneReceipt.checkReceipt(JSON.stringify(receipt), data.log_key, null, window.UrneReceipt.fromThisServer);
      checks.push({ result: "valid", text: fill(S.still_in_log, { size: numbers.format(out.latestSize) }) });
    } catch (e) {
      const unchecked = e && e.code === "fetch_failed";
      checks.push({ result: unchecked ? "unchecked" : "invalid", text: fill(unchecked ? S.could_not_check : S.not_in_log, { message: e.message }) });
    }
  }
  listReceipts(record, checks);
  $("my-receipts").dataset.checked = "yes";
}

/** Show what the record allows now. */
function render(record) {
  const open = data.status === "open" || data.status === "upcoming";
  const held = Boolean(record && record.credential);
  $("step-code").hidden = held || !open;
  $("step-credential").hidden = !held;
  $("step-ballot").hidden = !held || !open;
  const pending = Boolean(record && record.pending);
  $("pending").hidden = !pending;
  if (pending) $("pending-text").textContent = fill(S.pending, { what: describe(core.b64decode(record.pending, "pending"), record) });
  const castButton = $("cast");
  castButton.disabled = pending;
  if (SECRET) $("challenge").disabled = pending;
  const entries = keptEntries(record);
  const ballots = entries.filter((e) => e.kind === "ballot").length;
  const signed = data.type === "petition" && ballots > 0;
  $("ballot-form").hidden = Boolean(signed);
  if (data.type !== "petition" && ballots) {
    if (data.rule.revoting) castButton.textContent = data.type === "budget" ? S.rechoose : S.revote;
    $("ballot-form").hidden = !data.rule.revoting;
  }
  if (DELEGATION) renderDelegation(record, entries, held && open, pending);
  if (data.eligibility) {
    // logging out at the provider, offered once it answered in this tab's session
    const logout = held ? identity.logoutLink(data.log_key, data.process) : null;
    $("identity-logout").hidden = !logout;
    if (logout) $("identity-logout-link").href = logout;
  }
  listReceipts(record);
  $("export").hidden = !record;
  document.body.dataset.wallet = held ? "joined" : record && record.blinding ? "joining" : "new";
}

/** The delegation's and the standing's sections, as the record stands. */
function renderDelegation(record, entries, shown, pending) {
  $("step-delegation").hidden = !shown;
  $("step-stand").hidden = !shown;
  if (!shown) return;
  const mine = core.b64encode(core.publicKeyOf(core.b64decode(record.pseudonym_seed, "seed", core.SEED_SIZE)));
  const delegations = entries.filter((e) => e.kind === "delegation");
  const last = delegations.length ? delegations[delegations.length - 1] : null;
  const now = $("delegation-now");
  now.hidden = !last;
  if (last) now.textContent = last.to === null ? S.revoked_now : fill(S.delegated_now, { name: delegateNames.get(last.to) || last.to });
  now.dataset.to = last && last.to ? last.to : "";
  if ($("delegation-form")) {
    // one's own key is no choice (self_delegation)
    for (const row of document.querySelectorAll(".delegate-choice")) {
      const own = row.dataset.delegate === mine;
      row.hidden = own;
      row.querySelector("input").disabled = own;
    }
    $("delegate").disabled = pending;
    $("revoke").hidden = !(last && last.to !== null);
    $("revoke").disabled = pending;
  }
  const stood = entries.find((e) => e.kind === "delegate");
  $("stand-form").hidden = Boolean(stood);
  $("standing").hidden = !stood;
  if (stood) {
    $("standing-text").textContent = fill(S.stood_as, { name: stood.name });
    $("my-key").textContent = mine;
  }
  $("stand").disabled = pending;
}

async function guarded(button, work) {
  // casting and checking a secret ballot take turns: both wait while either runs
  const buttons = button && SECRET && ["cast", "challenge"].includes(button.id) ? [$("cast"), $("challenge")] : [button];
  for (const b of buttons) if (b) b.disabled = true;
  try {
    await work();
  } catch (e) {
    sayError(e);
  } finally {
    for (const b of buttons) if (b) b.disabled = false;
    try {
      render(await load());
    } catch (e) {
      /* storage gone: said already */
    }
  }
}

async function importFile(file) {
  let obj;
  try {
    obj = JSON.parse(await file.text());
  } catch (e) {
    throw new core.WalletError("bad_wallet", "not JSON");
  }
  const ok =
    obj && obj.format === FORMAT && obj.process === data.process && obj.log_key === data.log_key && typeof obj.pseudonym_seed === "string";
  if (!ok) throw new core.WalletError("bad_wallet", "not this process's wallet");
  const seed = core.b64decode(obj.pseudonym_seed, "seed", core.SEED_SIZE);
  if (obj.credential !== null) {
    const issuerKey = core.b64decode(data.issuer.public_key, "issuer key", core.ISSUER_PUBLIC_KEY_SIZE);
    const credential = core.b64decode(obj.credential, "credential", core.CREDENTIAL_SIZE);
    if (!core.verifyCredential(issuerKey, data.process, core.publicKeyOf(seed), credential)) {
      throw new core.WalletError("bad_wallet", "its credential does not verify");
    }
  }
  const mine = await load();
  const holds = mine && (mine.credential || mine.receipts.length || mine.blinding);
  if (holds && mine.pseudonym_seed !== obj.pseudonym_seed) {
    // a credential, receipts, or an issuance under way (its code maybe spent): kept
    throw new core.WalletError("another_wallet", "another wallet is here");
  }
  const record = {
    ...newRecord(),
    issuer: data.issuer,
    pseudonym_seed: obj.pseudonym_seed,
    credential: obj.credential,
    blinding: obj.blinding || (mine && mine.pseudonym_seed === obj.pseudonym_seed ? mine.blinding : null),
    seq: Number.isSafeInteger(obj.seq) && obj.seq >= 0 ? obj.seq : 0,
    pending: obj.pending || null,
    receipts: Array.isArray(obj.receipts) ? obj.receipts : [],
  };
  // a secret vote's choices: the file's (urne-wallet writes them too), and this browser's own
  const theirs = obj.choices === undefined ? {} : obj.choices;
  const fine = (v) => Array.isArray(v) && v.every((id) => typeof id === "string");
  const isObject = theirs && typeof theirs === "object" && !Array.isArray(theirs);
  if (!isObject || !Object.entries(theirs).every(([k, v]) => /^(0|[1-9][0-9]*)$/.test(k) && fine(v))) {
    throw new core.WalletError("bad_wallet", "choices: expected lists of proposal ids by seq");
  }
  const ours = mine && mine.pseudonym_seed === obj.pseudonym_seed && mine.choices ? mine.choices : {};
  const choices = { ...ours, ...theirs };
  if (Object.keys(choices).length) record.choices = choices;
  await save(record);
  say(S.imported, "ok");
}

function exportFile(record) {
  const blob = new Blob([`${JSON.stringify(exported(record), null, 1)}\n`], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${data.process}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  say(S.exported, "ok");
}

/** Delegate, revoke, stand: each from its form, its receipt checked and shown. */
function setupDelegation() {
  const send = (button, waiting, work) =>
    guarded(button, async () => {
      say(waiting);
      const receipt = await locked(work);
      $("wallet-message").hidden = true;
      showReceipt(receipt, await load());
      laterWitnessed(receipt);
    });
  const form = $("delegation-form");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const picked = form.querySelector("input[name=delegate]:checked:not(:disabled)");
      if (!picked) {
        say(S.choose_delegate, "error");
        const first = form.querySelector("input[name=delegate]:not(:disabled)");
        if (first) first.focus();
        return;
      }
      send($("delegate"), S.delegating, () => delegateTo(picked.value));
    });
    $("revoke").addEventListener("click", () => send($("revoke"), S.delegating, () => delegateTo(null)));
  }
  $("stand-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("stand-name").value.trim();
    const length = [...name].length;
    if (length < 1 || length > 200) {
      say(S.no_name, "error");
      $("stand-name").focus();
      return;
    }
    send($("stand"), S.standing, () => standAs(name));
  });
}

async function setup() {
  // A link may carry the code in its fragment (#code=...), which is never sent
  // to a server; it is taken out of the address bar at once.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("code")) {
    $("code").value = fragment.get("code");
    history.replaceState(null, "", location.pathname + location.search);
  }
  let record;
  try {
    record = await load();
  } catch (e) {
    say(S.no_storage, "error");
    return;
  }
  render(record);
  updateChoice();

  $("code-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("code").value.trim();
    if (!code) {
      $("code").focus();
      return;
    }
    guarded($("get-credential"), async () => {
      say(S.asking);
      await locked(() => join(code));
      $("wallet-message").hidden = true; // the credential's own section says it
      $("step-ballot").hidden = false;
    }).then(reseal);
  });
  if (data.eligibility) {
    $("identity-login").addEventListener("click", () =>
      guarded($("identity-login"), async () => {
        say(fill(S.identity_leaving, { name: PROVIDER_NAME }));
        const url = await locked(() => loginWithProvider());
        if (url === null) {
          $("wallet-message").hidden = true; // held already: the credential's section says it
          return;
        }
        location.assign(url);
      }),
    );
    // the link is good once: the provider ends its session
    $("identity-logout-link").addEventListener("click", () => identity.forgetLogout(data.log_key, data.process));
    // back from the provider's page with the browser's Back button: not leaving any more
    window.addEventListener("pageshow", (ev) => {
      if (ev.persisted && $("wallet-message").dataset.kind === "info") $("wallet-message").hidden = true;
    });
  }
  $("ballot-form").addEventListener("change", () => {
    touched = true;
    updateChoice();
    reseal();
  });
  // The choice made, or null after saying what is wrong with it.
  const validChoice = () => {
    const choice = chosen();
    const problem = choiceProblem(choice);
    touched = true;
    updateChoice();
    if (problem) {
      say(problem, "error");
      return null;
    }
    return choice;
  };
  $("ballot-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    let choice = validChoice();
    if (choice === null) {
      if (GRADED) {
        // to the first proposal still to grade
        const k = chosen().findIndex((g) => !g);
        if (k >= 0) document.querySelector(`#grades-${CSS.escape(data.proposals[k].id)} input`).focus();
      }
      return;
    }
    if (RANKED) choice = choice.filter(Boolean);
    guarded($("cast"), async () => {
      say(S.casting);
      const receipt = SECRET ? await castSecret(choice) : await locked(() => cast(choice));
      $("wallet-message").hidden = true;
      showReceipt(receipt, await load());
      laterWitnessed(receipt);
    }).then(reseal);
  });
  if (SECRET) {
    $("challenge").addEventListener("click", () => {
      const choice = validChoice();
      if (choice === null) return;
      guarded($("challenge"), async () => {
        $("wallet-message").hidden = true;
        await challenge(choice);
      }).then(reseal);
    });
  }
  if (DELEGATION) setupDelegation();
  $("retry").addEventListener("click", () =>
    guarded($("retry"), async () => {
      say(S.casting);
      const receipt = await locked(() => retryPending());
      $("wallet-message").hidden = true;
      showReceipt(receipt, await load());
    }),
  );
  $("recheck").addEventListener("click", () => guarded($("recheck"), () => locked(recheck)));
  $("export").addEventListener("click", async () => {
    const mine = await load();
    if (!mine) say(S.no_wallet, "error");
    else exportFile(mine);
  });
  $("import").addEventListener("change", () => {
    const file = $("import").files[0];
    if (file) {
      guarded(null, () => locked(() => importFile(file))).then(() => {
        $("import").value = "";
        reseal();
      });
    }
  });

  // A reload in the middle of issuance: the same code and B again.
  if (record && !record.credential && record.blinding && record.code && data.status !== "closed" && data.status !== "ended") {
    guarded($("get-credential"), async () => {
      say(S.resuming);
      await locked(async () => {
        const now = await load(); // another tab may have finished it
        if (now && !now.credential && now.blinding && now.code) await obtainCredential(now);
      });
      $("wallet-message").hidden = true;
    }).then(reseal);
  }
  reseal();
  document.body.dataset.ready = "yes";
}

setup();

export { load }; // for the tests, which read the record
