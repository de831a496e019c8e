//! The in-browser certificate verifier (stub: being written).

/// The WebAssembly module (empty until built).
pub const WASM: &[u8] = &[];
/// True when [`WASM`] holds a real module.
pub const WASM_BUILT: bool = false;
/// The script that loads [`WASM`] and verifies certificates in a page.
pub const VERIFY_JS: &str = "";
