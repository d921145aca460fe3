/**
 * Integers a JavaScript number cannot hold exactly. `Number('9007199254740993')` and `JSON.parse`
 * round such a literal silently to ...992, so an id or an amount given on the command line would
 * reach the tools changed. Run inputs given as text are scanned for integer literals beyond
 * ±(2^53 − 1) before they are converted, and refused with a message naming the input.
 * @module
 */

// An integer literal (no fraction, no exponent) of 16 digits or more, outside any JSON string
// (strings are matched first and skipped).
const LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])(-?\d{16,})(?![.\deE])/g

/** The first integer literal in JSON `text` that a number would round, or undefined. */
export function firstInexactInteger(text: string): string | undefined {
  LONG_INTEGER.lastIndex = 0
  for (let match = LONG_INTEGER.exec(text); match !== null; match = LONG_INTEGER.exec(text)) {
    const digits = match[1]
    if (digits !== undefined && !Number.isSafeInteger(Number(digits))) return digits
  }
  return undefined
}

/** What is wrong with an input holding `literal`. */
export function inexactIntegerMessage(name: string, literal: string): string {
  return `input "${name}" holds the integer ${literal}, beyond what a number holds exactly (±${Number.MAX_SAFE_INTEGER}); it would be rounded. Declare the input as type: string to keep it as text`
}
