/**
 * Loading TypeScript tool modules (`--tools ./tools.ts`) without a build step, in any project.
 *
 * tsx compiles them. It is an optional peer dependency: imported only when a `.ts` module is
 * loaded, with a clear "npm i -D tsx" when it is missing. One more hook is needed: in a project
 * made by `npm init` (a package.json without `"type": "module"`), Node and tsx treat `tools.ts` as
 * CommonJS, so its `import … from 'taskweave'` becomes a `require` of an ESM-only package and the
 * import fails ("Cannot require() ES Module … in a cycle"). Tool modules are written with ESM
 * syntax, as the docs show, so a resolve hook marks the project's own TypeScript files (not those
 * under node_modules) as ES modules. The hook is plain JavaScript in a data URL: it runs on Node's
 * loader thread, where neither tsx nor this package's sources are loaded.
 * @module
 */
import { register as registerHooks } from 'node:module'
import { TaskweaveError } from '../core/errors.js'

/** File names tsx compiles. */
export const TYPESCRIPT_MODULE = /\.(c|m)?tsx?$/

const ESM_TYPESCRIPT_HOOK = `
const TS = /\\.(ts|tsx|mts)$/
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (resolved.format === 'module' || !resolved.url.startsWith('file:')) return resolved
  const path = resolved.url.split('?')[0]
  return TS.test(path) && !path.includes('/node_modules/') ? { ...resolved, format: 'module' } : resolved
}
`

/** How tsx is imported (injected by tests to simulate it missing). */
export type TsxImporter = () => Promise<{ register: () => unknown }>

let ready: Promise<void> | undefined

/**
 * Registers tsx and the ESM hook, once per process. Throws `TW_VALIDATION` telling the user to
 * install tsx when it is missing; `shownAs` names the module that needed it.
 */
export function ensureTypeScriptLoader(shownAs: string, importTsx: TsxImporter = () => import('tsx/esm/api')): Promise<void> {
  ready ??= (async () => {
    let tsx: { register: () => unknown }
    try {
      tsx = await importTsx()
    } catch (err) {
      ready = undefined
      const code = (err as { code?: unknown } | null)?.code
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err
      throw new TaskweaveError(
        'TW_VALIDATION',
        `tool module "${shownAs}" is TypeScript, which taskweave loads through tsx, and tsx is not installed. Install it in your project (npm i -D tsx), or compile the module to JavaScript and pass the .js file`,
        { retryable: false, cause: err },
      )
    }
    tsx.register()
    registerHooks(`data:text/javascript,${encodeURIComponent(ESM_TYPESCRIPT_HOOK)}`)
  })()
  return ready
}
