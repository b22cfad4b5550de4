// The views a response gives out (body, headers, URL, ...) point into it: on a temporary they
// would dangle at the end of the full expression, so those calls must not compile, while the
// accessors that return values still work on one.
#include <fanout/http/response.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace {

// Whether each accessor can be called on an `R` (an lvalue reference type: an lvalue; a plain
// type: a temporary).
template <class R>
concept has_body = requires(R&& r) {
  std::forward<R>(r).body();
};
template <class R>
concept has_headers = requires(R&& r) {
  std::forward<R>(r).headers();
};
template <class R>
concept has_header = requires(R&& r) {
  std::forward<R>(r).header("content-type");
};
template <class R>
concept has_url = requires(R&& r) {
  std::forward<R>(r).url();
};
template <class R>
concept has_method = requires(R&& r) {
  std::forward<R>(r).method();
};
template <class R>
concept has_reason = requires(R&& r) {
  std::forward<R>(r).reason();
};
template <class R>
concept has_json = requires(R&& r) {
  std::forward<R>(r).json();
};
template <class R>
concept has_status = requires(R&& r) {
  std::forward<R>(r).status();
};

using fanout::response;

// On a named response (or a reference to one): every accessor.
static_assert(has_body<response&> && has_body<const response&>);
static_assert(has_headers<response&> && has_headers<const response&>);
static_assert(has_header<response&> && has_header<const response&>);
static_assert(has_url<response&> && has_url<const response&>);
static_assert(has_method<response&> && has_method<const response&>);
static_assert(has_reason<response&> && has_reason<const response&>);

// On a temporary, as in `(co_await http.get(u)).body()`: no views.
static_assert(!has_body<response> && !has_body<const response>);
static_assert(!has_headers<response> && !has_headers<const response>);
static_assert(!has_header<response>);
static_assert(!has_url<response>);
static_assert(!has_method<response>);
static_assert(!has_reason<response>);

// Values are fine on a temporary: `(co_await http.get(u)).json()`, `.status()`, `.timings()`.
static_assert(has_json<response> && has_status<response>);
static_assert(std::is_same_v<decltype(std::declval<response>().timings()), fanout::timings>);
static_assert(
    std::is_same_v<decltype(std::declval<response&>().timings()), const fanout::timings&>);

response make_empty() {
  return response();
}

}  // namespace

TEST_CASE("response: views on a named response, values on a temporary", "[response]") {
  response r = make_empty();
  CHECK(r.body().empty());
  CHECK(r.headers().empty());
  CHECK_FALSE(r.header("content-type"));
  CHECK(r.url().empty());
  CHECK(r.status() == 0);
  // What a temporary still offers: owning values.
  CHECK(make_empty().status() == 0);
  CHECK(make_empty().timings().total == fanout::timings::duration::zero());
  CHECK(std::string(r.body()).empty());
}
