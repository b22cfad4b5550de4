#ifndef FANOUT_FETCH_OUTPUT_DIR_HPP
#define FANOUT_FETCH_OUTPUT_DIR_HPP

// --output-dir: where each input's body goes under DIR (naming.hpp picks the name), with the
// directories made and one writer per file at a time. Used on the event loop's thread only.

#include "naming.hpp"

#include <fanout/core/error.hpp>

#include <boost/system/errc.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace fetch_tool {

class output_files {
 public:
  output_files(std::string dir, std::string name_template)
      : dir_(std::move(dir)), template_(std::move(name_template)) {}

  /// Where one input's body goes, claimed until `release(path)`.
  struct plan {
    std::string path;                    ///< empty: no file (`url` is no URL: the request says)
    std::optional<fanout::error> error;  ///< the file cannot be written: the input's error
  };

  /// The file for input `index` (`url`, printed as `printed`): DIR/name, its directory made.
  /// An error when the directory cannot be made or another input of this run is writing the
  /// same file (`file_busy`: both would write one `.part`).
  plan claim(std::string_view url, std::size_t index, const std::string& printed) {
    auto fields = name_fields_of(url, index, printed);
    if (!fields) return {};
    auto path = (std::filesystem::path(dir_) / output_name(template_, *fields)).string();
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec)
      return {{}, fanout::error(ec, "cannot make the directory of " + path + ": " + ec.message())};
    if (!busy_.insert(path).second) {
      auto busy = make_error_code(boost::system::errc::device_or_resource_busy);
      return {{}, fanout::error(busy, "another input of this run is writing " + path)};
    }
    return {std::move(path), std::nullopt};
  }

  void release(const std::string& path) { busy_.erase(path); }

 private:
  std::string dir_;
  std::string template_;
  std::set<std::string> busy_;
};

/// The contents of the file `path` when it has at most `max` bytes, else nullopt.
inline std::optional<std::string> read_file_up_to(const std::string& path, std::uint64_t max) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return std::nullopt;
  return bytes;
}

}  // namespace fetch_tool

#endif
