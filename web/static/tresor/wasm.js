// Loads tresor.wasm (the Go keys and e2ee packages compiled to WebAssembly)
// in the page, for the MLS group. The media keys it exports go to the
// encoded-transform worker, which loads its own instance.

let loading = null;
let compiling = null;

/**
 * compileTresor resolves with the compiled tresor.wasm (a WebAssembly.Module),
 * fetched and compiled once per page; the page's instance and the media
 * worker's instance both come from it.
 */
export function compileTresor() {
  if (!compiling) {
    compiling = WebAssembly.compileStreaming(fetch(new URL("../tresor.wasm", import.meta.url)));
    compiling.catch(() => { compiling = null; }); // let a later call retry
  }
  return compiling;
}

/** loadTresor resolves with globalThis.tresor (see cmd/tresor-wasm). */
export function loadTresor() {
  if (!loading) loading = load();
  return loading;
}

async function load() {
  if (typeof Go === "undefined") {
    await new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = new URL("../wasm_exec.js", import.meta.url).href;
      s.onload = resolve;
      s.onerror = () => reject(new Error("tresor: cannot load wasm_exec.js"));
      document.head.appendChild(s);
    });
  }
  const go = new Go();
  const instance = await WebAssembly.instantiate(await compileTresor(), go.importObject);
  go.run(instance);
  if (!globalThis.tresor || globalThis.tresor.version !== "tresor-wasm/1") {
    throw new Error("tresor: tresor.wasm did not start");
  }
  return globalThis.tresor;
}

/** check turns a {error} result of the wasm API into a thrown Error. */
export function check(v) {
  if (v && typeof v === "object" && typeof v.error === "string") {
    const e = new Error(v.error);
    e.class = v.class;
    throw e;
  }
  return v;
}
