// The packed ternary kernel: exact against a naive integer reference, bit-identical between the scalar and
// AVX2 paths, and independent of how many rows share a call.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "target/io/half.hpp"
#include "target/kernels/cpu_features.hpp"
#include "target/kernels/fast_math.hpp"
#include "target/kernels/half_table.hpp"
#include "target/kernels/int8_matrix.hpp"
#include "target/kernels/kernel_table.hpp"
#include "target/kernels/ternary_matrix.hpp"
#include "ternspec/error.hpp"

using namespace ternspec;

namespace {

struct Case {
    TernaryMatrix w;
    std::vector<std::int8_t> trits;
    std::vector<float> scales;
    int group;
};

Case make(int rows, int cols, int group, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Case c;
    c.group = group;
    c.trits.resize(static_cast<std::size_t>(rows) * cols);
    for (auto& t : c.trits) t = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
    c.scales.resize(c.trits.size() / group);
    for (auto& s : c.scales) s = 0.01f + static_cast<float>(rng() % 1000) / 1e4f;
    c.w = TernaryMatrix(rows, cols, group, c.trits, c.scales, "test");
    return c;
}

std::vector<float> activations(int m, int k, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(m) * k);
    for (auto& v : x) v = n(rng);
    return x;
}

}  // namespace

TEST(TernaryMatrix, PacksAndUnpacksExactly) {
    for (int group : {64, 128, 256}) {
        auto c = make(5, 512, group, 11);
        for (int r = 0; r < 5; ++r)
            for (int k = 0; k < 512; ++k) {
                ASSERT_EQ(c.w.trit(r, k), c.trits[static_cast<std::size_t>(r) * 512 + k]);
                ASSERT_EQ(c.w.scale_of(r, k), c.scales[(static_cast<std::size_t>(r) * 512 + k) / group]);
            }
    }
}

TEST(TernaryMatmul, MatchesNaiveIntegerReference) {
    for (int group : {64, 128, 256}) {
        auto c = make(37, 512, group, 5);
        const int M = 6;
        const auto x = activations(M, 512, 9);
        QuantizedActivations qa;
        qa.quantize(x.data(), M, 512);
        std::vector<float> y(static_cast<std::size_t>(M) * 37);
        ternary_matmul(c.w, qa, y.data());
        for (int m = 0; m < M; ++m)
            for (int n = 0; n < 37; ++n) {
                double ref = 0;
                for (int g = 0; g < 512 / group; ++g) {
                    long long isum = 0;
                    for (int k = g * group; k < (g + 1) * group; ++k)
                        isum += c.trits[static_cast<std::size_t>(n) * 512 + k] * qa.row(m)[k];
                    ref +=
                        static_cast<double>(isum) * c.scales[(static_cast<std::size_t>(n) * 512) / group + g];
                }
                ref *= qa.scale[static_cast<std::size_t>(m)];
                EXPECT_NEAR(y[static_cast<std::size_t>(m) * 37 + n], ref, 1e-4 * (1 + std::fabs(ref)))
                    << group;
            }
    }
}

TEST(TernaryMatmul, EveryVectorPathIsBitIdenticalToScalarForEveryBatchSize) {
    const auto path = kernel_path();
    if (best_kernel_path() == KernelPath::Scalar)
        GTEST_SKIP() << "this CPU or build runs the scalar path only";
    for (const KernelPath vector_path : {KernelPath::Avx2, KernelPath::Avx512Vnni}) {
        if (vector_path > best_kernel_path()) continue;
        for (int group : {64, 128}) {
            auto c = make(67, 512, group, 21);
            const auto x = activations(33, 512, 4);
            for (int M : {1, 2, 3, 4, 5, 7, 8, 9, 16, 33}) {
                QuantizedActivations qa;
                qa.quantize(x.data(), M, 512);
                std::vector<float> a(static_cast<std::size_t>(M) * 67), b(a.size());
                kernels_for(KernelPath::Scalar).ternary_matmul_groups(c.w, qa, a.data(), 0, c.w.row_groups());
                force_kernel_path(vector_path);
                ASSERT_EQ(kernel_path(), vector_path);
                ternary_matmul(c.w, qa, b.data());
                force_kernel_path(path);
                ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
                    << kernel_path_name(vector_path) << " M=" << M << " group " << group;
            }
        }
    }
}

