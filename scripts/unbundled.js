/**
 * What the CLI bundle (`scripts/build-cli.js`) and the library bundle (`scripts/build-lib.js`)
 * both leave out and load from `dist/` as tsc compiled it, and the checks both run.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs'
import { relative, resolve, sep } from 'node:path'

/** The esbuild options both bundles share: ES modules for Node 20, dependencies left as packages. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.11',
  packages: 'external',
  // No `keepNames`: it wraps every function expression that has a name in a call that redefines
  // its `name` (`Object.defineProperty`), run each time the function is made. A closure made per
  // run or per call then pays that call each time: `engine.start()`'s handle made eight, a third
  // of a small run's cost. Without it V8 names classes and functions from their bindings, which
  // the bundle keeps unless two modules' top-level names collide; the exported ones are checked
  // in test/package-exports.test.ts.
  sourcemap: true,
  // Non-ASCII characters escaped: V8 then holds each file's source as one byte per character, not two.
  charset: 'ascii',
  logLevel: 'warning',
}

/**
 * Compiled modules (paths relative to `dist/`) kept out of the bundles:
 * - `core/errors.js`: one module of error classes for the library, the CLI and the tool modules a
 *   CLI run loads, so `instanceof` holds between their errors, both ways;
 * - the SQLite and PostgreSQL stores and the worker threads: the SQLite store's thread and the
 *   worker-thread entry are files found next to their modules (`import.meta.url`), which in a
 *   bundle names another folder;
 * - the queue adapters, imported by relative paths worked out at run time;
 * - `web/location.js`, which finds the dashboard's files next to itself (`import.meta.url`).
 */
export const UNBUNDLED = [/^core\/errors\.js$/, /^stores\/sqlite\//, /^stores\/postgres\//, /^workers\//, /^queues\//, /^web\//]

/**
 * An esbuild plugin that leaves the {@link UNBUNDLED} modules external, imported as
 * `../<path in dist>`: right for every output file of a bundle written to a folder directly under
 * `dist/` (entry points and chunks side by side).
 */
export function unbundledModules(dist) {
  return {
    name: 'unbundled-modules',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path)
        const inDist = relative(dist, target).split(sep).join('/')
        if (inDist.startsWith('..') || !UNBUNDLED.some((pattern) => pattern.test(inDist))) return undefined
        return { path: `../${inDist}`, external: true }
      })
    },
  }
}

/**
 * Fails the build when a bundle in `outdir` uses `import.meta` other than as `safe` allows (a
 * require for packages, say): a path relative to a module means another folder once bundled.
 */
export function refuseRelativeMetaUrl(outdir, shown, safe) {
  for (const file of readdirSync(outdir).filter((name) => name.endsWith('.js'))) {
    let text = readFileSync(resolve(outdir, file), 'utf8')
    for (const pattern of safe) text = text.replace(pattern, '')
    if (text.includes('import.meta')) {
      throw new Error(`${shown}/${file} uses import.meta in a way bundling may break (a path relative to its module?): leave that module unbundled (UNBUNDLED in scripts/unbundled.js)`)
    }
  }
}
