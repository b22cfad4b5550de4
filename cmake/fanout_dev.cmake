# Settings for fanout's own tests, examples and benchmarks; never applied to consumers.

set(FANOUT_WARNINGS -Wall -Wextra -Wpedantic -Werror)
# GCC 12 at -O2 reports a false -Wmismatched-new-delete wherever an Asio coroutine frame (class
# operator new, sized operator delete) is inlined: GCC PR middle-end/109224. The library's own
# headers silence it where they create frames (http/impl/session.ipp); tests, examples and
# benches create frames of their own (and fanout-bench pairs its counting operator new with
# free). Clang's warning of that name is another check (new[] against delete) and stays on.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND FANOUT_WARNINGS -Wno-mismatched-new-delete)
endif()

# Asio, Asio.SSL, Beast and fanout (FANOUT_SEPARATE_COMPILATION) compiled once into a static
# library, as fanout::compiled does for users (here with warnings as errors and
# BOOST_ASIO_NO_DEPRECATED): every test, example and bench binary links it instead of
# instantiating the same heavy internals in every file. The header-only mode users get by default is built by the
# consumer tests (tests/consumer), clang-tidy (scripts/tidy.sh) and the fuzzers.
add_library(fanout_dev_deps STATIC ${PROJECT_SOURCE_DIR}/cmake/fanout_compiled.cpp)
target_compile_definitions(fanout_dev_deps PUBLIC
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION BOOST_ASIO_NO_DEPRECATED
  FANOUT_SEPARATE_COMPILATION)
target_link_libraries(fanout_dev_deps PUBLIC fanout)
target_compile_options(fanout_dev_deps PRIVATE ${FANOUT_WARNINGS})

# fanout_dev_target(<target>): warnings as errors and the shared compiled dependencies.
function(fanout_dev_target target)
  target_compile_options(${target} PRIVATE ${FANOUT_WARNINGS})
  target_link_libraries(${target} PRIVATE fanout_dev_deps)
endfunction()
