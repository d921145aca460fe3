/**
 * `taskweave plan "<goal>"`: a language model plans a workflow for the goal over the built-in
 * tools and those of `--tools` modules, and the plan is written as a YAML workflow file (to
 * `--out`, or stdout) that `taskweave validate` and `taskweave run` take as it is.
 *
 * The model is reached as `llm.chat` reaches it: `OPENAI_BASE_URL`, `OPENAI_API_KEY` and
 * `TASKWEAVE_LLM_MODEL`, with `--base-url` and `--model` overriding them.
 * @module
 */
import { writeFile } from 'node:fs/promises'
import { stringify } from 'yaml'
import { formatIssue, TaskweaveError, type ValidationIssue } from '../../core/errors.js'
import { resolveLlmConnection } from '../../llm/chat/config.js'
import { planWorkflow, type PlannedWorkflow } from '../../llm/planner/index.js'
import { EXIT, type CliIo } from '../io.js'
import { loadToolModule } from '../load-tools.js'
import { defaultToolsTarget } from '../prepare.js'
import { cancelOnSignals } from '../signals.js'
import { terminalSafe } from '../terminal-text.js'

/** Arguments of `plan`. */
export interface PlanCommandArgs {
  /** What the workflow is to achieve. */
  readonly goal: string
  /** `--out FILE`: where the YAML goes (default stdout). */
  readonly out?: string
  /** `--tools MODULE`: modules whose tools the plan may use besides the built-ins. */
  readonly tools: readonly string[]
  /** `--model M`: instead of `TASKWEAVE_LLM_MODEL`. */
  readonly model?: string
  /** `--base-url URL`: instead of `OPENAI_BASE_URL`. */
  readonly baseURL?: string
}

/**
 * Plans, writes the YAML and prints a one-line summary to stderr. Resolves to the exit code: 0
 * written, 2 the plan stayed invalid (its problems printed) or an option is bad, 1 the model could
 * not be asked (its error printed) or the planning was cancelled (Ctrl-C, or `stop`).
 */
export async function planCommand(args: PlanCommandArgs, io: CliIo, stop?: AbortSignal): Promise<number> {
  if (args.goal.trim() === '') throw new TaskweaveError('TW_INVALID_OPTION', '"plan" needs a goal: taskweave plan "<what the workflow should do>"', { retryable: false })
  const { registry } = defaultToolsTarget()
  // The plan may use llm.chat too (validate loads it only for files that name it).
  const { createChatTool } = await import('../../llm/chat/index.js')
  registry.register(createChatTool({ preloadTokenizer: false }))
  for (const module of args.tools) await loadToolModule(module, process.cwd(), registry)
  // Resolved here, not in the planner, so a bad --base-url is an invalid option (exit 2) before anything is sent.
  const llm = resolveLlmConnection({ ...(args.baseURL !== undefined ? { baseURL: args.baseURL } : {}), ...(args.model !== undefined ? { model: args.model } : {}) }, process.env)

  const controller = new AbortController()
  const stopListening = cancelOnSignals(controller, (text) => io.stderr(text), 'stopping the planner')
  const onStop = (): void => controller.abort(stop?.reason)
  if (stop?.aborted === true) onStop()
  else stop?.addEventListener('abort', onStop, { once: true })
  let planned: PlannedWorkflow
  try {
    planned = await planWorkflow({ goal: args.goal, tools: registry, llm, signal: controller.signal })
  } catch (err) {
    if (controller.signal.aborted) {
      io.stderr('planning cancelled')
      return EXIT.failed
    }
    if (TaskweaveError.is(err, 'TW_PLAN')) return reportInvalidPlan(err, io)
    // The model could not be reached or refused the call: its message says why; a stack would hide it.
    if (TaskweaveError.is(err) && err.code !== 'TW_INVALID_OPTION' && err.code !== 'TW_VALIDATION') {
      io.stderr(`error: ${terminalSafe(err.message, { multiline: true })}`)
      return EXIT.failed
    }
    throw err
  } finally {
    stop?.removeEventListener('abort', onStop)
    stopListening()
  }

  const yaml = `${goalComment(args.goal)}${stringify(planned.spec, { lineWidth: 0 })}`
  if (args.out !== undefined) await writeFile(args.out, yaml)
  else io.stdout(yaml.trimEnd())
  io.stderr(summary(planned, args.out))
  return EXIT.ok
}

/** The goal as comment lines heading the file: whoever opens it later sees what it was planned for. */
function goalComment(goal: string): string {
  return `${goal
    .trim()
    .split(/\r?\n/)
    .map((line, i) => `# ${i === 0 ? 'Planned by taskweave plan for: ' : '  '}${line}`)
    .join('\n')}\n`
}

function reportInvalidPlan(err: TaskweaveError, io: CliIo): number {
  const issues = (err.details['issues'] ?? []) as readonly ValidationIssue[]
  const attempts = err.details['attempts']
  io.stderr(`the model did not plan a valid workflow${typeof attempts === 'number' ? ` in ${attempts} attempt${attempts === 1 ? '' : 's'}` : ''} (${issues.length} problem${issues.length === 1 ? '' : 's'}):`)
  for (const issue of issues) io.stderr(`  ${terminalSafe(formatIssue(issue))}`)
  return EXIT.invalid
}

function summary(planned: PlannedWorkflow, out: string | undefined): string {
  const { workflow, attempts, usage, model } = planned
  const tasks = `${workflow.size} task${workflow.size === 1 ? '' : 's'}`
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`
  return `planned workflow "${terminalSafe(workflow.id)}": ${tasks} in ${tries} (${terminalSafe(model)}, ${usage.inputTokens} input + ${usage.outputTokens} output tokens)${out === undefined ? '' : ` → ${terminalSafe(out)}`}`
}
