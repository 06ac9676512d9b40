// Live counts on a process page: the recount from /processes/{id}/tally,
// every few seconds while the process is not closed (docs/guides/web.md §2).
"use strict";

(function () {
  const PERIOD_MS = 5000;

  function setField(root, name, value) {
    for (const el of root.querySelectorAll(`[data-field="${name}"]`)) el.textContent = String(value);
  }

  function apply(article, t) {
    if (t.type === "petition") {
      for (const k of ["total", "threshold", "signatures", "paper_signatures"]) setField(article, k, t[k]);
      const bar = document.getElementById("petition-progress");
      if (bar) {
        bar.max = t.threshold;
        bar.value = Math.min(t.total, t.threshold);
      }
      setField(article, "reached", t.reached ? `Threshold reached at log index ${t.reached_at}.` : "Threshold not reached yet.");
    } else if (t.type === "vote") {
      setField(article, "ballots", t.ballots);
      const top = Math.max(1, ...Object.values(t.total));
      for (const row of article.querySelectorAll("#vote-counts tr[data-proposal]")) {
        const id = row.dataset.proposal;
        for (const k of ["counts", "paper_counts", "total"]) {
          const cell = row.querySelector(`[data-count="${k}"]`);
          if (cell) cell.textContent = String(t[k][id]);
        }
        const m = row.querySelector("meter");
        if (m) {
          m.max = top;
          m.value = t.total[id];
        }
        row.classList.toggle("winner", t.winners.includes(id));
      }
    } else if (t.type === "budget") {
      for (const k of ["ballots", "paper_ballots", "spent", "budget"]) setField(article, k, t[k]);
      const m = document.getElementById("budget-meter");
      if (m) m.value = t.spent;
      for (const row of article.querySelectorAll("#budget-counts tr[data-proposal]")) {
        const id = row.dataset.proposal;
        const cell = row.querySelector('[data-count="approvals"]');
        if (cell) cell.textContent = String(t.approvals[id]);
        const sel = t.selected.includes(id);
        row.classList.toggle("selected", sel);
        const s = row.querySelector('[data-field="selected"]');
        if (s) s.textContent = sel ? "selected" : "";
      }
    }
    const asOf = document.getElementById("as-of");
    if (asOf) asOf.textContent = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
    article.dataset.updated = String(Number(article.dataset.updated || 0) + 1);
  }

  async function refresh(article) {
    try {
      const r = await fetch(`/processes/${encodeURIComponent(article.dataset.process)}/tally`, { cache: "no-store" });
      if (r.ok) apply(article, await r.json());
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
