/** `taskweave validate <file>`: checks a workflow without running it. @module */
import { createEngine } from '../../engine/engine.js'
import { prepareWorkflow } from '../prepare.js'
import { EXIT, type CliIo } from '../io.js'
import { ValidationError } from '../../core/errors.js'

/** Validates; prints a one-line summary (or JSON with `--json`). Errors propagate as ValidationError. */
export async function validateCommand(args: { readonly file: string; readonly tools: readonly string[]; readonly json: boolean }, io: CliIo): Promise<number> {
  await using engine = createEngine()
  let workflow
  try {
    workflow = await prepareWorkflow(engine, args.file, args.tools)
  } catch (err) {
    // With --json the answer is JSON either way; the exit code still says the workflow is invalid.
    if (args.json && err instanceof ValidationError) io.stdout(JSON.stringify({ valid: false, issues: err.issues }))
    throw err
  }
  if (args.json) io.stdout(JSON.stringify({ valid: true, workflowId: workflow.id, tasks: workflow.size, hash: workflow.hash }))
  else io.stdout(`${args.file}: valid workflow "${workflow.id}" with ${workflow.size} task${workflow.size === 1 ? '' : 's'}`)
  return EXIT.ok
}
