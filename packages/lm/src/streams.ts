import { Stream } from "effect"
import type { LmError } from "./errors.ts"
import { LmGen } from "./LmGen.ts"

/**
 * Steps the LM once per frame of user codes, in order, and emits each `[17]` output frame
 * (the warm-up calls after a reset emit nothing).
 */
export const generateFrames = <E, R>(
  userCodes: Stream.Stream<Int32Array, E, R>,
): Stream.Stream<Int32Array, E | LmError, R | LmGen> =>
  Stream.unwrap(
    LmGen.useSync((gen) =>
      userCodes.pipe(
        Stream.mapEffect((codes) => gen.step(codes)),
        Stream.filter((out): out is Int32Array => out !== undefined),
      ),
    ),
  )
