#pragma once
// The gated delta rule's per-token state update for one value head, the inner loop of a Gated DeltaNet layer
// (delta_net_block.hpp) and of its rollback by replay (recurrent_state.hpp). One kernel slot serves both, so
// a replayed state equals the decoded one bit for bit on every path.
//
// Every dot product sums in eight fixed lanes (element i into lane i % 8), then the lanes as
// ((0+1)+(2+3))+((4+5)+(6+7)), with separate multiplies and adds: an 8-wide vector unit runs exactly this
// order, so the scalar and AVX2 variants agree bit for bit.
namespace ternspec {

// For each of the d rows j of the head's state S (d x d, row j belongs to value channel j):
//   S_j = decay * src_j;  S_j += k * (beta * (v_j - S_j . k));  and, when out is not null, out_j = S_j . q.
// src may equal S.
using DeltaRuleHeadFn = void (*)(float* S, const float* src, const float* k, const float* v, const float* q,
                                 float decay, float beta, int d, float* out);

}  // namespace ternspec