TEST(TernaryMatmul, RowResultDoesNotDependOnBatch) {
    auto c = make(40, 256, 128, 8);
    const auto x = activations(16, 256, 2);
    QuantizedActivations all;
    all.quantize(x.data(), 16, 256);
    std::vector<float> y_all(16 * 40);
    ternary_matmul(c.w, all, y_all.data());
    for (int m = 0; m < 16; ++m) {
        QuantizedActivations one;
        one.quantize(x.data() + static_cast<std::size_t>(m) * 256, 1, 256);
        std::vector<float> y(40);
        ternary_matmul(c.w, one, y.data());
        ASSERT_EQ(0,
                  std::memcmp(y.data(), y_all.data() + static_cast<std::size_t>(m) * 40, 40 * sizeof(float)))
            << m;
    }
}

TEST(Quantize, Avx2BodyGivesTheScalarBytes) {
    if (!uses_avx2(best_kernel_path())) GTEST_SKIP() << "this CPU or build runs the scalar path only";
    for (const float spread : {0.0f, 1e-30f, 1.0f, 3e4f}) {
        auto x = activations(3, 640, 17);
        for (auto& v : x) v *= spread;
        if (spread == 1.0f) {  // amax 127 makes the scale 1, so these land on halves: round to even
            x[0] = 127.0f;
            x[5] = 2.5f;
            x[6] = 3.5f;
            x[7] = -2.5f;
        }
        for (int m = 0; m < 3; ++m) {
            const float* xr = x.data() + static_cast<std::size_t>(m) * 640;
            std::vector<std::int8_t> qa(640), qb(640);
            std::vector<std::int32_t> sa(15), sb(15);
            float ca = 0, cb = 0;
            kernels_for(KernelPath::Scalar).quantize_row(xr, 640, qa.data(), &ca, sa.data());
            kernels_for(KernelPath::Avx2).quantize_row(xr, 640, qb.data(), &cb, sb.data());
            ASSERT_EQ(qa, qb) << spread;
            ASSERT_EQ(sa, sb) << spread;
            ASSERT_EQ(std::memcmp(&ca, &cb, sizeof ca), 0) << spread;
            for (int b = 0; b < 5; ++b) {
                std::int32_t total = 0;
                for (int e = 0; e < 128; ++e) total += qa[static_cast<std::size_t>(b * 128 + e)];
                ASSERT_EQ(sa[static_cast<std::size_t>(3 * b + 2)], -total);
            }
        }
    }
}

TEST(FastMath, ExpIsWithinTwoUlpAndClampsOutsideItsRange) {
    std::vector<float> x;
    for (float v = -87.0f; v <= 88.0f; v += 0.0137f) x.push_back(v);
    std::vector<float> y = x;
    kernels_for(KernelPath::Scalar).exp_shifted_row(y.data(), static_cast<int>(y.size()), 0.0f);
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double want = std::exp(static_cast<double>(x[i]));
        const double ulp = std::nextafter(static_cast<float>(want), INFINITY) - static_cast<float>(want);
        ASSERT_LE(std::fabs(y[i] - want), 2 * ulp) << x[i];
    }
    float edge[4] = {-1000.0f, -87.0f, 88.0f, 1000.0f};
    kernels_for(KernelPath::Scalar).exp_shifted_row(edge, 4, 0.0f);
    EXPECT_EQ(edge[0], edge[1]);
    EXPECT_EQ(edge[2], edge[3]);
    EXPECT_GT(edge[0], 0.0f);
    EXPECT_TRUE(std::isfinite(edge[3]));
}

TEST(FastMath, Avx2BodiesGiveTheScalarFloats) {
    if (!uses_avx2(best_kernel_path())) GTEST_SKIP() << "this CPU or build runs the scalar path only";
    std::mt19937 rng(5);
    std::normal_distribution<float> n(0.0f, 12.0f);
    for (const int len : {1, 7, 8, 13, 64, 203}) {
        std::vector<float> g(static_cast<std::size_t>(len)), u(g.size());
        for (auto& v : g) v = n(rng);
        for (auto& v : u) v = n(rng);
        g[0] = -0.0f;
        if (len > 1) g[1] = 300.0f;
        std::vector<float> a = g, b = g;
        kernels_for(KernelPath::Scalar).exp_shifted_row(a.data(), len, 3.5f);
        kernels_for(KernelPath::Avx2).exp_shifted_row(b.data(), len, 3.5f);
        ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << len;
        kernels_for(KernelPath::Scalar).silu_mul_row(g.data(), u.data(), a.data(), len);
        kernels_for(KernelPath::Avx2).silu_mul_row(g.data(), u.data(), b.data(), len);
        ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << len;
        for (int i = 0; i < len; ++i) {
            const double gd = g[static_cast<std::size_t>(i)];
            const double want = gd / (1.0 + std::exp(-gd)) * u[static_cast<std::size_t>(i)];
            ASSERT_NEAR(a[static_cast<std::size_t>(i)], want, 1e-5 * (1.0 + std::fabs(want))) << gd;
        }
    }
}

