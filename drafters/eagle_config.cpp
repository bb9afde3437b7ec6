#include "drafters/eagle_config.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "target/io/json_fields.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

// A field at the top level of the config or inside eagle_config (checkpoints use both); null when absent.
nlohmann::json eagle_field(const nlohmann::json& j, const char* key) {
    if (j.contains(key)) return j[key];
    if (j.contains("eagle_config") && j["eagle_config"].is_object() && j["eagle_config"].contains(key))
        return j["eagle_config"][key];
    return nullptr;
}

namespace {

// Whose convention explicit aux layer ids follow: the config's eagle_aux_hidden_state_layer_convention, else
// the drafter option, else vLLM's with a warning (the two differ by one layer, and a head read in the wrong
// one drafts badly without any error).
std::string layer_convention(const nlohmann::json& j, const std::string& cfg_path,
                             const std::string& option) {
    const auto check = [](const std::string& v, const std::string& what) {
        if (v != "vllm" && v != "sglang")
            throw FormatError(what + " is \"" + v +
                              "\"; it must be \"vllm\" (the stream entering layer id) or " +
                              "\"sglang\" (the output of layer id)");
        return v;
    };
    const auto field = eagle_field(j, "eagle_aux_hidden_state_layer_convention");
    if (!field.is_null() && !field.is_string())
        throw FormatError(cfg_path + ": eagle_aux_hidden_state_layer_convention is not a string");
    const std::string from_config =
        field.is_string()
            ? check(field.get<std::string>(), cfg_path + ": eagle_aux_hidden_state_layer_convention")
            : "";
    const std::string from_option = option.empty() ? "" : check(option, "eagle_layer_convention");
    if (!from_config.empty() && !from_option.empty() && from_config != from_option)
        throw InputError("eagle_layer_convention=" + from_option + " contradicts " + cfg_path +
                         ", which says " + from_config);
    if (!from_config.empty()) return from_config;
    if (!from_option.empty()) return from_option;
    spdlog::warn(
        "{}: explicit eagle_aux_hidden_state_layer_ids without a convention; reading them as vLLM's "
        "(the stream entering layer id). A head trained with SpecForge for SGLang needs "
        "the drafter option eagle_layer_convention=sglang",
        cfg_path);
    return "vllm";
}

}  // namespace

std::vector<int> aux_layers_for(const nlohmann::json& j, const std::string& origin, int target_layers,
                                const std::string& option) {
    const nlohmann::json ids = eagle_field(j, "eagle_aux_hidden_state_layer_ids");
    std::vector<int> out;
    if (ids.is_null())
        return {std::min(2, target_layers - 1), target_layers / 2, std::max(0, target_layers - 3)};
    if (!ids.is_array()) throw FormatError(origin + ": eagle_aux_hidden_state_layer_ids is not a list");
    // SGLang (and SpecForge, which trains for it) captures the output of layer id, i.e. the stream entering
    // id + 1; vLLM, llama.cpp and ternspec the stream entering id.
    const bool sglang = layer_convention(j, origin, option) == "sglang";
    for (const auto& v : ids)
        out.push_back(static_cast<int>(json_integer(v, 0, target_layers - (sglang ? 1 : 0),
                                                    origin + ": eagle_aux_hidden_state_layer_ids")) +
                      (sglang ? 1 : 0));
    return out;
}

}  // namespace ternspec
