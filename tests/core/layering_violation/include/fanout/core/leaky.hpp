// A fixture for the layering check (cmake/check_layers.cmake): a core header that reaches up.
#include <fanout/http/session.hpp>
