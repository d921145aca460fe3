/**
 * The workflow each active run of an engine executes, for code inside the package that follows an
 * engine's runs from its events (the HTTP server's live view): a run started beside it by library
 * code, on an engine without a store, has its definition nowhere else. Not exported from the
 * package: one engine's runs are its own business.
 * @module
 */
import type { CompiledWorkflow } from '../workflow/compile.js'

/** Finds the workflow of an active run of one engine, or undefined. */
type WorkflowLookup = (runId: string) => CompiledWorkflow | undefined

const lookups = new WeakMap<object, WorkflowLookup>()

/** @internal Called once by `createEngine` with its engine and how to find its active runs' workflows. */
export function registerActiveWorkflows(engine: object, lookup: WorkflowLookup): void {
  lookups.set(engine, lookup)
}

/**
 * The workflow run `runId` executes, while it is active in `engine` (started, or resumed, and not
 * ended); undefined otherwise, or for an engine not made by `createEngine`.
 */
export function activeWorkflowOf(engine: object, runId: string): CompiledWorkflow | undefined {
  return lookups.get(engine)?.(runId)
}
