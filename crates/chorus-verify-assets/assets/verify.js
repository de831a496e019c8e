/*
 * Chorus: verifies a coalition's certificate in the reader's browser, with
 * the protocol's own rules (chorus-core compiled to WebAssembly), so that a
 * reader need not trust the server that published the page.
 *
 * No dependencies, no eval, no inline handlers: it runs under
 * `script-src 'self' 'wasm-unsafe-eval'`, over http(s) and from file://.
 *
 * The module comes from a separate script that the site writes,
 * `assets/chorus-verify-<hash>.js`, defining window.CHORUS_VERIFY_WASM (the
 * module in base64); include it before this one.
 *
 * Position page: #verification carries data-certificate (URL of <id>.cert),
 * data-certificate-script (URL of <id>.cert.js, which sets
 * window.chorusCertificates["<id>"] to the certificate in base64, for
 * file:// where fetch is refused), data-certificate-id and data-coalition
 * (the expected coalition id); #verdict in it gets the verdict.
 *
 * Verify page: input#certificate-file and #drop-zone; #verification's
 * data-coalition, if not empty, is the expected coalition.
 *
 * #verdict gets class "verdict valid", "verdict invalid" or "verdict
 * unavailable" and a sentence starting "Verified in your browser: ",
 * "Verification failed in your browser: " or "Could not verify in your
 * browser: "; data-verify-ms is the time of the verification itself,
 * data-total-ms that from the start, loading included. When the coalition
 * uses member attributes, a valid verdict goes on, each on a line of its own
 * (a <br>, then a <span class="verdict-breadth">), with the breadth the
 * certificate proves ("Breadth proven: endorsed by 3 of 4 member trusts,
 * from 3 of 9 regions, ...") and each breadth rule it meets, in the words
 * of `chorus verify`; a certificate that falls short of a breadth rule is
 * invalid, with the reason `chorus verify` gives. Everything from the
 * certificate is inserted as text.
 *
 * Dissent: when the page holds a list #verdict-dissent (beside #verdict,
 * never inside it, so the verdict's own text and lines stay as above), a
 * valid verdict fills it with one <li> a line, in the module's words
 * (`dissent_text`): each objector with its reason, each abstainer, the
 * members who did not respond, and the seal ("Dissent known to <trust>'s
 * node ..." or "Dissent not recorded: this certificate carries no seal.").
 * Any other verdict empties it. A certificate whose seal no longer matches
 * the stances it carries (one was removed or added after sealing) is
 * invalid like any other, with the reason `chorus verify` gives.
 *
 * In Node (tests), module.exports is the pure part: chorusVerifyBytes,
 * chorusInstantiate, verdictFor and helpers.
 */
