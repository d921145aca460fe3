/**
 * What `taskweave run` stores with a durable run so that `taskweave resume` can rebuild the same
 * engine in another process: the workflow file, the tool modules, the built-in tools' settings.
 * Labels are text, so lists are JSON.
 * @module
 */
import { resolve } from 'node:path'

/** The settings of a CLI run that a resume needs. */
export interface CliRunSettings {
  /** The workflow file (absolute). */
  readonly file: string
  /** `--tools` modules (absolute). */
  readonly tools: readonly string[]
  readonly allowToolsFrom: readonly string[]
  readonly fsRoot: string
  readonly allowPrivateNetwork: boolean
  readonly concurrency?: number
  /** Where its tasks went (`--transport` without password, and `--prefix`), when to workers. */
  readonly remote?: string
}

/** The labels of a run started by the CLI. */
export function runLabels(settings: CliRunSettings): Record<string, string> {
  return {
    source: resolve(settings.file),
    tools: JSON.stringify(settings.tools.map((module) => resolve(module))),
    allowToolsFrom: JSON.stringify(settings.allowToolsFrom.map((dir) => resolve(dir))),
    fsRoot: settings.fsRoot,
    allowPrivateNetwork: String(settings.allowPrivateNetwork),
    ...(settings.concurrency !== undefined ? { concurrency: String(settings.concurrency) } : {}),
    ...(settings.remote !== undefined ? { remote: settings.remote } : {}),
  }
}

/** Reads the labels back; undefined when the run was not started by the CLI. */
export function readRunLabels(labels: Readonly<Record<string, string>>): CliRunSettings | undefined {
  const { source, tools, allowToolsFrom, fsRoot, allowPrivateNetwork, concurrency, remote } = labels
  if (source === undefined || fsRoot === undefined) return undefined
  const list = (text: string | undefined): string[] => {
    try {
      const value: unknown = JSON.parse(text ?? '[]')
      return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
    } catch {
      return []
    }
  }
  return {
    file: source,
    tools: list(tools),
    allowToolsFrom: list(allowToolsFrom),
    fsRoot,
    allowPrivateNetwork: allowPrivateNetwork === 'true',
    ...(concurrency !== undefined && Number(concurrency) >= 1 ? { concurrency: Number(concurrency) } : {}),
    ...(remote !== undefined ? { remote } : {}),
  }
}