// The gated delta rule's head update (delta_rule.hpp): AVX2 gives the scalar variant's bits, in place and
// not, with and without the output dot, for head sizes with and without a partial vector; and both are the
// rule (checked in double precision).
TEST(DeltaRule, Avx2HeadUpdateGivesTheScalarFloats) {
    if (!uses_avx2(best_kernel_path())) GTEST_SKIP() << "this CPU or build runs the scalar path only";
    std::mt19937 rng(11);
    std::normal_distribution<float> n(0.0f, 0.5f);
    for (const int d : {1, 5, 8, 37, 64, 128}) {
        const auto dd = static_cast<std::size_t>(d);
        std::vector<float> src(dd * dd), k(dd), v(dd), q(dd);
        for (auto* vec : {&src, &k, &v, &q})
            for (auto& x : *vec) x = n(rng);
        const float decay = 0.93f, beta = 0.61f;
        for (const bool in_place : {false, true})
            for (const bool with_out : {false, true}) {
                std::vector<float> sa(dd * dd), sb(dd * dd), oa(dd, -1), ob(dd, -1);
                if (in_place) sa = sb = src;
                kernels_for(KernelPath::Scalar)
                    .delta_rule_head(sa.data(), in_place ? sa.data() : src.data(), k.data(), v.data(),
                                     q.data(), decay, beta, d, with_out ? oa.data() : nullptr);
                kernels_for(KernelPath::Avx2)
                    .delta_rule_head(sb.data(), in_place ? sb.data() : src.data(), k.data(), v.data(),
                                     q.data(), decay, beta, d, with_out ? ob.data() : nullptr);
                ASSERT_EQ(0, std::memcmp(sa.data(), sb.data(), sa.size() * sizeof(float))) << d;
                ASSERT_EQ(0, std::memcmp(oa.data(), ob.data(), oa.size() * sizeof(float))) << d;
                for (std::size_t j = 0; j < dd; ++j) {
                    double dot = 0, out = 0;
                    std::vector<double> row(dd);
                    for (std::size_t i = 0; i < dd; ++i) {
                        row[i] = double(src[j * dd + i]) * decay;
                        dot += row[i] * k[i];
                    }
                    const double delta = (v[j] - dot) * beta;
                    for (std::size_t i = 0; i < dd; ++i) {
                        row[i] += k[i] * delta;
                        out += row[i] * q[i];
                        ASSERT_NEAR(sa[j * dd + i], row[i], 1e-5 * (1 + std::fabs(row[i])));
                    }
                    if (with_out) {
                        ASSERT_NEAR(oa[j], out, 1e-4 * (1 + std::fabs(out)));
                    }
                }
            }
    }
}

TEST(HalfConvert, F16cRoundsAsFloatToHalf) {
    if (!uses_avx2(best_kernel_path())) GTEST_SKIP() << "this CPU or build runs the scalar path only";
    std::mt19937 rng(9);
    std::vector<float> x;
    for (int i = 0; i < 200000; ++i) {
        const std::uint32_t bits = rng();
        float f;
        std::memcpy(&f, &bits, sizeof f);
        if (!std::isnan(f)) x.push_back(f);
    }
    // Ties, subnormals, the overflow edge and infinities.
    for (const float f : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98023224e-8f, 5.96046448e-8f,
                          1.0009765625f + 0.00048828125f, INFINITY, -INFINITY})
        x.push_back(f);
    std::vector<std::uint16_t> a(x.size()), b(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) a[i] = float_to_half(x[i]);
    kernels_for(KernelPath::Avx2).float_row_to_half(x.data(), b.data(), static_cast<int>(x.size()));
    for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a[i], b[i]) << x[i];
}

// The path in use is the one TERNSPEC_KERNELS names, or the best one when it is unset (this test binary
// runs without it, so the best one); the old test checked only that the name was one of three.
TEST(KernelPath, RunsTheBestPathOrTheOverride) {
    EXPECT_EQ(kernel_path(), kernel_path_override(std::getenv("TERNSPEC_KERNELS")));
    EXPECT_EQ(kernel_path_override(nullptr), best_kernel_path());
}

