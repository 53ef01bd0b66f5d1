#!/usr/bin/env node
// Validate Mermaid diagram text with Mermaid's own parser.
//
//   node tests/node/parse.mjs FILE...   one diagram per file
//   node tests/node/parse.mjs -         stdin: JSON array of {"name", "text"}
//
// Prints one JSON line per diagram: {"file"|"name", "ok": true, "type"} or
// {"file"|"name", "ok": false, "error", "detail"} (error = first line of
// the message, detail = all of it). Exit 0 if all ok, 1 if any failed,
// 2 on usage error.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const args = process.argv.slice(2);
if (args.length === 0 || (args.includes("-") && args.length > 1)) {
  process.stderr.write("usage: node parse.mjs FILE... | node parse.mjs - < diagrams.json\n");
  process.exit(2);
}

let items;
if (args[0] === "-") {
  try {
    items = JSON.parse(readFileSync(0, "utf8"));
    if (!Array.isArray(items)) throw new Error("expected a JSON array");
    items = items.map(({ name, text }) => {
      if (typeof name !== "string" || typeof text !== "string") {
        throw new Error('each item needs string "name" and "text"');
      }
      return { key: "name", id: name, text };
    });
  } catch (err) {
    process.stderr.write(`parse.mjs: bad stdin: ${err.message}\n`);
    process.exit(2);
  }
} else {
  items = args.map((file) => ({ key: "file", id: file, file }));
}

// Mermaid (and DOMPurify inside it) need a DOM at import time.
const { window } = new JSDOM("<!doctype html><html><body></body></html>", {
  pretendToBeVisual: true,
});
globalThis.window = window;
globalThis.document = window.document;
for (const name of ["Element", "HTMLElement", "Node", "DocumentFragment", "DOMParser", "NodeFilter"]) {
  globalThis[name] ??= window[name];
}
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

const firstLine = (err) =>
  String(err?.message ?? err).split("\n").find((l) => l.trim()) ?? "unknown error";

let failed = false;
for (const item of items) {
  const out = { [item.key]: item.id };
  try {
    const text = item.text ?? readFileSync(item.file, "utf8");
    const result = await mermaid.parse(text);
    Object.assign(out, { ok: true, type: result.diagramType });
  } catch (err) {
    failed = true;
    Object.assign(out, { ok: false, error: firstLine(err), detail: String(err?.message ?? err) });
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
window.close();
process.exitCode = failed ? 1 : 0; // not exit(): let piped stdout flush
