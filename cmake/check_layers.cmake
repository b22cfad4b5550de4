# The tree's layering, as rules about folders, checked on every build of the tests
# (tests/CMakeLists.txt runs this script; any broken rule fails the build and names the line):
#   include/fanout/core/      includes nothing of the HTTP layer (fanout/http*, fetch_all) and
#                             none of its dependencies (Beast, Boost.URL, OpenSSL, json, zlib)
#   http/detail/sansio/       pure decisions: no Asio header, nothing from net/ or http1/
#   http/detail/net/          sockets, TLS, DNS: nothing from http1/
#   http/detail/body/         body sinks and sources (callback, file): above the seam
#   http/impl/session.ipp     the request policy: of the wire, only the default transport
#                             (http1/transport.hpp), through the seam (http/transport.hpp)
#   include/fanout/testing/   nothing of the wire (net/, http1/): a mock opens no socket
#   include/fanout/detail/    does not exist (each layer owns its detail/)
#   examples/                 nothing from tests/: an example can be copied out of the tree
#   everything in include/    includes only <fanout/...> headers that exist
#   cmake -DFANOUT_SOURCE_DIR=<root> -P cmake/check_layers.cmake
cmake_minimum_required(VERSION 3.21)
set(root "${FANOUT_SOURCE_DIR}")
set(failures "")

# check(<glob> <forbidden regex> <why>): every #include line of the matching files.
function(check glob forbidden why)
  file(GLOB_RECURSE files "${root}/${glob}")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(line MATCHES "${forbidden}")
        file(RELATIVE_PATH rel "${root}" "${f}")
        list(APPEND failures "${rel}: ${line}  (${why})")
      endif()
    endforeach()
  endforeach()
  set(failures "${failures}" PARENT_SCOPE)
endfunction()

check("include/fanout/core/*.[hi]pp"
  "fanout/http|fanout/fetch_all|boost/beast|boost/url|openssl/|nlohmann/|zlib"
  "the core knows nothing of HTTP")
check("include/fanout/core.hpp"
  "fanout/http|fanout/fetch_all|boost/beast|boost/url|openssl/|nlohmann/|zlib"
  "the core knows nothing of HTTP")
check("include/fanout/http/detail/sansio/*.hpp"
  "boost/asio|fanout/http/detail/net/|fanout/http/detail/http1/|boost/beast/core/tcp|boost/beast/ssl|openssl/"
  "sansio/ is pure: no sockets, no I/O")
check("include/fanout/http/detail/net/*.hpp" "fanout/http/detail/http1/"
  "net/ is below the HTTP/1.1 transport")
check("include/fanout/http/detail/body/*.hpp"
  "fanout/http/detail/net/|fanout/http/detail/http1/|boost/asio/ip/|boost/asio/ssl|boost/beast/core/tcp"
  "body/ sits above the transport seam: it sees the wire only through exchange_sink/source")
check("include/fanout/http/impl/*.ipp"
  "fanout/http/detail/net/|fanout/http/detail/http1/(connection|connection_pool|response_head|response_reader)"
  "the session's policy reaches the wire through the transport seam only")
check("include/fanout/testing/*.hpp"
  "fanout/http/detail/net/|fanout/http/detail/http1/|boost/asio/ip/|boost/asio/ssl|boost/beast/core/tcp"
  "a mock transport opens no socket")
check("examples/*" "support/test_server|test_util|tests/|support/certs|support/raw_server"
  "an example includes nothing from tests/")

file(GLOB_RECURSE stray "${root}/include/fanout/detail/*")
foreach(f IN LISTS stray)
  file(RELATIVE_PATH rel "${root}" "${f}")
  list(APPEND failures "${rel}: a top-level detail/ (each layer owns its detail/)")
endforeach()

# Every <fanout/...> include names a header that exists (a stale path after a move).
file(GLOB_RECURSE headers "${root}/include/fanout/*.hpp" "${root}/include/fanout/*.ipp")
foreach(f IN LISTS headers)
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*<fanout/")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE ".*<(fanout/[^>]*)>.*" "\\1" target "${line}")
    if(NOT EXISTS "${root}/include/${target}")
      file(RELATIVE_PATH rel "${root}" "${f}")
      list(APPEND failures "${rel}: ${line}  (no such header)")
    endif()
  endforeach()
endforeach()

if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "fanout layering rules broken:\n  ${text}")
endif()
message(STATUS "fanout layering rules hold")
