"""``GET /docs``: a self-contained page that renders ``/openapi.json``.

No CDN, no external file: the style and the script are inline, and the
Content-Security-Policy allows exactly those two (by hash) plus fetching the
document from the same origin.
"""

from __future__ import annotations

import base64
import hashlib

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 2rem;color:#222}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ccc;margin-top:2rem;text-transform:capitalize}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}code,.path{font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:ui-monospace,monospace}
.GET{color:#1769aa}.POST{color:#2e7d32}.PUT{color:#8d5b00}.PATCH{color:#6a1b9a}
.DELETE{color:#b71c1c}.lock{color:#888;font-size:.85em}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:.15rem .5rem;text-align:left}
.muted{color:#666}
"""

_SCRIPT = """
"use strict";
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function typeOf(s) {
  if (!s) return "";
  if (s.$ref) return s.$ref.split("/").pop();
  let t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "");
  if (s.type === "array" && s.items) t = typeOf(s.items) + "[]";
  const lim = [];
  if (s.maxLength !== undefined) lim.push("max " + s.maxLength + " chars");
  if (s.maxItems !== undefined) lim.push("max " + s.maxItems + " items");
  if (s.enum) lim.push(s.enum.join(" | "));
  return lim.length ? t + " (" + lim.join(", ") + ")" : t;
}
function table(head, rows) {
  const t = el("table"), tr = el("tr");
  head.forEach(h => tr.appendChild(el("th", h)));
  t.appendChild(tr);
  rows.forEach(r => {
    const row = el("tr");
    r.forEach(c => row.appendChild(el("td", String(c))));
    t.appendChild(row);
  });
  return t;
}
function render(doc) {
  const root = document.getElementById("ops");
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("intro").textContent = doc.info.description || "";
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      (byTag[tag] = byTag[tag] || []).push([method.toUpperCase(), path, op]);
    }
  }
  for (const [tag, ops] of Object.entries(byTag)) {
    root.appendChild(el("h2", tag));
    for (const [method, path, op] of ops) {
      const d = el("details"), s = el("summary");
      s.appendChild(el("span", method, "m " + method));
      s.appendChild(el("span", path + " ", "path"));
      s.appendChild(el("span", op.summary || "", "muted"));
      if (op.security && op.security.length) s.appendChild(el("span", " \\u{1F512} bearer", "lock"));
      d.appendChild(s);
      if (op.description) d.appendChild(el("p", op.description));
      if (op.parameters && op.parameters.length) {
        d.appendChild(el("h4", "Parameters"));
        d.appendChild(table(["name", "in", "type", "required"], op.parameters.map(
          p => [p.name, p.in, typeOf(p.schema), p.required ? "yes" : "no"])));
      }
      const body = op.requestBody && op.requestBody.content["application/json"].schema;
      if (body) {
        const req = new Set(body.required || []);
        d.appendChild(el("h4", "JSON body (no other fields allowed)"));
        d.appendChild(table(["field", "type", "required"], Object.entries(body.properties).map(
          ([n, p]) => [n, typeOf(p), req.has(n) ? "yes" : "no"])));
      }
      d.appendChild(el("h4", "Responses"));
      d.appendChild(table(["status", "body"], Object.entries(op.responses).map(([code, r]) => {
        if (r.$ref) return [code, r.$ref.split("/").pop() + " (Error)"];
        const c = r.content || {}, k = Object.keys(c)[0];
        return [code, k ? (k === "application/json" ? typeOf(c[k].schema) : k) : ""];
      })));
      root.appendChild(d);
    }
  }
  root.appendChild(el("h2", "schemas"));
  for (const [name, s] of Object.entries(doc.components.schemas)) {
    const d = el("details"), req = new Set(s.required || []);
    d.appendChild(el("summary", name, "path"));
    if (s.properties) d.appendChild(table(["field", "type", "always present"],
      Object.entries(s.properties).map(([n, p]) => [n, typeOf(p), req.has(n) ? "yes" : "no"])));
    root.appendChild(d);
  }
}
fetch("openapi.json").then(r => r.json()).then(render).catch(e => {
  document.getElementById("ops").textContent = "could not load openapi.json: " + e;
});
"""

DOCS_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nodechat HTTP API</title>
<style>{_STYLE}</style></head>
<body><h1 id="title">nodechat HTTP API</h1>
<p id="intro" class="muted"></p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).
Authenticate with <code>Authorization: Bearer &lt;access_token&gt;</code>.
Errors are <code>{{"error": {{"code", "message", ...}}}}</code>.</p>
<div id="ops"></div>
<script>{_SCRIPT}</script>
</body></html>
"""


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


DOCS_CSP = (
    f"default-src 'none'; connect-src 'self'; style-src {_hash(_STYLE)}; "
    f"script-src {_hash(_SCRIPT)}; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
