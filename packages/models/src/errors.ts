import { Data } from "effect"

/** The hub refused a gated or private repository: no token, or a token without access. */
export class HubAuthError extends Data.TaggedError("HubAuthError")<{
  readonly repo: string
  readonly url: string
  readonly status: number
  readonly hadToken: boolean
}> {
  override get message() {
    const page = `https://huggingface.co/${this.repo}`
    return this.hadToken
      ? `${this.repo}: Hugging Face refused the token (HTTP ${this.status} for ${this.url}). ` +
          `The repository is gated: open ${page}, accept its licence with the account that owns the token, then retry.`
      : `${this.repo} is gated and no Hugging Face token was found (HTTP ${this.status} for ${this.url}). ` +
          `Accept the licence at ${page}, create a read token at https://huggingface.co/settings/tokens, and ` +
          "set HF_TOKEN=hf_... (or save it in ~/.cache/huggingface/token, e.g. with `huggingface-cli login`)."
  }
}

/** The hub could not be reached or answered with an unexpected status. */
export class HubRequestError extends Data.TaggedError("HubRequestError")<{
  readonly url: string
  readonly status?: number
  readonly reason: string
}> {
  override get message() {
    return `${this.url}: ${this.status === undefined ? "" : `HTTP ${this.status}: `}${this.reason}`
  }
}

/**
 * The hub could not be reached at all: the connection failed, or no answer came within the request
 * timeout. `hint` says what to do: the network, `HF_ENDPOINT`, `HF_TOKEN`, or a local folder.
 */
export class HubUnreachableError extends Data.TaggedError("HubUnreachableError")<{
  readonly endpoint: string
  readonly url: string
  readonly reason: string
}> {
  override get message() {
    return `cannot reach the Hugging Face hub at ${this.endpoint}: ${this.reason} (${this.url})`
  }

  get hint() {
    return (
      `check the network, or set HF_ENDPOINT to a hub or mirror you can reach (now ${this.endpoint}); ` +
      "the release is gated, so HF_TOKEN must hold a token with access to it. Without the network: copy the " +
      "release files into a folder and name it as model.dir in the run configuration (ModelStore.layerLocal " +
      "in code), which never downloads."
    )
  }
}

/** A download stopped before the end and could not be resumed within the retry budget. */
export class DownloadIncompleteError extends Data.TaggedError("DownloadIncompleteError")<{
  readonly file: string
  readonly partialPath: string
  readonly received: number
  readonly expected: number
  readonly reason: string
}> {
  override get message() {
    return (
      `${this.file}: download stopped at ${this.received} of ${this.expected} bytes (${this.reason}); ` +
      `the bytes so far are kept in ${this.partialPath} and the next attempt resumes from there`
    )
  }
}

/** A downloaded file does not match the size or hash the hub announced. */
export class IntegrityError extends Data.TaggedError("IntegrityError")<{
  readonly file: string
  readonly check: "size" | "sha256" | "git-sha1"
  readonly expected: string
  readonly actual: string
}> {
  override get message() {
    return `${this.file}: ${this.check} is ${this.actual}, the hub announced ${this.expected}; the download was discarded`
  }
}

/** A file the model needs is absent from the local folder (offline use never downloads). */
export class ModelFileMissingError extends Data.TaggedError("ModelFileMissingError")<{
  readonly folder: string
  readonly file: string
  readonly hint: string
}> {
  override get message() {
    return `${this.file} is missing from ${this.folder}: ${this.hint}`
  }
}

/** A `.tgz` archive that cannot be extracted. */
export class ArchiveError extends Data.TaggedError("ArchiveError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path}: not a readable gzip'd tar archive (${this.reason})`
  }
}

/** A checkpoint whose tensors are not those of the expected model. */
export class WrongModelError extends Data.TaggedError("WrongModelError")<{
  readonly path: string
  readonly expected: string
  readonly detected: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path}: expected a ${this.expected} checkpoint but found ${this.detected} (${this.reason})`
  }
}

/** A PyTorch `.pt` file (zip + pickle) outside the subset torch.save writes for tensors and dicts. */
export class TorchFormatError extends Data.TaggedError("TorchFormatError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path}: ${this.reason}`
  }
}
