/**
 * Where a tool module named in a workflow file may come from. A workflow file is data someone may
 * have sent you; its `tools:` list names code. `taskweave run` imports such a module only when it
 * lies inside the workflow's own directory or a directory the user allowed with
 * `--allow-tools-from <dir>`, so a file cannot make the CLI run `/tmp/evil.js` or `../../x.ts`.
 * Paths are compared after resolving symbolic links, so a link inside the directory that points
 * outside it is refused too.
 * @module
 */
import { realpathSync } from 'node:fs'
import { dirname, isAbsolute, relative, resolve } from 'node:path'
import { TaskweaveError } from '../core/errors.js'

/**
 * The absolute path of `modulePath` (as written in `workflowFile`'s `tools:` list), after checking
 * that it lies inside the workflow's directory or one of `allowedDirs`. Throws `TW_VALIDATION`
 * naming the module, the file and the flag that would allow it.
 */
export function confineWorkflowToolModule(modulePath: string, workflowFile: string, allowedDirs: readonly string[]): string {
  const workflowDir = dirname(resolve(workflowFile))
  const details = { file: workflowFile, field: 'tools', module: modulePath }
  if (typeof modulePath !== 'string' || modulePath.trim() === '') {
    throw new TaskweaveError('TW_VALIDATION', `${workflowFile}: an entry of "tools" is empty; each names a tool module file, such as ./tools.js`, { retryable: false, details })
  }
  const absolute = resolve(workflowDir, modulePath)
  const real = realOrSelf(absolute)
  const roots = [workflowDir, ...allowedDirs.map((dir) => resolve(dir))].map(realOrSelf)
  if (roots.includes(real)) {
    throw new TaskweaveError('TW_VALIDATION', `${workflowFile}: tool module "${modulePath}" names a directory (${real}), not a module file; name the file, such as ./tools.js`, { retryable: false, details })
  }
  if (roots.some((dir) => isInside(real, dir))) return absolute
  throw new TaskweaveError(
    'TW_VALIDATION',
    `${workflowFile}: tool module "${modulePath}" is outside the workflow's directory (${workflowDir}); ` +
      `taskweave loads modules named in a workflow file only from there. Move the module, pass it with --tools, or allow its directory with --allow-tools-from ${dirname(real)}`,
    { retryable: false, details },
  )
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)
}

// A missing module is reported by the loader with its own message; here it is compared as written.
function realOrSelf(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}
