#!/usr/bin/env node
// The CLI entry (`npx taskweave …`). The command-line program is the compiled one in dist/, bundled
// into dist/bin/ so that a command loads a few files rather than a hundred (scripts/build-cli.js):
// an installed package ships it built, and a clone builds it with `npm install` (through `prepare`)
// or `npm run build`. Without it, say so rather than print a module-resolution stack.
// It exits explicitly once its output is flushed: work a run abandoned (a tool that ignored its
// abort signal) must not keep the command alive after the summary.
import { existsSync } from 'node:fs'
import module from 'node:module'

// Node ≥ 22.1 keeps compiled code between runs when asked (Node 20 has no such cache for ES
// modules: there the CLI's copies of zod and js-yaml carry their own, see scripts/build-cli.js);
// NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.()

const entry = new URL('../dist/bin/cli.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write(
    `taskweave: the compiled CLI is missing (${decodeURIComponent(entry.pathname)}).\n` +
      'If this is a clone of taskweave, run `npm run build` in it; an installed package ships it built.\n',
  )
  process.exit(1)
}
const { main, exitWhenFlushed } = await import('../dist/bin/cli.js')
await exitWhenFlushed(await main(process.argv.slice(2)))
