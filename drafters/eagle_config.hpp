#pragma once
// Reading an EAGLE-3 head's config.json fields that checkpoints place in more than one way, shared by the
// head's loader and its GGUF writer so both read a checkpoint alike.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ternspec {

// A field at the top level of the config or inside eagle_config (checkpoints use both); null when absent.
nlohmann::json eagle_field(const nlohmann::json& j, const char* key);

// The three aux layers as the stream entering each target layer (vLLM's and llama.cpp's convention):
// eagle_aux_hidden_state_layer_ids read in the convention the config or `option` states (SGLang's counts
// one lower), or the published defaults {2, L/2, L-3} when the config lists none. FormatError naming
// `origin` for ids outside the target's 0..L.
std::vector<int> aux_layers_for(const nlohmann::json& j, const std::string& origin, int target_layers,
                                const std::string& option);

}  // namespace ternspec
