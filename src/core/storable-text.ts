/**
 * Text every run store keeps as given. JSON carries any string (escaped), but PostgreSQL's `jsonb`,
 * where labels live so that list filters can match them, refuses both U+0000 and a UTF-16
 * surrogate without its pair: such a label would be accepted by one store and fail the run on
 * another, so every store refuses it up front, with the option that holds it named.
 * @module
 */

// U+0000 is the point of the pattern, not a slip.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** What a stored label, name or id must not hold, as an error message says it. */
export const STORABLE_TEXT = 'text without U+0000 and without an unpaired UTF-16 surrogate'

/** Whether `text` holds neither U+0000 nor an unpaired surrogate. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text)
}
