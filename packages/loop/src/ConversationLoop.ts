import { Context, Effect, Layer, Queue, Stream } from "effect"
import type { LoopEvent } from "./events.ts"
import type { LoopOptions } from "./options.ts"
import type { RunReport } from "./report.ts"
import { type LoopError, type LoopServices, runConversation } from "./runConversation.ts"

/** A running conversation seen as a stream of events; the last one is `RunEnded` with the report. */
export const conversationEvents = (options: LoopOptions): Stream.Stream<LoopEvent, LoopError, LoopServices> =>
  Stream.callback<LoopEvent, LoopError, LoopServices>((queue) =>
    runConversation(options, (event) => Effect.asVoid(Queue.offer(queue, event))).pipe(
      Effect.andThen(Queue.end(queue)),
    ),
  )

export interface ConversationLoopShape {
  /** Runs the conversation to its end; `onEvent` sees every event as it happens. */
  run(onEvent?: (event: LoopEvent) => Effect.Effect<void>): Effect.Effect<RunReport, LoopError>
  /** The same run as a stream of events (the run starts when the stream is consumed). */
  readonly events: Stream.Stream<LoopEvent, LoopError>
}

/**
 * The conversation loop as a service: its layer captures the codec, LM, tokenizer, audio
 * source and sink and compactor from the context, so swapping any of them is a matter of
 * providing a different layer.
 */
export class ConversationLoop extends Context.Service<ConversationLoop, ConversationLoopShape>()(
  "@personaplex/loop/ConversationLoop",
) {
  static layer(options: LoopOptions): Layer.Layer<ConversationLoop, never, LoopServices> {
    return Layer.effect(
      ConversationLoop,
      Effect.gen(function* () {
        const context = yield* Effect.context<LoopServices>()
        return ConversationLoop.of({
          run: (onEvent) => Effect.provideContext(runConversation(options, onEvent), context),
          events: Stream.provideContext(conversationEvents(options), context),
        })
      }),
    )
  }
}
