#pragma once
// PrismML's rotated basis (GGUF `prism.hadamard.*`, Bonsai 2): a folded weight is stored as
// W' = W diag(s) H, so y = W x = W' H(s ⊙ P(x)), with H the normalised Sylvester-Walsh-Hadamard matrix on
// each block_size chunk of the input and s the ±1 signs for the input's width. P is the identity except
// before ssm_out when gdn_v_grouped is set: llama.cpp's tiled value-head order back to the grouped order the
// fold was computed in. token_embd holds latent rows z: after the lookup e = s ⊙ H(z) (Hadamard first, then
// signs). Ternary kernels need the stored W' as it is, so the rotation is applied to activations (a fast
// Walsh- Hadamard transform, n log n, on the row about to be quantised). docs/formats.md gives the sources.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ternspec {

class GgufFile;
struct ModelConfig;

// The GGUF names of every ternary matrix of a model of config c (what a rotation folds: all or none).
std::vector<std::string> ternary_matrix_names(const ModelConfig& c);

class HadamardRotation {
  public:
    // Null when the file declares no rotation. Every key is checked; anything this reader does not implement
    // (version, transform, axis, sign mode, a width without signs, a block that does not divide a folded
    // input) is a FormatError naming the file and key.
    static std::shared_ptr<const HadamardRotation> from_gguf(const GgufFile& g, const ModelConfig& c);

    int block_size() const { return block_; }
    bool folds(const std::string& tensor) const { return weights_.count(tensor) != 0; }
    bool latent_embedding() const { return latent_embedding_; }
    bool v_grouped() const { return v_grouped_; }

    // x (n values) <- H(s ⊙ x): what a folded weight with input width n expects.
    void forward(float* x, int n) const;
    // e (n values) <- s ⊙ H(e): a latent embedding row back to the model's basis.
    void inverse(float* e, int n) const;
    // Value heads from tiled ([d, key heads, repeats]) to grouped ([d, repeats, key heads]) order, for
    // ssm_out's input when v_grouped(). tmp: n scratch values.
    static void tiled_to_grouped(float* x, int d, int key_heads, int value_heads, float* tmp);

    // Names of the folded tensors a model of config c must have (refused when the file folds only some).
    void check_covers(const std::vector<std::string>& names, const std::string& file) const;

  private:
    int block_ = 0;
    float norm_ = 1;
    bool identity_signs_ = false, latent_embedding_ = false, v_grouped_ = false;
    std::map<int, std::vector<float>> signs_;  // input width -> ±1
    std::set<std::string> weights_;
    const std::vector<float>& signs(int n) const;
    void hadamard(float* x, int n) const;
};

}  // namespace ternspec
