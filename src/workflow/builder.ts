/**
 * The typed builder: the same workflow schema as YAML, with tool inputs checked by TypeScript.
 * Any input field may instead hold a `{{ template }}` string.
 * @module
 */
import type { z } from 'zod'
import type { AnyTool, Tool } from '../core/tool.js'
import type { TaskSpec, WorkflowSpec } from './types.js'

/** A `{{ … }}` template string. */
export type TemplateString = `${string}{{${string}}}${string}`

/** A tool input where every field may also be a template. */
export type TemplateInput<T> = T extends string
  ? T | TemplateString
  : T extends readonly (infer U)[]
    ? readonly TemplateInput<U>[] | TemplateString
    : T extends object
      ? { [K in keyof T]: TemplateInput<T[K]> } | TemplateString
      : T | TemplateString

/** Task options in the builder: everything of a task but its id and tool. */
export type BuilderTaskOptions<Input> = Omit<TaskSpec, 'id' | 'tool' | 'input'> & { readonly input?: TemplateInput<Input> }

/** A workflow built in code: the plain definition plus the tool objects it uses. */
export interface BuiltWorkflow {
  readonly spec: WorkflowSpec
  /** Tools referenced as objects; the engine registers them for the run. */
  readonly tools: readonly AnyTool[]
}

/** Fluent, typed workflow builder. Create with {@link workflow}. */
export class WorkflowBuilder {
  readonly #spec: Omit<WorkflowSpec, 'tasks'>
  readonly #tasks: TaskSpec[] = []
  readonly #tools = new Map<string, AnyTool>()

  constructor(spec: Omit<WorkflowSpec, 'tasks'>) {
    this.#spec = spec
  }

  /** Adds a task running `tool` (a tool object, typed input; or a registered tool's name). */
  task<S extends z.ZodType, O>(id: string, tool: Tool<S, O>, options?: BuilderTaskOptions<z.input<S>>): this
  task(id: string, tool: string, options?: BuilderTaskOptions<Record<string, unknown>>): this
  task(id: string, tool: AnyTool | string, options: BuilderTaskOptions<unknown> = {}): this {
    const name = typeof tool === 'string' ? tool : tool.name
    if (typeof tool !== 'string') this.#tools.set(tool.name, tool)
    this.#tasks.push({ ...(options as Omit<TaskSpec, 'id' | 'tool'>), id, tool: name })
    return this
  }

  /** The finished definition (validated when the engine compiles or runs it). */
  build(): BuiltWorkflow {
    return { spec: { ...this.#spec, tasks: [...this.#tasks] }, tools: [...this.#tools.values()] }
  }
}

/**
 * Starts a workflow in code.
 * @example
 * const flow = workflow({ id: 'greet', inputs: { name: { type: 'string' } } })
 *   .task('hello', greet, { input: { name: '{{ inputs.name }}' } })
 *   .task('shout', shout, { input: { text: '{{ tasks.hello.output }}' } })
 *   .build()
 * const result = await engine.run(flow, { inputs: { name: 'Ada' } })
 */
export function workflow(spec: Omit<WorkflowSpec, 'tasks'>): WorkflowBuilder {
  return new WorkflowBuilder(spec)
}

/** Identity helper that types a plain workflow definition (the same shape a YAML file holds). */
export function defineWorkflow(spec: WorkflowSpec): WorkflowSpec {
  return spec
}
