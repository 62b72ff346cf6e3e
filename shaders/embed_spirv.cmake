# Turns one .spv file into a C++ source that defines its words as an array.
# Inputs: SPV (path), OUT (path of the .cpp), NAME (shader name).
# The C++ symbol spells "__" (traced builds: "<name>__trace") as "_x_", since
# identifiers with a double underscore are reserved (shader_registry.cmake agrees).
string(REPLACE "__" "_x_" symbol "${NAME}")
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR word_count "${hex_length} / 8")
set(words "")
set(index 0)
while(index LESS hex_length)
  # SPIR-V words are little-endian on disk: reverse the four bytes.
  string(SUBSTRING "${hex}" ${index} 8 word)
  string(SUBSTRING "${word}" 0 2 b0)
  string(SUBSTRING "${word}" 2 2 b1)
  string(SUBSTRING "${word}" 4 2 b2)
  string(SUBSTRING "${word}" 6 2 b3)
  string(APPEND words "0x${b3}${b2}${b1}${b0}u,")
  math(EXPR index "${index} + 8")
  math(EXPR column "${index} % 64")
  if(column EQUAL 0)
    string(APPEND words "\n")
  endif()
endwhile()
file(WRITE ${OUT} "// Generated from shader ${NAME} by embed_spirv.cmake. Do not edit.\n#include <cstddef>\n#include <cstdint>\nnamespace ts::shaders {\nextern const uint32_t k_${symbol}_spv[] = {\n${words}};\nextern const size_t k_${symbol}_spv_words = ${word_count};\n}  // namespace ts::shaders\n")
