// The body of embedding_back.comp (EMB_VALUE float: one column per lane) and
// embedding_back_vec4.comp (vec4: four, for C % 4 == 0 and 16-byte aligned
// tensors): the token-embedding gradient, deterministic (no float atomics):
//   dwte[v][c] (+)= sum over rows r with tokens[r] = v of dy[r][c]
// A workgroup owns a tile of kVocabTile token ids x kColumnLanes column lanes
// and scans every row once: lane (x, y) takes column lane c0 + x of rows
// y, y + Y, ... and adds dy[r][c] into its own shared slot for token
// tokens[r] when the token is in the tile. No other lane touches that slot,
// so there is no race and each slot's order is fixed; the Y row lanes' slots
// are then summed in order y = 0..Y-1. dy is read once in all (only the tile
// holding a row's token reads it); the tokens once per workgroup. Tokens >=
// vocab are skipped.
#include "embedding.h"

#ifndef EMB_VALUE
#define EMB_VALUE float
#define EMB_WIDTH 1u
#endif

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint kColumnLanes = 32;  // X: column lanes of a tile
layout(constant_id = 1) const uint kRowLanes = 8;      // Y: lanes splitting the rows
layout(constant_id = 2) const uint kVocabTile = 8;     // token ids of a tile
layout(constant_id = 3) const bool kAccumulate = false;  // dwte += sum (a tied head wrote its part); else dwte = sum

layout(std430, binding = 0) readonly buffer Tokens { uint tokens[]; };     // (rows)
layout(std430, binding = 1) readonly buffer GradY { EMB_VALUE grad_y[]; };  // (rows, C)
layout(std430, binding = 2) buffer GradWte { EMB_VALUE grad_wte[]; };       // (vocab, C)
layout(push_constant) uniform Push { EmbeddingParams p; };

shared EMB_VALUE partial[kRowLanes * kVocabTile * kColumnLanes];  // [y][v][x]

// lavapipe ends any loop after 65535 iterations: long scans run in chunks.
const uint kChunk = 16384u;

void main() {
  const uint x = gl_LocalInvocationID.x, y = gl_LocalInvocationID.y;
  const uint lane = y * kColumnLanes + x;
  const uint lanes = p.width / EMB_WIDTH;
  // Tile bounds depend on the workgroup only, so every barrier is reached by all.
  for (uint v0 = gl_WorkGroupID.y * kVocabTile; v0 < p.vocab; v0 += gl_NumWorkGroups.y * kVocabTile) {
    for (uint c0 = gl_WorkGroupID.x * kColumnLanes; c0 < lanes; c0 += gl_NumWorkGroups.x * kColumnLanes) {
      const uint slots = y * kVocabTile * kColumnLanes + x;  // + v * kColumnLanes
      for (uint v = 0u; v < kVocabTile; ++v) partial[slots + v * kColumnLanes] = EMB_VALUE(0.0);
      const uint c = c0 + x;
      if (c < lanes) {
        for (uint start = y; start < p.rows; start += kChunk * kRowLanes) {
          uint end = min(p.rows, start + kChunk * kRowLanes);
          for (uint r = start; r < end; r += kRowLanes) {
            uint v = EmbeddingTokenId(tokens[r], p.float_tokens) - v0;  // wraps past the tile for tokens below v0
            if (v < kVocabTile) partial[slots + v * kColumnLanes] += grad_y[r * lanes + c];
          }
        }
      }
      barrier();  // every lane's slots are complete
      for (uint j = lane; j < kVocabTile * kColumnLanes; j += kColumnLanes * kRowLanes) {
        uint v = j / kColumnLanes, column = j % kColumnLanes;
        uint token = v0 + v, cc = c0 + column;
        if (token < p.vocab && cc < lanes) {
          EMB_VALUE sum = EMB_VALUE(0.0);
          for (uint k = 0u; k < kRowLanes; ++k) sum += partial[k * kVocabTile * kColumnLanes + j];
          uint index = token * lanes + cc;
          grad_wte[index] = kAccumulate ? grad_wte[index] + sum : sum;
        }
      }
      barrier();  // the next tile reuses the slots
    }
  }
}
