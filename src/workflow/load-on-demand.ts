/**
 * {@link loadWorkflowFile} for the package root and the engine (`engine.load`): the file reader and
 * the YAML parsers (js-yaml, and `yaml` for what js-yaml refuses) load with the first file read,
 * not with `import 'taskweave'`, which a program that builds its workflows in code never needs.
 * `taskweave/workflow` exports the module itself, with the synchronous `parseWorkflowText`.
 * @module
 */
import type { ToolRegistry } from '../core/registry.js'
import type { CompiledWorkflow } from './compile.js'
import type { LoadOptions } from './load.js'

/**
 * Reads, parses and compiles a workflow file (YAML or JSON) against a registry. Rejects with
 * `TW_VALIDATION` listing every problem of the definition with its line, and rejects too for a
 * file it cannot read as one (missing, not a regular file, too large, not UTF-8); aborting
 * `options.signal` stops the read.
 */
export async function loadWorkflowFile(file: string, registry: ToolRegistry, options: LoadOptions = {}): Promise<CompiledWorkflow> {
  const load = await import('./load.js')
  return load.loadWorkflowFile(file, registry, options)
}
