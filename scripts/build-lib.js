/**
 * Bundles the library's entry points (`taskweave`, `taskweave/workflow`, …, compiled by tsc into
 * `dist/`) into `dist/lib/`, the files `package.json` `exports` names. Importing the package is
 * mostly Node's module loader at work: a hundred and more files for `import 'taskweave'` where the
 * bundle loads a handful (one file per entry point, and the chunks they share). The type
 * declarations stay where tsc wrote them.
 *
 * - Dependencies stay external (`packages: 'external'`): a user's zod is the zod the tools see.
 * - The modules the CLI leaves unbundled stay external here too, for the same reasons (see
 *   `scripts/build-cli.js`): `dist/core/errors.js`, shared by the library, the CLI and the tool
 *   modules a CLI run loads, so `instanceof` holds between their errors; and the modules that find
 *   files next to themselves (the SQLite store's thread, the worker-thread entry, the queue
 *   adapters), which are entry points of their own. What those modules import of the core they
 *   import from `dist/` as compiled: helpers without state of their own.
 * - Every output file sits in `dist/lib/` itself, so one relative path (`../core/errors.js`)
 *   reaches an external module from the entry points and the chunks alike.
 *
 * The build fails if a use of `import.meta` that means something else in `dist/lib/` than where
 * tsc put the module ends up in the bundle.
 * @module
 */
import { rmSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { LIBRARY_ENTRIES } from './library-entries.js'
import { BUNDLE_OPTIONS, refuseRelativeMetaUrl, unbundledModules } from './unbundled.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = resolve(root, 'dist')
const outdir = resolve(dist, 'lib')

/** The uses of `import.meta.url` that mean the same in `dist/lib/` as in any folder of `dist/`: a require for packages. */
const SAFE_META_URL = [/createRequire\d*\(import\.meta\.url\)/g]

rmSync(outdir, { recursive: true, force: true })
await build({
  entryPoints: Object.fromEntries(Object.entries(LIBRARY_ENTRIES).map(([name, file]) => [name, resolve(dist, file)])),
  outdir,
  ...BUNDLE_OPTIONS,
  chunkNames: 'chunk-[hash]',
  plugins: [unbundledModules(dist)],
})

refuseRelativeMetaUrl(outdir, 'dist/lib', SAFE_META_URL)
