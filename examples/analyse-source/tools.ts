/** Tools of the analyse-source example: per-file measures and the final report. */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { defineTool } from 'taskweave'

const fileMeasures = z.object({
  path: z.string(),
  lines: z.number(),
  blank: z.number(),
  todos: z.number(),
  exports: z.number(),
})

/** Reads one file and counts its lines, blank lines, TODO/FIXME markers and exported symbols. */
export const measure = defineTool({
  name: 'code.measure',
  description: 'Counts lines, blank lines, TODO markers and exports of one source file.',
  input: z.object({ path: z.string() }),
  run: async ({ path }, ctx) => {
    const content = await readFile(path, { encoding: 'utf8', signal: ctx.signal })
    const lines = content.split('\n')
    return {
      path,
      lines: lines.length,
      blank: lines.filter((line) => line.trim() === '').length,
      todos: lines.filter((line) => /\b(TODO|FIXME|XXX)\b/.test(line)).length,
      exports: lines.filter((line) => /^export\s/.test(line)).length,
    }
  },
})

/** Aggregates the per-file measures into totals and the largest files. */
export const report = defineTool({
  name: 'code.report',
  description: 'Aggregates per-file measures into a report.',
  input: z.object({ root: z.string(), files: z.array(fileMeasures) }),
  run: ({ root, files }) => {
    const total = (key: 'lines' | 'blank' | 'todos' | 'exports'): number => files.reduce((sum, file) => sum + file[key], 0)
    const largest = [...files].sort((a, b) => b.lines - a.lines).slice(0, 5)
    return {
      root,
      files: files.length,
      lines: total('lines'),
      blankLines: total('blank'),
      todos: total('todos'),
      exports: total('exports'),
      largest: largest.map((file) => `${file.path} (${file.lines} lines)`),
    }
  },
})
