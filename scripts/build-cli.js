/**
 * Bundles the command-line program (`dist/cli/program.js`, compiled by tsc) into `dist/bin/`, the
 * files `bin/taskweave.js` loads. Start-up of a CLI command is mostly module loading: one bundle
 * (plus a chunk per command, loaded when that command runs) instead of a hundred files.
 *
 * - Dependencies stay external (`packages: 'external'`), but for the two that every command loads,
 *   zod and js-yaml: as published they are most of a `validate` (zod alone is 95 files and 850 KB,
 *   all of its 60 locales included, about as long to load as Node itself). The CLI carries its own
 *   minified copy of each in `dist/bin/vendor/`, zod with its English messages only, loaded with
 *   V8's code cache (scripts/build-cli-vendored.js).
 *   A second zod in the process is safe from zod 4 on: its configuration and schema registry live
 *   on `globalThis` and `instanceof` checks a schema's traits, so schemas from a tool module's own
 *   zod work in the CLI as they do in the library. Any other package must not hide in the bundle.
 * - `dist/core/errors.js` stays external: a tool module imports the error classes from the package
 *   (`taskweave`, the unbundled `dist/`), and `instanceof` must hold between its errors and the
 *   CLI's, both ways.
 * - `dist/queues/` stays external: it imports its Redis and RabbitMQ adapters by relative paths
 *   worked out at run time, which a bundle would break.
 * - Modules that find files next to themselves through `import.meta.url` (the SQLite store's
 *   thread, the worker-thread entry) stay external too: in a bundle that URL names another folder.
 *   The build fails if any other use of `import.meta.url` ends up in the bundle.
 *
 * The library entry points (`dist/index.js` and the subpaths) are not bundled.
 * @module
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { buildVendored, VENDORED, writeVendoredCaches } from './build-cli-vendored.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = resolve(root, 'dist')
const outdir = resolve(dist, 'bin')

/** Compiled modules loaded from `dist/` as they are rather than bundled (see above). */
const UNBUNDLED = [/^core\/errors\.js$/, /^stores\/sqlite\//, /^stores\/postgres\//, /^workers\//, /^queues\//]

/** The uses of `import.meta.url` that mean the same in `dist/bin/` as in `dist/cli/`. */
const SAFE_META_URL = [/createRequire\d*\(import\.meta\.url\)/g, /new URL\("\.\.\/\.\.\/package\.json", import\.meta\.url\)/g]

rmSync(outdir, { recursive: true, force: true })
await buildVendored(root, dist, resolve(outdir, 'vendor'))
await build({
  entryPoints: { cli: resolve(dist, 'cli/program.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.11',
  packages: 'external',
  // Class and function names survive bundling (error names, stack traces).
  keepNames: true,
  sourcemap: true,
  charset: 'utf8',
  logLevel: 'warning',
  plugins: [
    {
      name: 'unbundled-modules',
      setup(b) {
        const vendored = new RegExp(`^(${VENDORED.join('|')})$`)
        b.onResolve({ filter: vendored }, (args) => ({ path: `./vendor/${args.path}.js`, external: true }))
        b.onResolve({ filter: /^\.\.?\// }, (args) => {
          const target = resolve(args.resolveDir, args.path)
          const inDist = relative(dist, target).split(sep).join('/')
          if (inDist.startsWith('..') || !UNBUNDLED.some((pattern) => pattern.test(inDist))) return undefined
          return { path: `../${inDist}`, external: true }
        })
      },
    },
  ],
})

for (const file of readdirSync(outdir).filter((name) => name.endsWith('.js'))) {
  let text = readFileSync(resolve(outdir, file), 'utf8')
  for (const safe of SAFE_META_URL) text = text.replace(safe, '')
  if (text.includes('import.meta')) {
    throw new Error(`dist/bin/${file} uses import.meta in a way bundling may break (a path relative to its module?): leave that module unbundled (UNBUNDLED in scripts/build-cli.js)`)
  }
}

writeVendoredCaches(dist)
