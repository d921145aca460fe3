/**
 * A tool's input schema as zod sees it, checked by its JSON Schema with Ajv: exactly what the
 * schema says and nothing more. Converting the schema to zod instead would check `format`s that
 * JSON Schema treats as annotations (an `email` zod refuses, a server accepts), read `pattern`s
 * without Unicode, and fill in `default`s the caller did not send. The value is never changed;
 * each problem is reported at its path, so a task's wrong field is named like any tool's.
 * @module
 */
import { Ajv } from 'ajv'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { z } from 'zod'

/** Draft-07 (and earlier) schemas for one validator, 2020-12 (MCP's default dialect) for the other. */
const OPTIONS = { strict: false, allErrors: true, validateFormats: false, useDefaults: false, coerceTypes: false, removeAdditional: false } as const
let draft07: Ajv | undefined
let draft2020: Ajv2020 | undefined

/** The validator of `schema`, or undefined when Ajv cannot compile it. */
function compile(schema: Record<string, unknown>): ValidateFunction | undefined {
  const { $schema, ...rest } = schema
  const dialect = typeof $schema === 'string' ? $schema : ''
  const older = /draft-0[4-7]/.test(dialect)
  try {
    return older ? (draft07 ??= new Ajv(OPTIONS)).compile(rest) : (draft2020 ??= new Ajv2020(OPTIONS)).compile(rest)
  } catch {
    return undefined
  }
}

/** `/a/0/b` as a path: `['a', 0, 'b']`. */
function pathOf(error: ErrorObject): (string | number)[] {
  const parts = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
  const path: (string | number)[] = parts.map((part) => (/^\d+$/.test(part) ? Number(part) : part))
  // A missing or unexpected property is the parent's problem in Ajv; the field it names is clearer.
  const property = (error.params as { missingProperty?: unknown; additionalProperty?: unknown }).missingProperty ?? (error.params as { additionalProperty?: unknown }).additionalProperty
  if (typeof property === 'string') path.push(property)
  return path
}

/**
 * The zod schema of a tool's input: any object whose JSON is valid against `schema`. A schema Ajv
 * cannot compile accepts any object, and the server, which validates its own input, words the
 * problems.
 */
export function inputSchemaOf(schema: Record<string, unknown>): z.ZodType {
  const validate = compile(schema)
  const anyObject = z.record(z.string(), z.unknown())
  if (validate === undefined) return anyObject
  return anyObject.superRefine((value, ctx) => {
    if (validate(value)) return
    for (const error of validate.errors ?? []) ctx.addIssue({ code: 'custom', path: pathOf(error), message: error.message ?? 'is not valid' })
  })
}
