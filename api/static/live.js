// Live counts on a process page: the recount from /processes/{id}/tally,
// every few seconds while the process is not closed (docs/guides/web.md §2).
// The words come from the page (static/strings.js, docs/guides/web.md §4), and
// each phrase is rebuilt as the server first rendered it (urne.api.i18n.fill).
"use strict";

(function () {
  const PERIOD_MS = 5000;
  // web.py BAR_FULL and BAR_LEAST: a bar's full width and the least one that shows
  const BAR_FULL = 1000;
  const BAR_LEAST = 4;
  const S = window.UrneStrings;

  function setField(root, name, value) {
    for (const el of root.querySelectorAll(`[data-field="${name}"]`)) el.textContent = S.number(value);
  }

  function barWidth(count, top) {
    if (count <= 0) return "0";
    return Math.max((BAR_FULL * count) / Math.max(top, 1), BAR_LEAST).toFixed(1);
  }

  function petition(article, t) {
    const reached = document.getElementById("reached");
    if (reached) {
      const key = t.reached ? "petition_reached" : "petition_not_reached";
      S.fill(reached, key, { total: t.total, threshold: t.threshold, index: String(t.reached_at) }, t.total);
    }
    for (const k of ["signatures", "paper_signatures"]) setField(article, k, t[k]);
    const bar = document.getElementById("petition-progress");
    if (bar) {
      bar.max = t.threshold;
      bar.value = Math.min(t.total, t.threshold);
    }
  }

  // A majority judgment's or a Schulze vote's counts (docs/spec/counting-ranked.md):
  // profiles, tiers and matrices are drawn by the server; when the number of
  // ballots changes, the section is read again from the page as served now
  // (not while the reader is in it: the next period tries again).
  async function ranked(article, t) {
    const ballots = document.getElementById("ballots");
    const shown = document.getElementById("ranked");
    if (!shown || Number(shown.dataset.ballots) === t.ballots) return;
    if (shown.contains(document.activeElement)) return;
    const r = await fetch(location.pathname + location.search, { cache: "no-store" });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("ranked");
    if (!fresh || shown.contains(document.activeElement)) return;
    const open = new Set([...shown.querySelectorAll("details[open]")].map((d) => d.id));
    shown.replaceChildren(...[...fresh.childNodes].map((n) => document.importNode(n, true)));
    for (const d of shown.querySelectorAll("details")) if (open.has(d.id)) d.open = true;
    shown.dataset.ballots = fresh.dataset.ballots;
    if (ballots) S.fill(ballots, "ballots_online", { ballots: t.ballots }, t.ballots);
  }

  // A vote with delegation (docs/spec/delegation.md): how many votes came
  // through a delegation, and the delegates' table, read again from the page
  // as served now when a delegate stood, voted or gained or lost weight (not
  // while the reader is in it: the next period tries again).
  async function delegates(t) {
    const delegated = document.getElementById("delegated");
    if (delegated && typeof t.delegated === "number") S.fill(delegated, "delegated", { delegated: t.delegated }, t.delegated);
    const shown = document.getElementById("delegates");
    if (!shown || !t.delegates) return;
    const state = Object.keys(t.delegates)
      .sort()
      .map((k) => `${k}:${t.delegates[k].weight}:${t.delegates[k].voted ? 1 : 0}`)
      .join(" ");
    if (shown.dataset.state === state || shown.contains(document.activeElement)) return;
    const r = await fetch(location.pathname + location.search, { cache: "no-store" });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("delegates");
    if (!fresh || shown.contains(document.activeElement)) return;
    shown.replaceChildren(...[...fresh.childNodes].map((n) => document.importNode(n, true)));
    shown.dataset.state = fresh.dataset.state;
  }

  async function vote(article, t) {
    const ballots = document.getElementById("ballots");
    const key = Object.keys(t.paper_batches).length ? "ballots_online_plus_paper" : "ballots_online";
    if (ballots) S.fill(ballots, key, { ballots: t.ballots }, t.ballots);
    const top = Math.max(0, ...Object.values(t.total));
    for (const row of article.querySelectorAll("#vote-counts [data-proposal]")) {
      const id = row.dataset.proposal;
      const total = row.querySelector(".bar-total");
      if (total) S.fill(total, "vote_total", { total: t.total[id] }, t.total[id], "count");
      for (const k of ["counts", "paper_counts"]) {
        const cell = row.querySelector(`[data-count="${k}"]`);
        if (cell) cell.textContent = S.number(t[k][id]);
      }
      const fill = row.querySelector("rect.fill");
      if (fill) fill.setAttribute("width", barWidth(t.total[id], top));
      const winner = t.winners.includes(id);
      row.classList.toggle("winner", winner);
      const badge = row.querySelector('[data-badge="winner"]');
      if (badge) badge.hidden = !winner;
    }
    if ("delegates" in t) await delegates(t);
  }

  function budget(article, t) {
    const ballots = document.getElementById("ballots");
    if (ballots) S.fill(ballots, "ballots_online_and_paper", { ballots: t.ballots, paper_ballots: t.paper_ballots }, t.ballots);
    for (const k of ["spent", "budget"]) setField(article, k, t[k]);
    const m = document.getElementById("budget-meter");
    if (m) m.value = t.spent;
    const chosen = [];
    for (const row of article.querySelectorAll("#budget-counts [data-proposal]")) {
      const id = row.dataset.proposal;
      const approvals = row.querySelector(".approvals");
      if (approvals) S.fill(approvals, "approvals", { approvals: t.approvals[id] }, t.approvals[id], "count");
      const sel = t.selected.includes(id);
      row.classList.toggle("selected", sel);
      const badge = row.querySelector('[data-badge="selected"]');
      if (badge) badge.hidden = !sel;
      if (sel) chosen.push(row);
    }
    const list = document.getElementById("budget-selected");
    if (list) {
      const items = chosen.map((row) => {
        const li = document.createElement("li");
        li.dataset.proposal = row.dataset.proposal;
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = row.querySelector(".name").textContent;
        const cost = document.createElement("span");
        cost.className = "num";
        cost.textContent = S.number(Number(row.dataset.cost));
        li.append(name, " ", cost);
        return li;
      });
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "none";
        li.textContent = S.t("none_selected");
        items.push(li);
      }
      list.replaceChildren(...items);
    }
  }

  async function apply(article, t) {
    if (t.type === "petition") petition(article, t);
    else if (t.type === "vote" && ("grades" in t || "pairwise" in t)) await ranked(article, t);
    else if (t.type === "vote") await vote(article, t);
    else if (t.type === "budget") budget(article, t);
    const asOf = document.getElementById("as-of");
    if (asOf) {
      const now = new Date();
      asOf.dateTime = now.toISOString();
      const shown = new Intl.DateTimeFormat(S.lang(), { dateStyle: "long", timeStyle: "short", timeZone: "UTC" });
      asOf.textContent = `${shown.format(now)} UTC`;
    }
    article.dataset.updated = String(Number(article.dataset.updated || 0) + 1);
  }

  async function refresh(article) {
    try {
      const r = await fetch(`/processes/${encodeURIComponent(article.dataset.process)}/tally`, { cache: "no-store" });
      if (r.ok) await apply(article, await r.json());
    } catch (e) {
      // offline for a moment: the next period tries again
    }
  }

  function setup() {
    const article = document.getElementById("process");
    if (!article || article.dataset.live !== "yes") return;
    setInterval(() => refresh(article), PERIOD_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
