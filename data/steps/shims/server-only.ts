// Shim for the `server-only` package. The real package throws unless the bundler resolves the
// `react-server` export condition (Next.js server components); outside Next.js it must be a no-op.
export {};
