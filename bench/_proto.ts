import { Annotation, StateGraph, START, END, Send } from '@langchain/langgraph'

const State = Annotation.Root({
  count: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
})
async function layered(layers: number, width: number) {
  const t0 = performance.now()
  const g = new StateGraph(State) as any
  for (let l = 0; l < layers; l++) for (let i = 0; i < width; i++) g.addNode(`n${l}_${i}`, async () => ({ count: 1 }))
  let seed = 1
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  for (let i = 0; i < width; i++) g.addEdge(START, `n0_${i}`)
  for (let l = 1; l < layers; l++) for (let i = 0; i < width; i++) {
    const a = Math.floor(rnd() * width); let b = Math.floor(rnd() * (width - 1)); if (b >= a) b++
    g.addEdge([`n${l-1}_${a}`, `n${l-1}_${b}`], `n${l}_${i}`)
  }
  for (let i = 0; i < width; i++) g.addEdge(`n${layers-1}_${i}`, END)
  const app = g.compile()
  const t1 = performance.now()
  const out = await app.invoke({}, { recursionLimit: 1000, maxConcurrency: 64 })
  const t2 = performance.now()
  console.log('layered', layers, width, 'build', (t1-t0).toFixed(0), 'run', (t2-t1).toFixed(0), out.count)
}
async function fanout(n: number) {
  const S = Annotation.Root({ items: Annotation<number[]>({ reducer: (a, b) => b, default: () => [] }), results: Annotation<number[]>({ reducer: (a, b) => a.concat(b), default: () => [] }), total: Annotation<number>({ reducer: (a, b) => b, default: () => 0 }) })
  const t0 = performance.now()
  const app = new StateGraph(S)
    .addNode('list', async () => ({ items: Array.from({ length: n }, (_, i) => i) }))
    .addNode('worker', async (s: any) => ({ results: [s.item] }))
    .addNode('agg', async (s) => ({ total: s.results.length }))
    .addEdge(START, 'list')
    .addConditionalEdges('list', (s) => s.items.map((item) => new Send('worker', { item })), ['worker'] as any)
    .addEdge('worker', 'agg').addEdge('agg', END).compile()
  const out = await app.invoke({}, { maxConcurrency: 64 })
  console.log('fanout', n, (performance.now() - t0).toFixed(0), out.total)
}
await layered(20, 500)
console.log(process.resourceUsage().maxRSS)
