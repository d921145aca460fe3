/**
 * An agent as a tool. The task's data does not travel in the tool input (where a `{{ … }}` in it
 * would be read as a template); the tool looks it up by run and task id. The input carries only
 * the dependencies' outputs, as whole-value templates, so the engine wires and resolves them.
 * @module
 */
import { z } from 'zod'
import { defineTool } from '../../core/tool.js'
import type { AnyTool, ToolContext } from '../../core/tool.js'
import type { AgentContext, AgentData, AgentHandler } from './types.js'

const agentInput = z.object({ dependencies: z.record(z.string(), z.unknown()).optional(), data: z.string().optional() })

/** Name of the tool running agents of `agentType`. */
export function agentToolName(agentType: string, namespace = 'agent'): string {
  return `${namespace}.${agentType}`
}

/**
 * The tool input of a task depending on `dependencies`; with `dataText` (see {@link encodeAgentData}),
 * carrying its data too, so a journal holds it.
 */
export function agentInputOf(dependencies: readonly string[], dataText?: string): Record<string, unknown> | undefined {
  if (dependencies.length === 0 && dataText === undefined) return undefined
  const input: Record<string, unknown> = {}
  if (dependencies.length > 0) {
    const refs: Record<string, string> = {}
    for (const id of dependencies) refs[id] = `{{ tasks.${id}.output }}`
    input['dependencies'] = refs
  }
  if (dataText !== undefined) input['data'] = dataText
  return input
}

/**
 * A task's data as JSON text the engine never reads as a template: in JSON text `{{` can only
 * occur inside a string, where `{` may be written `\u007b` instead, and JSON.parse gives the same
 * data back. (The data of an orchestrator on a durable engine travels in the task input this way,
 * so its journal holds it and a resumed run still has it.)
 */
export function encodeAgentData(data: AgentData): string {
  return JSON.stringify(data).replace(/\{\{/g, '{\\u007b')
}

/** Wraps an agent handler into a tool; `dataOf` finds a task's data. */
export function orchestratorAgentTool(agentType: string, handler: AgentHandler, dataOf: (runId: string, taskId: string) => AgentData, namespace = 'agent'): AnyTool {
  const process = typeof handler === 'function' ? handler : handler.process.bind(handler)
  return defineTool({
    name: agentToolName(agentType, namespace),
    description: `Runs the "${agentType}" agent.`,
    input: agentInput,
    run: (input, ctx) => process(input.data !== undefined ? (JSON.parse(input.data) as AgentData) : dataOf(ctx.runId, ctx.taskId), agentContext(ctx, agentType, input.dependencies ?? {})),
  })
}

function agentContext(ctx: ToolContext, agentType: string, dependencies: Readonly<Record<string, unknown>>): AgentContext {
  return {
    // Getters: the engine creates a signal and a logger only for attempts that ask for them.
    get signal() {
      return ctx.signal
    },
    get logger() {
      return ctx.logger
    },
    taskId: ctx.taskId,
    agentType,
    attempt: ctx.attempt,
    runId: ctx.runId,
    dependencies,
    progress: (progress) => ctx.progress(progress),
  }
}
