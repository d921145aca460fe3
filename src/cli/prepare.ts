/** Shared by the CLI commands: read a workflow file, load its tool modules, compile it. @module */
import { dirname } from 'node:path'
import type { Engine } from '../engine/engine.js'
import { compileWorkflow } from '../workflow/compile.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { readWorkflowFile, toolModulesOf } from '../workflow/load.js'
import { loadToolModule } from './load-tools.js'

/** Reads `file`, loads the tool modules it lists and those given with `--tools`, and compiles it. */
export async function prepareWorkflow(engine: Engine, file: string, toolModules: readonly string[]): Promise<CompiledWorkflow> {
  const parsed = await readWorkflowFile(file)
  for (const module of toolModules) await loadToolModule(module, process.cwd(), engine.registry)
  for (const module of toolModulesOf(parsed)) await loadToolModule(module, dirname(file), engine.registry)
  return compileWorkflow(parsed.value, { registry: engine.registry, file, locate: parsed.locate })
}
