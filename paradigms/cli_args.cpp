// Shared command-line parsing (see cli_args.h).
#include "paradigms/cli_args.h"

#include <sstream>

#include "kernels/error.h"

namespace sp {

int parse_index(const std::string& s, const std::string& what) {
  size_t used = 0;
  long v = -1;
  try {
    v = std::stol(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SP_CHECK(used == s.size() && !s.empty() && v >= 0 && v < (1L << 30), what, ": '", s,
           "' is not a non-negative integer");
  return int(v);
}

std::vector<int> parse_index_list(const std::string& list, const std::string& what) {
  std::vector<int> v;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(parse_index(item, what));
  SP_CHECK(!v.empty(), what, ": empty list");
  return v;
}

void parse_index_range(const std::string& range, const std::string& what, int* first, int* last) {
  size_t dash = range.find('-');
  SP_CHECK(dash != std::string::npos, what, ": '", range, "' is not a range A-B");
  *first = parse_index(range.substr(0, dash), what);
  *last = parse_index(range.substr(dash + 1), what);
  SP_CHECK(*first <= *last, what, ": empty range ", range);
}

Stream& pick_device(const std::string& device) {
  std::string why;
  if (device == "cpu") return Stream::cpu();
  bool have = cuda_available(&why);
  SP_CHECK(have || device == "auto", "--device cuda: no usable GPU (", why, ")");
  return have ? Stream::cuda_default(0) : Stream::cpu();
}

}  // namespace sp
