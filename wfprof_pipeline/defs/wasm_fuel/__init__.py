"""WASM fuel (group `wasm_fuel`): calibration measurements, fits and budgets (QuickJS-NG in wasmtime)."""
