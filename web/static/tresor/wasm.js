// @ts-check
// tresor.wasm (the Go keys and e2ee packages compiled to WebAssembly, see
// cmd/tresor-wasm): the page compiles it once and hands the module to the
// worker, which instantiates it and runs the MLS group and SFrame there.

let compiling = null;

/**
 * compileTresor resolves with the compiled tresor.wasm (a WebAssembly.Module),
 * fetched and compiled once per page, for E2EEWorker.start({module}).
 */
export function compileTresor() {
  if (!compiling) {
    compiling = WebAssembly.compileStreaming(fetch(new URL("../tresor.wasm", import.meta.url)));
    compiling.catch(() => { compiling = null; }); // let a later call retry
  }
  return compiling;
}

/** check turns a {error} result of the wasm API into a thrown Error. */
export function check(v) {
  if (v && typeof v === "object" && typeof v.error === "string") {
    const e = new Error(v.error);
    /** @type {any} */ (e).class = v.class;
    throw e;
  }
  return v;
}
