// assets/verify.js under Node: its pure part against the built module, and
// its page part on a minimal stand-in for a browser's DOM. Run by
// tests/node.rs, which passes the module and the cases with the reports
// chorus-core gives natively:
//   CHORUS_WASM=<module.wasm> CHORUS_WASM_SCRIPT=<chorus-verify-*.js>
//   CHORUS_CASES=<cases.json> node --test tests/verify.test.js
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const VERIFY_JS_PATH = path.join(__dirname, "../assets/verify.js");
const api = require(VERIFY_JS_PATH);

if (!process.env.CHORUS_WASM || !process.env.CHORUS_CASES || !process.env.CHORUS_WASM_SCRIPT) {
  test("verify.js against the module", { skip: "run through `cargo test -p chorus-verify-assets --test node`" }, () => {});
  return;
}

const wasm = new Uint8Array(fs.readFileSync(process.env.CHORUS_WASM));
const wasmScript = fs.readFileSync(process.env.CHORUS_WASM_SCRIPT, "utf8");
const verifyJs = fs.readFileSync(VERIFY_JS_PATH, "utf8");
const cases = JSON.parse(fs.readFileSync(process.env.CHORUS_CASES, "utf8"));
const caseNamed = (name) => {
  const c = cases.find((c) => c.name === name);
  assert.ok(c, name);
  return { ...c, bytes: new Uint8Array(fs.readFileSync(c.cert)) };
};

test("the module's exports and imports", async () => {
  const module = await WebAssembly.compile(wasm);
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const name of [
    "memory",
    "chorus_alloc",
    "chorus_free",
    "chorus_verify",
    "chorus_verify_file",
    "chorus_report_len",
    "chorus_report_free",
    "chorus_max_certificate_bytes",
  ]) {
    assert.ok(exports.includes(name), name);
  }
});

for (const c of cases) {
  test(`chorusVerifyBytes: ${c.name}`, async () => {
    const bytes = new Uint8Array(fs.readFileSync(c.cert));
    const report = await api.chorusVerifyBytes(wasm, bytes, c.coalition);
    assert.deepEqual(report, c.report);
    assert.equal(api.verdictFor(report).text, c.sentence);
    assert.deepEqual(api.verdictFor(report).lines, c.lines);
    assert.deepEqual(api.verdictFor(report).dissent, c.report.valid ? c.dissent : []);
    assert.equal(api.verdictFor(report).state, c.report.valid ? "valid" : "invalid");
  });
}

test("many verifications in one instance leave no buffer behind", async () => {
  const c = caseNamed("vector-valid");
  const v = await api.chorusInstantiate(wasm);
  const before = v.verify(c.bytes, c.coalition);
  for (let i = 0; i < 200; i++) {
    assert.equal(v.verify(c.bytes, c.coalition).valid, true);
  }
  assert.deepEqual(v.verify(c.bytes, c.coalition), before);
});

test("an oversized file is reported with its own size", async () => {
  const v = await api.chorusInstantiate(wasm);
  assert.equal(v.maxCertificateBytes, 16 * 1024 * 1024);
  const head = new Uint8Array(v.maxCertificateBytes + 1);
  const r = v.verify(head, "", 20000000);
  assert.deepEqual(r, {
    valid: false,
    code: "TooLarge",
    error: `certificate is 20000000 bytes, over the limit of ${v.maxCertificateBytes} bytes`,
  });
});

test("a bad coalition id or module is an error, not a verdict", async () => {
  const c = caseNamed("vector-valid");
  await assert.rejects(api.chorusVerifyBytes(wasm, c.bytes, "abc"), /no valid coalition id/);
  await assert.rejects(api.chorusInstantiate(new Uint8Array(0)), /built without the in-browser verifier/);
  assert.equal(
    api.unavailableVerdict(new Error("the certificate could not be fetched (x.cert: HTTP 404)")).text,
    "Could not verify in your browser: the certificate could not be fetched (x.cert: HTTP 404)."
  );
  assert.deepEqual(Array.from(api.base64ToBytes("AQID+g==")), [1, 2, 3, 250]);
});

// ---- The page part, on a stand-in DOM ---------------------------------------

