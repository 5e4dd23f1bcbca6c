"""WASM fuel: calibration measurements, fits and budgets (QuickJS-NG in wasmtime)."""
