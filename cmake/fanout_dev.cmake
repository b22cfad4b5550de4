# Settings for fanout's own tests, examples and benchmarks; never applied to consumers.

set(FANOUT_WARNINGS -Wall -Wextra -Wpedantic -Werror)

# Asio, Asio.SSL and Beast compiled once into a static library: every test, example and
# bench binary links it instead of instantiating the same heavy internals in every file.
add_library(fanout_dev_deps STATIC ${PROJECT_SOURCE_DIR}/cmake/fanout_dev_deps.cpp)
target_compile_definitions(fanout_dev_deps PUBLIC
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(fanout_dev_deps PUBLIC fanout)
target_compile_options(fanout_dev_deps PRIVATE ${FANOUT_WARNINGS})

# fanout_dev_target(<target>): warnings as errors and the shared compiled dependencies.
function(fanout_dev_target target)
  target_compile_options(${target} PRIVATE ${FANOUT_WARNINGS})
  target_link_libraries(${target} PRIVATE fanout_dev_deps)
endfunction()