// TERNSPEC_KERNELS: every path name up to the best one is honoured; an unknown name, or a path the CPU or
// build lacks, is an error naming the value (it was silently ignored).
TEST(KernelPath, OverridesAreParsedStrictly) {
    EXPECT_EQ(kernel_path_override("scalar"), KernelPath::Scalar);
    for (const auto p : {KernelPath::Avx2, KernelPath::Avx512Vnni}) {
        if (p <= best_kernel_path())
            EXPECT_EQ(kernel_path_override(kernel_path_name(p)), p);
        else
            EXPECT_THROW(kernel_path_override(kernel_path_name(p)), InputError);
    }
    for (const char* bad : {"", "AVX2", "avx3", "scalar ", "auto"}) {
        try {
            kernel_path_override(bad);
            ADD_FAILURE() << "accepted TERNSPEC_KERNELS=" << bad;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("is not a kernel path"), std::string::npos) << e.what();
        }
    }
}

TEST(Int8Matmul, ScalarAndAvx2AgreeWithAnExactIntegerReference) {
    // Drafter heads' int8 matrices: both paths equal the integer dot product times the two scales.
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (const int cols : {32, 96, 200, 768}) {
        const int rows = 37;
        std::vector<float> w(static_cast<std::size_t>(rows) * cols);
        for (auto& v : w) v = n(rng);
        const Int8Matrix mat(rows, cols, w.data(), "test");
        for (const int M : {1, 3, 4, 7}) {
            std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * cols);
            std::vector<float> xs(static_cast<std::size_t>(M));
            for (auto& v : xq) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
            for (auto& v : xs) v = 0.01f + std::fabs(n(rng));
            std::vector<float> a(static_cast<std::size_t>(M) * rows), b(a.size());
            kernels_for(KernelPath::Scalar).int8_matmul_rows(mat, xq.data(), xs.data(), M, a.data(), 0, rows);
            kernels_for(KernelPath::Avx2).int8_matmul_rows(mat, xq.data(), xs.data(), M, b.data(), 0, rows);
            for (int m = 0; m < M; ++m)
                for (int r = 0; r < rows; ++r) {
                    std::int64_t dot = 0;
                    for (int k = 0; k < cols; ++k)
                        dot += static_cast<std::int64_t>(mat.row(r)[k]) *
                               xq[static_cast<std::size_t>(m) * cols + k];
                    const float want =
                        static_cast<float>(dot) * mat.scale(r) * xs[static_cast<std::size_t>(m)];
                    const std::size_t i = static_cast<std::size_t>(m) * rows + r;
                    EXPECT_EQ(a[i], want) << cols << " " << M;
                    EXPECT_EQ(b[i], want) << cols << " " << M;
                }
        }
    }
}

// The one dispatch point: each runnable path's table carries that path's own variants (a wiring mistake,
// e.g. the AVX2 table holding a scalar body, would make every comparison above compare a body with itself),
// and kernels() follows the path that runs.
TEST(KernelTable, EachPathHasItsOwnVariants) {
    const auto& scalar = kernels_for(KernelPath::Scalar);
    EXPECT_EQ(scalar.path, KernelPath::Scalar);
    for (const auto p : runnable_paths()) {
        const auto& t = kernels_for(p);
        EXPECT_EQ(t.path, p);
        if (p == KernelPath::Scalar) continue;
        EXPECT_NE(t.quantize_row, scalar.quantize_row) << kernel_path_name(p);
        EXPECT_NE(t.exp_shifted_row, scalar.exp_shifted_row) << kernel_path_name(p);
        EXPECT_NE(t.half_row_to_float, scalar.half_row_to_float) << kernel_path_name(p);
        EXPECT_NE(t.attend_run, scalar.attend_run) << kernel_path_name(p);
        EXPECT_NE(t.int8_matmul_rows, scalar.int8_matmul_rows) << kernel_path_name(p);
        EXPECT_NE(t.ternary_matmul_groups, scalar.ternary_matmul_groups) << kernel_path_name(p);
    }
    if (best_kernel_path() == KernelPath::Avx512Vnni) {
        EXPECT_NE(kernels_for(KernelPath::Avx512Vnni).ternary_matmul_groups,
                  kernels_for(KernelPath::Avx2).ternary_matmul_groups);
    }
    const auto before = kernel_path();
    for (const auto p : runnable_paths()) {
        force_kernel_path(p);
        EXPECT_EQ(&kernels(), &kernels_for(p));
    }
    force_kernel_path(before);
}
