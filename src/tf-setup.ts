// tfjs-core's Node build registers neither the chained tensor methods (x.reshape(...)) nor any
// gradient. The union package registers both on the same (deduplicated) tfjs-core instance, so
// every entry point imports this module once before using tensors.
import "@tensorflow/tfjs";
