/** `taskweave validate <file>`: checks a workflow without running it. @module */
import { defaultToolsTarget, prepareWorkflow } from '../prepare.js'
import { EXIT, type CliIo } from '../io.js'
import { ValidationError } from '../../core/errors.js'
import { uncheckedNote } from '../unchecked-tools.js'
import { terminalSafe } from '../terminal-text.js'

/**
 * Validates without running code from the file (its `tools:` modules are not imported); prints a
 * one-line summary and a note on what went unchecked (or JSON with `--json`). Errors propagate as
 * ValidationError.
 */
export async function validateCommand(args: { readonly file: string; readonly tools: readonly string[]; readonly json: boolean }, io: CliIo): Promise<number> {
  const tools = defaultToolsTarget()
  let prepared
  try {
    prepared = await prepareWorkflow(tools, args.file, { toolModules: args.tools, fileModules: 'skip' })
  } catch (err) {
    // With --json the answer is JSON either way; the exit code still says the workflow is invalid.
    if (args.json && err instanceof ValidationError) io.stdout(JSON.stringify({ valid: false, issues: err.issues }))
    throw err
  }
  const { workflow, unchecked } = prepared
  if (args.json) io.stdout(JSON.stringify({ valid: true, workflowId: workflow.id, tasks: workflow.size, hash: workflow.hash, ...(unchecked ? { unchecked } : {}) }))
  else {
    io.stdout(`${terminalSafe(args.file)}: valid workflow "${terminalSafe(workflow.id)}" with ${workflow.size} task${workflow.size === 1 ? '' : 's'}`)
    const note = uncheckedNote(unchecked)
    if (note !== undefined) io.stderr(note)
  }
  return EXIT.ok
}
