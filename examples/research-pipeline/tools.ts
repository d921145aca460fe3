/** Simulated agent tools: deterministic answers, realistic latency, honouring cancellation. */
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { defineTool } from 'taskweave'

// Latency derived from the text, so runs are repeatable.
function latencyMs(text: string, base: number): number {
  let hash = 0
  for (const ch of text) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0
  return base + (hash % base)
}

/** Splits a topic into sub-questions. */
export const plan = defineTool({
  name: 'sim.plan',
  description: 'Plans sub-questions about a topic (simulated model).',
  input: z.object({ topic: z.string(), count: z.number().int().min(1).max(50) }),
  run: async ({ topic, count }, ctx) => {
    await delay(latencyMs(topic, 30), undefined, { signal: ctx.signal })
    const angles = ['habitat', 'diet', 'tool use', 'social life', 'predators', 'conservation', 'history', 'anatomy']
    return { questions: Array.from({ length: count }, (_, i) => `What about the ${angles[i % angles.length]} of ${topic}?`) }
  },
})

/** Finds a snippet answering a question. */
export const search = defineTool({
  name: 'sim.search',
  description: 'Searches a (simulated) index.',
  input: z.object({ question: z.string() }),
  run: async ({ question }, ctx) => {
    await delay(latencyMs(question, 40), undefined, { signal: ctx.signal })
    return { question, snippet: `Findings on "${question.replace(/^What about the /, '').replace(/\?$/, '')}" from three sources.` }
  },
})

/** Answers a prompt (simulated model). */
export const llm = defineTool({
  name: 'sim.llm',
  description: 'Completes a prompt (simulated model).',
  input: z.object({ prompt: z.string() }),
  run: async ({ prompt }, ctx) => {
    ctx.progress({ message: 'thinking' })
    await delay(latencyMs(prompt, 50), undefined, { signal: ctx.signal })
    return { text: prompt.replace(/^Summarise in one sentence: /, '').replace(/^Define three terms about /, 'Terms: ') }
  },
})

/** Assembles the brief. */
export const brief = defineTool({
  name: 'sim.brief',
  description: 'Writes the final brief.',
  input: z.object({ topic: z.string(), points: z.array(z.object({ text: z.string() })), glossary: z.string() }),
  run: ({ topic, points, glossary }) => [`Brief: ${topic}`, ...points.map((p, i) => `${i + 1}. ${p.text}`), glossary].join('\n'),
})
