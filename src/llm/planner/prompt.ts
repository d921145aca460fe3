/**
 * What the planner says to the model: a system prompt (the task, the rules of a taskweave plan,
 * and the tool catalogue), the goal as the user message, and, after an invalid answer, a repair
 * message listing what is wrong.
 *
 * The catalogue sits in the system prompt and the goal in the user message: the system prompt is
 * then the same for every goal planned with the same tools, a prefix providers cache (OpenAI
 * bills cached input tokens at a fraction), and the goal cannot be mistaken for a rule.
 * @module
 */
import { formatIssue, type ValidationIssue } from '../../core/errors.js'
import type { CatalogueEntry } from './catalogue.js'

/** Most problems listed in one repair message; the rest are counted (a long list only adds tokens). */
export const MAX_ISSUES_IN_REPAIR = 30

/** The system prompt for planning with `catalogue`. */
export function plannerSystemPrompt(catalogue: readonly CatalogueEntry[]): string {
  return `You plan workflows for taskweave, an engine that runs tool calls as a DAG: every task calls one tool, and tasks run in parallel unless one waits for another.

Turn the user's goal into one workflow, answered as a single JSON object:
{"id": "<workflow id>", "description": "<one sentence>", "tasks": [{"id": "<task id>", "tool": "<tool name>", "input": {...}, "dependsOn": ["<task id>"], "description": "<a few words>"}]}

Rules:
- Use only the tools listed below, by their exact name. Each task's "input" must match its tool's input JSON Schema (required fields present, no unknown fields).
- Ids are letters, digits, "_" and "-" only; task ids are unique, short and meaningful (e.g. "fetch_page").
- To pass a task's output to another task, write a template inside a string of the input: "{{ tasks.<id>.output }}" for the whole output, or "{{ tasks.<id>.output.<field> }}" for a field of it. A string that is exactly one template keeps the value's type; a template inside longer text is inserted as text. A template makes the task wait for <id> by itself.
- "dependsOn" lists tasks that must finish first although no output of theirs is used; leave it out otherwise.
- Tasks that do not need each other's results must not depend on each other, so they run in parallel.
- The workflow has no inputs: write the values the goal gives directly into the inputs. Never use {{ inputs.… }}, {{ item }} or {{ index }}.
- No cycles. Use as few tasks as the goal allows, and at least one.
- Answer with the JSON object only: no prose, no code fence.

Tools (name, description and input JSON Schema of each):
${JSON.stringify(catalogue)}`
}

/** The user message that states the goal. */
export function goalMessage(goal: string): string {
  return `Goal: ${goal}`
}

/** The user message sent after an invalid answer: every problem (up to a limit), each naming its task and field. */
export function repairMessage(issues: readonly ValidationIssue[]): string {
  const shown = issues.slice(0, MAX_ISSUES_IN_REPAIR).map((issue) => `- ${formatIssue(issue)}`)
  const more = issues.length > MAX_ISSUES_IN_REPAIR ? [`- …and ${issues.length - MAX_ISSUES_IN_REPAIR} more`] : []
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`
  return `That workflow is not valid (${count}):
${[...shown, ...more].join('\n')}

Answer with the whole corrected workflow as one JSON object, following the rules and using only the listed tools.`
}
