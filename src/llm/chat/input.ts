/**
 * The input of `llm.chat`: a conversation (`messages`) or its one-message shorthand (`prompt`,
 * with an optional `system`), plus the call's settings. Checked by zod before every attempt, so
 * a problem names its field (`input.messages.0.role`).
 * @module
 */
import { z } from 'zod'

const textPart = z.object({ type: z.literal('text'), text: z.string() })
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
})

/** One part of a multi-part message: text or an image (by URL or data URL). */
export const contentPart = z.discriminatedUnion('type', [textPart, imagePart])

/** One message of a conversation. */
export const chatMessage = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(contentPart).min(1)]),
    name: z.string().min(1).max(64).optional().describe('Name of the participant (OpenAI `name`).'),
    toolCallId: z.string().min(1).optional().describe('For a `tool` message: the id of the tool call it answers.'),
  })
  .refine((m) => m.role !== 'tool' || m.toolCallId !== undefined, { message: 'a tool message needs toolCallId', path: ['toolCallId'] })
  .refine((m) => typeof m.content === 'string' || m.role === 'user' || m.content.every((p) => p.type === 'text'), {
    message: 'only user messages may hold images',
    path: ['content'],
  })

/** How the answer should be shaped: free text, any JSON object, or JSON matching a schema. */
export const responseFormat = z.union([
  z.enum(['text', 'json']),
  z.object({
    jsonSchema: z.object({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -'),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean().optional(),
    }),
  }),
])

/** The input schema of `llm.chat`. */
export const chatInput = z
  .object({
    messages: z.array(chatMessage).min(1).optional().describe('The conversation; give this or prompt.'),
    prompt: z.string().optional().describe('Shorthand for one user message; give this or messages.'),
    system: z.string().optional().describe('A system message put before the conversation.'),
    model: z.string().min(1).max(200).optional().describe("The model; defaults to the tool's."),
    maxTokens: z.number().int().positive().max(10_000_000).optional().describe('Most tokens the answer may have.'),
    temperature: z.number().min(0).max(2).optional(),
    responseFormat: responseFormat
      .default('text')
      .describe("'json' (OpenAI wants the word JSON in the messages then) or { jsonSchema } also returns the answer parsed as `json`."),
    stream: z.boolean().default(true).describe('Stream the answer, reporting progress as it arrives.'),
  })
  .refine((input) => (input.messages === undefined) !== (input.prompt === undefined), {
    message: 'give exactly one of messages or prompt',
    path: ['messages'],
  })

/** The input as the tool receives it (defaults applied). */
export type ChatInput = z.output<typeof chatInput>
/** One message as the input holds it. */
export type ChatMessageInput = z.output<typeof chatMessage>
/** One content part as the input holds it. */
export type ContentPartInput = z.output<typeof contentPart>

/** The conversation a call sends: `system` first when given, then `messages`, or `prompt` as one user message. */
export function messagesOf(input: Pick<ChatInput, 'messages' | 'prompt' | 'system'>): ChatMessageInput[] {
  const system: ChatMessageInput[] = input.system === undefined ? [] : [{ role: 'system', content: input.system }]
  const rest: ChatMessageInput[] = input.messages ?? (input.prompt === undefined ? [] : [{ role: 'user', content: input.prompt }])
  return [...system, ...rest]
}

/** Whether the answer is to be parsed as JSON. */
export function wantsJson(input: Pick<ChatInput, 'responseFormat'>): boolean {
  return input.responseFormat !== 'text'
}
