#ifndef FANOUT_HTTP_DETAIL_SANSIO_SERIALIZE_HPP
#define FANOUT_HTTP_DETAIL_SANSIO_SERIALIZE_HPP

// A message as the bytes that go on the wire, made by Beast's serializer without any I/O.

#include <fanout/config.hpp>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string>

namespace fanout::detail {

/// Appends to `out` what Beast's serializer makes of `m`: its start line and fields, and with
/// `head_only` false the rest too (the body, in chunks when `m` is chunked). A message is
/// serialized once, into a buffer the connection reuses, so that one plain write (a `writev`
/// of head and body) sends it: each asynchronous write through Beast's serializer would be
/// compiled again for every stream and handler type, and over TLS it writes a record per piece
/// of the head.
template <bool isRequest, class Body, class Fields>
void serialize_message(const boost::beast::http::message<isRequest, Body, Fields>& m,
                       std::string& out, bool head_only, boost::system::error_code& ec) {
  boost::beast::http::serializer<isRequest, Body, Fields> sr(m);
  sr.split(head_only);
  while (!(head_only ? sr.is_header_done() : sr.is_done())) {
    std::size_t n = 0;
    sr.next(ec, [&](boost::system::error_code&, auto const& buffers) {
      for (auto const b : boost::beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
    });
    if (ec) return;
    sr.consume(n);
  }
}

}  // namespace fanout::detail

#endif
