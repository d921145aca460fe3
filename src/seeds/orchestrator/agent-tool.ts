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

const agentInput = z.object({ dependencies: z.record(z.string(), z.unknown()).optional() })

/** Name of the tool running agents of `agentType`. */
export function agentToolName(agentType: string, namespace = 'agent'): string {
  return `${namespace}.${agentType}`
}

/** The tool input of a task depending on `dependencies`. */
export function agentInputOf(dependencies: readonly string[]): Record<string, unknown> | undefined {
  if (dependencies.length === 0) return undefined
  const refs: Record<string, string> = {}
  for (const id of dependencies) refs[id] = `{{ tasks.${id}.output }}`
  return { dependencies: refs }
}

/** Wraps an agent handler into a tool; `dataOf` finds a task's data. */
export function createAgentTool(agentType: string, handler: AgentHandler, dataOf: (runId: string, taskId: string) => AgentData, namespace = 'agent'): AnyTool {
  const process = typeof handler === 'function' ? handler : handler.process.bind(handler)
  return defineTool({
    name: agentToolName(agentType, namespace),
    description: `Runs the "${agentType}" agent.`,
    input: agentInput,
    run: (input, ctx) => process(dataOf(ctx.runId, ctx.taskId), agentContext(ctx, agentType, input.dependencies ?? {})),
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
