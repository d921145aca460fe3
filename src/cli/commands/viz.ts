/** `taskweave viz <file> --format mermaid|dot`: the workflow's graph as text for diagram tools. @module */
import type { CompiledWorkflow } from '../../workflow/compile.js'
import { defaultToolsTarget, prepareWorkflow } from '../prepare.js'
import { EXIT, type CliIo } from '../io.js'
import { uncheckedNote } from '../unchecked-tools.js'
import { terminalSafe } from '../terminal-text.js'

/** Diagram formats `viz` writes. */
export type VizFormat = 'mermaid' | 'dot'

/** Renders the graph of a compiled workflow. */
export function renderGraph(workflow: CompiledWorkflow, format: VizFormat): string {
  const label = (i: number): string => {
    const task = workflow.tasks[i]
    if (task === undefined) return ''
    const extras = [task.toolName, task.forEach ? 'forEach' : '', task.when ? `when ${task.when.source}` : ''].filter(Boolean).join(', ')
    // Ids and conditions come from the file: control characters are shown, not sent to the terminal.
    return `${terminalSafe(task.id)}\n${terminalSafe(extras)}`
  }
  if (format === 'dot') {
    const quote = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
    const lines = [`digraph ${quote(terminalSafe(workflow.id))} {`, '  rankdir=LR;', '  node [shape=box, style=rounded];']
    for (const task of workflow.tasks) lines.push(`  ${quote(terminalSafe(task.id))} [label=${quote(label(task.index))}];`)
    for (const task of workflow.tasks) for (const child of task.children) lines.push(`  ${quote(terminalSafe(task.id))} -> ${quote(terminalSafe(workflow.tasks[child]?.id ?? ''))};`)
    lines.push('}')
    return lines.join('\n')
  }
  // Mermaid ids must be simple; labels carry the real ids, HTML-escaped.
  const nodeId = (i: number): string => `t${i}`
  const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, '<br/>')
  const lines = ['flowchart LR']
  for (const task of workflow.tasks) lines.push(`  ${nodeId(task.index)}["${escape(label(task.index))}"]`)
  for (const task of workflow.tasks) for (const child of task.children) lines.push(`  ${nodeId(task.index)} --> ${nodeId(child)}`)
  return lines.join('\n')
}

/** Prints the graph, without running code from the file (its `tools:` modules are not imported). */
export async function vizCommand(args: { readonly file: string; readonly tools: readonly string[]; readonly format: VizFormat }, io: CliIo): Promise<number> {
  const tools = defaultToolsTarget()
  const { workflow, unchecked } = await prepareWorkflow(tools, args.file, { toolModules: args.tools, fileModules: 'skip' })
  io.stdout(renderGraph(workflow, args.format))
  const note = uncheckedNote(unchecked)
  if (note !== undefined) io.stderr(note)
  return EXIT.ok
}
