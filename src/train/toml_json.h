// TOML -> JSON for every config reader inside the library (train configs, the text and speech
// pipelines). Private to src/: toml++ types stay out of the public headers.
#pragma once
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace kun::train {

// Tables become objects, arrays arrays, scalars their JSON values; dates and times their text.
nlohmann::json toml_to_json(const toml::node& n);

}  // namespace kun::train
