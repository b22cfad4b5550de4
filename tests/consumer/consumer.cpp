// A user's program: consumes fanout as an installed or fetched CMake package, nothing else.
#include <fanout/fanout.hpp>

#include <iostream>
#include <vector>

boost::asio::awaitable<int> square(const int& x) {
  co_return x* x;
}

int main() {
  std::vector<int> xs{1, 2, 3, 4};
  auto out = fanout::run_gather(xs, square, {.max_concurrency = 2});
  int sum = 0;
  for (auto& r : out) sum += r.value();
  std::cout << "fanout " << FANOUT_VERSION_STRING << " sum " << sum << "\n";
  return sum == 30 ? 0 : 1;
}
