/**
 * The command-line program as `bin/taskweave.js` runs it: {@link main} and the explicit exit.
 *
 * `npm run build` bundles it, with everything it imports from this package, into `dist/bin/`
 * (scripts/build-cli.js): one file to load instead of a hundred, each command in a chunk of its
 * own that loads when the command runs. Dependencies (zod, js-yaml…) stay separate packages.
 * @module
 */
export { main } from './main.js'
export { exitWhenFlushed } from './exit.js'
