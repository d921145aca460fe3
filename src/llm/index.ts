/**
 * `taskweave/llm`: LLM calls that work with the engine's rate keys and budgets — the `llm.chat`
 * tool on the official `openai` client (any OpenAI-compatible server), its price table and token
 * estimates, and the header parsing it shares.
 * @module
 */
export * from './chat/index.js'
export * from './fake/index.js'
export * from './planner/index.js'
