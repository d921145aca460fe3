#!/usr/bin/env node
// The CLI entry: the compiled command-line program lives in dist/ (built by `npm install` through `prepare`).
import { main } from '../dist/cli/main.js'

process.exitCode = await main(process.argv.slice(2))
