#!/usr/bin/env node
// The CLI entry: the compiled command-line program lives in dist/ (built by `npm install` through `prepare`).
// It exits explicitly once its output is flushed: work a run abandoned (a tool that ignored its
// abort signal) must not keep the command alive after the summary.
import { main } from '../dist/cli/main.js'
import { exitWhenFlushed } from '../dist/cli/exit.js'

await exitWhenFlushed(await main(process.argv.slice(2)))
