// The puzzles: task, buffers, geometry, budget, starter, reference solution
// and hidden CPU spec of each, in rising difficulty (after GPU-Puzzles).
#include <algorithm>
#include <numeric>

#include "compute/common/error.h"
#include "compute/lab/puzzle_internal.h"

namespace ts::lab {
namespace {

using Arrays = std::vector<std::vector<float>>;
using Expected = std::vector<std::vector<double>>;

PuzzleArray In(const std::string& name, uint32_t size) { return {name, 1, size, false, false}; }
PuzzleArray In2(const std::string& name, uint32_t rows, uint32_t columns) { return {name, rows, columns, false, true}; }
PuzzleArray Out(const std::string& name, uint32_t size) { return {name, 1, size, true, false}; }
PuzzleArray Out2(const std::string& name, uint32_t rows, uint32_t columns) { return {name, rows, columns, true, true}; }
PuzzleArray Shared(const std::string& name, uint32_t size) { return {name, 1, size, false, false}; }
PuzzleArray Shared2(const std::string& name, uint32_t rows, uint32_t columns) {
  return {name, rows, columns, false, true};
}

// 0, 1, 2, ...: small integers, so every sum is exact in float.
std::vector<float> Range(uint32_t count) {
  std::vector<float> values(count);
  std::iota(values.begin(), values.end(), 0.0f);
  return values;
}

// Inputs: Range of each input array's size.
std::function<Arrays()> RangeInputs(std::vector<uint32_t> sizes) {
  return [sizes] {
    Arrays arrays;
    for (uint32_t size : sizes) arrays.push_back(Range(size));
    return arrays;
  };
}

std::vector<double> Map(const std::vector<float>& a, double (*f)(double)) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = f(a[i]);
  return out;
}
double PlusTen(double x) { return x + 10.0; }

const char* kStarterNote = "  // FILL ME IN\n";

std::vector<Puzzle> MakePuzzles() {
  std::vector<Puzzle> p;
  {
    Puzzle q;
    q.name = "map";
    q.title = "1. Map";
    q.task = "Each invocation adds 10 to one element: out[i] = a[i] + 10. There are exactly as many invocations as "
             "elements. gl_GlobalInvocationID.x (CUDA: blockIdx.x * blockDim.x + threadIdx.x) says which.";
    q.globals = {In("a", 4), Out("out", 4)};
    q.constants = {{"SIZE", 4}};
    q.workgroup[0] = 4;
    q.budget.global_reads = 1, q.budget.global_writes = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\n" + std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) + 10.0);\n";
    q.inputs = RangeInputs({4});
    q.spec = [](const Arrays& in) { return Expected{Map(in[0], PlusTen)}; };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "zip";
    q.title = "2. Zip";
    q.task = "Each invocation adds one element of a to the same element of b: out[i] = a[i] + b[i].";
    q.globals = {In("a", 4), In("b", 4), Out("out", 4)};
    q.constants = {{"SIZE", 4}};
    q.workgroup[0] = 4;
    q.budget.global_reads = 2, q.budget.global_writes = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\n" + std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nwrite_out(i, read_a(i) + read_b(i));\n";
    q.inputs = RangeInputs({4, 4});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(in[0].size());
      for (size_t i = 0; i < out.size(); ++i) out[i] = double(in[0][i]) + in[1][i];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "guard";
    q.title = "3. Guard";
    q.task = "out[i] = a[i] + 10 again, but now there are more invocations (8) than elements (SIZE = 4). The "
             "invocations past the end must not touch memory: guard them with an if (CUDA's `if (i < size)`).";
    q.globals = {In("a", 4), Out("out", 4)};
    q.constants = {{"SIZE", 4}};
    q.workgroup[0] = 8;
    q.budget.global_reads = 1, q.budget.global_writes = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\n" + std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nif (i < SIZE) write_out(i, read_a(i) + 10.0);\n";
    q.inputs = RangeInputs({4});
    q.spec = [](const Arrays& in) { return Expected{Map(in[0], PlusTen)}; };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "map-2d";
    q.title = "4. Map 2D";
    q.task = "a is a SIZE x SIZE matrix; out[row][col] = a[row][col] + 10. The workgroup is 3 x 3 invocations, "
             "more than the 2 x 2 elements: gl_GlobalInvocationID.x is the column, .y the row. Guard both.";
    q.globals = {In2("a", 2, 2), Out2("out", 2, 2)};
    q.constants = {{"SIZE", 2}};
    q.workgroup[0] = 3, q.workgroup[1] = 3;
    q.budget.global_reads = 1, q.budget.global_writes = 1;
    q.starter = "uint col = gl_GlobalInvocationID.x;\nuint row = gl_GlobalInvocationID.y;\n" + std::string(kStarterNote);
    q.solution = "uint col = gl_GlobalInvocationID.x;\nuint row = gl_GlobalInvocationID.y;\n"
                 "if (row < SIZE && col < SIZE) write_out(row, col, read_a(row, col) + 10.0);\n";
    q.inputs = RangeInputs({4});
    q.spec = [](const Arrays& in) { return Expected{Map(in[0], PlusTen)}; };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "broadcast";
    q.title = "5. Broadcast";
    q.task = "a is a column (SIZE x 1) and b a row (1 x SIZE); out[row][col] = a[row][0] + b[0][col], the "
             "outer sum (numpy's a + b broadcast). The workgroup is 3 x 3 for 2 x 2 outputs.";
    q.globals = {In2("a", 2, 1), In2("b", 1, 2), Out2("out", 2, 2)};
    q.constants = {{"SIZE", 2}};
    q.workgroup[0] = 3, q.workgroup[1] = 3;
    q.budget.global_reads = 2, q.budget.global_writes = 1;
    q.starter = "uint col = gl_GlobalInvocationID.x;\nuint row = gl_GlobalInvocationID.y;\n" + std::string(kStarterNote);
    q.solution = "uint col = gl_GlobalInvocationID.x;\nuint row = gl_GlobalInvocationID.y;\n"
                 "if (row < SIZE && col < SIZE) write_out(row, col, read_a(row, 0u) + read_b(0u, col));\n";
    q.inputs = RangeInputs({2, 2});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(4);
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) out[r * 2 + c] = double(in[0][r]) + in[1][c];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "blocks";
    q.title = "6. Blocks";
    q.task = "out[i] = a[i] + 10 for SIZE = 9 elements with workgroups of 4: three workgroups run (CUDA: "
             "blocks). gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x is the element; the last "
             "workgroup has 3 invocations too many.";
    q.globals = {In("a", 9), Out("out", 9)};
    q.constants = {{"SIZE", 9}};
    q.workgroup[0] = 4, q.grid[0] = 3;
    q.budget.global_reads = 1, q.budget.global_writes = 1;
    q.starter = "uint i = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x;\n" +
                std::string(kStarterNote);
    q.solution = "uint i = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x;\n"
                 "if (i < SIZE) write_out(i, read_a(i) + 10.0);\n";
    q.inputs = RangeInputs({9});
    q.spec = [](const Arrays& in) { return Expected{Map(in[0], PlusTen)}; };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "shared";
    q.title = "7. Shared memory";
    q.task = "out[i] = a[i] + 10, through shared memory: each invocation copies its element of a into the "
             "workgroup's shared array cache (CUDA: __shared__), waits at barrier() (CUDA: __syncthreads()) until "
             "the whole workgroup has, then reads its element back from cache and writes out.";
    q.globals = {In("a", 8), Out("out", 8)};
    q.shared = {Shared("cache", 4)};
    q.constants = {{"SIZE", 8}, {"TPB", 4}};
    q.workgroup[0] = 4, q.grid[0] = 2;
    q.budget.global_reads = 1, q.budget.global_writes = 1, q.budget.shared_reads = 1, q.budget.shared_writes = 1;
    q.budget.barriers = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n" +
                std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n"
                 "write_cache(local_i, read_a(i));\nbarrier();\nwrite_out(i, read_cache(local_i) + 10.0);\n";
    q.inputs = RangeInputs({8});
    q.spec = [](const Arrays& in) { return Expected{Map(in[0], PlusTen)}; };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "pooling";
    q.title = "8. Pooling";
    q.task = "out[i] = a[i - 2] + a[i - 1] + a[i], leaving out the terms before the start (out[0] = a[0]). Each "
             "invocation may read only one element of a from global memory: share them through cache.";
    q.globals = {In("a", 8), Out("out", 8)};
    q.shared = {Shared("cache", 8)};
    q.constants = {{"SIZE", 8}, {"TPB", 8}};
    q.workgroup[0] = 8;
    q.budget.global_reads = 1, q.budget.global_writes = 1, q.budget.barriers = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n" +
                std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n"
                 "write_cache(local_i, read_a(i));\nbarrier();\n"
                 "float sum = read_cache(local_i);\n"
                 "if (local_i >= 1u) sum += read_cache(local_i - 1u);\n"
                 "if (local_i >= 2u) sum += read_cache(local_i - 2u);\n"
                 "write_out(i, sum);\n";
    q.inputs = RangeInputs({8});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(8);
      for (int i = 0; i < 8; ++i)
        for (int j = std::max(0, i - 2); j <= i; ++j) out[i] += in[0][j];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "dot";
    q.title = "9. Dot product";
    q.task = "out[0] = a[0] * b[0] + ... + a[7] * b[7]. Each invocation multiplies one pair into cache; after a "
             "barrier one invocation adds them up and writes out[0]. Only one invocation may write out[0]: two "
             "writing the same element is a race.";
    q.globals = {In("a", 8), In("b", 8), Out("out", 1)};
    q.shared = {Shared("cache", 8)};
    q.constants = {{"SIZE", 8}, {"TPB", 8}};
    q.workgroup[0] = 8;
    q.budget.global_reads = 2, q.budget.global_writes = 1, q.budget.barriers = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n" +
                std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n"
                 "write_cache(local_i, read_a(i) * read_b(i));\nbarrier();\n"
                 "if (local_i == 0u) {\n"
                 "  float sum = 0.0;\n"
                 "  for (uint j = 0u; j < TPB; ++j) sum += read_cache(j);\n"
                 "  write_out(0u, sum);\n"
                 "}\n";
    q.inputs = RangeInputs({8, 8});
    q.spec = [](const Arrays& in) {
      double sum = 0;
      for (int i = 0; i < 8; ++i) sum += double(in[0][i]) * in[1][i];
      return Expected{{sum}};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "conv";
    q.title = "10. 1D convolution";
    q.task = "out[i] = a[i] * b[0] + a[i + 1] * b[1] + ... + a[i + 3] * b[3], leaving out terms past the end of a "
             "(SIZE = 15). Two workgroups of 8 run. Each invocation may read at most 3 elements from global "
             "memory: load a's elements of the workgroup and the 3 after them into a_shared, b into b_shared.";
    q.globals = {In("a", 15), In("b", 4), Out("out", 15)};
    q.shared = {Shared("a_shared", 8 + 3), Shared("b_shared", 4)};
    q.constants = {{"SIZE", 15}, {"KERNEL_SIZE", 4}, {"TPB", 8}};
    q.workgroup[0] = 8, q.grid[0] = 2;
    q.budget.global_reads = 3, q.budget.global_writes = 1, q.budget.barriers = 1;
    q.starter = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n" +
                std::string(kStarterNote);
    q.solution = "uint i = gl_GlobalInvocationID.x;\nuint local_i = gl_LocalInvocationID.x;\n"
                 "if (i < SIZE) write_a_shared(local_i, read_a(i));\n"
                 "if (local_i < KERNEL_SIZE - 1u && i + TPB < SIZE) write_a_shared(local_i + TPB, read_a(i + TPB));\n"
                 "if (local_i < KERNEL_SIZE) write_b_shared(local_i, read_b(local_i));\n"
                 "barrier();\n"
                 "if (i < SIZE) {\n"
                 "  float sum = 0.0;\n"
                 "  for (uint j = 0u; j < KERNEL_SIZE; ++j)\n"
                 "    if (i + j < SIZE) sum += read_a_shared(local_i + j) * read_b_shared(j);\n"
                 "  write_out(i, sum);\n"
                 "}\n";
    q.inputs = RangeInputs({15, 4});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(15);
      for (int i = 0; i < 15; ++i)
        for (int j = 0; j < 4 && i + j < 15; ++j) out[i] += double(in[0][i + j]) * in[1][j];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "prefix-sum";
    q.title = "11. Prefix sum";
    q.task = "out[i] = a[0] + a[1] + ... + a[i] (an inclusive scan) for SIZE = 8 in one workgroup. In log2(8) = 3 "
             "steps, each invocation adds the element `offset` places to its left (offset 1, 2, 4) in cache. "
             "Careful: an invocation must read its neighbour's value before the neighbour overwrites it (a barrier "
             "between reading and writing, and one after).";
    q.globals = {In("a", 8), Out("out", 8)};
    q.shared = {Shared("cache", 8)};
    q.constants = {{"SIZE", 8}};
    q.workgroup[0] = 8;
    q.budget.global_reads = 1, q.budget.global_writes = 1, q.budget.barriers = 7;
    q.starter = "uint i = gl_LocalInvocationID.x;\n" + std::string(kStarterNote);
    q.solution = "uint i = gl_LocalInvocationID.x;\n"
                 "write_cache(i, read_a(i));\nbarrier();\n"
                 "for (uint offset = 1u; offset < SIZE; offset *= 2u) {\n"
                 "  float left = 0.0;\n"
                 "  if (i >= offset) left = read_cache(i - offset);\n"
                 "  barrier();\n"
                 "  if (i >= offset) write_cache(i, read_cache(i) + left);\n"
                 "  barrier();\n"
                 "}\n"
                 "write_out(i, read_cache(i));\n";
    q.inputs = RangeInputs({8});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(8);
      double sum = 0;
      for (int i = 0; i < 8; ++i) out[i] = sum += in[0][i];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "axis-sum";
    q.title = "12. Axis sum";
    q.task = "a is BATCH x SIZE (4 x 6); out[r] = a[r][0] + ... + a[r][5], one workgroup of TPB = 8 per row "
             "(gl_WorkGroupID.y is the row). Load the row into cache (0 past its end), then halve: at stride 4, 2, "
             "1 the first `stride` invocations add cache[i + stride] into cache[i], with a barrier after each.";
    q.globals = {In2("a", 4, 6), Out("out", 4)};
    q.shared = {Shared("cache", 8)};
    q.constants = {{"BATCH", 4}, {"SIZE", 6}, {"TPB", 8}};
    q.workgroup[0] = 8, q.grid[1] = 4;
    q.budget.global_reads = 1, q.budget.global_writes = 1, q.budget.barriers = 4;
    q.starter = "uint i = gl_LocalInvocationID.x;\nuint batch = gl_WorkGroupID.y;\n" + std::string(kStarterNote);
    q.solution = "uint i = gl_LocalInvocationID.x;\nuint batch = gl_WorkGroupID.y;\n"
                 "write_cache(i, i < SIZE ? read_a(batch, i) : 0.0);\nbarrier();\n"
                 "for (uint stride = TPB / 2u; stride > 0u; stride /= 2u) {\n"
                 "  if (i < stride) write_cache(i, read_cache(i) + read_cache(i + stride));\n"
                 "  barrier();\n"
                 "}\n"
                 "if (i == 0u) write_out(batch, read_cache(0u));\n";
    q.inputs = RangeInputs({24});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(4);
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 6; ++c) out[r] += in[0][r * 6 + c];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "matmul";
    q.title = "13. Matrix multiply";
    q.task = "out = a x b for SIZE x SIZE = 6 x 6 matrices, one output element per invocation, workgroups of "
             "TILE x TILE = 3 x 3. Each invocation may read only 4 elements from global memory: walk k in tiles, "
             "each invocation loading one element of a's tile and one of b's into a_tile and b_tile, a barrier, "
             "the tile's products, and a barrier before the next tile overwrites them.";
    q.globals = {In2("a", 6, 6), In2("b", 6, 6), Out2("out", 6, 6)};
    q.shared = {Shared2("a_tile", 3, 3), Shared2("b_tile", 3, 3)};
    q.constants = {{"SIZE", 6}, {"TILE", 3}};
    q.workgroup[0] = 3, q.workgroup[1] = 3, q.grid[0] = 2, q.grid[1] = 2;
    q.budget.global_reads = 4, q.budget.global_writes = 1, q.budget.barriers = 4;
    q.starter = "uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;\n"
                "uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;\n" + std::string(kStarterNote);
    q.solution = "uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;\n"
                 "uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;\n"
                 "float sum = 0.0;\n"
                 "for (uint t = 0u; t < SIZE; t += TILE) {\n"
                 "  write_a_tile(ty, tx, read_a(row, t + tx));\n"
                 "  write_b_tile(ty, tx, read_b(t + ty, col));\n"
                 "  barrier();\n"
                 "  for (uint k = 0u; k < TILE; ++k) sum += read_a_tile(ty, k) * read_b_tile(k, tx);\n"
                 "  barrier();\n"
                 "}\n"
                 "write_out(row, col, sum);\n";
    q.inputs = RangeInputs({36, 36});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(36);
      for (int r = 0; r < 6; ++r)
        for (int c = 0; c < 6; ++c)
          for (int k = 0; k < 6; ++k) out[r * 6 + c] += double(in[0][r * 6 + k]) * in[1][k * 6 + c];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "transpose";
    q.title = "14. Transpose through shared memory";
    q.task = "out = the transpose of the 8 x 8 matrix a, with 4 x 4 workgroups. Reads and writes must both be "
             "coalesced: neighbouring invocations along x touch neighbouring elements of a row. Read a's tile "
             "row by row into tile, barrier, then write out's tile row by row, reading tile by column.";
    q.globals = {In2("a", 8, 8), Out2("out", 8, 8)};
    q.shared = {Shared2("tile", 4, 4)};
    q.constants = {{"SIZE", 8}, {"TILE", 4}};
    q.workgroup[0] = 4, q.workgroup[1] = 4, q.grid[0] = 2, q.grid[1] = 2;
    q.budget.global_reads = 1, q.budget.global_writes = 1, q.budget.barriers = 1, q.budget.coalesced = true;
    q.starter = "uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;\n"
                "uint bx = gl_WorkGroupID.x * TILE, by = gl_WorkGroupID.y * TILE;\n" + std::string(kStarterNote);
    q.solution = "uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;\n"
                 "uint bx = gl_WorkGroupID.x * TILE, by = gl_WorkGroupID.y * TILE;\n"
                 "write_tile(ty, tx, read_a(by + ty, bx + tx));\n"
                 "barrier();\n"
                 "write_out(bx + ty, by + tx, read_tile(tx, ty));\n";
    q.inputs = RangeInputs({64});
    q.spec = [](const Arrays& in) {
      std::vector<double> out(64);
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 8; ++c) out[r * 8 + c] = in[0][c * 8 + r];
      return Expected{out};
    };
    p.push_back(q);
  }
  {
    Puzzle q;
    q.name = "subgroup-sum";
    q.title = "15. Subgroup reduction";
    q.task = "out[0] = the sum of a's 64 elements, in one workgroup of 64, with one barrier and one shared write "
             "per invocation at most. subgroupAdd(x) (CUDA: a warp shuffle reduction) sums x over the invocation's "
             "subgroup (gl_SubgroupSize lanes); one lane per subgroup (subgroupElect()) writes it to "
             "partial[gl_SubgroupID]; after the barrier one invocation adds the gl_NumSubgroups partials.";
    q.globals = {In("a", 64), Out("out", 1)};
    q.shared = {Shared("partial", 64)};
    q.constants = {{"SIZE", 64}};
    q.workgroup[0] = 64;
    q.budget.global_reads = 1, q.budget.global_writes = 1, q.budget.shared_writes = 1, q.budget.barriers = 1;
    q.starter = "uint i = gl_LocalInvocationID.x;\n" + std::string(kStarterNote);
    q.solution = "uint i = gl_LocalInvocationID.x;\n"
                 "float partial_sum = subgroupAdd(read_a(i));\n"
                 "if (subgroupElect()) write_partial(gl_SubgroupID, partial_sum);\n"
                 "barrier();\n"
                 "if (i == 0u) {\n"
                 "  float total = 0.0;\n"
                 "  for (uint s = 0u; s < gl_NumSubgroups; ++s) total += read_partial(s);\n"
                 "  write_out(0u, total);\n"
                 "}\n";
    q.inputs = RangeInputs({64});
    q.spec = [](const Arrays& in) {
      double sum = 0;
      for (float v : in[0]) sum += v;
      return Expected{{sum}};
    };
    p.push_back(q);
  }
  return p;
}

}  // namespace

const std::vector<Puzzle>& Puzzles() {
  static const std::vector<Puzzle> puzzles = MakePuzzles();
  return puzzles;
}

const Puzzle& FindPuzzle(const std::string& name) {
  std::string names;
  for (const Puzzle& puzzle : Puzzles()) {
    if (puzzle.name == name) return puzzle;
    names += (names.empty() ? "" : ", ") + puzzle.name;
  }
  throw Error("There is no puzzle called '" + Excerpt(name) + "'; the puzzles are " + names + ".");
}

}  // namespace ts::lab
