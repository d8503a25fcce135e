// Stand-alone `kun onnx` binary (the kun CLI forwards its `onnx` verb to the same function).
#include "kun/apps/onnx/onnx.h"

int main(int argc, char** argv) { return kun::onnx::cli_main(argc, argv); }
