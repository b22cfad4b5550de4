// 08_download: files straight to disk, many at once, none held in memory. session::download
// writes each to <path>.part and renames it into place when complete; a failure is that file's
// own (here: the second round finds every file already there, and says so per file).
//
//   example-08-download [BASE_URL] [DIR]   (defaults: an embedded local server, a temp dir)

#include "support/local_api.hpp"

#include <fanout/fanout.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  std::optional<examples::local_api> local;
  const std::string base = argc > 1 ? argv[1] : (local.emplace(), local->base_url());
  const std::filesystem::path dir =
      argc > 2 ? argv[2] : std::filesystem::temp_directory_path() / "fanout-example-08";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("shard-" + std::to_string(i));

  asio::io_context io;
  fanout::session http(io);
  int exit_code = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto download_all = [&]() {
          return fanout::gather(names,
                                [&](const std::string& name) {
                                  return http.download(base + "/files/" + name,
                                                       (dir / name).string());
                                },
                                {.max_concurrency = 8});
        };
        auto first = co_await download_all();
        std::uint64_t bytes = 0;
        std::size_t ok = 0;
        for (auto& r : first)
          if (r) ++ok, bytes += r->bytes_written();
        std::cout << ok << "/" << names.size() << " files, " << bytes << " bytes on disk in "
                  << dir.string() << "\n";

        // Again: every file exists, and downloads never overwrite one unless asked.
        auto second = co_await download_all();
        std::size_t exists = 0;
        for (auto& r : second)
          if (!r && r.error().code() == std::errc::file_exists) ++exists;
        std::cout << "second round: " << exists << " already there, e.g. "
                  << second.front().error().message() << "\n";
        exit_code = ok == names.size() && exists == names.size() ? 0 : 1;
        http.close();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  std::filesystem::remove_all(dir);
  return exit_code;
}
