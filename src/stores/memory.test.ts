import { describe, it } from 'vitest'
import { storeConformanceCases } from '../testing/store-conformance.js'
import { MemoryRunStore } from './memory.js'

describe('MemoryRunStore conformance', () => {
  for (const c of storeConformanceCases(async () => ({ store: new MemoryRunStore() }))) it(c.name, c.run)
})

describe('MemoryRunStore conformance (not exclusive)', () => {
  for (const c of storeConformanceCases(async () => ({ store: new MemoryRunStore({ exclusive: false }) }))) it(c.name, c.run)
})