function element(id, attrs = {}, tagName = "p") {
  const listeners = {};
  const classes = new Set();
  return {
    id,
    tagName,
    attrs: { ...attrs },
    className: attrs.class || "",
    // As a DOM element: setting the text replaces the children; the text
    // read is the element's own followed by its children's.
    text: "",
    children: [],
    get textContent() {
      return this.text + this.children.map((c) => c.textContent).join("");
    },
    set textContent(v) {
      this.text = String(v);
      this.children = [];
    },
    appendChild(child) {
      this.children.push(child);
      return child;
    },
    getAttribute(n) {
      return Object.prototype.hasOwnProperty.call(this.attrs, n) ? this.attrs[n] : null;
    },
    hasAttribute(n) {
      return Object.prototype.hasOwnProperty.call(this.attrs, n);
    },
    setAttribute(n, v) {
      this.attrs[n] = String(v);
    },
    removeAttribute(n) {
      delete this.attrs[n];
    },
    addEventListener(type, f) {
      (listeners[type] = listeners[type] || []).push(f);
    },
    dispatch(type, event = {}) {
      for (const f of listeners[type] || []) f(event);
    },
    classList: {
      add: (c) => classes.add(c),
      remove: (c) => classes.delete(c),
      contains: (c) => classes.has(c),
    },
  };
}

/**
 * A page: `elements` by id, `protocol`, `urls` (url -> bytes for fetch,
 * or text for a script). Returns {context, document, scripts}.
 */
function page({ protocol, elements, urls = {}, withModule = true }) {
  const docListeners = {};
  const scripts = [];
  const context = {};
  const document = {
    readyState: "loading",
    getElementById: (id) => elements[id] || null,
    addEventListener(type, f) {
      (docListeners[type] = docListeners[type] || []).push(f);
    },
    dispatch(type, event = {}) {
      for (const f of docListeners[type] || []) f(event);
    },
    createElement(tag) {
      assert.ok(["script", "br", "span", "li"].includes(tag), tag);
      return element(null, {}, tag);
    },
    createTextNode(text) {
      return { nodeType: 3, textContent: String(text) };
    },
    head: {
      appendChild(s) {
        scripts.push(s.src);
        setImmediate(() => {
          if (typeof urls[s.src] === "string") {
            vm.runInContext(urls[s.src], context, { filename: s.src });
            s.dispatch("load");
          } else {
            s.dispatch("error");
          }
        });
      },
    },
  };
  const fetches = [];
  async function fetch(url, options) {
    fetches.push({ url, options });
    if (protocol === "file:") {
      throw new TypeError("Failed to fetch");
    }
    const body = urls[url];
    if (!(body instanceof Uint8Array)) {
      return { ok: false, status: 404 };
    }
    return { ok: true, status: 200, arrayBuffer: async () => body.slice().buffer };
  }
  class FileReader {
    constructor() {
      this.listeners = {};
    }
    addEventListener(type, f) {
      this.listeners[type] = f;
    }
    readAsArrayBuffer(blob) {
      setImmediate(() => {
        this.result = blob.bytes.slice().buffer;
        this.listeners.load();
      });
    }
  }
  Object.assign(context, {
    document,
    location: { protocol },
    fetch,
    FileReader,
    atob,
    TextDecoder,
    performance,
    console,
  });
  context.window = context;
  vm.createContext(context);
  if (withModule) {
    vm.runInContext(wasmScript, context, { filename: "chorus-verify.js" });
  }
  vm.runInContext(verifyJs, context, { filename: "verify.js" });
  document.readyState = "interactive";
  document.dispatch("DOMContentLoaded");
  return { context, document, scripts, fetches };
}

