// `kun speech ...` verbs: train CONFIG, eval --model M [--data DIR], transcribe FILE --model M.
// argv[0] is the verb name ("speech"). Returns the process exit code; errors print one line to
// stderr and return non-zero (never throw). The config format is documented in docs/speech.md.
#pragma once

namespace kun::speech {

int cli_main(int argc, char** argv);

}  // namespace kun::speech
