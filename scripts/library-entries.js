/**
 * The library's entry points: bundle name (`dist/lib/<name>.js`) → the module tsc compiled it from
 * (relative to `dist/`). Read by `scripts/build-lib.js` and by the tests of the published package.
 * Keep in step with `package.json` `exports`.
 * @module
 */
export const LIBRARY_ENTRIES = {
  index: 'index.js',
  workflow: 'workflow/index.js',
  tools: 'tools/index.js',
  agents: 'agents/index.js',
  background: 'background/index.js',
  'state-machines': 'fsm/index.js',
  ports: 'ports.js',
  distributed: 'distributed/index.js',
  testing: 'testing/index.js',
  llm: 'llm/index.js',
  'compat-laios': 'compat/laios.js',
  'compat-beeai': 'compat/beeai.js',
  server: 'server/index.js',
  otel: 'otel/index.js',
  mcp: 'tools/mcp/index.js',
}
