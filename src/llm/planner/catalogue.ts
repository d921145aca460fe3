/**
 * The tools a plan may use: the registry a plan is compiled against, and the catalogue the model
 * reads (each tool's name, description and input JSON Schema).
 * @module
 */
import { z } from 'zod'
import { ToolRegistry } from '../../core/registry.js'
import type { AnyTool } from '../../core/tool.js'

/** The tools a plan may use: a registry, or any iterable of tools (an array, `registry.list()`). */
export type PlannerTools = ToolRegistry | Iterable<AnyTool>

/** One entry of the catalogue the model reads. */
export interface CatalogueEntry {
  readonly name: string
  readonly description?: string
  /** JSON Schema of the tool's input (`{}` when its zod schema cannot be expressed in JSON Schema). */
  readonly input: Record<string, unknown>
}

/**
 * The registry plans are compiled against: `tools` itself when it is a registry (not a copy: each
 * planning sees the tools registered by then), else a new one holding the tools; either way
 * without the tools named in `exclude` (the planner tool leaves itself out, so a plan cannot
 * plan again).
 */
export function plannerRegistry(tools: PlannerTools, exclude: readonly string[] = []): ToolRegistry {
  if (tools instanceof ToolRegistry && !exclude.some((name) => tools.has(name))) return tools
  const list = tools instanceof ToolRegistry ? tools.list() : [...tools]
  return new ToolRegistry(list.filter((tool) => !exclude.includes(tool.name)))
}

/** The catalogue of `registry`, sorted by name (a stable prompt prefix, which providers cache). */
export function toolCatalogue(registry: ToolRegistry): CatalogueEntry[] {
  return registry.names().map((name) => {
    const tool = registry.get(name) as AnyTool
    return { name, ...(tool.description === undefined ? {} : { description: tool.description }), input: inputJsonSchema(tool) }
  })
}

/** A tool's input as JSON Schema, from its zod schema, as a caller writes it (`io: 'input'`: defaults optional). */
function inputJsonSchema(tool: AnyTool): Record<string, unknown> {
  try {
    const { $schema: _ignored, ...schema } = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' })
    return schema
  } catch {
    // A schema zod cannot convert (a cycle it cannot name, say): the model gets the name and
    // description only, and compilation still checks the input against the real schema.
    return {}
  }
}
