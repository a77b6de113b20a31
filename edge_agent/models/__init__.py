"""Edge models: classical DSP and ONNX Runtime wrappers (numpy + onnxruntime only), plus the manifest."""