(function (global) {
  "use strict";

  var NOUNS = {
    position: "position",
    admission: "admission",
    removal: "removal",
    key_replacement: "key replacement",
    charter_amendment: "charter amendment"
  };

  var VALID = "Verified in your browser: ";
  var INVALID = "Verification failed in your browser: ";
  var UNAVAILABLE = "Could not verify in your browser: ";
  var BREADTH = "Breadth proven: ";
  var BREADTH_RULE = "Breadth rule: ";

  function now() {
    return global.performance && global.performance.now ? global.performance.now() : Date.now();
  }

  /** Base64 (with or without padding) to bytes. */
  function base64ToBytes(b64) {
    var bin = global.atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out;
  }

  /**
   * An expected coalition id: null for none ("" or absent), 32 bytes for 64
   * hex characters; throws for anything else.
   */
  function coalitionBytes(hex) {
    if (hex === undefined || hex === null) {
      return null;
    }
    hex = String(hex).trim();
    if (hex === "") {
      return null;
    }
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new Error("the page names no valid coalition id (" + JSON.stringify(hex) + ")");
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 32; i++) {
      out[i] = parseInt(hex.substr(2 * i, 2), 16);
    }
    return out;
  }

  /**
   * Instantiates the module (its bytes) and returns a verifier:
   * { verify(certBytes, coalitionHex, fileSize) -> report, maxCertificateBytes }.
   * verify throws only when the module itself fails.
   */
  function chorusInstantiate(wasmBytes) {
    if (typeof WebAssembly !== "object") {
      return Promise.reject(new Error("this browser does not run WebAssembly"));
    }
    if (!wasmBytes || wasmBytes.length === 0) {
      return Promise.reject(new Error("this site was built without the in-browser verifier"));
    }
    return WebAssembly.instantiate(wasmBytes, {}).then(function (result) {
      return makeVerifier(result.instance.exports);
    });
  }

  function makeVerifier(x) {
    var decoder = new TextDecoder("utf-8", { fatal: true });
    var broken = null;
    function put(bytes) {
      var ptr = x.chorus_alloc(bytes.length) >>> 0;
      // Memory may have grown (and moved): a fresh view every time.
      new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
      return ptr;
    }
    function verify(certBytes, coalitionHex, fileSize) {
      if (broken) {
        throw broken;
      }
      var cert = certBytes instanceof Uint8Array ? certBytes : new Uint8Array(certBytes);
      var coalition = coalitionBytes(coalitionHex);
      var certPtr = 0;
      var coalitionPtr = 0;
      try {
        certPtr = cert.length ? put(cert) : 0;
        coalitionPtr = coalition ? put(coalition) : 0;
        var coalitionLen = coalition ? 32 : 0;
        var report =
          typeof fileSize === "number"
            ? x.chorus_verify_file(certPtr, cert.length, coalitionPtr, coalitionLen, fileSize)
            : x.chorus_verify(certPtr, cert.length, coalitionPtr, coalitionLen);
        report >>>= 0;
        if (report === 0) {
          throw new Error("the verifier module refused its input");
        }
        var len = x.chorus_report_len(report) >>> 0;
        var text = decoder.decode(new Uint8Array(x.memory.buffer, report, len));
        x.chorus_report_free(report);
        if (certPtr) {
          x.chorus_free(certPtr, cert.length);
        }
        if (coalitionPtr) {
          x.chorus_free(coalitionPtr, 32);
        }
        return JSON.parse(text);
      } catch (e) {
        // A trap (a panic in the module) may leave it inconsistent: no more
        // calls into this instance.
        if (e instanceof WebAssembly.RuntimeError) {
          broken = new Error("the verifier module failed (" + e.message + ")");
          throw broken;
        }
        throw e;
      }
    }
    return {
      verify: verify,
      maxCertificateBytes: x.chorus_max_certificate_bytes() >>> 0
    };
  }

  var instances = typeof WeakMap === "function" ? new WeakMap() : null;

  /**
   * Verifies a certificate (bytes) with the module (its bytes) against an
   * expected coalition (64 hex characters, or "" / null for none). Resolves
   * to the report `chorus verify --json` prints:
   * {valid: true, coalition, coalition_name, proposal_id, proposal,
   *  author_name, decision, rule: {kind, numerator, denominator},
   *  roster_version, members, required, endorsers: [...], breakdown,
   *  objectors, abstainers, silent, seal, window} with dissent_text:
   * {objectors: [...], abstainers: [...], silent, seal} (the module's
   * wording of the dissent) and, when the coalition uses attributes,
   * breadth_text: {endorsed, rules} (the module's wording of the
   * breakdown); or {valid: false, code, error}.
   */
  function chorusVerifyBytes(wasmModuleBytes, certBytes, coalitionHex) {
    var verifier = instances && instances.get(wasmModuleBytes);
    if (!verifier) {
      verifier = chorusInstantiate(wasmModuleBytes);
      if (instances && wasmModuleBytes && typeof wasmModuleBytes === "object") {
        instances.set(wasmModuleBytes, verifier);
      }
    }
    return verifier.then(function (v) {
      return v.verify(certBytes, coalitionHex);
    });
  }

  /**
   * The lines after a valid verdict's sentence: the breadth the certificate
   * proves and each breadth rule, as the module words them (`chorus
   * verify`'s lines); none when the report has no breadth_text (a coalition
   * without attributes).
   */
  function breadthLines(report) {
    var t = report.breadth_text;
    if (!t || typeof t !== "object" || typeof t.endorsed !== "string") {
      return [];
    }
    var lines = [BREADTH + t.endorsed + "."];
    var rules = Array.isArray(t.rules) ? t.rules : [];
    for (var i = 0; i < rules.length; i++) {
      lines.push(BREADTH_RULE + String(rules[i]) + ".");
    }
    return lines;
  }

  /**
   * The dissent a valid report records, one line each: objectors (with
   * their reasons), abstainers, the members who did not respond, then the
   * seal line; as the module words them (`dissent_text`). None when the
   * report has no dissent_text (a module older than dissent).
   */
  function dissentLines(report) {
    var t = report.dissent_text;
    if (!t || typeof t !== "object") {
      return [];
    }
    var lines = [];
    var groups = [t.objectors, t.abstainers];
    for (var g = 0; g < groups.length; g++) {
      var list = Array.isArray(groups[g]) ? groups[g] : [];
      for (var i = 0; i < list.length; i++) {
        lines.push(String(list[i]));
      }
    }
    if (typeof t.silent === "string") {
      lines.push(t.silent);
    }
    if (typeof t.seal === "string") {
      lines.push(t.seal);
    }
    return lines;
  }

  /**
   * The verdict shown for a report: {state, text, lines, dissent}, `lines`
   * (maybe empty) to be shown after `text`, one a line, and `dissent`
   * (maybe empty) the lines for #verdict-dissent.
   */
  function verdictFor(report) {
    if (report && report.valid === true) {
      var noun = NOUNS[report.decision] || String(report.decision).replace(/_/g, " ");
      var members = report.members;
      var rule = report.rule || {};
      return {
        state: "valid",
        text:
          VALID +
          noun +
          ' of "' +
          report.coalition_name +
          '", endorsed by ' +
          report.endorsers.length +
          " of " +
          members +
          " member trust" +
          (members === 1 ? "" : "s") +
          " (" +
          report.required +
          " needed under the " +
          rule.kind +
          " rule " +
          rule.numerator +
          "/" +
          rule.denominator +
          ").",
        lines: breadthLines(report),
        dissent: dissentLines(report)
      };
    }
    if (report && report.valid === false) {
      return { state: "invalid", text: INVALID + report.error, lines: [], dissent: [] };
    }
    return unavailableVerdict(new Error("the verifier gave no verdict"));
  }

  function unavailableVerdict(err) {
    var why = err && err.message ? err.message : String(err);
    if (!/[.!?]$/.test(why)) {
      why += ".";
    }
    return { state: "unavailable", text: UNAVAILABLE + why, lines: [], dissent: [] };
  }

  var api = {
    chorusVerifyBytes: chorusVerifyBytes,
    chorusInstantiate: chorusInstantiate,
    verdictFor: verdictFor,
    dissentLines: dissentLines,
    unavailableVerdict: unavailableVerdict,
    base64ToBytes: base64ToBytes,
    coalitionBytes: coalitionBytes
  };

  if (typeof module === "object" && module && module.exports) {
    module.exports = api;
  }
  if (typeof document === "undefined" || !global.document) {
    return;
  }
  global.chorusVerify = api;

  // ---- In a page ----------------------------------------------------------

  var started = now();
  var verifierPromise = null;

  /** The module, instantiated once per page. */
  function verifier() {
    if (!verifierPromise) {
      verifierPromise = new Promise(function (resolve) {
        var b64 = global.CHORUS_VERIFY_WASM;
        if (typeof b64 !== "string") {
          throw new Error("the verifier module did not load");
        }
        resolve(chorusInstantiate(base64ToBytes(b64)));
      });
    }
    return verifierPromise;
  }

  function show(el, verdict, verifyMs) {
    el.className = "verdict " + verdict.state;
    // Replaces whatever the element held (a previous verdict's lines too).
    el.textContent = verdict.text;
    var lines = verdict.lines || [];
    for (var i = 0; i < lines.length; i++) {
      // The space keeps the text readable as one string (textContent);
      // the <br> breaks the line on screen.
      el.appendChild(document.createTextNode(" "));
      el.appendChild(document.createElement("br"));
      var line = document.createElement("span");
      line.className = "verdict-breadth";
      line.textContent = lines[i];
      el.appendChild(line);
    }
    if (typeof verifyMs === "number") {
      el.setAttribute("data-verify-ms", verifyMs.toFixed(1));
    } else {
      el.removeAttribute("data-verify-ms");
    }
    el.setAttribute("data-total-ms", (now() - started).toFixed(1));
    showDissent(verdict.dissent || []);
  }

  /** Fills #verdict-dissent (if the page has one) with a line each. */
  function showDissent(lines) {
    var list = document.getElementById("verdict-dissent");
    if (!list) {
      return;
    }
    list.textContent = "";
    for (var i = 0; i < lines.length; i++) {
      var item = document.createElement("li");
      // Each line quotes members' text: its own direction, isolated.
      item.setAttribute("dir", "auto");
      item.textContent = lines[i];
      list.appendChild(item);
    }
  }

  function pending(el, text) {
    el.className = "verdict pending";
    el.textContent = text;
    el.removeAttribute("data-verify-ms");
    el.removeAttribute("data-total-ms");
    showDissent([]);
  }

  /** Verifies and shows; `load` resolves to the certificate's bytes. */
  function run(el, load, coalitionHex, fileSize) {
    return Promise.all([verifier(), load])
      .then(function (both) {
        var t = now();
        var report = both[0].verify(both[1], coalitionHex, fileSize);
        show(el, verdictFor(report), now() - t);
      })
      .catch(function (err) {
        show(el, unavailableVerdict(err));
      });
  }

  /** Over http(s): fetch. */
  function fetchCertificate(url) {
    return global.fetch(url, { cache: "no-cache" }).then(
      function (response) {
        if (!response.ok) {
          throw new Error("the certificate could not be fetched (" + url + ": HTTP " + response.status + ")");
        }
        return response.arrayBuffer().then(function (b) {
          return new Uint8Array(b);
        });
      },
      function (err) {
        var e = new Error("the certificate could not be fetched (" + url + ": " + (err && err.message) + ")");
        e.network = true;
        throw e;
      }
    );
  }

  /** From file:// (no fetch of files there): the certificate's script. */
  function scriptCertificate(url, id) {
    return new Promise(function (resolve, reject) {
      var table = global.chorusCertificates;
      if (table && typeof table[id] === "string") {
        resolve(base64ToBytes(table[id]));
        return;
      }
      if (!url) {
        reject(new Error("the page names no certificate script"));
        return;
      }
      var s = document.createElement("script");
      s.addEventListener("load", function () {
        var t = global.chorusCertificates;
        if (t && typeof t[id] === "string") {
          try {
            resolve(base64ToBytes(t[id]));
          } catch (e) {
            reject(new Error("the certificate script " + url + " does not hold base64"));
          }
        } else {
          reject(new Error("the certificate script " + url + " did not define certificate " + id));
        }
      });
      s.addEventListener("error", function () {
        reject(new Error("the certificate could not be loaded (" + url + ")"));
      });
      s.src = url;
      (document.head || document.body || document.documentElement).appendChild(s);
    });
  }

  function positionPage(box, el) {
    var url = box.getAttribute("data-certificate");
    var scriptUrl = box.getAttribute("data-certificate-script");
    var id = box.getAttribute("data-certificate-id") || "";
    var coalition = box.getAttribute("data-coalition") || "";
    pending(el, "Verifying the certificate in your browser\u2026");
    var load;
    var overHttp = /^https?:$/.test(global.location && global.location.protocol);
    if (overHttp && url && typeof global.fetch === "function") {
      load = fetchCertificate(url).catch(function (err) {
        // A fetch refused outright (not an HTTP status): try the script.
        if (err.network && scriptUrl) {
          return scriptCertificate(scriptUrl, id);
        }
        throw err;
      });
    } else {
      load = scriptCertificate(scriptUrl, id);
    }
    if (!coalition) {
      load = Promise.reject(new Error("the page names no expected coalition"));
    }
    // Handled in run; keep an early failure from being reported as unhandled.
    load.catch(function () {});
    return run(el, load, coalition);
  }

  function verifyPage(box, el) {
    var input = document.getElementById("certificate-file");
    var zone = document.getElementById("drop-zone");
    var coalition = (box && box.getAttribute("data-coalition")) || "";
    var picked = false;

    function verifyFile(file) {
      if (!file) {
        return;
      }
      picked = true;
      pending(el, "Verifying " + file.name + " in your browser\u2026");
      started = now();
      var load = verifier().then(function (v) {
        // As `chorus verify`: at most one byte over the limit is read, and
        // an oversized file is reported with its own size.
        var blob = file.size > v.maxCertificateBytes ? file.slice(0, v.maxCertificateBytes + 1) : file;
        return new Promise(function (resolve, reject) {
          var reader = new FileReader();
          reader.addEventListener("load", function () {
            resolve(new Uint8Array(reader.result));
          });
          reader.addEventListener("error", function () {
            reject(new Error("the file " + file.name + " could not be read"));
          });
          reader.readAsArrayBuffer(blob);
        });
      });
      load.catch(function () {});
      run(el, load, coalition, file.size);
    }

    if (input) {
      input.addEventListener("change", function () {
        verifyFile(input.files && input.files[0]);
      });
    }
    function hasFiles(e) {
      var types = e.dataTransfer && e.dataTransfer.types;
      return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
    }
    // A file dropped anywhere on the page is verified, not opened by the
    // browser in place of the page.
    document.addEventListener("dragover", function (e) {
      if (hasFiles(e)) {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
        if (zone) {
          zone.classList.add("dragging");
        }
      }
    });
    document.addEventListener("dragleave", function (e) {
      if (zone && (e.target === zone || !e.relatedTarget)) {
        zone.classList.remove("dragging");
      }
    });
    document.addEventListener("drop", function (e) {
      if (hasFiles(e)) {
        e.preventDefault();
        if (zone) {
          zone.classList.remove("dragging");
        }
        verifyFile(e.dataTransfer.files[0]);
      }
    });
    // Compile the module while the reader picks a file.
    verifier().then(
      function () {
        if (/\bpending\b/.test(el.className) && !picked) {
          pending(el, "Choose or drop a certificate file (.cert) to verify it in your browser.");
        }
      },
      function (err) {
        show(el, unavailableVerdict(err));
      }
    );
  }

  function start() {
    var box = document.getElementById("verification");
    var el = document.getElementById("verdict");
    if (!el) {
      return;
    }
    if (document.getElementById("certificate-file") || document.getElementById("drop-zone")) {
      verifyPage(box, el);
    } else if (box && (box.hasAttribute("data-certificate") || box.hasAttribute("data-certificate-script"))) {
      positionPage(box, el);
    }
  }

  // Start compiling as soon as the module's script has run.
  if (typeof global.CHORUS_VERIFY_WASM === "string") {
    verifier().catch(function () {});
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(typeof window !== "undefined" ? window : typeof globalThis !== "undefined" ? globalThis : this);
