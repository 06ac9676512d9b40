// The words of the pages' scripts, in the page's language (docs/guides/web.md §4).
//
// The server writes them into the page as a JSON data block, which the
// Content-Security-Policy allows because it is never run:
//   <script type="application/json" id="urne-strings">{"key": "text", ...}</script>
// A text has python-format placeholders, "%(name)s" ("%%" is a per cent
// sign); a plural phrase is an object with one text per CLDR plural category
// ({"one": ..., "other": ..., "many": ...}), chosen with Intl.PluralRules for
// the page's language (<html lang>). Numbers are formatted with
// Intl.NumberFormat for that language.
"use strict";

(function () {
  let table = null;
  // keys a script asked for and the page did not give: a test reads this
  const missing = [];

  function strings() {
    if (table === null) {
      const block = document.getElementById("urne-strings");
      try {
        table = block ? JSON.parse(block.textContent) : {};
      } catch (e) {
        table = {};
      }
    }
    return table;
  }

  function lang() {
    return document.documentElement.lang || "en";
  }

  function number(n) {
    return new Intl.NumberFormat(lang()).format(n);
  }

  // A value as shown: numbers (and BigInts) formatted for the language, the
  // rest as text. Identifiers (a log index) are passed as text.
  function shown(v) {
    return typeof v === "number" || typeof v === "bigint" ? number(v) : String(v);
  }

  function phrase(key, count) {
    const p = strings()[key];
    if (p === undefined) {
      missing.push(key);
      return key;
    }
    if (typeof p === "string") return p;
    const category = new Intl.PluralRules(lang()).select(Number(count ?? 0));
    return p[category] ?? p.other;
  }

  const PLACEHOLDER = /%\((\w+)\)s|%%/g;

  // The text of `key` with its placeholders filled in.
  function t(key, values = {}, count = undefined) {
    return phrase(key, count).replace(PLACEHOLDER, (m, name) => {
      if (m === "%%") return "%";
      if (!(name in values)) missing.push(`${key}:${name}`);
      return shown(values[name]);
    });
  }

  // Replace the children of `el` with the phrase of `key`, each placeholder a
  // <span data-{attr}="name">: the markup the server renders (urne.api.i18n.fill).
  function fill(el, key, values = {}, count = undefined, attr = "field") {
    const text = phrase(key, count);
    const nodes = [];
    let end = 0;
    for (const m of text.matchAll(PLACEHOLDER)) {
      nodes.push(document.createTextNode(text.slice(end, m.index)));
      if (m[0] === "%%") nodes.push(document.createTextNode("%"));
      else {
        const span = document.createElement("span");
        span.dataset[attr] = m[1];
        if (!(m[1] in values)) missing.push(`${key}:${m[1]}`);
        span.textContent = shown(values[m[1]]);
        nodes.push(span);
      }
      end = m.index + m[0].length;
    }
    nodes.push(document.createTextNode(text.slice(end)));
    el.replaceChildren(...nodes.filter((n) => n.nodeType !== Node.TEXT_NODE || n.data !== ""));
  }

  window.UrneStrings = { t, fill, number, lang, missing };
})();
