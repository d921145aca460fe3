/** The Chat Completions request body of one `llm.chat` call, built from its input. Pure. @module */
import type { ChatCompletionContentPart, ChatCompletionContentPartText, ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import type { ChatInput, ChatMessageInput, ContentPartInput } from './input.js'
import { messagesOf } from './input.js'
import type { MaxTokensParam } from './options.js'

/** The request body for `input` (without the streaming fields). */
export function chatRequestBody(input: ChatInput, model: string, maxTokensParam: MaxTokensParam): ChatCompletionCreateParamsNonStreaming {
  return {
    model,
    messages: messagesOf(input).map(toOpenAiMessage),
    ...(input.maxTokens === undefined ? {} : { [maxTokensParam]: input.maxTokens }),
    ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
    ...responseFormatOf(input.responseFormat),
  }
}

function responseFormatOf(format: ChatInput['responseFormat']): Pick<ChatCompletionCreateParamsNonStreaming, 'response_format'> {
  if (format === 'text') return {}
  if (format === 'json') return { response_format: { type: 'json_object' } }
  const { name, schema, strict } = format.jsonSchema
  return { response_format: { type: 'json_schema', json_schema: { name, schema, ...(strict === undefined ? {} : { strict }) } } }
}

/** One input message in the API's shape (`toolCallId` becomes `tool_call_id`). */
export function toOpenAiMessage(message: ChatMessageInput): ChatCompletionMessageParam {
  const name = message.name === undefined ? {} : { name: message.name }
  switch (message.role) {
    case 'system':
      return { role: 'system', content: textOnly(message.content), ...name }
    case 'assistant':
      return { role: 'assistant', content: textOnly(message.content), ...name }
    case 'tool':
      return { role: 'tool', content: textOnly(message.content), tool_call_id: message.toolCallId ?? '' }
    case 'user':
      return { role: 'user', content: typeof message.content === 'string' ? message.content : message.content.map(toOpenAiPart), ...name }
  }
}

function toOpenAiPart(part: ContentPartInput): ChatCompletionContentPart {
  if (part.type === 'text') return { type: 'text', text: part.text }
  const { url, detail } = part.image_url
  return { type: 'image_url', image_url: { url, ...(detail === undefined ? {} : { detail }) } }
}

/** Contents of roles that take no images (the input schema refuses images there already). */
function textOnly(content: string | readonly ContentPartInput[]): string | ChatCompletionContentPartText[] {
  if (typeof content === 'string') return content
  return content.flatMap((part) => (part.type === 'text' ? [{ type: 'text' as const, text: part.text }] : []))
}
