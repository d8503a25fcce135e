// `kun serve`: the model server's command line (flags documented by `kun serve --help`).
#pragma once

namespace kun::serve {

// argv[0] is "serve". Serves until SIGINT / SIGTERM, then finishes in-flight requests and exits 0.
int cli_main(int argc, char** argv);

}  // namespace kun::serve
