// `kun recsys ...` verbs: train CONFIG, eval, recommend --user ID -n 10, similar --item ID.
// argv[0] is the program / verb name. Returns the process exit code; errors print one line to
// stderr and return non-zero (never throw).
#pragma once

namespace kun::recsys {

int cli_main(int argc, char** argv);

}  // namespace kun::recsys
