#ifndef FANOUT_VERSION_HPP
#define FANOUT_VERSION_HPP

// The one place the version is written; CMakeLists.txt reads it from here.
#define FANOUT_VERSION_MAJOR 0
#define FANOUT_VERSION_MINOR 1
#define FANOUT_VERSION_PATCH 0

#define FANOUT_STRINGIZE_IMPL(x) #x
#define FANOUT_STRINGIZE(x) FANOUT_STRINGIZE_IMPL(x)

/// "0.1.0": used in the default User-Agent.
#define FANOUT_VERSION_STRING            \
  FANOUT_STRINGIZE(FANOUT_VERSION_MAJOR) \
  "." FANOUT_STRINGIZE(FANOUT_VERSION_MINOR) "." FANOUT_STRINGIZE(FANOUT_VERSION_PATCH)

#endif
