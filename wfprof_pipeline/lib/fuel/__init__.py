"""WASM fuel: QuickJS-NG in wasmtime, metered; the HTTP API; calibration."""
