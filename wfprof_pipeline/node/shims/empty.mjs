// Stands in for `server-only` (which throws outside a React server bundle) and similar guard modules.
export {};
