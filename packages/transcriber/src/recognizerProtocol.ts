/** Messages between the recognizer client (main thread) and its worker thread. */

export interface LoadSettings {
  /** A folder in transformers.js's layout (config.json, tokenizer, preprocessor, onnx/). */
  readonly folder: string
  /** Which ONNX files: "fp32" reads `encoder_model.onnx`, "q8" `encoder_model_quantized.onnx`, and so on. */
  readonly dtype: string
  /** onnxruntime threads per session (the LM and codec need the other cores). */
  readonly threads: number
}

export type RecognizerRequest =
  | { readonly id: number; readonly kind: "load"; readonly settings: LoadSettings }
  | {
      readonly id: number
      readonly kind: "recognize"
      /** 24 kHz mono; the worker resamples to the model's rate. */
      readonly samples: Float32Array
    }

export type RecognizerResponse =
  | { readonly id: number; readonly ok: true; readonly text: string }
  | { readonly id: number; readonly ok: false; readonly error: string }
