// Times certificate verification in the WebAssembly module under Node, with
// assets/verify.js's own code: node bench.js <module.wasm> <cert> <coalition hex> [runs]
// Prints one JSON line. Run by tests/node.rs (ignored test).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { performance } = require("node:perf_hooks");
const { chorusInstantiate } = require(path.join(__dirname, "../assets/verify.js"));

async function main() {
  const [wasmPath, certPath, coalition, runsArg] = process.argv.slice(2);
  const runs = Number(runsArg || 7);
  const wasm = new Uint8Array(fs.readFileSync(wasmPath));
  const cert = new Uint8Array(fs.readFileSync(certPath));
  let t = performance.now();
  const verifier = await chorusInstantiate(wasm);
  const instantiateMs = performance.now() - t;
  t = performance.now();
  const first = verifier.verify(cert, coalition);
  const firstMs = performance.now() - t;
  if (!first.valid) {
    throw new Error("not valid: " + JSON.stringify(first));
  }
  const times = [];
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    verifier.verify(cert, coalition);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const r = (x) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      node: process.version,
      endorsers: first.endorsers.length,
      instantiate_ms: r(instantiateMs),
      first_ms: r(firstMs),
      median_ms: r(times[Math.floor(times.length / 2)]),
      min_ms: r(times[0]),
    })
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
