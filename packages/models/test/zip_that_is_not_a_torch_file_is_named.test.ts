import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { readTorchArchive, readTorchVoicePrompt, TorchArchiveError, TorchFormatError } from "../src/index.ts"
import { storedZip } from "./helpers/torchWriter.ts"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "not-torch-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

describe("a zip that is not a torch.save file", () => {
  it("a data.pkl that is not a pickle is named as such, not as a pickle opcode error", async () => {
    const file = path.join(tmp, "voice.pt")
    fs.writeFileSync(file, storedZip([["voice/data.pkl", Buffer.from("hi, these are notes, not a pickle")]]))
    const error = await Effect.runPromise(Effect.flip(readTorchVoicePrompt(file)))
    expect(error).toBeInstanceOf(TorchFormatError)
    expect(error.message).toBe(
      `${file}: a zip whose voice/data.pkl is not a pickle (it starts with byte 0x68, not the PROTO opcode 0x80 torch.save writes): not a torch.save file`,
    )
    expect(error.message).not.toMatch(/memo/)
  })

  it("a pickle that breaks off is a TorchArchiveError saying it is not what torch.save wrote", () => {
    const bytes = storedZip([["a/data.pkl", Uint8Array.from([0x80, 0x02, 0x7d, 0x71])]])
    expect(() => readTorchArchive(bytes)).toThrow(TorchArchiveError)
    expect(() => readTorchArchive(bytes)).toThrow(
      /^a zip whose a\/data\.pkl is not a pickle torch\.save wrote \(pickle truncated at byte 4\): not a torch\.save file$/,
    )
  })
})
