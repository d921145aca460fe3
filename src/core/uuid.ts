/**
 * Random (version 4) UUIDs for the ids the engine makes at a high rate: one per run.
 *
 * `crypto.randomUUID()` on Node 20 builds its text by joining 20 pieces with `+`, which V8 keeps
 * as a tree of about 15 string nodes: over 500 bytes that stay with the id for as long as the id
 * lives (a run in flight keeps its id), and about 1 µs per call once warm. This writes the same
 * text into a reused buffer and reads it back as one flat string of 56 bytes, several times
 * faster, from the same source: cryptographically strong bytes drawn with `randomFillSync`,
 * {@link IDS_PER_FILL} ids' worth at a time (as `randomUUID()` buffers its own).
 * @module
 */
import { randomFillSync } from 'node:crypto'

/** Ids drawn from one `randomFillSync` call. */
const IDS_PER_FILL = 128

// Memory of its own, not a slice of Node's shared buffer pool that other buffers' `.buffer` reach.
const random = Buffer.allocUnsafeSlow(16 * IDS_PER_FILL)
/** Bytes of {@link random} already used (all of them at first, so the first call fills it). */
let used = random.length

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')

/** Where the two hex digits of each of the 16 bytes go in `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`. */
const DIGITS_AT: readonly number[] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]

/** The text of the id being made; the dashes never change. */
const text = Buffer.alloc(36, 0x2d)

/**
 * A new random UUID (RFC 9562 version 4, lower-case), as `crypto.randomUUID()` returns.
 * @example
 * randomId() // 'd4d6107f-8a7e-46f3-bf0a-797bf36b9991'
 */
export function randomId(): string {
  if (used === random.length) {
    randomFillSync(random)
    used = 0
  }
  for (let i = 0; i < 16; i++) {
    let byte = random[used + i] as number
    // Version 4 in the high nibble of byte 6; variant 10xx in the top bits of byte 8.
    if (i === 6) byte = (byte & 0x0f) | 0x40
    else if (i === 8) byte = (byte & 0x3f) | 0x80
    const at = DIGITS_AT[i] as number
    text[at] = HEX_DIGITS[byte >> 4] as number
    text[at + 1] = HEX_DIGITS[byte & 0x0f] as number
  }
  used += 16
  return text.toString('latin1')
}