async function settled(el) {
  for (let i = 0; i < 500 && /pending/.test(el.className); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  return el;
}

function positionElements(c, extra = {}) {
  const id = "c".repeat(64);
  return {
    verification: element("verification", {
      "data-certificate": `../certificates/${id}.cert`,
      "data-certificate-script": `../certificates/${id}.cert.js`,
      "data-certificate-id": id,
      "data-coalition": c.coalition,
      ...extra,
    }),
    verdict: element("verdict", { class: "verdict pending" }),
  };
}

function certScript(id, bytes) {
  return (
    "window.chorusCertificates = window.chorusCertificates || {}; " +
    `window.chorusCertificates["${id}"] = "${Buffer.from(bytes).toString("base64")}";\n`
  );
}

test("position page over https: fetched without cache, verified", async () => {
  const c = caseNamed("devnet-position");
  const els = positionElements(c);
  const url = els.verification.getAttribute("data-certificate");
  const p = page({ protocol: "https:", elements: els, urls: { [url]: c.bytes } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict valid");
  assert.equal(v.textContent, c.sentence);
  assert.match(v.getAttribute("data-verify-ms"), /^\d+\.\d$/);
  assert.match(v.getAttribute("data-total-ms"), /^\d+\.\d$/);
  // (Objects made in the page's realm: compared as JSON.)
  assert.deepEqual(JSON.parse(JSON.stringify(p.fetches)), [{ url, options: { cache: "no-cache" } }]);
  assert.deepEqual(p.scripts, []);
});

test("position page, coalition with attributes: the breadth proven, a line each, as text", async () => {
  const c = caseNamed("regional, breadth met");
  assert.equal(c.lines.length, 2);
  const els = positionElements(c);
  const url = els.verification.getAttribute("data-certificate");
  page({ protocol: "https:", elements: els, urls: { [url]: c.bytes } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict valid");
  assert.equal(v.text, c.sentence);
  assert.equal(v.textContent, [c.sentence, ...c.lines].join(" "));
  const shape = v.children.map((n) => (n.nodeType === 3 ? `text ${JSON.stringify(n.textContent)}` : n.tagName));
  assert.deepEqual(shape, ['text " "', "br", "span", 'text " "', "br", "span"]);
  const spans = v.children.filter((n) => n.tagName === "span");
  assert.deepEqual(
    spans.map((s) => [s.className, s.textContent, s.children.length]),
    c.lines.map((l) => ["verdict-breadth", l, 0])
  );
});

test("position page, certificate without the breadth: invalid, with the reason", async () => {
  const c = caseNamed("regional, breadth not met");
  const els = positionElements(c);
  page({ protocol: "https:", elements: els, urls: { [els.verification.getAttribute("data-certificate")]: c.bytes } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict invalid");
  assert.equal(v.textContent, c.sentence);
  assert.match(v.textContent, /^Verification failed in your browser: breadth: needs endorsers from at least 2 distinct regions, has 1 /);
  assert.deepEqual(v.children, []);
});

test("position page from file://: the certificate's script, no fetch", async () => {
  const c = caseNamed("devnet-position");
  const els = positionElements(c);
  const id = els.verification.getAttribute("data-certificate-id");
  const url = els.verification.getAttribute("data-certificate-script");
  const p = page({ protocol: "file:", elements: els, urls: { [url]: certScript(id, c.bytes) } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict valid");
  assert.equal(v.textContent, c.sentence);
  assert.deepEqual(p.fetches, []);
  assert.deepEqual(p.scripts, [url]);
});

test("position page, tampered certificate: the reason chorus verify gives", async () => {
  const c = caseNamed("vector-valid, a byte flipped");
  const els = positionElements(c);
  page({ protocol: "http:", elements: els, urls: { [els.verification.getAttribute("data-certificate")]: c.bytes } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict invalid");
  assert.equal(v.textContent, "Verification failed in your browser: " + c.report.error);
  assert.ok(v.hasAttribute("data-verify-ms"));
});

test("position page, certificate of another coalition: invalid", async () => {
  const c = caseNamed("vector-valid, another coalition expected");
  const els = positionElements(c);
  page({ protocol: "https:", elements: els, urls: { [els.verification.getAttribute("data-certificate")]: c.bytes } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict invalid");
  assert.match(v.textContent, /^Verification failed in your browser: certificate is for coalition /);
});

test("position page, certificate missing: unavailable", async () => {
  const c = caseNamed("devnet-position");
  const els = positionElements(c);
  page({ protocol: "https:", elements: els });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict unavailable");
  assert.match(v.textContent, /^Could not verify in your browser: the certificate could not be fetched \(.*HTTP 404\)\.$/);
  assert.ok(!v.hasAttribute("data-verify-ms"));

  const els2 = positionElements(c);
  page({ protocol: "file:", elements: els2 });
  const v2 = await settled(els2.verdict);
  assert.equal(v2.className, "verdict unavailable");
  assert.match(v2.textContent, /^Could not verify in your browser: the certificate could not be loaded/);
});

test("position page, module script missing: unavailable", async () => {
  const c = caseNamed("devnet-position");
  const els = positionElements(c);
  page({
    protocol: "https:",
    elements: els,
    urls: { [els.verification.getAttribute("data-certificate")]: c.bytes },
    withModule: false,
  });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict unavailable");
  assert.equal(v.textContent, "Could not verify in your browser: the verifier module did not load.");
});

test("verify page: a chosen file and a dropped file", async () => {
  const good = caseNamed("governance-admission");
  const bad = caseNamed("vector-valid, last signature byte flipped");
  const els = {
    verification: element("verification", { "data-coalition": "" }),
    verdict: element("verdict", { class: "verdict pending" }),
    "certificate-file": element("certificate-file"),
    "drop-zone": element("drop-zone"),
  };
  const p = page({ protocol: "file:", elements: els });
  // Ready for a file.
  for (let i = 0; i < 100 && !/Choose/.test(els.verdict.textContent); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(els.verdict.className, "verdict pending");

  const file = (c, name) => ({ name, size: c.bytes.length, bytes: c.bytes, slice: () => assert.fail("not sliced") });
  els["certificate-file"].files = [file(good, "admission.cert")];
  els["certificate-file"].dispatch("change");
  let v = await settled(els.verdict);
  assert.equal(v.className, "verdict valid");
  // No expected coalition on this page: the sentence is the same.
  assert.equal(v.textContent, good.sentence);
  assert.match(v.textContent, /^Verified in your browser: admission of /);

  const dropped = { types: ["Files"], files: [file(bad, "bad.cert")], dropEffect: "" };
  let prevented = 0;
  p.document.dispatch("dragover", { dataTransfer: dropped, preventDefault: () => prevented++ });
  assert.ok(els["drop-zone"].classList.contains("dragging"));
  p.document.dispatch("drop", { dataTransfer: dropped, preventDefault: () => prevented++ });
  assert.equal(prevented, 2);
  assert.ok(!els["drop-zone"].classList.contains("dragging"));
  v = await settled(els.verdict);
  assert.equal(v.className, "verdict invalid");
  assert.equal(v.textContent, "Verification failed in your browser: " + bad.report.error);
});

test("verify page: a verdict's breadth lines go with it", async () => {
  const regional = caseNamed("regional, breadth met");
  const plain = caseNamed("governance-admission");
  const els = {
    verification: element("verification", { "data-coalition": "" }),
    verdict: element("verdict", { class: "verdict pending" }),
    "certificate-file": element("certificate-file"),
  };
  page({ protocol: "https:", elements: els });
  const choose = async (c) => {
    els["certificate-file"].files = [{ name: "c.cert", size: c.bytes.length, bytes: c.bytes }];
    els["certificate-file"].dispatch("change");
    return settled(els.verdict);
  };
  let v = await choose(regional);
  assert.equal(v.textContent, [regional.sentence, ...regional.lines].join(" "));
  v = await choose(plain);
  assert.equal(v.className, "verdict valid");
  assert.equal(v.textContent, plain.sentence);
  assert.deepEqual(v.children, []);
});

test("verify page with an expected coalition", async () => {
  const c = caseNamed("vector-valid");
  const els = {
    verification: element("verification", { "data-coalition": caseNamed("devnet-position").coalition }),
    verdict: element("verdict", { class: "verdict pending" }),
    "certificate-file": element("certificate-file"),
  };
  page({ protocol: "https:", elements: els });
  els["certificate-file"].files = [{ name: "v.cert", size: c.bytes.length, bytes: c.bytes }];
  els["certificate-file"].dispatch("change");
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict invalid");
  assert.match(v.textContent, /not the expected/);
});

test("position page with a dissent list: the dissent beside the verdict, as text; emptied by a failure", async () => {
  const c = caseNamed("dissent, sealed");
  assert.ok(c.dissent.length >= 2);
  const els = positionElements(c);
  els["verdict-dissent"] = element("verdict-dissent", { class: "verdict-dissent" }, "ul");
  const url = els.verification.getAttribute("data-certificate");
  page({ protocol: "https:", elements: els, urls: { [url]: c.bytes } });
  const v = await settled(els.verdict);
  assert.equal(v.className, "verdict valid");
  // The verdict itself is as before: its sentence, no child element.
  assert.equal(v.textContent, c.sentence);
  assert.deepEqual(v.children, []);
  const list = els["verdict-dissent"];
  assert.deepEqual(
    list.children.map((li) => [li.tagName, li.textContent, li.children.length]),
    c.dissent.map((l) => ["li", l, 0])
  );
  assert.match(list.children[0].textContent, /^Objected: Trust 2, saying "<b>Too costly<\/b>/);
  assert.equal(list.children[list.children.length - 1].textContent, "Dissent known to Trust 0's node.");
});

test("verify page: a certificate whose objection was removed fails with the seal's reason, and the dissent list empties", async () => {
  const good = caseNamed("dissent, sealed");
  const cut = caseNamed("dissent, objection removed after sealing");
  const els = {
    verification: element("verification", { "data-coalition": "" }),
    verdict: element("verdict", { class: "verdict pending" }),
    "verdict-dissent": element("verdict-dissent", {}, "ul"),
    "certificate-file": element("certificate-file"),
  };
  page({ protocol: "https:", elements: els });
  const choose = async (c) => {
    els["certificate-file"].files = [{ name: "c.cert", size: c.bytes.length, bytes: c.bytes }];
    els["certificate-file"].dispatch("change");
    return settled(els.verdict);
  };
  let v = await choose(good);
  assert.equal(v.className, "verdict valid");
  assert.equal(els["verdict-dissent"].children.length, good.dissent.length);
  v = await choose(cut);
  assert.equal(v.className, "verdict invalid");
  assert.equal(v.textContent, "Verification failed in your browser: " + cut.report.error);
  assert.match(v.textContent, /SealMismatch|a stance was removed after the certificate was sealed/);
  assert.deepEqual(els["verdict-dissent"].children, []);
});
