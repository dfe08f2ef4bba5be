// Public surface of the vision pipeline: PIL-compatible image loading and CLIP preprocessing.
export type { RgbImage } from "./image.js";
export { applyOrientation, createImage } from "./image.js";
export {
  loadImage,
  decodeImage,
  activeJpegDecoder,
  maxImagePixels,
  setMaxImagePixels,
  DEFAULT_MAX_IMAGE_PIXELS,
  ImageDecodeError,
  ImageTooLargeError,
  type DecodeOptions,
  type JpegDecoderChoice,
} from "./decode.js";
export { resizeBicubic, resizeImage, type ResampleFilter } from "./bicubic.js";
export {
  loadProcessorConfig,
  parseProcessorConfig,
  defaultProcessorConfig,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  type ProcessorConfig,
} from "./processor-config.js";
export {
  preprocess,
  preprocessWithShape,
  resizeAndCrop,
  shortestEdgeSize,
  centerCrop,
  expandToSquare,
  padBackground,
  type PreprocessMode,
  type PreprocessResult,
} from "./processor.js";
