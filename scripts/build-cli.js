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
 * The library's entry points are bundled apart, into `dist/lib/` (scripts/build-lib.js), with the
 * same modules left out (scripts/unbundled.js).
 * @module
 */
import { rmSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { buildVendored, VENDORED, writeVendoredCaches } from './build-cli-vendored.js'
import { BUNDLE_OPTIONS, refuseRelativeMetaUrl, unbundledModules } from './unbundled.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = resolve(root, 'dist')
const outdir = resolve(dist, 'bin')

/** The uses of `import.meta.url` that mean the same in `dist/bin/` as in `dist/cli/`. */
const SAFE_META_URL = [/createRequire\d*\(import\.meta\.url\)/g, /new URL\("\.\.\/\.\.\/package\.json", import\.meta\.url\)/g]

rmSync(outdir, { recursive: true, force: true })
await buildVendored(root, dist, resolve(outdir, 'vendor'))
await build({
  entryPoints: { cli: resolve(dist, 'cli/program.js') },
  outdir,
  ...BUNDLE_OPTIONS,
  plugins: [
    {
      name: 'vendored-packages',
      setup(b) {
        const vendored = new RegExp(`^(${VENDORED.join('|')})$`)
        b.onResolve({ filter: vendored }, (args) => ({ path: `./vendor/${args.path}.js`, external: true }))
      },
    },
    unbundledModules(dist),
  ],
})

refuseRelativeMetaUrl(outdir, 'dist/bin', SAFE_META_URL)

writeVendoredCaches(dist)
