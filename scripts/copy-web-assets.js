/**
 * Copies the dashboard's static files (`src/web/assets/`) to `dist/web/assets/`, next to the
 * compiled `dist/web/location.js` that finds them; tsc compiles only the TypeScript.
 * @module
 */
import { cpSync, rmSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const target = resolve(root, 'dist/web/assets')
rmSync(target, { recursive: true, force: true })
cpSync(resolve(root, 'src/web/assets'), target, { recursive: true })
